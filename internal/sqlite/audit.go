package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
	"github.com/cordon-dev/cordon/internal/stored"
)

var _ cordon.AuditStore = (*DB)(nil)

// The audit log's reads, checkpoints, key, saved reports and subject
// resolution are the shared store's (sqlstore/audit.go). What stays here
// is SQLite's own SQL, and what the audit benchmarks measure: the append
// path (multi-row VALUES inserts of the entries and the rollup, run in
// the one writer's transaction, also for an admin change's pending
// records), the checkpoint's nodes through one prepared statement, and
// the grouped questions (json_each, GLOB, group_concat and
// json_group_array where PostgreSQL has ANY, LIKE, string_agg and
// array_agg).

// auditCols and auditUser are the shared store's (sqlstore.AuditCols,
// sqlstore.AuditUser), named here for this backend's statements.
const (
	auditCols = sqlstore.AuditCols
	auditUser = sqlstore.AuditUser
)

// AppendAudit stores entries in one write transaction, moving the
// audit_size counter by their number. The one writer connection and BEGIN
// IMMEDIATE serialise appends.
func (db *DB) AppendAudit(ctx context.Context, entries []*cordon.AuditEntry) (uint64, error) {
	if err := stored.CheckAuditEntries(entries); err != nil {
		return 0, err
	}
	var size uint64
	err := db.writeTx(ctx, true, func(tx *sql.Tx) error {
		var err error
		size, err = appendAuditTx(ctx, tx, entries)
		return err
	})
	if err != nil {
		return 0, err
	}
	// Only a committed batch has indexes.
	first := size - uint64(len(entries))
	for i, e := range entries {
		e.Index = first + uint64(i)
	}
	return size, nil
}

// appendAuditTx appends entries inside tx and returns the log's new size.
// Callers hold the writer, so the size read first is still the size when
// tx commits.
func appendAuditTx(ctx context.Context, tx *sql.Tx, entries []*cordon.AuditEntry) (uint64, error) {
	var size int64
	if err := tx.QueryRowContext(ctx, `UPDATE audit_size SET size = size + ? RETURNING size`, len(entries)).Scan(&size); err != nil {
		return 0, err
	}
	next := size - int64(len(entries))
	if len(entries) == 0 {
		return uint64(size), nil
	}
	// One row per statement, prepared once per batch. A many-row INSERT
	// is a SELECT to SQLite and may abort midway (a STRICT type check
	// aborts whatever OR clause is given), so it keeps a statement
	// journal: a copy of every page it changes that existed before it.
	// With random keys in three indexes that is about three pages an
	// entry, and the copies (malloc'ed 1 KiB chunks) cost 40 % of a
	// batch's CPU once the log outgrows a few hundred thousand entries.
	// Single-row statements need no journal; their extra bind and step
	// (~7 µs a row) pay for themselves from about 30,000 entries on.
	stmt, err := tx.PrepareContext(ctx, `INSERT OR FAIL INTO audit_entries (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, next, e.Leaf, e.LeafHash, micros(e.Time), e.Principal, e.Action, e.Subject, stored.JoinCategories(e.Categories), stored.AuditAccount(e)); err != nil {
			return 0, err
		}
		next++
	}
	if err := appendRollupTx(ctx, tx, entries); err != nil {
		return 0, err
	}
	return uint64(size), nil
}

// auditRollupRows is how many rollup rows one upsert carries (10
// parameters each).
const auditRollupRows = 500

var auditRollupMarks = strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", auditRollupRows)

const auditRollupMark = len("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ")

// appendRollupTx adds entries to audit_rollup inside the transaction
// that appends them, so the rollup sums exactly the committed entries.
func appendRollupTx(ctx context.Context, tx *sql.Tx, entries []*cordon.AuditEntry) error {
	rows := stored.AuditRollup(entries)
	var sets []string
	for chunk := range slices.Chunk(rows, auditRollupRows) {
		q := `INSERT INTO audit_rollup (categories, day, principal, count, reads, writes, exports, deletes, first_at, last_at) VALUES ` +
			auditRollupMarks[:len(chunk)*auditRollupMark-2] + `
			ON CONFLICT (categories, day, principal) DO UPDATE SET count = count + excluded.count,
				reads = reads + excluded.reads, writes = writes + excluded.writes,
				exports = exports + excluded.exports, deletes = deletes + excluded.deletes,
				first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)`
		args := make([]any, 0, 10*len(chunk))
		for _, r := range chunk {
			args = append(args, r.Categories, r.Day, r.Principal, r.Count, r.PerAction[0], r.PerAction[1], r.PerAction[2], r.PerAction[3], r.First, r.Last)
			if len(sets) == 0 || sets[len(sets)-1] != r.Categories {
				sets = append(sets, r.Categories)
			}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	if len(sets) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_rollup_sets (categories) SELECT value FROM json_each(?) WHERE true ON CONFLICT DO NOTHING`, jsonStrings(sets)); err != nil {
			return err
		}
	}
	return nil
}

// AddAuditCheckpoint stores a checkpoint; ErrAlreadyExists for a size
// already checkpointed.
func (db *DB) AddAuditCheckpoint(ctx context.Context, c *cordon.AuditCheckpoint, nodes []cordon.AuditNode) error {
	if c.Size > math.MaxInt64 {
		return cordon.Errorf(cordon.ECodeInvalid, "checkpoint size %d is out of range", c.Size)
	}
	if err := stored.CheckAuditNodes(nodes); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)`,
			int64(c.Size), stored.NonNil(c.Root), stored.NonNil(c.Note), micros(c.Created)); err != nil {
			return err
		}
		if len(nodes) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, n := range nodes {
			if _, err := stmt.ExecContext(ctx, int64(n.Level), int64(n.Index), n.Hash); err != nil {
				return err
			}
		}
		return nil
	})
}

// AuditReport is AuditQuery by subject over exact principals. It stays
// with each backend (as PostgreSQL's) because it calls the backend's own
// AuditQuery, which a shared method could not reach.
func (db *DB) AuditReport(ctx context.Context, principals []string, from, to time.Time, fn func(*cordon.AuditAccess) error) error {
	if len(principals) == 0 {
		return nil
	}
	return db.AuditQuery(ctx, cordon.AuditFilter{Principals: principals, From: from, To: to, By: cordon.AuditBySubject}, fn)
}

// AuditQuery groups the selected entries, by principal in SQL (from the
// rollup where it can), by subject here (auditBySubject). By principal,
// SQL counts and finds the span per group and the union of categories
// is computed here from a distinct list, since SQLite has no set
// aggregate. (DISTINCT: a principal reading a million times has a
// handful of distinct category lists, not a million to concatenate.)
func (db *DB) AuditQuery(ctx context.Context, f cordon.AuditFilter, fn func(*cordon.AuditAccess) error) error {
	from, to := micros(f.From), micros(f.To)
	if first, last, ok := stored.RollupWindow(from, to); ok && f.By == cordon.AuditByPrincipal && len(f.Users) == 0 {
		return db.auditQueryRollup(ctx, f, from, to, first, last, fn)
	}
	where, args := []string{"at >= ?"}, []any{from}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, to)
	}
	fw, fargs := auditFilterSQL(f, false)
	where, args = append(where, fw...), append(args, fargs...)
	if f.By == cordon.AuditBySubject {
		return db.auditBySubject(ctx, strings.Join(where, " AND "), args, fn)
	}
	// One row per group: the actions are counted in columns (there are
	// four), not grouped by, which would make up to four rows of each.
	q := `SELECT principal AS k, sum(action = 'read'), sum(action = 'write'), sum(action = 'export'), sum(action = 'delete'),
		group_concat(DISTINCT categories), count(*), min(at), max(at)
		FROM audit_entries WHERE ` + strings.Join(where, " AND ") + `
		GROUP BY k ORDER BY k`
	return db.auditRows(ctx, q, args, fn)
}

// auditAction is an entry's action as its place in stored.AuditActions
// (4 for none of them, counted in the total only), so a row carries a
// number rather than a string.
const auditAction = `CASE action WHEN 'read' THEN 0 WHEN 'write' THEN 1 WHEN 'export' THEN 2 WHEN 'delete' THEN 3 ELSE 4 END`

// auditGroup is one user's entries as auditBySubject sums them. Most
// users have one subject and a few category lists: those are kept
// without a slice each.
type auditGroup struct {
	noAccount bool // an entry logged before resolution: Account is ''
	perAction [5]int64
	first     int64
	last      int64
	cats      uint64   // the category lists auditCategories numbers below 64, a bit each
	moreCats  []int32  // those numbered 64 and up, distinct
	subject   string   // the first subject met
	subjects  []string // the others, distinct
}

// auditShortList is how long a group's list of subjects or of category
// lists is searched in place; past it, its members are also kept in the
// query's auditSeen, so a group with a million aliases (every case of one
// username, which all resolve to the account) costs a map lookup each,
// not a search of the million.
const auditShortList = 16

// auditSeen holds the members of groups' long lists.
type auditSeen struct {
	subjects map[auditMember[string]]struct{}
	cats     map[auditMember[int32]]struct{}
}

type auditMember[T comparable] struct {
	group int32
	v     T
}

// addOnce appends v to list (group i's) unless it holds it already.
func addOnce[T comparable](list []T, v T, i int32, seen *map[auditMember[T]]struct{}) []T {
	if len(list) < auditShortList {
		if slices.Contains(list, v) {
			return list
		}
		list = append(list, v)
		if len(list) == auditShortList {
			if *seen == nil {
				*seen = map[auditMember[T]]struct{}{}
			}
			for _, x := range list {
				(*seen)[auditMember[T]{i, x}] = struct{}{}
			}
		}
		return list
	}
	k := auditMember[T]{i, v}
	if _, ok := (*seen)[k]; ok {
		return list
	}
	(*seen)[k] = struct{}{}
	return append(list, v)
}

func (g *auditGroup) addCategories(n, i int32, seen *auditSeen) {
	if n < 64 {
		g.cats |= 1 << n
		return
	}
	g.moreCats = addOnce(g.moreCats, n, i, &seen.cats)
}

func (g *auditGroup) addSubject(s string, i int32, seen *auditSeen) {
	if s != g.subject {
		g.subjects = addOnce(g.subjects, s, i, &seen.subjects)
	}
}

// auditUserKey is a group's key: its user, and whether that is a
// subject that named no account; group is where its sums are. prefix is
// the user's first 8 bytes, big-endian, zero-padded, so most of the
// sort's comparisons compare it alone rather than reach for the strings.
type auditUserKey struct {
	prefix     uint64
	user       string
	unresolved bool
	group      int32
}

func newAuditUserKey(user string, unresolved bool, group int32) auditUserKey {
	var b [8]byte
	copy(b[:], user)
	return auditUserKey{prefix: binary.BigEndian.Uint64(b[:]), user: user, unresolved: unresolved, group: group}
}

// auditBySubject answers AuditQuery by subject: it reads the selected
// entries' few columns in the order the index gives them and groups them
// here, one auditGroup per user (its account, or its subject when it has
// none; unresolved subjects apart), then hands the groups out sorted by
// user, unresolved after resolved, through the merger every backend
// uses. The groups are held until the last entry is read (some 250
// bytes each with key and map slot); SQL's GROUP BY held the entries
// instead, in a sorter, and built two ephemeral tables per group for its
// DISTINCT aggregates: 7 s for a principal's 1M entries and 630k users,
// of which reading the entries is under half (issue 17).
func (db *DB) auditBySubject(ctx context.Context, where string, args []any, fn func(*cordon.AuditAccess) error) error {
	rows, err := db.r.QueryContext(ctx, `SELECT account, subject, `+auditAction+`, categories, at FROM audit_entries WHERE `+where, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	var (
		// The groups by user, resolved and not: a string key hashes
		// faster than a struct one.
		byUser = [2]map[string]int32{{}, {}}
		keys   []auditUserKey // in the order groups are met
		groups auditGroups
		cats   auditCategories
		seen   auditSeen
		// any, not int64 or sql.NullString: database/sql hands the
		// driver's value over as it is, where other types go through
		// reflection or a Scan method, per column of 1M rows.
		account, action, at any
		subject, category   string
	)
	for rows.Next() {
		if err := rows.Scan(&account, &subject, &action, &category, &at); err != nil {
			return err
		}
		user, unresolved := subject, 0
		acct, resolved := account.(string)
		switch {
		case resolved && acct == "":
			unresolved = 1
		case resolved:
			user = acct
		}
		i, ok := byUser[unresolved][user]
		if !ok {
			i = int32(len(keys))
			byUser[unresolved][user] = i
			keys = append(keys, newAuditUserKey(user, unresolved == 1, i))
		}
		t, okAt := at.(int64)
		a, okAction := action.(int64)
		if !okAt || !okAction {
			return fmt.Errorf("sqlite: audit entry with at %T, action %T", at, action)
		}
		g := groups.at(i)
		if !ok {
			g.first, g.last, g.subject = t, t, subject
		}
		g.noAccount = g.noAccount || !resolved
		g.perAction[min(max(a, 0), 4)]++
		g.first, g.last = min(g.first, t), max(g.last, t)
		g.addCategories(cats.number(category), i, &seen)
		g.addSubject(subject, i, &seen)
		if !ok && len(keys) > db.auditGoGroups {
			// Too many users to hold: SQL's GROUP BY streams them,
			// spilling its sorter to disk. Nothing was handed on yet.
			rows.Close()
			db.auditSQLFallbacks.Add(1)
			return db.auditBySubjectSQL(ctx, where, args, fn)
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	byUser, seen = [2]map[string]int32{}, auditSeen{}
	slices.SortFunc(keys, func(a, b auditUserKey) int {
		if a.prefix != b.prefix {
			return cmp.Compare(a.prefix, b.prefix)
		}
		if c := strings.Compare(a.user, b.user); c != 0 {
			return c
		}
		switch {
		case a.unresolved == b.unresolved:
			return 0
		case b.unresolved:
			return -1
		}
		return 1
	})
	merge := &stored.AuditMerger{By: cordon.AuditBySubject, Fn: fn}
	// The merger copies a row's lists, so one buffer of each serves.
	var catBuf, aliasBuf []string
	for _, k := range keys {
		g := groups.at(k.group)
		catBuf, aliasBuf = catBuf[:0], append(append(aliasBuf[:0], g.subject), g.subjects...)
		for m := g.cats; m != 0; m &= m - 1 {
			catBuf = append(catBuf, cats.split[bits.TrailingZeros64(m)]...)
		}
		for _, n := range g.moreCats {
			catBuf = append(catBuf, cats.split[n]...)
		}
		r := stored.AuditRow{Key: k.user, Unresolved: k.unresolved, PerAction: [4]int64(g.perAction[:4]), First: g.first, Last: g.last,
			Categories: catBuf, Aliases: aliasBuf}
		// Account is min(account, '' for none) over the group's
		// entries, as SQL gave it: the account, unless the group is
		// unresolved or one of its entries predates resolution.
		if !k.unresolved && !g.noAccount {
			r.Account = k.user
		}
		for _, n := range g.perAction {
			r.Count += n
		}
		if err := merge.Add(r); err != nil {
			return err
		}
		*g = auditGroup{} // handed on: let the collector have it
	}
	return merge.Flush()
}

// AuditGoGroups is how many users auditBySubject groups in memory (some
// 250 bytes each, 250 MB at the most) before it hands the query to
// auditBySubjectSQL, which streams: the heavy principal's 630,000 users
// group in Go in well under half SQL's time, but a principal that read
// ten million users must not take gigabytes of the server's memory.
const AuditGoGroups = 1_000_000

// auditBySubjectSQL is AuditQuery by subject in one GROUP BY with
// DISTINCT aggregates, as it was before issue 17: slower (its DISTINCT
// aggregates build two ephemeral tables per group), but its sorter
// streams and spills to disk, so memory does not grow with the users.
func (db *DB) auditBySubjectSQL(ctx context.Context, where string, args []any, fn func(*cordon.AuditAccess) error) error {
	rows, err := db.r.QueryContext(ctx, `SELECT `+auditUser+` AS k, coalesce(account = '', 0) AS u, min(coalesce(account, '')),
		sum(action = 'read'), sum(action = 'write'), sum(action = 'export'), sum(action = 'delete'),
		group_concat(DISTINCT categories), json_group_array(DISTINCT subject), count(*), min(at), max(at)
		FROM audit_entries WHERE `+where+` GROUP BY k, u ORDER BY k, u`, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	merge := &stored.AuditMerger{By: cordon.AuditBySubject, Fn: fn}
	for rows.Next() {
		var (
			r                   stored.AuditRow
			categories, aliases string
		)
		if err := rows.Scan(&r.Key, &r.Unresolved, &r.Account, &r.PerAction[0], &r.PerAction[1], &r.PerAction[2], &r.PerAction[3],
			&categories, &aliases, &r.Count, &r.First, &r.Last); err != nil {
			return err
		}
		r.Categories = stored.SplitCategories(strings.ReplaceAll(categories, ",", stored.CategorySep))
		if err := json.Unmarshal([]byte(aliases), &r.Aliases); err != nil {
			return fmt.Errorf("sqlite: a group's subjects: %w", err)
		}
		if err := merge.Add(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	return merge.Flush()
}

// auditGroups holds groups in chunks, so growing never copies them.
type auditGroups [][]auditGroup

const auditGroupChunk = 4096

// at returns group i, making it (and the chunk holding it) when i is
// the next one.
func (gs *auditGroups) at(i int32) *auditGroup {
	c := int(i) / auditGroupChunk
	if c == len(*gs) {
		*gs = append(*gs, make([]auditGroup, auditGroupChunk))
	}
	return &(*gs)[c][int(i)%auditGroupChunk]
}

// auditCategories numbers the distinct values of the categories column
// a query meets (a few hundred sets at most), so a group keeps numbers,
// and splits each value once.
type auditCategories struct {
	byValue map[string]int32
	split   [][]string
}

func (c *auditCategories) number(value string) int32 {
	if n, ok := c.byValue[value]; ok {
		return n
	}
	if c.byValue == nil {
		c.byValue = map[string]int32{}
	}
	n := int32(len(c.split))
	c.byValue[value] = n
	// As SQL's group_concat gave the lists, joined by commas.
	c.split = append(c.split, stored.SplitCategories(strings.ReplaceAll(value, ",", stored.CategorySep)))
	return n
}

// auditFilterSQL is the principal, user and category conditions of f, on
// audit_entries or (rollup) on audit_rollup, whose rows are keyed by
// their set of categories: there the sets carrying the category are
// looked up in audit_rollup_sets, and every set is named even without a
// category, so the day range is read through the primary key per set.
func auditFilterSQL(f cordon.AuditFilter, rollup bool) (where []string, args []any) {
	if len(f.Principals) > 0 {
		names, patterns := stored.SplitPrincipals(f.Principals)
		var or []string
		if len(names) > 0 {
			or = append(or, "principal IN (SELECT value FROM json_each(?))")
			args = append(args, jsonStrings(names))
		}
		for _, p := range patterns {
			// GLOB, not LIKE: SQLite's LIKE ignores ASCII case.
			or, args = append(or, "principal GLOB ?"), append(args, stored.GlobPattern(p))
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if len(f.Users) > 0 {
		where = append(where, auditUser+" IN (SELECT value FROM json_each(?))")
		args = append(args, jsonStrings(f.Users))
	}
	switch {
	case rollup && f.Category != "":
		where = append(where, "categories IN (SELECT categories FROM audit_rollup_sets WHERE instr(' ' || categories || ' ', ?) > 0)")
		args = append(args, fmt.Sprintf(" %s ", f.Category))
	case rollup:
		where = append(where, "categories IN (SELECT categories FROM audit_rollup_sets)")
	case f.Category != "":
		where = append(where, "instr(' ' || categories || ' ', ?) > 0")
		args = append(args, " "+f.Category+" ")
	}
	return where, args
}

// auditQueryRollup answers a question grouped by principal over a window
// holding whole days [first, last) (last 0: no end): those days from
// audit_rollup, the edges the window cuts, [from, first) and [last, to),
// from the entries, all in one statement, so one snapshot.
func (db *DB) auditQueryRollup(ctx context.Context, f cordon.AuditFilter, from, to, first, last int64, fn func(*cordon.AuditAccess) error) error {
	fw, fargs := auditFilterSQL(f, false)
	rw, rargs := auditFilterSQL(f, true)
	rwhere, args := []string{"day >= ?"}, []any{first}
	if to != 0 {
		rwhere, args = append(rwhere, "day < ?"), append(args, last)
	}
	rwhere, args = append(rwhere, rw...), append(args, rargs...)
	parts := []string{`SELECT principal, reads AS r, writes AS w, exports AS x, deletes AS d, categories, count AS n, first_at AS f, last_at AS l
		FROM audit_rollup WHERE ` + strings.Join(rwhere, " AND ")}
	edge := func(lo, hi int64) {
		if lo >= hi {
			return
		}
		parts = append(parts, `SELECT principal, action = 'read', action = 'write', action = 'export', action = 'delete', categories, 1, at, at
			FROM audit_entries WHERE `+strings.Join(append([]string{"at >= ?", "at < ?"}, fw...), " AND "))
		args = append(append(args, lo, hi), fargs...)
	}
	edge(from, first*stored.DayMicros)
	if to != 0 {
		edge(last*stored.DayMicros, to)
	}
	q := `SELECT principal AS k, sum(r), sum(w), sum(x), sum(d), group_concat(DISTINCT categories), sum(n), min(f), max(l)
		FROM (` + strings.Join(parts, " UNION ALL ") + `) GROUP BY k ORDER BY k`
	return db.auditRows(ctx, q, args, fn)
}

// auditRows runs an AuditQuery statement grouped by principal and merges
// its rows.
func (db *DB) auditRows(ctx context.Context, q string, args []any, fn func(*cordon.AuditAccess) error) error {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	merge := &stored.AuditMerger{By: cordon.AuditByPrincipal, Fn: fn}
	for rows.Next() {
		var (
			r          stored.AuditRow
			categories string
		)
		if err := rows.Scan(&r.Key, &r.PerAction[0], &r.PerAction[1], &r.PerAction[2], &r.PerAction[3],
			&categories, &r.Count, &r.First, &r.Last); err != nil {
			return err
		}
		r.Categories = stored.SplitCategories(strings.ReplaceAll(categories, ",", stored.CategorySep))
		if err := merge.Add(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	return merge.Flush()
}

// jsonStrings is ss as a JSON array, for json_each: one parameter
// however many values.
func jsonStrings(ss []string) string {
	b, _ := json.Marshal(stored.NonNilStrings(ss)) // strings always encode
	return string(b)
}

// AppendAuditBatch appends entries once per batch key: inside one write
// transaction it forgets batches older than forgetBefore, answers a
// remembered key with its batch, and otherwise appends and remembers.
func (db *DB) AppendAuditBatch(ctx context.Context, b *cordon.AuditBatch, entries []*cordon.AuditEntry, forgetBefore time.Time) (*cordon.AuditBatch, bool, error) {
	if err := stored.CheckAuditBatch(b, entries); err != nil {
		return nil, false, err
	}
	var (
		got      *cordon.AuditBatch
		appended bool
	)
	err := db.writeTx(ctx, true, func(tx *sql.Tx) error {
		got, appended = nil, false
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_batches WHERE at < ?`, micros(forgetBefore)); err != nil {
			return err
		}
		var (
			old      cordon.AuditBatch
			first    int64
			size, at int64
		)
		err := tx.QueryRowContext(ctx, `SELECT digest, first, count, size, at FROM audit_batches WHERE key = ?`, b.Key).
			Scan(&old.Digest, &first, &old.Count, &size, &at)
		if err == nil {
			old.Key, old.First, old.Size, old.At = b.Key, uint64(first), uint64(size), fromMicros(at)
			got = &old
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		n, err := appendAuditTx(ctx, tx, entries)
		if err != nil {
			return err
		}
		nb := *b
		nb.Count, nb.Size, nb.First = len(entries), n, n-uint64(len(entries))
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_batches (key, digest, first, count, size, at) VALUES (?, ?, ?, ?, ?, ?)`,
			nb.Key, nb.Digest, int64(nb.First), nb.Count, int64(nb.Size), micros(nb.At)); err != nil {
			return err
		}
		got, appended = &nb, true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if appended {
		// Only a committed batch has indexes.
		for i, e := range entries {
			e.Index = got.First + uint64(i)
		}
	}
	return got, appended, nil
}

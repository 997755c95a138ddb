package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
	"github.com/cordon-dev/cordon/internal/stored"
	"github.com/jackc/pgx/v5"
)

var _ cordon.AuditStore = (*DB)(nil)

// The audit log's reads, checkpoints, key, saved reports and subject
// resolution are the shared store's (sqlstore/audit.go). What stays here
// is PostgreSQL's own SQL, and what the audit benchmarks measure: the
// append path (numbered multi-row inserts of the entries, the rollup and
// the checkpoint's nodes as unnest arrays, the counter row's lock that
// serialises appends, the batch key inserted first), and the grouped
// questions (ANY, LIKE, string_agg, array_agg, COLLATE "C" where SQLite
// has json_each, GLOB, group_concat and json_group_array).

// auditInsertRows is how many entries one INSERT carries: 8 parameters
// each, well under PostgreSQL's 65535 per statement.
const auditInsertRows = 1000

// auditCols and auditUser are the shared store's (sqlstore.AuditCols,
// sqlstore.AuditUser), named here for this backend's statements.
const (
	auditCols = sqlstore.AuditCols
	auditUser = sqlstore.AuditUser
)

// AppendAudit stores entries in one transaction. It first moves the
// one-row audit_size counter by the batch's length: that UPDATE takes the
// row's lock, so a concurrent append waits for this one to commit or roll
// back and then, PostgreSQL re-reading the row, continues from the size it
// left. A counter row rather than LOCK TABLE because it is the pattern the
// rest of this backend uses, it works on CockroachDB (which has no LOCK
// TABLE), and it reserves the indexes in the same round trip.
func (db *DB) AppendAudit(ctx context.Context, entries []*cordon.AuditEntry) (uint64, error) {
	if err := stored.CheckAuditEntries(entries); err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return db.AuditSize(ctx)
	}
	var size uint64
	err := db.tx(ctx, func(tx pgx.Tx) error {
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
// It first moves the counter row, whose lock serialises appends.
func appendAuditTx(ctx context.Context, tx pgx.Tx, entries []*cordon.AuditEntry) (uint64, error) {
	var size int64
	if err := tx.QueryRow(ctx, `UPDATE audit_size SET size = size + $1 RETURNING size`, len(entries)).Scan(&size); err != nil {
		return 0, err
	}
	next := size - int64(len(entries))
	for chunk := range slices.Chunk(entries, auditInsertRows) {
		var q strings.Builder
		q.WriteString(`INSERT INTO audit_entries (` + auditCols + `) VALUES `)
		args := make([]any, 0, 9*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
			args = append(args, next, e.Leaf, e.LeafHash, micros(e.Time), e.Principal, e.Action, e.Subject, stored.JoinCategories(e.Categories), stored.AuditAccount(e))
			next++
		}
		if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
			return 0, err
		}
	}
	if err := appendRollupTx(ctx, tx, entries); err != nil {
		return 0, err
	}
	return uint64(size), nil
}

// appendRollupTx adds entries to audit_rollup inside the transaction
// that appends them, so the rollup sums exactly the committed entries.
// The rows go as arrays, one parameter a column, in key order, so two
// appends lock the rollup's rows in the same order (and the audit_size
// row serialises them anyway).
func appendRollupTx(ctx context.Context, tx pgx.Tx, entries []*cordon.AuditEntry) error {
	rows := stored.AuditRollup(entries)
	if len(rows) == 0 {
		return nil
	}
	var (
		cats, principals                              []string
		days, counts, reads, writes, exports, deletes []int64
		firsts, lasts                                 []int64
	)
	for _, r := range rows {
		cats, principals = append(cats, r.Categories), append(principals, r.Principal)
		days, counts = append(days, r.Day), append(counts, r.Count)
		reads, writes = append(reads, r.PerAction[0]), append(writes, r.PerAction[1])
		exports, deletes = append(exports, r.PerAction[2]), append(deletes, r.PerAction[3])
		firsts, lasts = append(firsts, r.First), append(lasts, r.Last)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_rollup AS r (categories, day, principal, count, reads, writes, exports, deletes, first_at, last_at)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
		ON CONFLICT (categories, day, principal) DO UPDATE SET count = r.count + excluded.count,
			reads = r.reads + excluded.reads, writes = r.writes + excluded.writes,
			exports = r.exports + excluded.exports, deletes = r.deletes + excluded.deletes,
			first_at = least(r.first_at, excluded.first_at), last_at = greatest(r.last_at, excluded.last_at)`,
		cats, days, principals, counts, reads, writes, exports, deletes, firsts, lasts); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_rollup_sets (categories) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING`, cats)
	return err
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
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4)`,
			int64(c.Size), stored.NonNil(c.Root), stored.NonNil(c.Note), micros(c.Created)); err != nil {
			return err
		}
		if len(nodes) == 0 {
			return nil
		}
		levels := make([]int32, len(nodes))
		idxs := make([]int64, len(nodes))
		hashes := make([][]byte, len(nodes))
		for i, n := range nodes {
			levels[i], idxs[i], hashes[i] = int32(n.Level), int64(n.Index), n.Hash
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_nodes (level, idx, hash)
			SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING`, levels, idxs, hashes)
		return err
	})
}

// AuditReport is AuditQuery by subject over exact principals. It stays
// with each backend (as SQLite's) because it calls the backend's own
// AuditQuery, which a shared method could not reach.
func (db *DB) AuditReport(ctx context.Context, principals []string, from, to time.Time, fn func(*cordon.AuditAccess) error) error {
	if len(principals) == 0 {
		return nil
	}
	return db.AuditQuery(ctx, cordon.AuditFilter{Principals: principals, From: from, To: to, By: cordon.AuditBySubject}, fn)
}

// AuditQuery groups the selected entries in SQL, per group and action,
// and merges the actions of a group here. (DISTINCT: a subject read a
// million times has a handful of distinct category lists, not a million
// to concatenate.)
func (db *DB) AuditQuery(ctx context.Context, f cordon.AuditFilter, fn func(*cordon.AuditAccess) error) error {
	from, to := micros(f.From), micros(f.To)
	if first, last, ok := stored.RollupWindow(from, to); ok && f.By == cordon.AuditByPrincipal && len(f.Users) == 0 {
		return db.auditQueryRollup(ctx, f, from, to, first, last, fn)
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{"at >= " + arg(from)}
	if !f.To.IsZero() {
		where = append(where, "at < "+arg(to))
	}
	where = append(where, auditFilterSQL(f, false, arg)...)
	key, unresolved, account := "principal", "false", "''"
	if f.By == cordon.AuditBySubject {
		key = auditUser
		unresolved, account = "coalesce(account = '', false)", "coalesce(account, '')"
	}
	// One row per group: the actions are counted in columns (there are
	// four), not grouped by, which would make up to four rows of each.
	q := `SELECT ` + key + ` COLLATE "C" AS k, ` + unresolved + ` AS u, min(` + account + `),
		count(*) FILTER (WHERE action = 'read'), count(*) FILTER (WHERE action = 'write'),
		count(*) FILTER (WHERE action = 'export'), count(*) FILTER (WHERE action = 'delete'),
		string_agg(DISTINCT categories, ' '), array_agg(DISTINCT subject), count(*), min(at), max(at)
		FROM audit_entries WHERE ` + strings.Join(where, " AND ") + `
		GROUP BY k, u ORDER BY k, u`
	return db.auditRows(ctx, f.By, q, args, fn)
}

// auditFilterSQL is the principal, user and category conditions of f on
// audit_entries, or (rollup) on audit_rollup, whose rows are keyed by
// their set of categories: there the sets carrying the category are
// looked up in audit_rollup_sets, and every set is named even without a
// category, so the day range is read through the primary key per set.
func auditFilterSQL(f cordon.AuditFilter, rollup bool, arg func(any) string) []string {
	var where []string
	if len(f.Principals) > 0 {
		names, patterns := stored.SplitPrincipals(f.Principals)
		var or []string
		if len(names) > 0 {
			or = append(or, "principal = ANY("+arg(names)+")")
		}
		for _, p := range patterns {
			or = append(or, "principal LIKE "+arg(stored.LikePattern(p))+` ESCAPE '\'`)
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if len(f.Users) > 0 {
		where = append(where, auditUser+" = ANY("+arg(f.Users)+")")
	}
	switch {
	case rollup && f.Category != "":
		where = append(where, "categories IN (SELECT categories FROM audit_rollup_sets WHERE position("+arg(" "+f.Category+" ")+" in ' ' || categories || ' ') > 0)")
	case rollup:
		where = append(where, "categories IN (SELECT categories FROM audit_rollup_sets)")
	case f.Category != "":
		where = append(where, "position("+arg(" "+f.Category+" ")+" in ' ' || categories || ' ') > 0")
	}
	return where
}

// auditQueryRollup answers a question grouped by principal over a window
// holding whole days [first, last) (last 0: no end): those days from
// audit_rollup, the edges the window cuts, [from, first) and [last, to),
// from the entries, in one statement, so one snapshot.
func (db *DB) auditQueryRollup(ctx context.Context, f cordon.AuditFilter, from, to, first, last int64, fn func(*cordon.AuditAccess) error) error {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	rwhere := []string{"day >= " + arg(first)}
	if to != 0 {
		rwhere = append(rwhere, "day < "+arg(last))
	}
	rwhere = append(rwhere, auditFilterSQL(f, true, arg)...)
	parts := []string{`SELECT principal, reads AS r, writes AS w, exports AS x, deletes AS d, categories, count AS n, first_at AS f, last_at AS l
		FROM audit_rollup WHERE ` + strings.Join(rwhere, " AND ")}
	edge := func(lo, hi int64) {
		if lo >= hi {
			return
		}
		w := append([]string{"at >= " + arg(lo), "at < " + arg(hi)}, auditFilterSQL(f, false, arg)...)
		parts = append(parts, `SELECT principal, (action = 'read')::int::bigint, (action = 'write')::int::bigint, (action = 'export')::int::bigint,
			(action = 'delete')::int::bigint, categories, 1::bigint, at, at FROM audit_entries WHERE `+strings.Join(w, " AND "))
	}
	edge(from, first*stored.DayMicros)
	if to != 0 {
		edge(last*stored.DayMicros, to)
	}
	q := `SELECT principal COLLATE "C" AS k, false, '', sum(r)::bigint, sum(w)::bigint, sum(x)::bigint, sum(d)::bigint,
		string_agg(DISTINCT categories, ' '), '{}'::text[], sum(n)::bigint, min(f), max(l)
		FROM (` + strings.Join(parts, " UNION ALL ") + `) AS u GROUP BY k ORDER BY k`
	return db.auditRows(ctx, f.By, q, args, fn)
}

// auditRows runs an AuditQuery statement and merges its rows.
func (db *DB) auditRows(ctx context.Context, by cordon.AuditGroupBy, q string, args []any, fn func(*cordon.AuditAccess) error) error {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	merge := &stored.AuditMerger{By: by, Fn: fn}
	for rows.Next() {
		var (
			r          stored.AuditRow
			categories string
		)
		if err := rows.Scan(&r.Key, &r.Unresolved, &r.Account, &r.PerAction[0], &r.PerAction[1], &r.PerAction[2], &r.PerAction[3],
			&categories, &r.Aliases, &r.Count, &r.First, &r.Last); err != nil {
			return err
		}
		r.Categories = stored.SplitCategories(categories)
		if by != cordon.AuditBySubject {
			r.Aliases = nil
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

// AppendAuditBatch appends entries once per batch key. The key's row is
// inserted first: a concurrent transaction with the same key waits on
// its unique index until this one commits, then finds the row and
// appends nothing.
func (db *DB) AppendAuditBatch(ctx context.Context, b *cordon.AuditBatch, entries []*cordon.AuditEntry, forgetBefore time.Time) (*cordon.AuditBatch, bool, error) {
	if err := stored.CheckAuditBatch(b, entries); err != nil {
		return nil, false, err
	}
	var (
		got      *cordon.AuditBatch
		appended bool
	)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		got, appended = nil, false
		// SKIP LOCKED: two appends forgetting the same old batches never
		// wait on (or deadlock over) each other's deletes.
		if _, err := tx.Exec(ctx, `DELETE FROM audit_batches WHERE key IN (SELECT key FROM audit_batches WHERE at < $1 FOR UPDATE SKIP LOCKED)`, micros(forgetBefore)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO audit_batches (key, digest, first, count, size, at) VALUES ($1, $2, 0, 0, 0, $3) ON CONFLICT (key) DO NOTHING`,
			b.Key, b.Digest, micros(b.At))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var (
				old             cordon.AuditBatch
				first, size, at int64
			)
			if err := tx.QueryRow(ctx, `SELECT digest, first, count, size, at FROM audit_batches WHERE key = $1`, b.Key).
				Scan(&old.Digest, &first, &old.Count, &size, &at); err != nil {
				return err
			}
			old.Key, old.First, old.Size, old.At = b.Key, uint64(first), uint64(size), fromMicros(at)
			got = &old
			return nil
		}
		n, err := appendAuditTx(ctx, tx, entries)
		if err != nil {
			return err
		}
		nb := *b
		nb.Count, nb.Size, nb.First = len(entries), n, n-uint64(len(entries))
		if _, err := tx.Exec(ctx, `UPDATE audit_batches SET first = $2, count = $3, size = $4 WHERE key = $1`,
			nb.Key, int64(nb.First), nb.Count, int64(nb.Size)); err != nil {
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

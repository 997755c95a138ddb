package sqlstore

import (
	"context"
	"database/sql"
	"math"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// The audit log's reads, checkpoints, key, saved reports and subject
// resolution are written once here. Its append path (AppendAudit,
// AppendAuditBatch, AddAuditCheckpoint, and the pending records each
// backend's write transaction appends) and its grouped questions
// (AuditQuery, AuditReport) stay in each backend: their SQL differs
// (SQLite's multi-row VALUES, prepared statements, json_each, GLOB and
// group_concat; PostgreSQL's unnest arrays, LIKE, string_agg and
// array_agg) and they are what the audit benchmarks measure.

// AuditCols are the columns of an audit entry, in queryAudit's order.
const AuditCols = `idx, leaf, leaf_hash, at, principal, action, subject, categories, account`

// AuditUser is an entry's user, exactly as the index
// audit_entries_user_at is on (the planner matches the expression).
const AuditUser = "(CASE WHEN account IS NULL OR account = '' THEN subject ELSE account END)"

// AuditSize returns the number of entries.
func (s *Store) AuditSize(ctx context.Context) (uint64, error) {
	var n int64
	if err := s.b.Reader().QueryRow(ctx, `SELECT size FROM audit_size`).Scan(&n); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// AuditEntries calls fn for entries [from, to) in index order, reading
// stored.AuditBatch at a time.
func (s *Store) AuditEntries(ctx context.Context, from, to uint64, fn func(*cordon.AuditEntry) error) error {
	return stored.EachAuditEntry(from, to, func(from, to uint64) ([]*cordon.AuditEntry, error) {
		return s.QueryAudit(ctx, `SELECT `+AuditCols+` FROM audit_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3`,
			int64(from), int64(to), stored.AuditBatch)
	}, fn)
}

// QueryAudit runs a query selecting AuditCols and returns its entries.
func (s *Store) QueryAudit(ctx context.Context, q string, args ...any) ([]*cordon.AuditEntry, error) {
	rows, err := s.b.Reader().Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var batch []*cordon.AuditEntry
	for rows.Next() {
		var (
			e          cordon.AuditEntry
			idx, at    int64
			categories string
			account    sql.NullString
		)
		if err := rows.Scan(&idx, &e.Leaf, &e.LeafHash, &at, &e.Principal, &e.Action, &e.Subject, &categories, &account); err != nil {
			return nil, err
		}
		e.Account, e.Resolved = account.String, account.Valid
		e.Index, e.Time, e.Categories = uint64(idx), stored.Time(at), stored.SplitCategories(categories)
		batch = append(batch, &e)
	}
	return batch, rows.Err()
}

// AuditNodeHash returns a stored node's hash.
func (s *Store) AuditNodeHash(ctx context.Context, level uint, index uint64) ([]byte, error) {
	if level > 63 || index > math.MaxInt64 {
		return nil, cordon.ErrNotFound
	}
	var h []byte
	err := s.b.Reader().QueryRow(ctx, `SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2`, int32(level), int64(index)).Scan(&h)
	return h, err
}

// AuditKey stores k unless a key exists, then returns the stored key.
func (s *Store) AuditKey(ctx context.Context, k *cordon.AuditKey) (*cordon.AuditKey, error) {
	var got cordon.AuditKey
	err := s.b.Write(ctx, func(tx Querier) error {
		if k != nil && k.Signer != "" {
			// one is the table's only row: BOOLEAN TRUE on PostgreSQL,
			// INTEGER 1 on SQLite, as each driver binds true.
			if _, err := tx.Exec(ctx, `INSERT INTO audit_key (one, signer, verifier, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				true, k.Signer, k.Verifier, stored.Micros(k.Created)); err != nil {
				return err
			}
		}
		var created int64
		if err := tx.QueryRow(ctx, `SELECT signer, verifier, created_at FROM audit_key`).Scan(&got.Signer, &got.Verifier, &created); err != nil {
			return err
		}
		got.Created = stored.Time(created)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &got, nil
}

// AuditCheckpoints returns every checkpoint, smallest size first.
func (s *Store) AuditCheckpoints(ctx context.Context) ([]*cordon.AuditCheckpoint, error) {
	return s.AuditCheckpointsAfter(ctx, 0, -1)
}

// AuditCheckpointsAfter returns a page of checkpoints, through the size
// key (limit < 0: no limit).
func (s *Store) AuditCheckpointsAfter(ctx context.Context, after uint64, limit int) ([]*cordon.AuditCheckpoint, error) {
	if after > math.MaxInt64 || limit == 0 {
		return nil, nil
	}
	q, args := `SELECT size, root, note, created_at FROM audit_checkpoints WHERE size > $1 ORDER BY size`, []any{int64(after)}
	if limit > 0 {
		q, args = q+` LIMIT $2`, append(args, limit)
	}
	rows, err := s.b.Reader().Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []*cordon.AuditCheckpoint
	for rows.Next() {
		var (
			c             cordon.AuditCheckpoint
			size, created int64
		)
		if err := rows.Scan(&size, &c.Root, &c.Note, &created); err != nil {
			return nil, err
		}
		c.Size, c.Created = uint64(size), stored.Time(created)
		cs = append(cs, &c)
	}
	return cs, rows.Err()
}

// AuditCheckpoint returns the checkpoint of a size, or the latest for 0.
func (s *Store) AuditCheckpoint(ctx context.Context, size uint64) (*cordon.AuditCheckpoint, error) {
	if size > math.MaxInt64 {
		return nil, cordon.ErrNotFound
	}
	q := `SELECT size, root, note, created_at FROM audit_checkpoints WHERE size = $1`
	args := []any{int64(size)}
	if size == 0 {
		q, args = `SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1`, nil
	}
	var (
		c       cordon.AuditCheckpoint
		n, when int64
	)
	if err := s.b.Reader().QueryRow(ctx, q, args...).Scan(&n, &c.Root, &c.Note, &when); err != nil {
		return nil, err
	}
	c.Size, c.Created = uint64(n), stored.Time(when)
	return &c, nil
}

// ResolveSubjects maps subjects to account ids in one statement: ids
// first, then username keys; deleted accounts too.
func (s *Store) ResolveSubjects(ctx context.Context, subjects []string) (map[string]string, error) {
	return s.accountIDs(ctx, subjects, false)
}

// LiveAccountIDs is ResolveSubjects without deleted accounts.
func (s *Store) LiveAccountIDs(ctx context.Context, refs []string) (map[string]string, error) {
	return s.accountIDs(ctx, refs, true)
}

func (s *Store) accountIDs(ctx context.Context, subjects []string, live bool) (map[string]string, error) {
	out := make(map[string]string, len(subjects))
	if len(subjects) == 0 {
		return out, nil
	}
	keys := make([]string, len(subjects))
	for i, sub := range subjects {
		keys[i] = cordon.UsernameKey(sub)
	}
	q := `SELECT id, username_key FROM accounts
		WHERE (` + s.d.InStrings("id", "$1") + ` OR ` + s.d.InStrings("username_key", "$2") + `)`
	if live {
		q += ` AND deleted_at = 0`
	}
	rows, err := s.b.Reader().Query(ctx, q, s.d.Strings(subjects), s.d.Strings(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids, byKey := map[string]bool{}, map[string]string{}
	for rows.Next() {
		var id, key string
		if err := rows.Scan(&id, &key); err != nil {
			return nil, err
		}
		ids[id], byKey[key] = true, id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, sub := range subjects {
		if ids[sub] {
			out[sub] = sub
		} else if id, ok := byKey[keys[i]]; ok {
			out[sub] = id
		}
	}
	return out, nil
}

// SaveAuditReport stores a report.
func (s *Store) SaveAuditReport(ctx context.Context, r *cordon.SavedAuditReport) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit_reports (id, principals, from_at, to_at, created_at, created_by, subjects) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.ID, s.d.Strings(r.Principals), stored.Micros(r.From), stored.Micros(r.To), stored.Micros(r.Created), r.CreatedBy, s.d.Strings(r.Subjects))
		return err
	})
}

// SavedAuditReport returns a saved report.
func (s *Store) SavedAuditReport(ctx context.Context, id string) (*cordon.SavedAuditReport, error) {
	var (
		r                 cordon.SavedAuditReport
		from, to, created int64
	)
	err := s.b.Reader().QueryRow(ctx, `SELECT id, principals, from_at, to_at, created_at, created_by, subjects FROM audit_reports WHERE id = $1`, id).
		Scan(&r.ID, s.d.StringsDest(&r.Principals), &from, &to, &created, &r.CreatedBy, s.d.StringsDest(&r.Subjects))
	if err != nil {
		return nil, err
	}
	r.From, r.To, r.Created = stored.Time(from), stored.Time(to), stored.Time(created)
	return &r, nil
}

// AuditEntriesAbout calls fn for every entry whose subject is one of
// subjects (cordon's own objects), in index order, read in batches
// through the partial index of cordon's subjects; the query repeats the
// index's condition so the planner may use it.
func (s *Store) AuditEntriesAbout(ctx context.Context, subjects []string, fn func(*cordon.AuditEntry) error) error {
	if err := stored.CheckAboutSubjects(subjects); err != nil {
		return err
	}
	q := `SELECT ` + AuditCols + ` FROM audit_entries WHERE ` + s.d.InStrings("subject", "$1") + ` AND subject LIKE 'cordon:%' AND idx >= $2 ORDER BY idx LIMIT $3`
	list := s.d.Strings(subjects)
	next := int64(0)
	for {
		batch, err := s.QueryAudit(ctx, q, list, next, stored.AuditBatch)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < stored.AuditBatch {
			return nil
		}
		next = int64(batch[len(batch)-1].Index) + 1
	}
}

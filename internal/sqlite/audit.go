package sqlite

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var _ cordon.AuditStore = (*DB)(nil)

// auditBatch is how many entries AuditEntries reads at a time, so a scan
// of a long log holds neither the whole log in memory nor a reader's
// snapshot open while fn works.
const auditBatch = 10_000

const auditCols = `idx, leaf, leaf_hash, at, principal, action, subject, categories`

// AppendAudit stores entries in one write transaction. The one writer
// connection and BEGIN IMMEDIATE serialise appends, so the size read
// first is still the size when the batch commits.
func (db *DB) AppendAudit(ctx context.Context, entries []*cordon.AuditEntry) (uint64, error) {
	for _, e := range entries {
		if err := stored.CheckAuditEntry(e); err != nil {
			return 0, err
		}
	}
	var size uint64
	err := db.write(ctx, func(tx *sql.Tx) error {
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM audit_entries`).Scan(&next); err != nil {
			return err
		}
		size = uint64(next)
		if len(entries) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_entries (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, e := range entries {
			if _, err := stmt.ExecContext(ctx, next+int64(i), e.Leaf, e.LeafHash, micros(e.Time),
				e.Principal, e.Action, e.Subject, stored.JoinCategories(e.Categories)); err != nil {
				return err
			}
		}
		size += uint64(len(entries))
		return nil
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

// AuditSize returns the number of entries.
func (db *DB) AuditSize(ctx context.Context) (uint64, error) {
	var n int64
	if err := db.r.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM audit_entries`).Scan(&n); err != nil {
		return 0, mapErr(err)
	}
	return uint64(n), nil
}

// AuditEntries calls fn for entries [from, to) in index order, reading
// auditBatch at a time. Entries never change once written, so batches
// read in separate snapshots still join into one consistent range.
func (db *DB) AuditEntries(ctx context.Context, from, to uint64, fn func(*cordon.AuditEntry) error) error {
	to = min(to, math.MaxInt64)
	for from < to {
		batch, err := db.auditEntries(ctx, from, to)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < auditBatch {
			return nil
		}
		from = batch[len(batch)-1].Index + 1
	}
	return nil
}

func (db *DB) auditEntries(ctx context.Context, from, to uint64) ([]*cordon.AuditEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?`,
		int64(from), int64(to), auditBatch)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var batch []*cordon.AuditEntry
	for rows.Next() {
		var (
			e          cordon.AuditEntry
			idx, at    int64
			categories string
		)
		if err := rows.Scan(&idx, &e.Leaf, &e.LeafHash, &at, &e.Principal, &e.Action, &e.Subject, &categories); err != nil {
			return nil, err
		}
		e.Index, e.Time, e.Categories = uint64(idx), fromMicros(at), stored.SplitCategories(categories)
		batch = append(batch, &e)
	}
	return batch, mapErr(rows.Err())
}

// AddAuditCheckpoint stores a checkpoint; ErrAlreadyExists for a size
// already checkpointed.
func (db *DB) AddAuditCheckpoint(ctx context.Context, c *cordon.AuditCheckpoint) error {
	if c.Size > math.MaxInt64 {
		return cordon.Errorf(cordon.ECodeInvalid, "checkpoint size %d is out of range", c.Size)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)`,
			int64(c.Size), stored.NonNil(c.Root), stored.NonNil(c.Note), micros(c.Created))
		return err
	})
}

// AuditCheckpoints returns every checkpoint, smallest size first.
func (db *DB) AuditCheckpoints(ctx context.Context) ([]*cordon.AuditCheckpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return nil, mapErr(err)
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
		c.Size, c.Created = uint64(size), fromMicros(created)
		cs = append(cs, &c)
	}
	return cs, mapErr(rows.Err())
}

// AuditReport groups the entries of principals in [from, to) by subject,
// reading them through the (principal, at) index. SQL counts and finds
// the span; the union of categories is computed here, from the
// concatenated category lists, since SQLite has no set aggregate.
func (db *DB) AuditReport(ctx context.Context, principals []string, from, to time.Time) ([]cordon.AuditAccess, error) {
	if len(principals) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(principals)+2)
	for _, p := range principals {
		args = append(args, p)
	}
	args = append(args, micros(from), micros(to))
	marks := strings.Repeat(", ?", len(principals))[2:]
	rows, err := db.r.QueryContext(ctx, `SELECT subject, group_concat(categories, ' '), count(*), min(at), max(at)
		FROM audit_entries WHERE principal IN (`+marks+`) AND at >= ? AND at < ?
		GROUP BY subject ORDER BY subject`, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var report []cordon.AuditAccess
	for rows.Next() {
		var (
			a           cordon.AuditAccess
			categories  string
			first, last int64
		)
		if err := rows.Scan(&a.Subject, &categories, &a.Count, &first, &last); err != nil {
			return nil, err
		}
		a.Categories = slices.Compact(stored.SplitCategories(categories))
		a.First, a.Last = fromMicros(first), fromMicros(last)
		report = append(report, a)
	}
	return report, mapErr(rows.Err())
}

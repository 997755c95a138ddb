package postgres

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cordon-dev/cordon/internal/stored"
)

// Inspect connects to the database at url applying no migration, for
// cordon doctor: a check must not change what it checks.
func Inspect(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return withStore(&DB{pool: pool}), nil
}

// Diagnose runs cordon doctor's checks: the schema's migrations, the
// deployment's identity, the signing and audit keys, and the audit log's
// rows against its recorded size. (PostgreSQL checks its own pages;
// amcheck needs an extension and a superuser, so it is not run here.)
func (db *DB) Diagnose(ctx context.Context) []stored.Finding {
	known, _ := fs.Glob(migrations, "migrations/*.sql")
	out := []stored.Finding{stored.DiagnoseSchema(known, func() ([]string, error) {
		rows, err := db.pool.Query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	})}
	n := func(q string) func() (int64, error) {
		return func() (int64, error) {
			var v int64
			err := db.pool.QueryRow(ctx, q).Scan(&v)
			return v, err
		}
	}
	out = append(out, stored.DiagnoseContent(ctx, stored.Queries{
		Meta:       func(key string) (string, error) { return db.Meta(ctx, key) },
		Keys:       n(`SELECT count(*) FROM signing_keys WHERE retired_at = 0`),
		AuditKey:   n(`SELECT count(*) FROM audit_key`),
		AuditRows:  n(`SELECT count(*) FROM audit_entries`),
		AuditNext:  n(`SELECT coalesce(max(idx) + 1, 0) FROM audit_entries`),
		AuditSize:  n(`SELECT coalesce((SELECT size FROM audit_size), 0)`),
		Checkpoint: n(`SELECT coalesce(max(size), 0) FROM audit_checkpoints`),
	})...)
	return append(out, stored.RollupFinding(n(auditRollupDiff)()))
}

// auditRollupDiff counts the rows on which audit_rollup and the entries
// summed afresh disagree.
const auditRollupDiff = `WITH fresh AS (
		SELECT categories COLLATE "C" AS categories, floor(at::numeric / 86400000000)::bigint AS day, principal COLLATE "C" AS principal,
			count(*) AS count, count(*) FILTER (WHERE action = 'read') AS reads, count(*) FILTER (WHERE action = 'write') AS writes,
			count(*) FILTER (WHERE action = 'export') AS exports, count(*) FILTER (WHERE action = 'delete') AS deletes, min(at) AS first_at, max(at) AS last_at
		FROM audit_entries GROUP BY 1, 2, 3),
	kept AS (SELECT categories, day, principal, count, reads, writes, exports, deletes, first_at, last_at FROM audit_rollup)
	SELECT (SELECT count(*) FROM (SELECT * FROM fresh EXCEPT SELECT * FROM kept) AS a) + (SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM fresh) AS b)`

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
	return &DB{pool: pool}, nil
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
	return append(out, stored.DiagnoseContent(ctx, stored.Queries{
		Meta:       func(key string) (string, error) { return db.Meta(ctx, key) },
		Keys:       n(`SELECT count(*) FROM signing_keys WHERE retired_at = 0`),
		AuditKey:   n(`SELECT count(*) FROM audit_key`),
		AuditRows:  n(`SELECT count(*) FROM audit_entries`),
		AuditNext:  n(`SELECT coalesce(max(idx) + 1, 0) FROM audit_entries`),
		AuditSize:  n(`SELECT coalesce((SELECT size FROM audit_size), 0)`),
		Checkpoint: n(`SELECT coalesce(max(size), 0) FROM audit_checkpoints`),
	})...)
}

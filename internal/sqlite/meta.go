package sqlite

import (
	"context"
	"database/sql"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var _ cordon.MetaStore = (*DB)(nil)

// Initialise runs fn under the initialisation lock (see cordon.MetaStore):
// a mutex of this DB. Other processes on the same file are kept out by
// cordon serve's lock on it, so this process is the only writer there is.
func (db *DB) Initialise(ctx context.Context, fn func(ctx context.Context) error) error {
	db.initMu.Lock()
	defer db.initMu.Unlock()
	return fn(ctx)
}

// Meta returns the value under key, or cordon.ErrNotFound.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.w.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v, mapErr(err)
}

// PutMeta stores value under key unless one is there; it returns the
// value stored.
func (db *DB) PutMeta(ctx context.Context, key, value string) (string, error) {
	var got string
	err := db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&got)
	})
	return got, err
}

// SetMeta stores value under key, replacing any value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}

// RaisePolicyVersion moves the policy version to v+1 unless it is past v.
func (db *DB) RaisePolicyVersion(ctx context.Context, v uint64) (uint64, error) {
	var got uint64
	err := db.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `UPDATE policy_version SET version = CASE WHEN version > ? THEN version ELSE ? + 1 END WHERE id = 1 RETURNING version`, v, v).Scan(&got)
	})
	return got, err
}

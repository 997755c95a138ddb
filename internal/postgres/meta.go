package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var _ cordon.MetaStore = (*DB)(nil)

// Initialise runs fn while this node holds a session-level advisory lock
// named for the schema, taken on a connection of its own: nodes starting
// at once on an empty schema run their first-time setup one after
// another, and the second finds the first one's signing key, admin token
// and deployment id instead of making its own. fn's writes commit on other
// connections before the lock is released; a node that dies drops its
// connection and with it the lock.
func (db *DB) Initialise(ctx context.Context, fn func(ctx context.Context) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer conn.Release()
	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return mapErr(err)
	}
	if schema == nil {
		return fmt.Errorf("postgres: initialise: no schema on the search_path exists")
	}
	key := lockKey("cordon initialise " + *schema)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return mapErr(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	return fn(ctx)
}

// Meta returns the value under key, or cordon.ErrNotFound.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	return v, mapErr(err)
}

// PutMeta stores value under key unless one is there; it returns the
// value stored.
func (db *DB) PutMeta(ctx context.Context, key, value string) (string, error) {
	var got string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&got)
	})
	return got, err
}

// SetMeta stores value under key, replacing any value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}

// RaisePolicyVersion moves the policy version to v+1 unless it is past v.
func (db *DB) RaisePolicyVersion(ctx context.Context, v uint64) (uint64, error) {
	var got int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE policy_version SET version = CASE WHEN version > $1 THEN version ELSE $1 + 1 END WHERE id = 1 RETURNING version`, int64(v)).Scan(&got)
	})
	return uint64(got), err
}

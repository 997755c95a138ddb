package postgres

import (
	"context"
	"fmt"

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

package sqlite

import (
	"context"

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

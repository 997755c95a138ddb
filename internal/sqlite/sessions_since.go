package sqlite

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// SessionsSince returns the account's sessions live at or after since:
// live ones and those revoked at or after it, newest first.
func (db *DB) SessionsSince(ctx context.Context, accountID string, since time.Time) ([]*cordon.Session, error) {
	return db.querySessions(ctx, `SELECT `+sessionCols+` FROM sessions WHERE account_id = ? AND (revoked_at = 0 OR revoked_at >= ?) ORDER BY created_at DESC, id`,
		accountID, micros(since))
}

package sqlite

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// SessionsSince returns the account's sessions live at or after since:
// live ones and those revoked at or after it, newest first.
func (db *DB) SessionsSince(ctx context.Context, accountID string, since time.Time) ([]*cordon.Session, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE account_id = ? AND (revoked_at = 0 OR revoked_at >= ?) ORDER BY created_at DESC, id`,
		accountID, micros(since))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*cordon.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}

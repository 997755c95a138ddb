package sqlstore

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// SessionsSince returns the account's sessions live at or after since:
// live ones and those revoked at or after it, newest first.
func (s *Store) SessionsSince(ctx context.Context, accountID string, since time.Time) ([]*cordon.Session, error) {
	return querySessions(ctx, s.b.Reader(), `SELECT `+sessionCols+` FROM sessions WHERE account_id = $1 AND (revoked_at = 0 OR revoked_at >= $2) ORDER BY created_at DESC, id`,
		accountID, stored.Micros(since))
}

package memstore

import (
	"context"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// SessionsSince returns the account's sessions live at or after since:
// live ones and those revoked at or after it, newest first.
func (m *Store) SessionsSince(_ context.Context, accountID string, since time.Time) ([]*cordon.Session, error) {
	defer m.lock()()
	since = since.Truncate(time.Microsecond)
	var out []*cordon.Session
	for _, s := range m.sessions {
		if s.AccountID == accountID && (s.Live() || !s.RevokedAt.Before(since)) {
			out = append(out, &s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

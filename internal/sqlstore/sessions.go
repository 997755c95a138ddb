package sqlstore

import (
	"context"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

const sessionCols = `id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, revoked_at, revoke_reason`

func scanSession(row Row) (*cordon.Session, error) {
	var s cordon.Session
	var auth, created, seen, revoked int64
	if err := row.Scan(&s.ID, &s.AccountID, &s.Facts.Platform, &s.Facts.Version, &s.Facts.Source, &s.Facts.Device, &auth, &created, &seen, &revoked, &s.RevokeReason); err != nil {
		return nil, err
	}
	s.AuthTime, s.CreatedAt, s.LastSeenAt, s.RevokedAt = stored.Time(auth), stored.Time(created), stored.Time(seen), stored.Time(revoked)
	return &s, nil
}

// querySessions runs a query (or an UPDATE … RETURNING) of sessionCols on
// q, a reader or a transaction, and reads every session it returns before
// the caller runs another statement.
func querySessions(ctx context.Context, q Querier, query string, args ...any) ([]*cordon.Session, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
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
	return out, rows.Err()
}

package sqlstore

import (
	"context"
	"strings"
	"time"

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

// The session writes — CreateSession, UpdateSessionFacts, RevokeSession,
// RevokeAccountSessions, RotateRefreshToken, ExpireSessions — stay with
// each backend for now: they move sessions between fleet buckets, which is
// still each backend's own (fleet.go), and SQLite's RotateRefreshToken
// runs on its prepared hot-path statements.

// SessionByID looks a session up, live or revoked. SQLite serves it from
// a prepared statement (its override in internal/sqlite).
func (s *Store) SessionByID(ctx context.Context, id string) (*cordon.Session, error) {
	return scanSession(s.b.Reader().QueryRow(ctx, SessionByIDSQL, id))
}

// SessionByIDSQL is SessionByID's statement: $1 the session's id. SQLite
// prepares it once (as ?1).
const SessionByIDSQL = `SELECT ` + sessionCols + ` FROM sessions WHERE id = $1`

// ListSessions returns the account's live sessions, newest first.
func (s *Store) ListSessions(ctx context.Context, accountID string) ([]*cordon.Session, error) {
	return querySessions(ctx, s.b.Reader(), `SELECT `+sessionCols+` FROM sessions WHERE account_id = $1 AND revoked_at = 0 ORDER BY created_at DESC, id`, accountID)
}

// RevokedSince returns the sessions revoked at or after t, oldest first.
func (s *Store) RevokedSince(ctx context.Context, t time.Time) ([]cordon.Revoked, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT id, revoked_at FROM sessions WHERE revoked_at != 0 AND revoked_at >= $1 ORDER BY revoked_at, id`, max(stored.Micros(t), 1))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cordon.Revoked
	for rows.Next() {
		var r cordon.Revoked
		var at int64
		if err := rows.Scan(&r.SessionID, &at); err != nil {
			return nil, err
		}
		r.RevokedAt = stored.Time(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PeekRefreshToken returns the session of an exchangeable refresh token
// without spending it. SQLite serves it from a prepared statement (its
// override in internal/sqlite).
func (s *Store) PeekRefreshToken(ctx context.Context, hash []byte, now time.Time) (*cordon.Session, error) {
	return scanSession(s.b.Reader().QueryRow(ctx, PeekRefreshSQL, hash, stored.Micros(now)))
}

// PeekRefreshSQL is PeekRefreshToken's statement: $1 the token's hash, $2
// the time in microseconds. SQLite prepares it once (as ?1, ?2).
var PeekRefreshSQL = `SELECT ` + prefixed("s.", sessionCols) + ` FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.hash = $1 AND t.used_at = 0 AND t.idle_expires_at > $2 AND t.absolute_expires_at > $2 AND s.revoked_at = 0`

// prefixed qualifies each column of a column list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
)

// CreateSession stores a session, its first refresh token and its place in
// the fleet's buckets, in one transaction.
func (db *DB) CreateSession(ctx context.Context, s *cordon.Session, rt *cordon.RefreshToken) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO sessions (id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			s.ID, s.AccountID, s.Facts.Platform, s.Facts.Version, s.Facts.Source, s.Facts.Device, micros(s.AuthTime), micros(s.CreatedAt), micros(s.LastSeenAt), micros(familyEnd(rt)))
		if err != nil {
			return err
		}
		if err := insertRefreshToken(ctx, tx, rt); err != nil {
			return err
		}
		return moveBuckets(ctx, tx, []shift{enter(s)})
	})
}

func insertRefreshToken(ctx context.Context, tx pgx.Tx, rt *cordon.RefreshToken) error {
	_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5)`,
		rt.Hash, rt.SessionID, micros(rt.CreatedAt), micros(rt.IdleExpiresAt), micros(rt.AbsoluteExpiresAt))
	return err
}

const sessionCols = `id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, revoked_at, revoke_reason`

func scanSession(row rowScanner) (*cordon.Session, error) {
	var s cordon.Session
	var auth, created, seen, revoked int64
	if err := row.Scan(&s.ID, &s.AccountID, &s.Facts.Platform, &s.Facts.Version, &s.Facts.Source, &s.Facts.Device, &auth, &created, &seen, &revoked, &s.RevokeReason); err != nil {
		return nil, mapErr(err)
	}
	s.AuthTime, s.CreatedAt, s.LastSeenAt, s.RevokedAt = fromMicros(auth), fromMicros(created), fromMicros(seen), fromMicros(revoked)
	return &s, nil
}

// querySessions runs a query (or an UPDATE … RETURNING) of sessionCols on
// q, a pool or a transaction, and reads every session it returns.
func querySessions(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]*cordon.Session, error) {
	rows, err := q.Query(ctx, query, args...)
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

// UpdateSessionFacts records newer client facts on a session; a live
// session whose bucket key changes moves to its new bucket. The session's
// row is locked first, so the move starts from the facts it replaces.
func (db *DB) UpdateSessionFacts(ctx context.Context, id string, f cordon.ClientFacts, seen time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		old, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET platform = $1, version = $2, source = $3, device = $4, last_seen_at = $5 WHERE id = $6`,
			f.Platform, f.Version, f.Source, f.Device, micros(seen), id); err != nil {
			return err
		}
		next := *old
		next.Facts = f
		if !old.Live() || keyOf(old) == keyOf(&next) {
			return nil
		}
		return moveBuckets(ctx, tx, []shift{leave(old), enter(&next)})
	})
}

// RevokeSession revokes one session; revoking a revoked one keeps the
// first revocation.
func (db *DB) RevokeSession(ctx context.Context, id, reason string, at time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error { return revokeSession(ctx, tx, id, reason, at) })
}

// revokeSession revokes a live session and takes it out of its bucket; a
// revoked one it leaves as it is. The conditional UPDATE makes the first
// of two concurrent revocations the only one.
func revokeSession(ctx context.Context, tx pgx.Tx, id, reason string, at time.Time) error {
	s, err := scanSession(tx.QueryRow(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at = 0 RETURNING `+sessionCols,
		micros(at), reason, id))
	if errors.Is(err, cordon.ErrNotFound) {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)`, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return cordon.ErrNotFound
		}
		return nil
	}
	if err != nil || s.Live() { // a zero at revokes nothing
		return err
	}
	return moveBuckets(ctx, tx, []shift{leave(s)})
}

// RevokeAccountSessions revokes every live session of an account but one,
// and returns their ids.
func (db *DB) RevokeAccountSessions(ctx context.Context, accountID, exceptID, reason string, at time.Time) ([]string, error) {
	var ids []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		ids = nil
		revoked, err := querySessions(ctx, tx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE account_id = $3 AND id != $4 AND revoked_at = 0 RETURNING `+sessionCols,
			micros(at), reason, accountID, exceptID)
		if err != nil {
			return err
		}
		var shifts []shift
		for _, s := range revoked {
			ids = append(ids, s.ID)
			if !s.Live() { // a zero at revokes nothing
				shifts = append(shifts, leave(s))
			}
		}
		return moveBuckets(ctx, tx, shifts)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// RotateRefreshToken exchanges a refresh token for the next one. The
// exchange is decided by one statement: the UPDATE that marks old used
// only while it is unused. PostgreSQL runs concurrent ones on the row one
// after another and re-checks the condition on the newest version, so of
// callers racing with one token exactly one marks it; the others find it
// spent, which is reuse. A rotation that fails after marking it (expired
// token, revoked session, next's hash taken) rolls the mark back.
func (db *DB) RotateRefreshToken(ctx context.Context, old []byte, next *cordon.RefreshToken, now time.Time) (*cordon.Session, error) {
	var sess *cordon.Session
	var stored cordon.RefreshToken
	var reused bool
	n := micros(now)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		sess, reused = nil, false
		var sid string
		var idle, abs int64
		err := tx.QueryRow(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at = 0 RETURNING session_id, idle_expires_at, absolute_expires_at`,
			old, n).Scan(&sid, &idle, &abs)
		if errors.Is(err, pgx.ErrNoRows) {
			// Unknown, or spent: earlier, or just now by the caller that
			// won a race for it.
			var used int64
			if err := tx.QueryRow(ctx, `SELECT session_id, used_at FROM refresh_tokens WHERE hash = $1`, old).Scan(&sid, &used); err != nil {
				return err
			}
			if used == 0 {
				// Stored after this statement's snapshot was taken: it
				// was unknown when presented.
				return cordon.ErrNotFound
			}
			reused = true
			if err := revokeSession(ctx, tx, sid, cordon.RevokeRefreshReuse, now); err != nil {
				return err
			}
			sess, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, sid))
			return err
		}
		if err != nil {
			return err
		}
		if n >= idle || n >= abs {
			return cordon.ErrNotFound
		}
		stored = *next
		stored.SessionID = sid
		stored.AbsoluteExpiresAt = fromMicros(abs)
		if stored.IdleExpiresAt.After(stored.AbsoluteExpiresAt) {
			stored.IdleExpiresAt = stored.AbsoluteExpiresAt
		}
		// Only a live session rotates; the condition is re-checked after
		// any concurrent revocation of the row commits.
		s, err := scanSession(tx.QueryRow(ctx, `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1 AND revoked_at = 0 RETURNING `+sessionCols,
			sid, n, micros(familyEnd(&stored))))
		if err != nil {
			return err
		}
		if err := insertRefreshToken(ctx, tx, &stored); err != nil {
			return err
		}
		sess = s
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case reused:
		return sess, cordon.ErrRefreshReused
	}
	*next = stored
	return sess, nil
}

// familyEnd is when the refresh token, and so its session, stops working.
func familyEnd(rt *cordon.RefreshToken) time.Time {
	if rt.AbsoluteExpiresAt.Before(rt.IdleExpiresAt) {
		return rt.AbsoluteExpiresAt
	}
	return rt.IdleExpiresAt
}

// ExpireSessions sweeps up to limit sessions whose refresh family has
// expired (a negative limit: all of them). The outer conditions repeat the
// inner ones so that a session revoked, or kept alive by a rotation, while
// the sweep waited for its row is re-checked and left alone.
func (db *DB) ExpireSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	var lim any = limit
	if limit < 0 {
		lim = nil // LIMIT NULL is no limit
	}
	var n int
	err := db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		revoked, err := querySessions(ctx, tx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2
			WHERE id IN (SELECT id FROM sessions WHERE revoked_at = 0 AND expires_at != 0 AND expires_at <= $1 ORDER BY expires_at LIMIT $3)
			AND revoked_at = 0 AND expires_at != 0 AND expires_at <= $1
			RETURNING `+sessionCols,
			micros(now), cordon.RevokeExpired, lim)
		if err != nil {
			return err
		}
		n = len(revoked)
		shifts := make([]shift, 0, len(revoked))
		for _, s := range revoked {
			if !s.Live() {
				shifts = append(shifts, leave(s))
			}
		}
		return moveBuckets(ctx, tx, shifts)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

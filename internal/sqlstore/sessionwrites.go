package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// The session writes move sessions between the fleet's buckets in the
// same transaction (MoveBuckets), so a bucket's count is always its live
// sessions. RotateRefreshToken stays with each backend: SQLite runs it on
// prepared hot-path statements behind its one writer, PostgreSQL decides
// it with one conditional UPDATE that concurrent callers queue on.

// SessionCols are the columns ScanSession reads, in its order.
const SessionCols = sessionCols

// ScanSession reads a row of SessionCols.
func ScanSession(row Row) (*cordon.Session, error) { return scanSession(row) }

// CreateSession stores a session, its first refresh token and its place in
// the fleet's buckets, in one transaction.
func (s *Store) CreateSession(ctx context.Context, sess *cordon.Session, rt *cordon.RefreshToken) error {
	return s.b.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			sess.ID, sess.AccountID, sess.Facts.Platform, sess.Facts.Version, sess.Facts.Source, sess.Facts.Device,
			stored.Micros(sess.AuthTime), stored.Micros(sess.CreatedAt), stored.Micros(sess.LastSeenAt), stored.Micros(FamilyEnd(rt))); err != nil {
			return err
		}
		if err := InsertRefreshToken(ctx, tx, rt); err != nil {
			return err
		}
		return MoveBuckets(ctx, tx, []Shift{Enter(sess)})
	})
}

// InsertRefreshToken stores rt in tx.
func InsertRefreshToken(ctx context.Context, tx Querier, rt *cordon.RefreshToken) error {
	_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5)`,
		rt.Hash, rt.SessionID, stored.Micros(rt.CreatedAt), stored.Micros(rt.IdleExpiresAt), stored.Micros(rt.AbsoluteExpiresAt))
	return err
}

// FamilyEnd is when the refresh token, and so its session, stops working.
func FamilyEnd(rt *cordon.RefreshToken) time.Time {
	if rt.AbsoluteExpiresAt.Before(rt.IdleExpiresAt) {
		return rt.AbsoluteExpiresAt
	}
	return rt.IdleExpiresAt
}

// UpdateSessionFacts records newer client facts on a session; a live
// session whose bucket key changes moves to its new bucket. On PostgreSQL
// the session's row is locked first, so the move starts from the facts it
// replaces (SQLite's one writer serialises the whole transaction).
func (s *Store) UpdateSessionFacts(ctx context.Context, id string, f cordon.ClientFacts, seen time.Time) error {
	return s.b.Write(ctx, func(tx Querier) error {
		old, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET platform = $1, version = $2, source = $3, device = $4, last_seen_at = $5 WHERE id = $6`,
			f.Platform, f.Version, f.Source, f.Device, stored.Micros(seen), id); err != nil {
			return err
		}
		next := *old
		next.Facts = f
		if !old.Live() || KeyOf(old) == KeyOf(&next) {
			return nil
		}
		return MoveBuckets(ctx, tx, []Shift{Leave(old), Enter(&next)})
	})
}

// RevokeSession revokes one session; revoking a revoked one keeps the
// first revocation.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, at time.Time) error {
	return s.b.Write(ctx, func(tx Querier) error { return RevokeSessionTx(ctx, tx, id, reason, at) })
}

// RevokeSessionTx revokes a live session in tx and takes it out of its
// bucket; a revoked one it leaves as it is. The conditional UPDATE makes
// the first of two concurrent revocations the only one.
func RevokeSessionTx(ctx context.Context, tx Querier, id, reason string, at time.Time) error {
	sess, err := scanSession(tx.QueryRow(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at = 0 RETURNING `+sessionCols,
		stored.Micros(at), reason, id))
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
	if err != nil || sess.Live() { // a zero at revokes nothing
		return err
	}
	return MoveBuckets(ctx, tx, []Shift{Leave(sess)})
}

// RevokeAccountSessions revokes every live session of an account but one,
// and returns their ids.
func (s *Store) RevokeAccountSessions(ctx context.Context, accountID, exceptID, reason string, at time.Time) ([]string, error) {
	var ids []string
	err := s.b.Write(ctx, func(tx Querier) error {
		ids = nil
		revoked, err := querySessions(ctx, tx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE account_id = $3 AND id != $4 AND revoked_at = 0 RETURNING `+sessionCols,
			stored.Micros(at), reason, accountID, exceptID)
		if err != nil {
			return err
		}
		var shifts []Shift
		for _, sess := range revoked {
			ids = append(ids, sess.ID)
			if !sess.Live() { // a zero at revokes nothing
				shifts = append(shifts, Leave(sess))
			}
		}
		return MoveBuckets(ctx, tx, shifts)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ExpireSessions sweeps up to limit sessions whose refresh family has
// expired (a negative limit: all of them). The outer conditions repeat the
// inner ones so that a session revoked, or kept alive by a rotation, while
// the sweep waited for its row (PostgreSQL) is re-checked and left alone.
func (s *Store) ExpireSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	var lim any = limit
	if limit < 0 {
		lim = s.d.NoLimit
	}
	var n int
	err := s.b.Write(ctx, func(tx Querier) error {
		n = 0
		revoked, err := querySessions(ctx, tx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2
			WHERE id IN (SELECT id FROM sessions WHERE revoked_at = 0 AND expires_at != 0 AND expires_at <= $1 ORDER BY expires_at LIMIT $3)
			AND revoked_at = 0 AND expires_at != 0 AND expires_at <= $1
			RETURNING `+sessionCols,
			stored.Micros(now), cordon.RevokeExpired, lim)
		if err != nil {
			return err
		}
		n = len(revoked)
		shifts := make([]Shift, 0, len(revoked))
		for _, sess := range revoked {
			if !sess.Live() {
				shifts = append(shifts, Leave(sess))
			}
		}
		return MoveBuckets(ctx, tx, shifts)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// LockAccount locks an account and revokes its live sessions.
func (s *Store) LockAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	var ids []string
	err := s.b.Write(ctx, func(tx Querier) error {
		ids = nil
		n, err := tx.Exec(ctx, `UPDATE accounts SET locked_at = CASE WHEN locked_at = 0 THEN $1 ELSE locked_at END WHERE id = $2 AND deleted_at = 0`, stored.Micros(at), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		if ids, err = revokeAccount(ctx, tx, id, cordon.RevokeAccountLocked, at); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM password_resets WHERE account_id = $1`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// revokeAccount revokes every live session of an account and takes each
// out of its bucket.
func revokeAccount(ctx context.Context, tx Querier, accountID, reason string, at time.Time) ([]string, error) {
	revoked, err := querySessions(ctx, tx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE account_id = $3 AND revoked_at = 0 RETURNING `+sessionCols,
		stored.Micros(at), reason, accountID)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	var shifts []Shift
	for _, sess := range revoked {
		ids = append(ids, sess.ID)
		shifts = append(shifts, Leave(sess))
	}
	return ids, MoveBuckets(ctx, tx, shifts)
}

// DeleteAccount ends an account and erases its credentials; the row stays
// (marked deleted) so its username stays taken.
func (s *Store) DeleteAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	var ids []string
	err := s.b.Write(ctx, func(tx Querier) error {
		ids = nil
		n, err := tx.Exec(ctx, `UPDATE accounts SET deleted_at = $1, password_hash = '', email = '' WHERE id = $2 AND deleted_at = 0`, stored.Micros(at), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		if ids, err = revokeAccount(ctx, tx, id, cordon.RevokeAccountDeleted, at); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE account_id = $1)`,
			`DELETE FROM offline_grants WHERE account_id = $1`,
			`DELETE FROM password_resets WHERE account_id = $1`,
			`UPDATE sessions SET device = '' WHERE account_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// LiveSessions calls fn for every live session, streamed from one
// statement (one snapshot); an error from fn stops the scan and is
// returned.
func (s *Store) LiveSessions(ctx context.Context, fn func(*cordon.Session) error) error {
	rows, err := s.b.Reader().Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE revoked_at = 0`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return err
		}
		if err := fn(sess); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SessionsOf returns the live sessions of the given accounts, newest
// first, in one statement whatever their number (the ids bound as one
// list: a JSON array on SQLite, a text[] on PostgreSQL). Unknown accounts
// have none.
func (s *Store) SessionsOf(ctx context.Context, accountIDs []string) ([]*cordon.Session, error) {
	if len(accountIDs) == 0 {
		return nil, nil
	}
	return querySessions(ctx, s.b.Reader(), `SELECT `+sessionCols+` FROM sessions WHERE `+s.d.InStrings("account_id", "$1")+` AND revoked_at = 0 ORDER BY created_at DESC, id`, s.d.Strings(accountIDs))
}

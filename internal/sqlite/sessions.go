package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
)

// CreateSession stores a session and its first refresh token.
func (db *DB) CreateSession(ctx context.Context, s *cordon.Session, rt *cordon.RefreshToken) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.AccountID, s.Facts.Platform, s.Facts.Version, s.Facts.Source, s.Facts.Device, micros(s.AuthTime), micros(s.CreatedAt), micros(s.LastSeenAt), micros(familyEnd(rt)))
		if err != nil {
			return err
		}
		if err := insertRefreshToken(ctx, tx, rt); err != nil {
			return err
		}
		return enterBucket(ctx, tx, s)
	})
}

func insertRefreshToken(ctx context.Context, tx *sql.Tx, rt *cordon.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at, idle_expires_at, absolute_expires_at) VALUES (?, ?, ?, ?, ?)`,
		rt.Hash, rt.SessionID, micros(rt.CreatedAt), micros(rt.IdleExpiresAt), micros(rt.AbsoluteExpiresAt))
	return err
}

const sessionCols = `id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, revoked_at, revoke_reason`

func scanSession(row interface{ Scan(...any) error }) (*cordon.Session, error) {
	var s cordon.Session
	var auth, created, seen, revoked int64
	if err := row.Scan(&s.ID, &s.AccountID, &s.Facts.Platform, &s.Facts.Version, &s.Facts.Source, &s.Facts.Device, &auth, &created, &seen, &revoked, &s.RevokeReason); err != nil {
		return nil, mapErr(err)
	}
	s.AuthTime, s.CreatedAt, s.LastSeenAt, s.RevokedAt = fromMicros(auth), fromMicros(created), fromMicros(seen), fromMicros(revoked)
	return &s, nil
}

// hotStmts are the statements of the requests every client makes —
// an access token's session check, a refresh's rotation — prepared once
// per connection instead of parsed and planned by SQLite on every call,
// which cost as much as running them. The reader statements run on any
// reader connection (database/sql prepares each on a connection at its
// first use there); the writer statements join a transaction with
// tx.StmtContext, which reuses the single writer connection's.
type hotStmts struct {
	sessionByID *sql.Stmt // reader
	peekRefresh *sql.Stmt // reader

	refreshRow    *sql.Stmt // writer
	sessionByIDW  *sql.Stmt // writer
	spendRefresh  *sql.Stmt // writer
	insertRefresh *sql.Stmt // writer
	touchSession  *sql.Stmt // writer
}

func (h *hotStmts) prepare(ctx context.Context, r, w *sql.DB) error {
	for _, p := range []struct {
		db  *sql.DB
		st  **sql.Stmt
		sql string
	}{
		{r, &h.sessionByID, rebind(sqlstore.SessionByIDSQL)},
		{r, &h.peekRefresh, rebind(sqlstore.PeekRefreshSQL)},
		{w, &h.refreshRow, `SELECT session_id, idle_expires_at, absolute_expires_at, used_at FROM refresh_tokens WHERE hash = ?`},
		{w, &h.sessionByIDW, rebind(sqlstore.SessionByIDSQL)},
		{w, &h.spendRefresh, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at = 0`},
		{w, &h.insertRefresh, `INSERT INTO refresh_tokens (hash, session_id, created_at, idle_expires_at, absolute_expires_at) VALUES (?, ?, ?, ?, ?)`},
		{w, &h.touchSession, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`},
	} {
		st, err := p.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.st = st
	}
	return nil
}

func (h *hotStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{h.sessionByID, h.peekRefresh, h.refreshRow, h.sessionByIDW, h.spendRefresh, h.insertRefresh, h.touchSession} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// SessionByID looks a session up, live or revoked. It overrides the
// shared store's (same statement) with the prepared hotStmts.sessionByID.
//
// The lookup ignores ctx's cancellation (not its values): for a context
// that can end, the driver starts a goroutine per statement to interrupt
// it, which cost more than this one-row primary-key read it would cut
// short. Every request with an access token makes this read.
func (db *DB) SessionByID(ctx context.Context, id string) (*cordon.Session, error) {
	return scanSession(db.hot.sessionByID.QueryRowContext(context.WithoutCancel(ctx), id))
}

// UpdateSessionFacts records newer client facts on a session; a live
// session whose bucket key changes moves to its new bucket.
func (db *DB) UpdateSessionFacts(ctx context.Context, id string, f cordon.ClientFacts, seen time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		old, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET platform = ?, version = ?, source = ?, device = ?, last_seen_at = ? WHERE id = ?`,
			f.Platform, f.Version, f.Source, f.Device, micros(seen), id); err != nil {
			return err
		}
		next := *old
		next.Facts = f
		if !old.Live() || keyOf(old) == keyOf(&next) {
			return nil
		}
		if err := leaveBucket(ctx, tx, old); err != nil {
			return err
		}
		return enterBucket(ctx, tx, &next)
	})
}

// RevokeSession revokes one session.
func (db *DB) RevokeSession(ctx context.Context, id, reason string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error { return revokeSession(ctx, tx, id, reason, at) })
}

// revokeSession revokes a live session and takes it out of its bucket; a
// revoked one it leaves as it is.
func revokeSession(ctx context.Context, tx *sql.Tx, id, reason string, at time.Time) error {
	s, err := scanSession(tx.QueryRowContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at = 0 RETURNING `+sessionCols,
		micros(at), reason, id))
	if errors.Is(err, cordon.ErrNotFound) {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	}
	if err != nil || s.Live() { // a zero at revokes nothing
		return err
	}
	return leaveBucket(ctx, tx, s)
}

// RevokeAccountSessions revokes every live session of an account but one.
func (db *DB) RevokeAccountSessions(ctx context.Context, accountID, exceptID, reason string, at time.Time) ([]string, error) {
	var ids []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		revoked, err := revokeWhere(ctx, tx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE account_id = ? AND id != ? AND revoked_at = 0 RETURNING `+sessionCols,
			micros(at), reason, accountID, exceptID)
		if err != nil {
			return err
		}
		for _, s := range revoked {
			ids = append(ids, s.ID)
			if s.Live() { // a zero at revokes nothing
				continue
			}
			if err := leaveBucket(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// revokeWhere runs an UPDATE … RETURNING sessionCols and reads every
// session it returns before the caller writes again.
func revokeWhere(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]*cordon.Session, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
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

// RotateRefreshToken exchanges a refresh token for the next one. The
// single writer connection serialises callers, and the conditional UPDATE
// makes the exchange atomic on its own, so at most one caller wins.
func (db *DB) RotateRefreshToken(ctx context.Context, old []byte, next *cordon.RefreshToken, now time.Time) (*cordon.Session, error) {
	var sess *cordon.Session
	var reused bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		reused = false
		var sid string
		var idle, abs, used int64
		err := tx.StmtContext(ctx, db.hot.refreshRow).QueryRowContext(ctx, old).Scan(&sid, &idle, &abs, &used)
		if err != nil {
			return err
		}
		if used != 0 {
			reused = true
			if err := revokeSession(ctx, tx, sid, cordon.RevokeRefreshReuse, now); err != nil {
				return err
			}
			sess, err = scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, sid))
			return err
		}
		n := micros(now)
		if n >= idle || n >= abs {
			return cordon.ErrNotFound
		}
		s, err := scanSession(tx.StmtContext(ctx, db.hot.sessionByIDW).QueryRowContext(ctx, sid))
		if err != nil {
			return err
		}
		if !s.Live() {
			return cordon.ErrNotFound
		}
		res, err := tx.StmtContext(ctx, db.hot.spendRefresh).ExecContext(ctx, n, old)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return errors.New("refresh token changed under an immediate transaction")
		}
		next.SessionID = sid
		next.AbsoluteExpiresAt = fromMicros(abs)
		if next.IdleExpiresAt.After(next.AbsoluteExpiresAt) {
			next.IdleExpiresAt = next.AbsoluteExpiresAt
		}
		if _, err := tx.StmtContext(ctx, db.hot.insertRefresh).ExecContext(ctx, next.Hash, next.SessionID, micros(next.CreatedAt), micros(next.IdleExpiresAt), micros(next.AbsoluteExpiresAt)); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, db.hot.touchSession).ExecContext(ctx, n, micros(familyEnd(next)), sid); err != nil {
			return err
		}
		s.LastSeenAt = fromMicros(n)
		sess = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return sess, cordon.ErrRefreshReused
	}
	return sess, nil
}

// familyEnd is when the refresh token, and so its session, stops working.
func familyEnd(rt *cordon.RefreshToken) time.Time {
	if rt.AbsoluteExpiresAt.Before(rt.IdleExpiresAt) {
		return rt.AbsoluteExpiresAt
	}
	return rt.IdleExpiresAt
}

// PeekRefreshToken returns the session of an exchangeable refresh token.
// It overrides the shared store's (same statement) with the prepared
// hotStmts.peekRefresh.
func (db *DB) PeekRefreshToken(ctx context.Context, hash []byte, now time.Time) (*cordon.Session, error) {
	// One row by primary key: not worth a goroutine to interrupt it (see
	// SessionByID).
	return scanSession(db.hot.peekRefresh.QueryRowContext(context.WithoutCancel(ctx), hash, micros(now)))
}

// ExpireSessions sweeps sessions whose refresh family has expired.
func (db *DB) ExpireSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := db.write(ctx, func(tx *sql.Tx) error {
		revoked, err := revokeWhere(ctx, tx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id IN (
			SELECT id FROM sessions WHERE revoked_at = 0 AND expires_at != 0 AND expires_at <= ? LIMIT ?) RETURNING `+sessionCols,
			micros(now), cordon.RevokeExpired, micros(now), limit)
		if err != nil {
			return err
		}
		n = len(revoked)
		for _, s := range revoked {
			if err := leaveBucket(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
)

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
	return sqlstore.ScanSession(sqlRow{db.hot.sessionByID.QueryRowContext(context.WithoutCancel(ctx), id)})
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
			if err := sqlstore.RevokeSessionTx(ctx, sqlQuerier{tx}, sid, cordon.RevokeRefreshReuse, now); err != nil {
				return err
			}
			sess, err = sqlstore.ScanSession(sqlQuerier{tx}.QueryRow(ctx, `SELECT `+sqlstore.SessionCols+` FROM sessions WHERE id = $1`, sid))
			return err
		}
		n := micros(now)
		if n >= idle || n >= abs {
			return cordon.ErrNotFound
		}
		s, err := sqlstore.ScanSession(sqlRow{tx.StmtContext(ctx, db.hot.sessionByIDW).QueryRowContext(ctx, sid)})
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
		if _, err := tx.StmtContext(ctx, db.hot.touchSession).ExecContext(ctx, n, micros(sqlstore.FamilyEnd(next)), sid); err != nil {
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

// PeekRefreshToken returns the session of an exchangeable refresh token.
// It overrides the shared store's (same statement) with the prepared
// hotStmts.peekRefresh.
func (db *DB) PeekRefreshToken(ctx context.Context, hash []byte, now time.Time) (*cordon.Session, error) {
	// One row by primary key: not worth a goroutine to interrupt it (see
	// SessionByID).
	return sqlstore.ScanSession(sqlRow{db.hot.peekRefresh.QueryRowContext(context.WithoutCancel(ctx), hash, micros(now))})
}

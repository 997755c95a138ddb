package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlstore"
	"github.com/jackc/pgx/v5"
)

// The other session methods are the shared store's (sqlstore).

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
			if err := sqlstore.RevokeSessionTx(ctx, querier{tx}, sid, cordon.RevokeRefreshReuse, now); err != nil {
				return err
			}
			sess, err = sqlstore.ScanSession(querier{tx}.QueryRow(ctx, `SELECT `+sqlstore.SessionCols+` FROM sessions WHERE id = $1`, sid))
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
		s, err := sqlstore.ScanSession(querier{tx}.QueryRow(ctx, `UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1 AND revoked_at = 0 RETURNING `+sqlstore.SessionCols,
			sid, n, micros(sqlstore.FamilyEnd(&stored))))
		if err != nil {
			return err
		}
		if err := sqlstore.InsertRefreshToken(ctx, querier{tx}, &stored); err != nil {
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

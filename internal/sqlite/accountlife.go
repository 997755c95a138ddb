package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// LockAccount locks an account and revokes its live sessions.
func (db *DB) LockAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	var ids []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET locked_at = CASE WHEN locked_at = 0 THEN ? ELSE locked_at END WHERE id = ? AND deleted_at = 0`, micros(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cordon.ErrNotFound
		}
		if ids, err = revokeAccount(ctx, tx, id, cordon.RevokeAccountLocked, at); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM password_resets WHERE account_id = ?`, id)
		return err
	})
	return ids, err
}

// revokeAccount revokes every live session of an account and takes each
// out of its bucket.
func revokeAccount(ctx context.Context, tx *sql.Tx, accountID, reason string, at time.Time) ([]string, error) {
	revoked, err := revokeWhere(ctx, tx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE account_id = ? AND revoked_at = 0 RETURNING `+sessionCols,
		micros(at), reason, accountID)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, s := range revoked {
		ids = append(ids, s.ID)
		if err := leaveBucket(ctx, tx, s); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// DeleteAccount ends an account and erases its credentials; the row stays
// (marked deleted) so its username stays taken.
func (db *DB) DeleteAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	var ids []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET deleted_at = ?, password_hash = '', email = '' WHERE id = ? AND deleted_at = 0`, micros(at), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cordon.ErrNotFound
		}
		if ids, err = revokeAccount(ctx, tx, id, cordon.RevokeAccountDeleted, at); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE account_id = ?)`,
			`DELETE FROM offline_grants WHERE account_id = ?`,
			`DELETE FROM password_resets WHERE account_id = ?`,
			`UPDATE sessions SET device = '' WHERE account_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

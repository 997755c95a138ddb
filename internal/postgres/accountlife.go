package postgres

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
)

// LockAccount locks an account and revokes its live sessions.
func (db *DB) LockAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	var ids []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET locked_at = CASE WHEN locked_at = 0 THEN $1 ELSE locked_at END WHERE id = $2 AND deleted_at = 0`, micros(at), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
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
func revokeAccount(ctx context.Context, tx pgx.Tx, accountID, reason string, at time.Time) ([]string, error) {
	revoked, err := querySessions(ctx, tx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE account_id = $3 AND revoked_at = 0 RETURNING `+sessionCols,
		micros(at), reason, accountID)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	var shifts []shift
	for _, s := range revoked {
		ids = append(ids, s.ID)
		shifts = append(shifts, leave(s))
	}
	return ids, moveBuckets(ctx, tx, shifts)
}

// DeleteAccount ends an account and erases its credentials; the row stays
// (marked deleted) so its username stays taken.
func (db *DB) DeleteAccount(ctx context.Context, id string, at time.Time) ([]string, error) {
	var ids []string
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET deleted_at = $1, password_hash = '', email = '' WHERE id = $2 AND deleted_at = 0`, micros(at), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
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

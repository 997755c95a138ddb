package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var _ cordon.OfflineStore = (*DB)(nil)

// CreateOfflineGrant stores an offline grant.
func (db *DB) CreateOfflineGrant(ctx context.Context, g *cordon.OfflineGrant) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO offline_grants (hash, account_id, session_id, platform, version, source, device, auth_time, issued_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, g.Hash, g.AccountID, g.SessionID, g.Facts.Platform, g.Facts.Version, g.Facts.Source, g.Facts.Device,
			micros(g.AuthTime), micros(g.IssuedAt), micros(g.ExpiresAt))
		return err
	})
}

// OfflineGrantByHash looks an offline grant up by the hash of its secret.
func (db *DB) OfflineGrantByHash(ctx context.Context, hash []byte) (*cordon.OfflineGrant, error) {
	var g cordon.OfflineGrant
	var auth, issued, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT hash, account_id, session_id, platform, version, source, device, auth_time, issued_at, expires_at
		FROM offline_grants WHERE hash = ?`, hash).Scan(&g.Hash, &g.AccountID, &g.SessionID, &g.Facts.Platform, &g.Facts.Version, &g.Facts.Source,
		&g.Facts.Device, &auth, &issued, &expires)
	if err != nil {
		return nil, mapErr(err)
	}
	g.AuthTime, g.IssuedAt, g.ExpiresAt = fromMicros(auth), fromMicros(issued), fromMicros(expires)
	return &g, nil
}

var _ cordon.ResetStore = (*DB)(nil)

// CreatePasswordReset stores a password-reset permission.
func (db *DB) CreatePasswordReset(ctx context.Context, r *cordon.PasswordReset) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO password_resets (hash, account_id, campaign_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			r.Hash, r.AccountID, r.CampaignID, micros(r.CreatedAt), micros(r.ExpiresAt))
		return err
	})
}

// ConsumePasswordReset spends a password-reset permission.
func (db *DB) ConsumePasswordReset(ctx context.Context, hash []byte, now time.Time) (*cordon.PasswordReset, error) {
	var r cordon.PasswordReset
	err := db.write(ctx, func(tx *sql.Tx) error {
		var created, expires, used int64
		err := tx.QueryRowContext(ctx, `SELECT hash, account_id, campaign_id, created_at, expires_at, used_at FROM password_resets WHERE hash = ?`, hash).
			Scan(&r.Hash, &r.AccountID, &r.CampaignID, &created, &expires, &used)
		if err != nil {
			return err
		}
		if used != 0 || micros(now) >= expires {
			return cordon.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `UPDATE password_resets SET used_at = ? WHERE hash = ?`, micros(now), hash); err != nil {
			return err
		}
		r.CreatedAt, r.ExpiresAt, r.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(micros(now))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// DeletePasswordResets deletes every permission of the account.
func (db *DB) DeletePasswordResets(ctx context.Context, accountID string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM password_resets WHERE account_id = ?`, accountID)
		return err
	})
}

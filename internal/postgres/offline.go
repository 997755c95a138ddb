package postgres

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
)

// CreateOfflineGrant stores an offline grant: ErrAlreadyExists on a hash
// clash, ErrNotFound for a missing account or session.
func (db *DB) CreateOfflineGrant(ctx context.Context, g *cordon.OfflineGrant) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO offline_grants (hash, account_id, session_id, platform, version, source, device, auth_time, issued_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, g.Hash, g.AccountID, g.SessionID, g.Facts.Platform, g.Facts.Version, g.Facts.Source, g.Facts.Device,
			micros(g.AuthTime), micros(g.IssuedAt), micros(g.ExpiresAt))
		return err
	})
}

// OfflineGrantByHash looks an offline grant up by the hash of its secret.
func (db *DB) OfflineGrantByHash(ctx context.Context, hash []byte) (*cordon.OfflineGrant, error) {
	var g cordon.OfflineGrant
	var auth, issued, expires int64
	err := db.pool.QueryRow(ctx, `SELECT hash, account_id, session_id, platform, version, source, device, auth_time, issued_at, expires_at
		FROM offline_grants WHERE hash = $1`, hash).Scan(&g.Hash, &g.AccountID, &g.SessionID, &g.Facts.Platform, &g.Facts.Version, &g.Facts.Source,
		&g.Facts.Device, &auth, &issued, &expires)
	if err != nil {
		return nil, mapErr(err)
	}
	g.AuthTime, g.IssuedAt, g.ExpiresAt = fromMicros(auth), fromMicros(issued), fromMicros(expires)
	return &g, nil
}

// CreatePasswordReset stores a password-reset permission.
func (db *DB) CreatePasswordReset(ctx context.Context, r *cordon.PasswordReset) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO password_resets (hash, account_id, campaign_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			r.Hash, r.AccountID, r.CampaignID, micros(r.CreatedAt), micros(r.ExpiresAt))
		return err
	})
}

// ConsumePasswordReset spends a password-reset permission. One conditional
// UPDATE decides: of concurrent callers, the later ones wait for the first
// to commit and then find the permission used, so exactly one wins.
func (db *DB) ConsumePasswordReset(ctx context.Context, hash []byte, now time.Time) (*cordon.PasswordReset, error) {
	var r cordon.PasswordReset
	n := micros(now)
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var created, expires, used int64
		if err := tx.QueryRow(ctx, `UPDATE password_resets SET used_at = $2 WHERE hash = $1 AND used_at = 0 AND expires_at > $2
			RETURNING hash, account_id, campaign_id, created_at, expires_at, used_at`, hash, n).
			Scan(&r.Hash, &r.AccountID, &r.CampaignID, &created, &expires, &used); err != nil {
			return err // no row: unknown, used or expired
		}
		r.CreatedAt, r.ExpiresAt, r.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// DeletePasswordResets deletes every permission of the account.
func (db *DB) DeletePasswordResets(ctx context.Context, accountID string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE account_id = $1`, accountID)
		return err
	})
}

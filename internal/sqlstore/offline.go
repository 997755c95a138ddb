package sqlstore

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

var (
	_ cordon.OfflineStore = (*Store)(nil)
	_ cordon.ResetStore   = (*Store)(nil)
)

// CreateOfflineGrant stores an offline grant: ErrAlreadyExists on a hash
// clash, ErrNotFound for a missing account or session.
func (s *Store) CreateOfflineGrant(ctx context.Context, g *cordon.OfflineGrant) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO offline_grants (hash, account_id, session_id, platform, version, source, device, auth_time, issued_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, g.Hash, g.AccountID, g.SessionID, g.Facts.Platform, g.Facts.Version, g.Facts.Source, g.Facts.Device,
			stored.Micros(g.AuthTime), stored.Micros(g.IssuedAt), stored.Micros(g.ExpiresAt))
		return err
	})
}

// OfflineGrantByHash looks an offline grant up by the hash of its secret.
func (s *Store) OfflineGrantByHash(ctx context.Context, hash []byte) (*cordon.OfflineGrant, error) {
	var g cordon.OfflineGrant
	var auth, issued, expires int64
	err := s.b.Reader().QueryRow(ctx, `SELECT hash, account_id, session_id, platform, version, source, device, auth_time, issued_at, expires_at
		FROM offline_grants WHERE hash = $1`, hash).Scan(&g.Hash, &g.AccountID, &g.SessionID, &g.Facts.Platform, &g.Facts.Version, &g.Facts.Source,
		&g.Facts.Device, &auth, &issued, &expires)
	if err != nil {
		return nil, err
	}
	g.AuthTime, g.IssuedAt, g.ExpiresAt = stored.Time(auth), stored.Time(issued), stored.Time(expires)
	return &g, nil
}

// CreatePasswordReset stores a password-reset permission.
func (s *Store) CreatePasswordReset(ctx context.Context, r *cordon.PasswordReset) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO password_resets (hash, account_id, campaign_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			r.Hash, r.AccountID, r.CampaignID, stored.Micros(r.CreatedAt), stored.Micros(r.ExpiresAt))
		return err
	})
}

// ConsumePasswordReset spends a password-reset permission. One conditional
// UPDATE decides: of concurrent callers, the later ones wait for the first
// to commit (on SQLite, for the one writer) and then find the permission
// used, so exactly one wins.
func (s *Store) ConsumePasswordReset(ctx context.Context, hash []byte, now time.Time) (*cordon.PasswordReset, error) {
	var r cordon.PasswordReset
	n := stored.Micros(now)
	err := s.b.Write(ctx, func(tx Querier) error {
		var created, expires, used int64
		if err := tx.QueryRow(ctx, `UPDATE password_resets SET used_at = $2 WHERE hash = $1 AND used_at = 0 AND expires_at > $2
			RETURNING hash, account_id, campaign_id, created_at, expires_at, used_at`, hash, n).
			Scan(&r.Hash, &r.AccountID, &r.CampaignID, &created, &expires, &used); err != nil {
			return err // no row: unknown, used or expired
		}
		r.CreatedAt, r.ExpiresAt, r.UsedAt = stored.Time(created), stored.Time(expires), stored.Time(used)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// DeletePasswordResets deletes every permission of the account.
func (s *Store) DeletePasswordResets(ctx context.Context, accountID string) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE account_id = $1`, accountID)
		return err
	})
}

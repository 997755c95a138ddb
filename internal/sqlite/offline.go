package sqlite

import (
	"context"
	"database/sql"

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

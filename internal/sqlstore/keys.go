package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// SigningKeys returns every signing key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]*cordon.SigningKey, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT id, algorithm, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cordon.SigningKey
	for rows.Next() {
		var k cordon.SigningKey
		var created, retired int64
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &created, &retired); err != nil {
			return nil, err
		}
		k.CreatedAt, k.RetiredAt = stored.Time(created), stored.Time(retired)
		out = append(out, &k)
	}
	return out, rows.Err()
}

// AddSigningKey stores k and retires the keys that signed until now, in
// one transaction: a taken id retires nothing.
func (s *Store) AddSigningKey(ctx context.Context, k *cordon.SigningKey) error {
	return s.b.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at = 0`, stored.Micros(k.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, created_at) VALUES ($1, $2, $3, $4)`,
			k.ID, k.Algorithm, k.PrivateKey, stored.Micros(k.CreatedAt))
		return err
	})
}

// DeleteSigningKeysRetiredBefore prunes old retired keys.
func (s *Store) DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE retired_at != 0 AND retired_at < $1`, stored.Micros(t))
		return err
	})
}

// CreateAdminToken stores an admin token; its scopes are kept
// space-separated.
func (s *Store) CreateAdminToken(ctx context.Context, t *cordon.AdminToken) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO admin_tokens (id, name, hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.ID, t.Name, t.Hash, strings.Join(t.Scopes, " "), stored.Micros(t.CreatedAt), stored.Micros(t.ExpiresAt))
		return err
	})
}

// AdminTokenByHash looks an admin token up by the hash of its secret,
// usable or not: the caller judges Usable.
func (s *Store) AdminTokenByHash(ctx context.Context, hash []byte) (*cordon.AdminToken, error) {
	return scanAdminToken(s.b.Reader().QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE hash = $1`, hash))
}

// CountAdminTokens counts admin tokens.
func (s *Store) CountAdminTokens(ctx context.Context) (int, error) {
	var n int
	err := s.b.Reader().QueryRow(ctx, `SELECT count(*) FROM admin_tokens`).Scan(&n)
	return n, err
}

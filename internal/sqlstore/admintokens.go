package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

const adminTokenCols = `id, name, hash, scopes, created_at, expires_at, revoked_at, replaced_by`

func scanAdminToken(row Row) (*cordon.AdminToken, error) {
	var t cordon.AdminToken
	var scopes string
	var created, expires, revoked int64
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &scopes, &created, &expires, &revoked, &t.ReplacedBy); err != nil {
		return nil, err
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = stored.Time(created), stored.Time(expires), stored.Time(revoked)
	return &t, nil
}

func queryAdminTokens(ctx context.Context, q Querier, query string, args ...any) ([]*cordon.AdminToken, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*cordon.AdminToken
	for rows.Next() {
		t, err := scanAdminToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AdminTokens returns every admin token, oldest first.
func (s *Store) AdminTokens(ctx context.Context) ([]*cordon.AdminToken, error) {
	return queryAdminTokens(ctx, s.b.Reader(), `SELECT `+adminTokenCols+` FROM admin_tokens ORDER BY created_at, id`)
}

// AdminTokenByID looks an admin token up by id.
func (s *Store) AdminTokenByID(ctx context.Context, id string) (*cordon.AdminToken, error) {
	return scanAdminToken(s.b.Reader().QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = $1`, id))
}

// RevokeAdminToken revokes a token unless it is the last usable "*" one.
// It locks every unrevoked token, in id order, before judging: of two
// revocations racing for the last two "*" tokens, the second waits for
// the first and then sees it (on SQLite the one writer serialises them).
func (s *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := s.b.Write(ctx, func(tx Querier) error {
		out = nil
		live, err := queryAdminTokens(ctx, tx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE revoked_at = 0 ORDER BY id`+s.d.ForUpdate)
		if err != nil {
			return err
		}
		t, err := scanAdminToken(tx.QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = $1`, id))
		if err != nil {
			return err
		}
		if !t.RevokedAt.IsZero() {
			out = t
			return nil
		}
		if stored.LastAdmin(t, live, at) {
			return cordon.ErrLastAdmin
		}
		if _, err := tx.Exec(ctx, `UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2`, stored.Micros(at), id); err != nil {
			return err
		}
		t.RevokedAt = stored.Time(stored.Micros(at))
		out = t
		return nil
	})
	return out, err
}

// SetAdminTokenExpiry sets or clears a usable token's expiry.
func (s *Store) SetAdminTokenExpiry(ctx context.Context, id string, expiresAt, now time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := s.b.Write(ctx, func(tx Querier) error {
		out = nil
		t, err := scanAdminToken(tx.QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if !t.Usable(now) || t.ReplacedBy != "" {
			return cordon.ErrTokenEnded
		}
		if _, err := tx.Exec(ctx, `UPDATE admin_tokens SET expires_at = $1 WHERE id = $2`, stored.Micros(expiresAt), id); err != nil {
			return err
		}
		t.ExpiresAt = stored.Time(stored.Micros(expiresAt))
		out = t
		return nil
	})
	return out, err
}

// RotateAdminToken stores next in place of id and ends id. The old row is
// locked first, so a second rotation waits and then finds it replaced.
func (s *Store) RotateAdminToken(ctx context.Context, id string, next *cordon.AdminToken, oldUntil time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := s.b.Write(ctx, func(tx Querier) error {
		out = nil
		t, err := scanAdminToken(tx.QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = $1`+s.d.ForUpdate, id))
		if err != nil {
			return err
		}
		if !t.Usable(next.CreatedAt) || t.ReplacedBy != "" {
			return cordon.ErrTokenEnded
		}
		revoked, expires := stored.RotatedEnd(t, next.CreatedAt, oldUntil)
		if _, err := tx.Exec(ctx, `UPDATE admin_tokens SET replaced_by = $1, revoked_at = $2, expires_at = $3 WHERE id = $4`,
			next.ID, stored.Micros(revoked), stored.Micros(expires), id); err != nil {
			return err
		}
		next.Name, next.Scopes = t.Name, t.Scopes
		if _, err := tx.Exec(ctx, `INSERT INTO admin_tokens (id, name, hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			next.ID, next.Name, next.Hash, strings.Join(next.Scopes, " "), stored.Micros(next.CreatedAt), stored.Micros(next.ExpiresAt)); err != nil {
			return err
		}
		t.ReplacedBy, t.RevokedAt, t.ExpiresAt = next.ID, stored.Time(stored.Micros(revoked)), stored.Time(stored.Micros(expires))
		out = t
		return nil
	})
	return out, err
}

package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
	"github.com/jackc/pgx/v5"
)

const adminTokenCols = `id, name, hash, scopes, created_at, expires_at, revoked_at, replaced_by`

func scanAdminToken(row rowScanner) (*cordon.AdminToken, error) {
	var t cordon.AdminToken
	var scopes string
	var created, expires, revoked int64
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &scopes, &created, &expires, &revoked, &t.ReplacedBy); err != nil {
		return nil, mapErr(err)
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return &t, nil
}

func queryAdminTokens(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]*cordon.AdminToken, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
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
	return out, mapErr(rows.Err())
}

// AdminTokens returns every admin token, oldest first.
func (db *DB) AdminTokens(ctx context.Context) ([]*cordon.AdminToken, error) {
	return queryAdminTokens(ctx, db.pool, `SELECT `+adminTokenCols+` FROM admin_tokens ORDER BY created_at, id`)
}

// AdminTokenByID looks an admin token up by id.
func (db *DB) AdminTokenByID(ctx context.Context, id string) (*cordon.AdminToken, error) {
	return scanAdminToken(db.pool.QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = $1`, id))
}

// RevokeAdminToken revokes a token unless it is the last usable "*" one.
// It locks every unrevoked token, in id order, before judging: of two
// revocations racing for the last two "*" tokens, the second waits for
// the first and then sees it.
func (db *DB) RevokeAdminToken(ctx context.Context, id string, at time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := db.tx(ctx, func(tx pgx.Tx) error {
		out = nil
		live, err := queryAdminTokens(ctx, tx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE revoked_at = 0 ORDER BY id FOR UPDATE`)
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
		if _, err := tx.Exec(ctx, `UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2`, micros(at), id); err != nil {
			return err
		}
		t.RevokedAt = fromMicros(micros(at))
		out = t
		return nil
	})
	return out, err
}

// SetAdminTokenExpiry sets or clears a usable token's expiry.
func (db *DB) SetAdminTokenExpiry(ctx context.Context, id string, expiresAt, now time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := db.tx(ctx, func(tx pgx.Tx) error {
		out = nil
		t, err := scanAdminToken(tx.QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if !t.Usable(now) || t.ReplacedBy != "" {
			return cordon.ErrTokenEnded
		}
		if _, err := tx.Exec(ctx, `UPDATE admin_tokens SET expires_at = $1 WHERE id = $2`, micros(expiresAt), id); err != nil {
			return err
		}
		t.ExpiresAt = fromMicros(micros(expiresAt))
		out = t
		return nil
	})
	return out, err
}

// RotateAdminToken stores next in place of id and ends id. The old row is
// locked first, so a second rotation waits and then finds it replaced.
func (db *DB) RotateAdminToken(ctx context.Context, id string, next *cordon.AdminToken, oldUntil time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := db.tx(ctx, func(tx pgx.Tx) error {
		out = nil
		t, err := scanAdminToken(tx.QueryRow(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if !t.Usable(next.CreatedAt) || t.ReplacedBy != "" {
			return cordon.ErrTokenEnded
		}
		revoked, expires := stored.RotatedEnd(t, next.CreatedAt, oldUntil)
		if _, err := tx.Exec(ctx, `UPDATE admin_tokens SET replaced_by = $1, revoked_at = $2, expires_at = $3 WHERE id = $4`,
			next.ID, micros(revoked), micros(expires), id); err != nil {
			return err
		}
		next.Name, next.Scopes = t.Name, t.Scopes
		if _, err := tx.Exec(ctx, `INSERT INTO admin_tokens (id, name, hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			next.ID, next.Name, next.Hash, strings.Join(next.Scopes, " "), micros(next.CreatedAt), micros(next.ExpiresAt)); err != nil {
			return err
		}
		t.ReplacedBy, t.RevokedAt, t.ExpiresAt = next.ID, fromMicros(micros(revoked)), fromMicros(micros(expires))
		out = t
		return nil
	})
	return out, err
}

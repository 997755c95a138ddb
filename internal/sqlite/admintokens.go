package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

const adminTokenCols = `id, name, hash, scopes, created_at, expires_at, revoked_at, replaced_by`

func scanAdminToken(row interface{ Scan(...any) error }) (*cordon.AdminToken, error) {
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
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]*cordon.AdminToken, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens `+where+` ORDER BY created_at, id`, args...)
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
	return queryAdminTokens(ctx, db.r, ``)
}

// AdminTokenByID looks an admin token up by id.
func (db *DB) AdminTokenByID(ctx context.Context, id string) (*cordon.AdminToken, error) {
	return scanAdminToken(db.r.QueryRowContext(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = ?`, id))
}

// RevokeAdminToken revokes a token unless it is the last usable "*" one.
// The single writer serialises revocations, so two racing for the last two
// such tokens see each other's result.
func (db *DB) RevokeAdminToken(ctx context.Context, id string, at time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := db.write(ctx, func(tx *sql.Tx) error {
		t, err := scanAdminToken(tx.QueryRowContext(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if !t.RevokedAt.IsZero() {
			out = t
			return nil
		}
		live, err := queryAdminTokens(ctx, tx, `WHERE revoked_at = 0`)
		if err != nil {
			return err
		}
		if stored.LastAdmin(t, live, at) {
			return cordon.ErrLastAdmin
		}
		if _, err := tx.ExecContext(ctx, `UPDATE admin_tokens SET revoked_at = ? WHERE id = ?`, micros(at), id); err != nil {
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
	err := db.write(ctx, func(tx *sql.Tx) error {
		t, err := scanAdminToken(tx.QueryRowContext(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if !t.Usable(now) || t.ReplacedBy != "" {
			return cordon.ErrTokenEnded
		}
		if _, err := tx.ExecContext(ctx, `UPDATE admin_tokens SET expires_at = ? WHERE id = ?`, micros(expiresAt), id); err != nil {
			return err
		}
		t.ExpiresAt = fromMicros(micros(expiresAt))
		out = t
		return nil
	})
	return out, err
}

// RotateAdminToken stores next in place of id and ends id.
func (db *DB) RotateAdminToken(ctx context.Context, id string, next *cordon.AdminToken, oldUntil time.Time) (*cordon.AdminToken, error) {
	var out *cordon.AdminToken
	err := db.write(ctx, func(tx *sql.Tx) error {
		t, err := scanAdminToken(tx.QueryRowContext(ctx, `SELECT `+adminTokenCols+` FROM admin_tokens WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if !t.Usable(next.CreatedAt) || t.ReplacedBy != "" {
			return cordon.ErrTokenEnded
		}
		revoked, expires := stored.RotatedEnd(t, next.CreatedAt, oldUntil)
		if _, err := tx.ExecContext(ctx, `UPDATE admin_tokens SET replaced_by = ?, revoked_at = ?, expires_at = ? WHERE id = ?`,
			next.ID, micros(revoked), micros(expires), id); err != nil {
			return err
		}
		next.Name, next.Scopes = t.Name, t.Scopes
		if _, err := tx.ExecContext(ctx, `INSERT INTO admin_tokens (id, name, hash, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			next.ID, next.Name, next.Hash, strings.Join(next.Scopes, " "), micros(next.CreatedAt), micros(next.ExpiresAt)); err != nil {
			return err
		}
		t.ReplacedBy, t.RevokedAt, t.ExpiresAt = next.ID, fromMicros(micros(revoked)), fromMicros(micros(expires))
		out = t
		return nil
	})
	return out, err
}

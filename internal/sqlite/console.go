package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

const consoleAdminCols = `id, name, role, password_hash, totp_secret, totp_step, created_at`

func scanConsoleAdmin(row interface{ Scan(...any) error }) (*cordon.ConsoleAdmin, error) {
	var a cordon.ConsoleAdmin
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.Role, &a.PasswordHash, &a.TOTPSecret, &a.TOTPStep, &created); err != nil {
		return nil, mapErr(err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// CreateConsoleAdmin adds a console admin.
func (db *DB) CreateConsoleAdmin(ctx context.Context, a *cordon.ConsoleAdmin) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO console_admins (`+consoleAdminCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Name, a.Role, a.PasswordHash, a.TOTPSecret, a.TOTPStep, micros(a.CreatedAt))
		return mapErr(err)
	})
}

// ConsoleAdminByName looks a console admin up by name.
func (db *DB) ConsoleAdminByName(ctx context.Context, name string) (*cordon.ConsoleAdmin, error) {
	return scanConsoleAdmin(db.r.QueryRowContext(ctx, `SELECT `+consoleAdminCols+` FROM console_admins WHERE name = ?`, name))
}

// UseConsoleTOTPStep moves the admin's last TOTP step forward, or refuses.
func (db *DB) UseConsoleTOTPStep(ctx context.Context, adminID string, step int64) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE console_admins SET totp_step = ? WHERE id = ? AND totp_step < ?`, step, adminID, step)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var have int64
		if err := tx.QueryRowContext(ctx, `SELECT totp_step FROM console_admins WHERE id = ?`, adminID).Scan(&have); err != nil {
			return mapErr(err)
		}
		return cordon.ErrAlreadyExists
	})
}

// CreateConsoleSession stores a console session.
func (db *DB) CreateConsoleSession(ctx context.Context, s *cordon.ConsoleSession) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		// Expired sessions go as new ones come: the table stays the size
		// of the signed-in people.
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at <= ?`, micros(s.CreatedAt)); err != nil {
			return mapErr(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (hash, admin_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			s.Hash, s.AdminID, micros(s.CreatedAt), micros(s.ExpiresAt))
		return mapErr(err)
	})
}

// ConsoleSession returns a live console session and its admin.
func (db *DB) ConsoleSession(ctx context.Context, hash []byte, now time.Time) (*cordon.ConsoleSession, *cordon.ConsoleAdmin, error) {
	var s cordon.ConsoleSession
	var created, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT hash, admin_id, created_at, expires_at FROM console_sessions WHERE hash = ? AND expires_at > ?`, hash, micros(now)).
		Scan(&s.Hash, &s.AdminID, &created, &expires)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	a, err := scanConsoleAdmin(db.r.QueryRowContext(ctx, `SELECT `+consoleAdminCols+` FROM console_admins WHERE id = ?`, s.AdminID))
	if err != nil {
		return nil, nil, err
	}
	return &s, a, nil
}

// DeleteConsoleSession ends a console session.
func (db *DB) DeleteConsoleSession(ctx context.Context, hash []byte) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash = ?`, hash)
		return mapErr(err)
	})
}

// ConsoleAdmins lists the console admins by name.
func (db *DB) ConsoleAdmins(ctx context.Context) ([]*cordon.ConsoleAdmin, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+consoleAdminCols+` FROM console_admins ORDER BY name`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*cordon.ConsoleAdmin
	for rows.Next() {
		a, err := scanConsoleAdmin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, mapErr(rows.Err())
}

// DeleteConsoleAdmin removes a console admin and its sessions.
func (db *DB) DeleteConsoleAdmin(ctx context.Context, name string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE admin_id IN (SELECT id FROM console_admins WHERE name = ?)`, name); err != nil {
			return mapErr(err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM console_admins WHERE name = ?`, name)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

package sqlstore

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

const consoleAdminCols = `id, name, role, password_hash, totp_secret, totp_step, created_at`

func scanConsoleAdmin(row Row) (*cordon.ConsoleAdmin, error) {
	var a cordon.ConsoleAdmin
	var created int64
	if err := row.Scan(&a.ID, &a.Name, &a.Role, &a.PasswordHash, &a.TOTPSecret, &a.TOTPStep, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = stored.Time(created)
	return &a, nil
}

// CreateConsoleAdmin adds a console admin.
func (s *Store) CreateConsoleAdmin(ctx context.Context, a *cordon.ConsoleAdmin) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO console_admins (`+consoleAdminCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			a.ID, a.Name, a.Role, a.PasswordHash, a.TOTPSecret, a.TOTPStep, stored.Micros(a.CreatedAt))
		return err
	})
}

// ConsoleAdminByName looks a console admin up by name.
func (s *Store) ConsoleAdminByName(ctx context.Context, name string) (*cordon.ConsoleAdmin, error) {
	return scanConsoleAdmin(s.b.Reader().QueryRow(ctx, `SELECT `+consoleAdminCols+` FROM console_admins WHERE name = $1`, name))
}

// UseConsoleTOTPStep moves the admin's last TOTP step forward, or refuses
// (cordon.ErrAlreadyExists) a step already used or older: one statement,
// so two sign-ins racing with one code cannot both pass.
func (s *Store) UseConsoleTOTPStep(ctx context.Context, adminID string, step int64) error {
	return s.b.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `UPDATE console_admins SET totp_step = $1 WHERE id = $2 AND totp_step < $3`, step, adminID, step)
		if err != nil {
			return err
		}
		if n == 1 {
			return nil
		}
		var have int64
		if err := tx.QueryRow(ctx, `SELECT totp_step FROM console_admins WHERE id = $1`, adminID).Scan(&have); err != nil {
			return err
		}
		return cordon.ErrAlreadyExists
	})
}

// CreateConsoleSession stores a console session.
func (s *Store) CreateConsoleSession(ctx context.Context, cs *cordon.ConsoleSession) error {
	return s.b.Write(ctx, func(tx Querier) error {
		// Expired sessions go as new ones come: the table stays the size
		// of the signed-in people.
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1`, stored.Micros(cs.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions (hash, admin_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			cs.Hash, cs.AdminID, stored.Micros(cs.CreatedAt), stored.Micros(cs.ExpiresAt))
		return err
	})
}

// ConsoleSession returns a live console session and its admin.
func (s *Store) ConsoleSession(ctx context.Context, hash []byte, now time.Time) (*cordon.ConsoleSession, *cordon.ConsoleAdmin, error) {
	var cs cordon.ConsoleSession
	var created, expires int64
	err := s.b.Reader().QueryRow(ctx, `SELECT hash, admin_id, created_at, expires_at FROM console_sessions WHERE hash = $1 AND expires_at > $2`, hash, stored.Micros(now)).
		Scan(&cs.Hash, &cs.AdminID, &created, &expires)
	if err != nil {
		return nil, nil, err
	}
	cs.CreatedAt, cs.ExpiresAt = stored.Time(created), stored.Time(expires)
	a, err := scanConsoleAdmin(s.b.Reader().QueryRow(ctx, `SELECT `+consoleAdminCols+` FROM console_admins WHERE id = $1`, cs.AdminID))
	if err != nil {
		return nil, nil, err
	}
	return &cs, a, nil
}

// DeleteConsoleSession ends a console session.
func (s *Store) DeleteConsoleSession(ctx context.Context, hash []byte) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE hash = $1`, hash)
		return err
	})
}

// ConsoleAdmins lists the console admins by name.
func (s *Store) ConsoleAdmins(ctx context.Context) ([]*cordon.ConsoleAdmin, error) {
	rows, err := s.b.Reader().Query(ctx, `SELECT `+consoleAdminCols+` FROM console_admins ORDER BY name`)
	if err != nil {
		return nil, err
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
	return out, rows.Err()
}

// DeleteConsoleAdmin removes a console admin and its sessions.
func (s *Store) DeleteConsoleAdmin(ctx context.Context, name string) error {
	return s.b.Write(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE admin_id IN (SELECT id FROM console_admins WHERE name = $1)`, name); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM console_admins WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

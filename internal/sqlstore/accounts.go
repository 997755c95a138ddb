package sqlstore

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/stored"
)

// ImportAccounts stays with each backend: SQLite runs one prepared INSERT
// per account in its transaction, PostgreSQL one unnest INSERT for them
// all.

// CreateAccount stores a new account; a taken username key or id is
// ErrAlreadyExists.
func (s *Store) CreateAccount(ctx context.Context, a *cordon.Account) error {
	return s.b.Write(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx, `INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at, email) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			a.ID, a.Username, cordon.UsernameKey(a.Username), a.PasswordHash, stored.Micros(a.PasswordChangedAt), stored.Micros(a.CreatedAt), a.Email)
		return err
	})
}

const accountCols = `id, username, password_hash, password_changed_at, created_at, locked_at, email`

func scanAccount(row Row) (*cordon.Account, error) {
	var a cordon.Account
	var changed, created, locked int64
	if err := row.Scan(&a.ID, &a.Username, &a.PasswordHash, &changed, &created, &locked, &a.Email); err != nil {
		return nil, err
	}
	a.PasswordChangedAt, a.CreatedAt, a.LockedAt = stored.Time(changed), stored.Time(created), stored.Time(locked)
	return &a, nil
}

// AccountByID looks an account up by id.
func (s *Store) AccountByID(ctx context.Context, id string) (*cordon.Account, error) {
	return scanAccount(s.b.Reader().QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 AND deleted_at = 0`, id))
}

// AccountByUsername looks an account up by its username key.
func (s *Store) AccountByUsername(ctx context.Context, username string) (*cordon.Account, error) {
	return scanAccount(s.b.Reader().QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE username_key = $1 AND deleted_at = 0`, cordon.UsernameKey(username)))
}

// SetAccountEmail replaces an account's email address.
func (s *Store) SetAccountEmail(ctx context.Context, accountID, email string) error {
	return s.b.Write(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, `UPDATE accounts SET email = $1 WHERE id = $2 AND deleted_at = 0`, email, accountID)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		// A link sent to the old address must not outlive it.
		_, err = tx.Exec(ctx, `DELETE FROM password_resets WHERE account_id = $1`, accountID)
		return err
	})
}

// SetPasswordHash replaces an account's password hash, and its
// password-changed time when the password itself changed.
func (s *Store) SetPasswordHash(ctx context.Context, accountID, hash string, changed bool, at time.Time) error {
	return s.b.Write(ctx, func(tx Querier) error {
		q := `UPDATE accounts SET password_hash = $1 WHERE id = $2 AND deleted_at = 0`
		args := []any{hash, accountID}
		if changed {
			q = `UPDATE accounts SET password_hash = $1, password_changed_at = $3 WHERE id = $2 AND deleted_at = 0`
			args = append(args, stored.Micros(at))
		}
		n, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

// CountAccounts counts accounts.
func (s *Store) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := s.b.Reader().QueryRow(ctx, `SELECT count(*) FROM accounts WHERE deleted_at = 0`).Scan(&n)
	return n, err
}

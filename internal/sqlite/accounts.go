package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// CreateAccount stores a new account.
func (db *DB) CreateAccount(ctx context.Context, a *cordon.Account) error {
	return db.write(ctx, func(tx *sql.Tx) error { return insertAccount(ctx, tx, a) })
}

func insertAccount(ctx context.Context, tx *sql.Tx, a *cordon.Account) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at, email) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Username, cordon.UsernameKey(a.Username), a.PasswordHash, micros(a.PasswordChangedAt), micros(a.CreatedAt), a.Email)
	return mapErr(err)
}

// ImportAccounts stores many accounts in one transaction, skipping taken
// usernames.
func (db *DB) ImportAccounts(ctx context.Context, as []*cordon.Account) (int, error) {
	created := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		created = 0
		st, err := tx.PrepareContext(ctx, `INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at, email) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, a := range as {
			res, err := st.ExecContext(ctx, a.ID, a.Username, cordon.UsernameKey(a.Username), a.PasswordHash, micros(a.PasswordChangedAt), micros(a.CreatedAt), a.Email)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			created += int(n)
		}
		return nil
	})
	return created, err
}

const accountCols = `id, username, password_hash, password_changed_at, created_at, locked_at, email`

func scanAccount(row interface{ Scan(...any) error }) (*cordon.Account, error) {
	var a cordon.Account
	var changed, created, locked int64
	if err := row.Scan(&a.ID, &a.Username, &a.PasswordHash, &changed, &created, &locked, &a.Email); err != nil {
		return nil, mapErr(err)
	}
	a.PasswordChangedAt, a.CreatedAt, a.LockedAt = fromMicros(changed), fromMicros(created), fromMicros(locked)
	return &a, nil
}

// AccountByID looks an account up by id.
func (db *DB) AccountByID(ctx context.Context, id string) (*cordon.Account, error) {
	return scanAccount(db.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ? AND deleted_at = 0`, id))
}

// AccountByUsername looks an account up by its username key.
func (db *DB) AccountByUsername(ctx context.Context, username string) (*cordon.Account, error) {
	return scanAccount(db.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE username_key = ? AND deleted_at = 0`, cordon.UsernameKey(username)))
}

// SetPasswordHash replaces an account's password hash.
func (db *DB) SetPasswordHash(ctx context.Context, accountID, hash string, changed bool, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		q := `UPDATE accounts SET password_hash = ? WHERE id = ? AND deleted_at = 0`
		args := []any{hash, accountID}
		if changed {
			q = `UPDATE accounts SET password_hash = ?, password_changed_at = ? WHERE id = ? AND deleted_at = 0`
			args = []any{hash, micros(at), accountID}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

// SetAccountEmail replaces an account's email address.
func (db *DB) SetAccountEmail(ctx context.Context, accountID, email string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET email = ? WHERE id = ? AND deleted_at = 0`, email, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cordon.ErrNotFound
		}
		// A link sent to the old address must not outlive it.
		_, err = tx.ExecContext(ctx, `DELETE FROM password_resets WHERE account_id = ?`, accountID)
		return err
	})
}

// CountAccounts counts accounts.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE deleted_at = 0`).Scan(&n)
	return n, mapErr(err)
}

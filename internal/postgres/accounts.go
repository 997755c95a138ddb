package postgres

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
)

// CreateAccount stores a new account; a taken username key or id is
// ErrAlreadyExists.
func (db *DB) CreateAccount(ctx context.Context, a *cordon.Account) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at, email) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			a.ID, a.Username, cordon.UsernameKey(a.Username), a.PasswordHash, micros(a.PasswordChangedAt), micros(a.CreatedAt), a.Email)
		return err
	})
}

// ImportAccounts stores many accounts in one transaction and one
// statement, skipping those whose username (or id) is taken, also by an
// earlier account of the same import.
func (db *DB) ImportAccounts(ctx context.Context, as []*cordon.Account) (int, error) {
	if len(as) == 0 {
		return 0, nil
	}
	n := len(as)
	ids, names, keys, hashes, emails := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	changed, created := make([]int64, n), make([]int64, n)
	for i, a := range as {
		ids[i], names[i], keys[i], hashes[i], emails[i] = a.ID, a.Username, cordon.UsernameKey(a.Username), a.PasswordHash, a.Email
		changed[i], created[i] = micros(a.PasswordChangedAt), micros(a.CreatedAt)
	}
	var count int
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at, email)
			SELECT id, username, username_key, password_hash, password_changed_at, created_at, email
			FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::TEXT[]) WITH ORDINALITY AS a(id, username, username_key, password_hash, password_changed_at, created_at, email, i)
			ORDER BY i
			ON CONFLICT DO NOTHING`, ids, names, keys, hashes, changed, created, emails)
		count = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, err
	}
	return count, nil
}

const accountCols = `id, username, password_hash, password_changed_at, created_at, locked_at, email`

func scanAccount(row rowScanner) (*cordon.Account, error) {
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
	return scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 AND deleted_at = 0`, id))
}

// AccountByUsername looks an account up by its username key.
func (db *DB) AccountByUsername(ctx context.Context, username string) (*cordon.Account, error) {
	return scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE username_key = $1 AND deleted_at = 0`, cordon.UsernameKey(username)))
}

// SetAccountEmail replaces an account's email address.
func (db *DB) SetAccountEmail(ctx context.Context, accountID, email string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET email = $1 WHERE id = $2 AND deleted_at = 0`, email, accountID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return cordon.ErrNotFound
		}
		// A link sent to the old address must not outlive it.
		_, err = tx.Exec(ctx, `DELETE FROM password_resets WHERE account_id = $1`, accountID)
		return err
	})
}

// SetPasswordHash replaces an account's password hash, and its
// password-changed time when the password itself changed.
func (db *DB) SetPasswordHash(ctx context.Context, accountID, hash string, changed bool, at time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		q := `UPDATE accounts SET password_hash = $1 WHERE id = $2 AND deleted_at = 0`
		args := []any{hash, accountID}
		if changed {
			q = `UPDATE accounts SET password_hash = $1, password_changed_at = $3 WHERE id = $2 AND deleted_at = 0`
			args = append(args, micros(at))
		}
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return cordon.ErrNotFound
		}
		return nil
	})
}

// CountAccounts counts accounts.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE deleted_at = 0`).Scan(&n)
	return n, mapErr(err)
}

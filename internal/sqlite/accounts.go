package sqlite

import (
	"context"
	"database/sql"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// ImportAccounts stores many accounts in one transaction, skipping taken
// usernames, through one INSERT prepared for the transaction. Not shared:
// PostgreSQL inserts them all in one unnest INSERT instead.
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

package postgres

import (
	"context"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
)

// ImportAccounts stores many accounts in one transaction and one unnest
// INSERT, skipping those whose username (or id) is taken, also by an
// earlier account of the same import. Not shared: SQLite runs a prepared
// INSERT per account instead.
func (db *DB) ImportAccounts(ctx context.Context, as []*cordon.Account) (int, error) {
	if len(as) == 0 {
		// Nothing to insert, but an admin's import is still an action
		// its audit record (cordon.WithAudit) must commit.
		return 0, db.tx(ctx, func(pgx.Tx) error { return nil })
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

package postgres_test

import (
	"context"
	"testing"

	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/jackc/pgx/v5"
)

// TestMigrationRenamesDuplicateTokenNames: a database from before token
// names were unique, with two tokens named root, migrates with both still
// working: the oldest keeps the name, the later one becomes root~ID.
func TestMigrationRenamesDuplicateTokenNames(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX admin_tokens_name`, `DROP INDEX accounts_created`,
		`ALTER TABLE admin_tokens DROP COLUMN expires_at, DROP COLUMN revoked_at, DROP COLUMN replaced_by`,
		`ALTER TABLE accounts DROP COLUMN locked_at, DROP COLUMN deleted_at`,
		`DELETE FROM schema_migrations WHERE name = 'migrations/0006_lifecycle.sql'`,
		`INSERT INTO admin_tokens (id, name, hash, scopes, created_at) VALUES ('t-b', 'root', '\x02', 'gate', 2), ('t-a', 'root', '\x01', '*', 1), ('t-c', 'ci', '\x03', 'gate', 3)`,
	} {
		if _, err := raw.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close(ctx)

	db = openURL(t, url)
	want := map[string]string{"t-a": "root", "t-b": "root~t-b", "t-c": "ci"}
	for _, h := range [][]byte{{1}, {2}, {3}} {
		tok, err := db.AdminTokenByHash(ctx, h)
		if err != nil {
			t.Fatalf("token %x after the migration: %v", h, err)
		}
		if tok.Name != want[tok.ID] || !tok.RevokedAt.IsZero() || !tok.ExpiresAt.IsZero() {
			t.Errorf("token %s: name %q, revoked %v, expires %v; want %q, live", tok.ID, tok.Name, tok.RevokedAt, tok.ExpiresAt, want[tok.ID])
		}
	}
}

package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/cordon-dev/cordon/internal/sqlite"
)

// TestMigrationRenamesDuplicateTokenNames: a database from before token
// names were unique, with two tokens named root, migrates with both still
// working: the oldest keeps the name, the later one becomes root~ID.
func TestMigrationRenamesDuplicateTokenNames(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cordon.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Back to the schema before the lifecycle migration.
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX admin_tokens_name`, `DROP INDEX accounts_created`,
		`ALTER TABLE admin_tokens DROP COLUMN expires_at`, `ALTER TABLE admin_tokens DROP COLUMN revoked_at`, `ALTER TABLE admin_tokens DROP COLUMN replaced_by`,
		`ALTER TABLE accounts DROP COLUMN locked_at`, `ALTER TABLE accounts DROP COLUMN deleted_at`,
		`DELETE FROM schema_migrations WHERE name = 'migrations/0011_lifecycle.sql'`,
		`INSERT INTO admin_tokens (id, name, hash, scopes, created_at) VALUES ('t-b', 'root', x'02', 'gate', 2), ('t-a', 'root', x'01', '*', 1), ('t-c', 'ci', x'03', 'gate', 3)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db = openPath(t, path)
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

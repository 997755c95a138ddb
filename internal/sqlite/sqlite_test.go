package sqlite_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/conformance"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// open opens a store on a new file in t.TempDir and closes it when the
// test ends.
func open(t testing.TB) *sqlite.DB {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "cordon.db"))
}

func openPath(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func newStore(t *testing.T) cordon.Store { return open(t) }

func TestConformance(t *testing.T) { conformance.RunTests(t, newStore) }

func TestConcurrency(t *testing.T) { conformance.RunConcurrencyTests(t, newStore) }

// TestReopen reopens a file: the data is there and no migration runs twice.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cordon.db")
	now := fixedNow()

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	a := &cordon.Account{ID: cordon.NewID("u"), Username: "alice", PasswordHash: "$argon2id$x", PasswordChangedAt: now, CreatedAt: now}
	sess := &cordon.Session{ID: cordon.NewID("s"), AccountID: a.ID, Facts: cordon.UnknownClient, AuthTime: now, CreatedAt: now, LastSeenAt: now}
	rt := &cordon.RefreshToken{Hash: hash(), SessionID: sess.ID, CreatedAt: now, IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour)}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if err := db.CreateSession(ctx, sess, rt); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	applied := appliedMigrations(t, path)
	if len(applied) == 0 {
		t.Fatalf("schema_migrations after the first Open: empty, want every migration")
	}

	db = openPath(t, path)
	got, err := db.AccountByUsername(ctx, "ALICE")
	if err != nil {
		t.Fatalf("AccountByUsername after reopening: %v", err)
	}
	if got.ID != a.ID || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("AccountByUsername after reopening: got %q created %v, want %q created %v", got.ID, got.CreatedAt, a.ID, a.CreatedAt)
	}
	next := &cordon.RefreshToken{Hash: hash(), CreatedAt: now.Add(time.Minute), IdleExpiresAt: now.Add(time.Hour)}
	if _, err := db.RotateRefreshToken(ctx, rt.Hash, next, now.Add(time.Minute)); err != nil {
		t.Errorf("RotateRefreshToken after reopening: %v", err)
	}
	if again := appliedMigrations(t, path); !slices.Equal(again, applied) {
		t.Errorf("schema_migrations after reopening: got %q, want %q unchanged", again, applied)
	}
}

// appliedMigrations reads the migrations recorded in the file at path, each
// as "name@applied_at", through a connection of its own.
func appliedMigrations(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT name, applied_at FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var appliedAt int64
		if err := rows.Scan(&name, &appliedAt); err != nil {
			t.Fatalf("scan schema_migrations: %v", err)
		}
		out = append(out, name+"@"+time.UnixMicro(appliedAt).UTC().Format(time.RFC3339Nano))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return out
}

func hash() []byte {
	h := make([]byte, 32)
	rand.Read(h) // crypto/rand crashes the program rather than fail
	return h
}

// fixedNow is the "now" of these tests and benchmarks, to the microsecond.
func fixedNow() time.Time { return time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC) }

// newFamily stores an account and a session whose family outlives any
// benchmark, and returns the session's first refresh token. It returns an
// error rather than fail, so parallel benchmark goroutines may call it.
func newFamily(ctx context.Context, db *sqlite.DB) (*cordon.RefreshToken, error) {
	now := fixedNow()
	a := &cordon.Account{ID: cordon.NewID("u"), Username: cordon.NewID("name"), PasswordHash: "$argon2id$x", PasswordChangedAt: now, CreatedAt: now}
	if err := db.CreateAccount(ctx, a); err != nil {
		return nil, err
	}
	sess := &cordon.Session{ID: cordon.NewID("s"), AccountID: a.ID, Facts: cordon.UnknownClient, AuthTime: now, CreatedAt: now, LastSeenAt: now}
	rt := &cordon.RefreshToken{Hash: hash(), SessionID: sess.ID, CreatedAt: now, IdleExpiresAt: now.Add(24 * time.Hour), AbsoluteExpiresAt: now.Add(365 * 24 * time.Hour)}
	return rt, db.CreateSession(ctx, sess, rt)
}

func nextToken() *cordon.RefreshToken {
	return &cordon.RefreshToken{Hash: hash(), CreatedAt: fixedNow(), IdleExpiresAt: fixedNow().Add(24 * time.Hour)}
}

// BenchmarkRotateRefreshToken rotates one family's token down a chain, one
// caller at a time.
func BenchmarkRotateRefreshToken(b *testing.B) {
	db := open(b)
	ctx := b.Context()
	rt, err := newFamily(ctx, db)
	if err != nil {
		b.Fatalf("newFamily: %v", err)
	}
	old := rt.Hash
	for b.Loop() {
		next := nextToken()
		if _, err := db.RotateRefreshToken(ctx, old, next, fixedNow()); err != nil {
			b.Fatalf("RotateRefreshToken: %v", err)
		}
		old = next.Hash
	}
}

// BenchmarkRotateRefreshTokenParallel rotates many families at once, as a
// busy server does; the single writer connection queues them.
func BenchmarkRotateRefreshTokenParallel(b *testing.B) {
	db := open(b)
	ctx := b.Context()
	b.RunParallel(func(pb *testing.PB) {
		rt, err := newFamily(ctx, db)
		if err != nil {
			b.Errorf("newFamily: %v", err)
			return
		}
		old := rt.Hash
		for pb.Next() {
			next := nextToken()
			if _, err := db.RotateRefreshToken(ctx, old, next, fixedNow()); err != nil {
				b.Errorf("RotateRefreshToken: %v", err)
				return
			}
			old = next.Hash
		}
	})
}

// BenchmarkCreateSession logs one account in again and again.
func BenchmarkCreateSession(b *testing.B) {
	db := open(b)
	ctx := b.Context()
	now := fixedNow()
	a := &cordon.Account{ID: cordon.NewID("u"), Username: "alice", PasswordHash: "$argon2id$x", PasswordChangedAt: now, CreatedAt: now}
	if err := db.CreateAccount(ctx, a); err != nil {
		b.Fatalf("CreateAccount: %v", err)
	}
	for b.Loop() {
		sess := &cordon.Session{ID: cordon.NewID("s"), AccountID: a.ID, Facts: cordon.UnknownClient, AuthTime: now, CreatedAt: now, LastSeenAt: now}
		rt := &cordon.RefreshToken{Hash: hash(), SessionID: sess.ID, CreatedAt: now, IdleExpiresAt: now.Add(24 * time.Hour), AbsoluteExpiresAt: now.Add(30 * 24 * time.Hour)}
		if err := db.CreateSession(ctx, sess, rt); err != nil {
			b.Fatalf("CreateSession: %v", err)
		}
	}
}

package postgres_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/conformance"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/jackc/pgx/v5"
)

// open opens a store in a new schema and closes it, then drops the
// schema, when the test ends.
func open(tb testing.TB) *postgres.DB {
	tb.Helper()
	return openURL(tb, pgtest.URL(tb))
}

func openURL(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func newStore(t *testing.T) cordon.Store { return open(t) }

func TestConformance(t *testing.T) { conformance.RunTests(t, newStore) }

func TestConcurrency(t *testing.T) { conformance.RunConcurrencyTests(t, newStore) }

// TestOpenRace opens one new schema from several nodes at once: each Open
// succeeds.
func TestOpenRace(t *testing.T) {
	const n = 8
	u := pgtest.URL(t)
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = postgres.Open(t.Context(), u)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	// Without the lock, the nodes would race to create the same tables,
	// and all but one fail.
	if applied := appliedMigrations(t, u); len(applied) == 0 {
		t.Errorf("schema_migrations after Open: empty, want every migration")
	}
}

// TestReopen reopens a schema: the data is there and no migration runs
// twice.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	u := pgtest.URL(t)
	now := fixedNow()

	db, err := postgres.Open(ctx, u)
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
	db.Close()
	applied := appliedMigrations(t, u)

	db = openURL(t, u)
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
	if again := appliedMigrations(t, u); !slices.Equal(again, applied) {
		t.Errorf("schema_migrations after reopening: got %q, want %q unchanged", again, applied)
	}
}

// TestOpenMissingSchema refuses a search_path that names no schema,
// rather than create cordon's tables somewhere unexpected.
func TestOpenMissingSchema(t *testing.T) {
	pgtest.Connect(t).Close(context.Background()) // skip when there is no server
	db, err := postgres.Open(t.Context(), pgtest.SchemaURL(t, "cordon_test_missing"))
	if err == nil {
		db.Close()
		t.Fatalf("Open with a search_path of no schema: got nil error, want one")
	}
}

// appliedMigrations reads the migrations recorded in the schema of url,
// each as "name@applied_at", through a connection of its own.
func appliedMigrations(t *testing.T, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT name, applied_at FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	var out []string
	for rows.Next() {
		var name string
		var appliedAt int64
		if err := rows.Scan(&name, &appliedAt); err != nil {
			t.Fatalf("scan schema_migrations: %v", err)
		}
		out = append(out, fmt.Sprintf("%s@%d", name, appliedAt))
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
func newFamily(ctx context.Context, db *postgres.DB) (*cordon.RefreshToken, error) {
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
// busy server does; unlike SQLite's single writer, PostgreSQL runs them
// side by side, up to the pool's size.
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

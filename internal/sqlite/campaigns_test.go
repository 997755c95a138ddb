package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// bucketSQL rebuilds both bucket tables from the sessions, as migration
// 0002 does for a store that had sessions before it.
const bucketSQL = `
DELETE FROM account_buckets;
DELETE FROM session_buckets;
INSERT INTO account_buckets (account_id, platform, version, source, auth_day, sessions)
SELECT account_id, platform, version, source,
       auth_time - ((auth_time % 86400000000) + 86400000000) % 86400000000, count(*)
FROM sessions WHERE revoked_at = 0
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO session_buckets (platform, version, source, auth_day, sessions, users)
SELECT platform, version, source, auth_day, sum(sessions), count(*)
FROM account_buckets
GROUP BY 1, 2, 3, 4;`

// loadSessions writes n live sessions of n/4 accounts (and no refresh
// tokens) straight into the file at path, whose schema is current, in one
// transaction of two INSERT … SELECT statements, and rebuilds the buckets.
// Facts spread the sessions over 3 platforms × 5 versions × 30 days.
func loadSessions(tb testing.TB, path string, n int) {
	tb.Helper()
	ctx := context.Background()
	// A page cache that holds the whole load, and sorts in memory, keep a
	// million sessions to seconds.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-131072)&_pragma=temp_store(MEMORY)")
	if err != nil {
		tb.Fatalf("sql.Open: %v", err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	now := fixedNow().UnixMicro()
	stmts := []struct {
		query string
		args  []any
	}{
		{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at)
		SELECT printf('u-%09d', i), printf('user%09d', i), printf('user%09d', i), '$argon2id$x', ?, ? FROM n`,
			[]any{(n + 3) / 4, now, now}},
		{`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO sessions (id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at)
		SELECT printf('s-%09d', i), printf('u-%09d', i / 4),
		       CASE i % 3 WHEN 0 THEN 'android' WHEN 1 THEN 'ios' ELSE 'desktop' END,
		       printf('8.%d.0', i % 5),
		       CASE i % 3 WHEN 0 THEN 'play' WHEN 1 THEN 'appstore' ELSE 'official' END,
		       printf('d-%d', i), ? - (i % 30) * 86400000000, ?, ? FROM n`,
			[]any{n, now, now, now}},
		{bucketSQL, nil},
	}
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			tb.Fatalf("load %d sessions: %v", n, err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatalf("commit: %v", err)
	}
	// Move the load out of the WAL now, or the first timed write pays
	// for checkpointing it.
	if _, err := raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatalf("checkpoint: %v", err)
	}
}

// openLoaded returns a store on a new file holding n live sessions.
func openLoaded(tb testing.TB, n int) *sqlite.DB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "cordon.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	if err := db.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	start := time.Now()
	loadSessions(tb, path, n)
	tb.Logf("loaded %d sessions in %v", n, time.Since(start).Round(time.Millisecond))
	return openPath(tb, path)
}

// TestMigrationBackfillsBuckets opens a file with sessions stored before
// migration 0002: the buckets count them, and later writes keep them
// exact, including for a session authenticated before 1970, where a
// truncating division would pick the wrong day.
func TestMigrationBackfillsBuckets(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cordon.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	foundation, err := os.ReadFile("migrations/0001_foundation.sql")
	if err != nil {
		t.Fatalf("read migration: %v", err)
	}
	now := fixedNow()
	old := time.Date(1969, time.July, 20, 20, 17, 40, 0, time.UTC)
	setup := []struct {
		query string
		args  []any
	}{
		{`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`, nil},
		{string(foundation), nil},
		{`INSERT INTO schema_migrations (name, applied_at) VALUES ('migrations/0001_foundation.sql', 1)`, nil},
		{`INSERT INTO accounts (id, username, username_key, password_hash, password_changed_at, created_at) VALUES ('u-a', 'a', 'a', 'x', 1, 1), ('u-b', 'b', 'b', 'x', 1, 1)`, nil},
		{`INSERT INTO sessions (id, account_id, platform, version, source, device, auth_time, created_at, last_seen_at, revoked_at) VALUES
			('s-1', 'u-a', 'android', '8.4.1', 'play', 'd', ?1, 1, 1, 0),
			('s-2', 'u-a', 'android', '8.4.1', 'play', 'd', ?1, 1, 1, 0),
			('s-3', 'u-b', 'android', '8.4.1', 'play', 'd', ?1, 1, 1, 0),
			('s-4', 'u-b', 'ios', '8.4.0', 'appstore', 'd', ?2, 1, 1, 0),
			('s-5', 'u-b', 'ios', '8.4.0', 'appstore', 'd', ?1, 1, 1, 7)`, []any{now.UnixMicro(), old.UnixMicro()}},
	}
	for _, st := range setup {
		if _, err := raw.ExecContext(ctx, st.query, st.args...); err != nil {
			raw.Close()
			t.Fatalf("set up a 0001 store: %v", err)
		}
	}
	raw.Close()

	db := openPath(t, path)
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	steps := []struct {
		name string
		do   func() error
		want []cordon.Bucket
	}{
		{"after the migration", func() error { return nil }, []cordon.Bucket{
			{Platform: "android", Version: "8.4.1", Source: "play", AuthDay: day(now), Sessions: 3, Users: 2},
			{Platform: "ios", Version: "8.4.0", Source: "appstore", AuthDay: day(old), Sessions: 1, Users: 1},
		}},
		{"revoke a backfilled session", func() error { return db.RevokeSession(ctx, "s-1", cordon.RevokeLogout, now) }, []cordon.Bucket{
			{Platform: "android", Version: "8.4.1", Source: "play", AuthDay: day(now), Sessions: 2, Users: 2},
			{Platform: "ios", Version: "8.4.0", Source: "appstore", AuthDay: day(old), Sessions: 1, Users: 1},
		}},
		{"revoke the one from 1969", func() error { return db.RevokeSession(ctx, "s-4", cordon.RevokeLogout, now) }, []cordon.Bucket{
			{Platform: "android", Version: "8.4.1", Source: "play", AuthDay: day(now), Sessions: 2, Users: 2},
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := db.Buckets(ctx)
		if err != nil {
			t.Fatalf("%s: Buckets: %v", st.name, err)
		}
		if len(got) != len(st.want) {
			t.Fatalf("%s: Buckets: got %+v, want %+v", st.name, got, st.want)
		}
		for i := range got {
			g, w := got[i], st.want[i]
			if g.Platform != w.Platform || g.Version != w.Version || g.Source != w.Source || !g.AuthDay.Equal(w.AuthDay) || g.Sessions != w.Sessions || g.Users != w.Users {
				t.Errorf("%s: Buckets[%d]: got %+v, want %+v", st.name, i, g, w)
			}
		}
	}
}

// benchActivate flips one campaign between active and paused on a store
// of n live sessions: each op is one TransitionCampaign, and its cost must
// not grow with n.
func benchActivate(b *testing.B, n int) {
	db := openLoaded(b, n)
	ctx := b.Context()
	now := fixedNow()
	c := &cordon.Campaign{ID: cordon.NewID("c"), Kind: cordon.KindReauth, Name: "bench", Created: now, Updated: now}
	trail := func(action string) *cordon.TrailEntry {
		return &cordon.TrailEntry{Action: action, Actor: "t-bench", At: now, Document: []byte(`{}`)}
	}
	if err := db.CreateCampaign(ctx, c, trail("create")); err != nil {
		b.Fatalf("CreateCampaign: %v", err)
	}
	if _, _, err := db.TransitionCampaign(ctx, c.ID, []cordon.State{cordon.StateDraft}, cordon.StateActive, trail("activate")); err != nil {
		b.Fatalf("activate: %v", err)
	}
	if live, err := db.LiveSessionCount(ctx); err != nil || live != int64(n) {
		b.Fatalf("LiveSessionCount: got %d, %v; want %d", live, err, n)
	}
	flips := [2]struct {
		from, to cordon.State
		action   string
	}{
		{cordon.StateActive, cordon.StatePaused, "pause"},
		{cordon.StatePaused, cordon.StateActive, "resume"},
	}
	i := 0
	for b.Loop() {
		f := flips[i%2]
		i++
		if _, _, err := db.TransitionCampaign(ctx, c.ID, []cordon.State{f.from}, f.to, trail(f.action)); err != nil {
			b.Fatalf("%s: %v", f.action, err)
		}
	}
}

func BenchmarkActivateSessions1k(b *testing.B) { benchActivate(b, 1_000) }

// BenchmarkActivateSessions1M builds a store of a million sessions first
// (a few seconds); benchmarks run only under -bench, and -short skips it.
func BenchmarkActivateSessions1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a million sessions; skipped under -short")
	}
	benchActivate(b, 1_000_000)
}

// BenchmarkRevokeEachSession revokes distinct sessions one RevokeSession
// (one write transaction, buckets included) at a time, in a store of at
// least 100 000: what activation would cost per session if it revoked
// sessions instead of writing one campaign row.
func BenchmarkRevokeEachSession(b *testing.B) {
	n := max(b.N, 100_000)
	db := openLoaded(b, n)
	ctx := b.Context()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = sessionID(i * (n / b.N))
	}
	now := fixedNow()
	b.ResetTimer()
	for _, id := range ids {
		if err := db.RevokeSession(ctx, id, cordon.RevokeAdmin, now); err != nil {
			b.Fatalf("RevokeSession(%q): %v", id, err)
		}
	}
	b.StopTimer()
	if live, err := db.LiveSessionCount(ctx); err != nil || live != int64(n-b.N) {
		b.Fatalf("LiveSessionCount after revoking %d of %d: got %d, %v", b.N, n, live, err)
	}
}

// sessionID is the id loadSessions gives its i-th session.
func sessionID(i int) string { return fmt.Sprintf("s-%09d", i) }

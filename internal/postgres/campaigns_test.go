package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/jackc/pgx/v5"
)

// bucketSQL rebuilds both bucket tables from the sessions, as the store's
// own writes would have kept them.
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
GROUP BY 1, 2, 3, 4;
ANALYZE;`

// loadSessions writes n live sessions of n/4 accounts (and no refresh
// tokens) straight into the migrated schema of url, with COPY, and
// rebuilds the buckets. Facts spread the sessions over 3 platforms × 5
// versions × 30 days, as the SQLite benchmark's loader does.
func loadSessions(tb testing.TB, url string, n int) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	now := fixedNow().UnixMicro()
	platforms := [3]string{"android", "ios", "desktop"}
	sources := [3]string{"play", "appstore", "official"}

	accounts := (n + 3) / 4
	i := 0
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"accounts"},
		[]string{"id", "username", "username_key", "password_hash", "password_changed_at", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == accounts {
				return nil, nil
			}
			name := fmt.Sprintf("user%09d", i)
			row := []any{fmt.Sprintf("u-%09d", i), name, name, "$argon2id$x", now, now}
			i++
			return row, nil
		})); err != nil {
		tb.Fatalf("copy %d accounts: %v", accounts, err)
	}
	i = 0
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"sessions"},
		[]string{"id", "account_id", "platform", "version", "source", "device", "auth_time", "created_at", "last_seen_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			row := []any{sessionID(i), fmt.Sprintf("u-%09d", i/4), platforms[i%3], fmt.Sprintf("8.%d.0", i%5), sources[i%3],
				fmt.Sprintf("d-%d", i), now - int64(i%30)*86_400_000_000, now, now}
			i++
			return row, nil
		})); err != nil {
		tb.Fatalf("copy %d sessions: %v", n, err)
	}
	if _, err := conn.Exec(ctx, bucketSQL); err != nil {
		tb.Fatalf("rebuild buckets: %v", err)
	}
}

// openLoaded returns a store in a new schema holding n live sessions.
func openLoaded(tb testing.TB, n int) *postgres.DB {
	tb.Helper()
	u := pgtest.URL(tb)
	db := openURL(tb, u) // migrates
	start := time.Now()
	loadSessions(tb, u, n)
	tb.Logf("loaded %d sessions in %v", n, time.Since(start).Round(time.Millisecond))
	return db
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
// (some seconds); benchmarks run only under -bench, and -short skips it.
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

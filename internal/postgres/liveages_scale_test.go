package postgres_test

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// BenchmarkSessions10M measures what an auto ramp's forecast costs on a
// fleet of 10M live sessions (issue 18): live_ages is
// campaign.Service.LiveAges for a cohort of two platforms (two thirds of
// the fleet) — every live session streamed to the node and matched,
// which the pacer does once per campaign when it first paces it and
// again after a restart, never per step — against count_scan, a count of
// the same rows inside PostgreSQL, and bucket_sum, the bucket sum
// previews read, on one loaded store. Loading takes minutes; -short skips
// it.
func BenchmarkSessions10M(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 10M sessions; skipped under -short")
	}
	const n = 10_000_000
	u := pgtest.URL(b)
	db := openURL(b, u)
	loaded := time.Now()
	loadSessions(b, u, n)
	b.Logf("loaded %d sessions in %v", n, time.Since(loaded).Round(time.Second))
	ctx := b.Context()
	svc, err := campaign.New(ctx, db, clock.NewFake(fixedNow()), nil)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	b.Run("count_scan", func(b *testing.B) {
		for b.Loop() {
			var count int64
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE revoked_at = 0`).Scan(&count); err != nil || count != n {
				b.Fatalf("count = %d, %v", count, err)
			}
		}
	})
	b.Run("bucket_sum", func(b *testing.B) {
		for b.Loop() {
			if live, err := db.LiveSessionCount(ctx); err != nil || live != n {
				b.Fatalf("LiveSessionCount = %d, %v", live, err)
			}
		}
	})
	c := &cordon.Campaign{ID: "c-scale", Kind: cordon.KindReauth, Name: "scale", State: cordon.StateActive,
		Cohort: cordon.Cohort{Platforms: []string{"android", "ios"}}}
	b.Run("live_ages", func(b *testing.B) {
		for b.Loop() {
			ages, err := svc.LiveAges(ctx, c, fixedNow())
			if err != nil || len(ages) < n/2 {
				b.Fatalf("LiveAges: %d ages, %v", len(ages), err)
			}
		}
	})
}

package postgres_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestLiveAgesAtScale measures what an auto ramp's forecast costs on a
// large fleet (issue 18): campaign.Service.LiveAges, which the pacer
// reads once per campaign when it first paces it (and again after a
// restart), is a scan of every live session streamed to the node, against
// a count of the same rows inside PostgreSQL and the bucket sum previews
// use, in the same run, twice in turn. It takes minutes and gigabytes:
// run it on purpose with CORDON_SCALE_SESSIONS=N (e.g. 10000000).
func TestLiveAgesAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CORDON_SCALE_SESSIONS"))
	if n <= 0 {
		t.Skip("set CORDON_SCALE_SESSIONS=N to measure LiveAges against a count scan at N live sessions (minutes)")
	}
	u := pgtest.URL(t)
	db := openURL(t, u)
	loaded := time.Now()
	loadSessions(t, u, n)
	t.Logf("loaded %d sessions in %v", n, time.Since(loaded).Round(time.Second))
	ctx := t.Context()
	svc, err := campaign.New(ctx, db, clock.NewFake(fixedNow()), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	c := &cordon.Campaign{ID: "c-scale", Kind: cordon.KindReauth, Name: "scale", State: cordon.StateActive,
		Cohort: cordon.Cohort{Platforms: []string{"android", "ios"}}}
	for round := range 2 {
		start := time.Now()
		var count int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE revoked_at = 0`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		countTook := time.Since(start)
		start = time.Now()
		buckets, err := db.LiveSessionCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bucketTook := time.Since(start)
		start = time.Now()
		ages, err := svc.LiveAges(ctx, c, fixedNow())
		if err != nil {
			t.Fatal(err)
		}
		agesTook := time.Since(start)
		t.Logf("round %d, %d live sessions: count(*) scan %v; bucket sum %v (%d); LiveAges %v (%d in the cohort); LiveAges / count scan %.1f×",
			round+1, count, countTook.Round(time.Millisecond), bucketTook.Round(time.Microsecond), buckets, agesTook.Round(time.Millisecond), len(ages),
			agesTook.Seconds()/countTook.Seconds())
	}
}

package campaign

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// progressCampaigns holds, per fleet, an activated campaign with blocks
// and satisfactions recorded, built once.
var progressCampaigns sync.Map // *fleet → string

// activeProgressCampaign activates the bench campaign's twin on f (its
// cohort counted from buckets, as at activation) and records 1,000 blocked
// sessions of which 300 satisfied, so the read has every row to join.
func activeProgressCampaign(b *testing.B, f *fleet) string {
	b.Helper()
	if id, ok := progressCampaigns.Load(f); ok {
		return id.(string)
	}
	ctx := context.Background()
	c, err := f.svc.Create(ctx, []byte(benchDoc), campaigndoc.JSON, "t-bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.svc.Transition(ctx, c.ID, "activate", "t-bench"); err != nil {
		b.Fatal(err)
	}
	deny := decision.Decision{Outcome: decision.Deny, Campaign: c.ID}
	for i := range 1000 {
		facts := []cordon.ClientFacts{{Platform: "ios", Version: "8.4.0", Source: "appstore"}, {Platform: "desktop", Version: "8.3.0", Source: "official"}}[i%2]
		s := &cordon.Session{ID: fmt.Sprintf("s-bench-%d", i), AccountID: fmt.Sprintf("u-bench-%d", i), Facts: facts}
		f.svc.Blocked(ctx, deny, s)
		if i%10 < 3 {
			f.svc.Satisfied(ctx, c.ID, s.AccountID)
		}
	}
	progressCampaigns.Store(f, c.ID)
	return c.ID
}

// BenchmarkProgressRead reads an active campaign's progress (counters,
// cohort and both by facts) on SQLite over 100k and 1M live sessions: it
// reads rows per combination of facts, never per session, so the two
// should cost the same. Skipped under -short (it builds the fleets).
func BenchmarkProgressRead(b *testing.B) {
	for _, size := range []struct {
		n    int
		name string
	}{{100_000, "sessions=100k"}, {1_000_000, "sessions=1M"}} {
		b.Run(size.name, func(b *testing.B) {
			f := fleets.get(b, size.n)
			id := activeProgressCampaign(b, f)
			ctx := b.Context()
			c, err := f.svc.Get(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			var v *ProgressView
			b.ReportAllocs()
			for b.Loop() {
				if v, err = f.svc.Progress(ctx, c); err != nil {
					b.Fatalf("Progress: %v", err)
				}
			}
			if v.Targeted.Sessions <= 0 || v.Blocked.Sessions != 1000 || v.Satisfied != 300 {
				b.Fatalf("progress: targeted %+v, blocked %+v, satisfied %d; want some, 1000, 300", v.Targeted, v.Blocked, v.Satisfied)
			}
			b.ReportMetric(float64(len(v.Breakdown)), "rows")
		})
	}
}

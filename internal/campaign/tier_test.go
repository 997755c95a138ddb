package campaign_test

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
)

// TestTierSignals: the tier's signals are one node's hashing pool between
// two samples — hashes and refusals per second, what it can hash from the
// time one uncontended hash takes — times the nodes behind the balancer;
// and the re-logins that satisfied an auto ramp are the paced part.
func TestTierSignals(t *testing.T) {
	e, _ := pacedEnv(t)
	var l password.Load
	l.Slots = 1
	const nodes = 3
	tier := e.svc.NewTier(func() password.Load { return l }, nodes, 20*time.Millisecond)
	approx := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}

	// Before any hash: the calibrated time, no logins.
	sig := tier.Sample(e.clk.Now())
	approx("capacity from calibration", sig.Capacity, nodes/0.02)
	approx("logins at the first sample", sig.Logins, 0)

	// 10 s: 100 hashes of 30 ms on one slot (0.3 of a core), 5 refused,
	// 2 waiting now.
	e.clk.Advance(10 * time.Second)
	l.Done, l.Busy, l.Shed, l.Waiting = 100, 3*time.Second, 5, 2
	sig = tier.Sample(e.clk.Now())
	approx("capacity", sig.Capacity, nodes/0.03)
	approx("logins", sig.Logins, nodes*10.5)
	approx("shed", sig.Shed, nodes*0.5)
	if sig.Queued != 2 {
		t.Errorf("queued = %d, want 2", sig.Queued)
	}

	// A pool busier than the cores: each hash held its slot longer than
	// one hash takes alone; capacity comes from the uncontended time.
	procs := runtime.GOMAXPROCS(0)
	e.clk.Advance(10 * time.Second)
	conc := float64(2 * procs)
	l.Done += 400
	l.Busy += time.Duration(conc * 10 * float64(time.Second))
	sig = tier.Sample(e.clk.Now())
	perOp := conc * 10 / 400 * float64(procs) / conc // seconds, uncontended
	approx("capacity under contention", sig.Capacity, nodes/perOp)
	approx("no refusals", sig.Shed, 0)

	// No hash in the window: the last measured time holds.
	e.clk.Advance(10 * time.Second)
	sig = tier.Sample(e.clk.Now())
	approx("capacity held", sig.Capacity, nodes/perOp)

	// Re-logins: once the pacer has seen the auto ramp, a login that
	// satisfies it is paced; at 72 h everyone is admitted.
	p := campaign.NewPacer(e.svc, 30*time.Second, e.svc.LiveAges)
	if _, err := p.Step(t.Context(), e.clk.Now(), calm); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(73 * time.Hour)
	tier.Sample(e.clk.Now())
	for _, u := range []string{"user1", "user2"} {
		e.svc.LoggedIn(t.Context(), e.session(t, u, cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore"}, time.Hour))
	}
	e.clk.Advance(10 * time.Second)
	l.Done += 2
	l.Busy += 60 * time.Millisecond
	sig = tier.Sample(e.clk.Now())
	approx("paced re-logins", sig.Paced, nodes*0.2)
	approx("logins", sig.Logins, nodes*0.2)
}

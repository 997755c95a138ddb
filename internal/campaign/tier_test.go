package campaign_test

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pace"
	"github.com/cordon-dev/cordon/internal/password"
)

// TestTierSignals: a node alone on its store (--pace-nodes for nodes that
// cannot share) gives its hashing pool between two samples — hashes and
// refusals per second, what it can hash from the time one uncontended
// hash takes — times the nodes behind the balancer; and the re-logins
// that satisfied an auto ramp are the paced part.
func TestTierSignals(t *testing.T) {
	e, _ := pacedEnv(t)
	var l password.Load
	l.Slots = 1
	const nodes = 3
	// Each node's queue holds up to 4 logins, or 0.1 s of its hashing.
	queue := func(c float64) float64 { return min(4, 0.1*c) }
	tier := e.svc.NewTier(campaign.TierConfig{Node: "n-a", Load: func() password.Load { return l }, Nodes: nodes, PerOp: 20 * time.Millisecond, Queue: queue})
	approx := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}

	// Before any hash: the calibrated time, no logins.
	sig := tier.Sample(t.Context(), e.clk.Now())
	approx("capacity from calibration", sig.Capacity, nodes/0.02)
	// What random bunching leaves is each node's (50/s, 4 waiting).
	approx("absorbs", sig.Absorbs, nodes*pace.Absorbs(50, 4))
	if sig.Nodes != nodes {
		t.Errorf("nodes = %d, want %d (--pace-nodes)", sig.Nodes, nodes)
	}
	approx("logins at the first sample", sig.Logins, 0)

	// 10 s: 100 hashes of 30 ms on one slot (0.3 of a core), 5 refused,
	// 2 waiting now.
	e.clk.Advance(10 * time.Second)
	l.Done, l.Busy, l.Shed, l.Waiting = 100, 3*time.Second, 5, 2
	sig = tier.Sample(t.Context(), e.clk.Now())
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
	sig = tier.Sample(t.Context(), e.clk.Now())
	perOp := conc * 10 / 400 * float64(procs) / conc // seconds, uncontended
	approx("capacity under contention", sig.Capacity, nodes/perOp)
	approx("no refusals", sig.Shed, 0)

	// No hash in the window and nothing to probe with: the last measured
	// time holds.
	e.clk.Advance(10 * time.Second)
	sig = tier.Sample(t.Context(), e.clk.Now())
	approx("capacity held", sig.Capacity, nodes/perOp)

	// Re-logins: once the pacer has seen the auto ramp, a login that
	// satisfies it is paced; at 72 h everyone is admitted.
	p := campaign.NewPacer(e.svc, 30*time.Second, e.svc.LiveAges)
	if _, err := p.Step(t.Context(), e.clk.Now(), calm); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(73 * time.Hour)
	tier.Sample(t.Context(), e.clk.Now())
	for _, u := range []string{"user1", "user2"} {
		e.svc.LoggedIn(t.Context(), e.session(t, u, cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore"}, time.Hour))
	}
	e.clk.Advance(10 * time.Second)
	l.Done += 2
	l.Busy += 60 * time.Millisecond
	sig = tier.Sample(t.Context(), e.clk.Now())
	approx("paced re-logins", sig.Paced, nodes*0.2)
	approx("logins", sig.Logins, nodes*0.2)
}

// TestTierSumsNodes: nodes on one store each publish their sample and
// pace on the sum of every fresh one. A node that has seen no other yet
// scales its own by --pace-nodes; shedding and a queue on another node
// stop this node's ramps; a node that stops reporting drops out, its
// capacity with it, and is not imagined back by the scaling.
func TestTierSumsNodes(t *testing.T) {
	e, c := pacedEnv(t)
	ctx := t.Context()
	var la, lb password.Load
	la.Slots, lb.Slots = 1, 1
	const nodes = 3
	a := e.svc.NewTier(campaign.TierConfig{Node: "n-a", Load: func() password.Load { return la }, PerOp: 20 * time.Millisecond, Every: 30 * time.Second, Nodes: nodes})
	b := e.svc.NewTier(campaign.TierConfig{Node: "n-b", Load: func() password.Load { return lb }, PerOp: 40 * time.Millisecond, Every: 30 * time.Second, Nodes: nodes})
	approx := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}

	// A starts alone: 50/s of its own, times 3.
	approx("A alone: capacity", a.Sample(ctx, e.clk.Now()).Capacity, 150)
	// B starts and sees A: 50 + 25, nothing scaled.
	approx("B with A: capacity", b.Sample(ctx, e.clk.Now()).Capacity, 75)

	// 30 s: A hashed 300 of 30 ms, B 150 of 40 ms.
	e.clk.Advance(30 * time.Second)
	la.Done, la.Busy = 300, 9*time.Second
	lb.Done, lb.Busy = 150, 6*time.Second
	sig := a.Sample(ctx, e.clk.Now()) // B's sample is still its first
	approx("A with B: capacity", sig.Capacity, 100.0/3+25)
	approx("A with B: logins", sig.Logins, 10)
	sig = b.Sample(ctx, e.clk.Now())
	approx("B with A: capacity", sig.Capacity, 100.0/3+25)
	approx("B with A: logins", sig.Logins, 15)

	// 60 s: B sheds 0.5/s and has 2 waiting; A is calm, with headroom
	// enough. A's pacer stops the ramp.
	e.clk.Advance(30 * time.Second)
	lb.Done, lb.Busy, lb.Shed, lb.Waiting = 300, 12*time.Second, 15, 2
	b.Sample(ctx, e.clk.Now())
	la.Done, la.Busy = 600, 18*time.Second
	sig = a.Sample(ctx, e.clk.Now())
	approx("A with B shedding: shed", sig.Shed, 0.5)
	if sig.Queued != 2 {
		t.Errorf("A with B queueing: queued = %d, want 2", sig.Queued)
	}
	p := campaign.NewPacer(e.svc, 30*time.Second, e.svc.LiveAges)
	if n, err := p.Step(ctx, e.clk.Now(), sig); err != nil || n != 1 {
		t.Fatalf("Step = %d, %v; want a pace stored", n, err)
	}
	if got, _ := e.svc.Get(ctx, c.ID); got.Ramp.Pace.Rate != 0 || !strings.Contains(got.Ramp.Pace.Why, "overloaded") {
		t.Errorf("pace while B sheds = %g share/s (%s), want 0, the max_duration line, for the shedding", got.Ramp.Pace.Rate, got.Ramp.Pace.Why)
	}

	// B dies. 91 s on (3 intervals and a second), A counts itself only,
	// not 3 of itself: it has seen the store shared.
	e.clk.Advance(91 * time.Second)
	la.Done, la.Busy = 600+91, 18*time.Second+91*30*time.Millisecond
	sig = a.Sample(ctx, e.clk.Now())
	approx("A after B died: capacity", sig.Capacity, 100.0/3)
	approx("A after B died: logins", sig.Logins, 1)
	approx("A after B died: shed", sig.Shed, 0)
	if sig.Queued != 0 {
		t.Errorf("A after B died: queued = %d, want 0", sig.Queued)
	}
}

// TestTierProbes: a pool that hashed nothing since the previous sample is
// probed with one hash, so the capacity follows what the machine hashes
// now, not what it hashed at start (the measured failure: 60/s timed at
// start, 10–12/s under load); the probe counts as no login; a pool that
// hashed is measured from its own hashes, without a probe.
func TestTierProbes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cheap := password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
	startPerOp, err := campaign.Calibrate(ctx, password.NewHasher(cheap, password.Limits{MaxConcurrent: 1}))
	if err != nil {
		t.Fatal(err)
	}
	// The machine now hashes far slower than it did at start: a hasher
	// doing ~500 times the work.
	slow := password.NewHasher(password.Params{Time: 4, MemoryKiB: 8 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{MaxConcurrent: 1})
	var took []time.Duration
	for range 3 {
		t0 := time.Now()
		if _, err := slow.Hash(ctx, "timing"); err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	slowCap := 1 / took[1].Seconds() // one slot: a hash at a time
	probes := 0
	tier := e.svc.NewTier(campaign.TierConfig{Node: "n-a", Load: slow.Load, PerOp: startPerOp, Every: 30 * time.Second,
		Probe: func(ctx context.Context) (time.Duration, error) { probes++; return campaign.Calibrate(ctx, slow) }})

	sig := tier.Sample(ctx, e.clk.Now())
	if probes != 0 {
		t.Errorf("first sample: %d probes, want 0 (the calibration at start is fresh)", probes)
	}
	if want := 1 / startPerOp.Seconds(); math.Abs(sig.Capacity-want) > 1e-9*want {
		t.Errorf("first sample: capacity %g, want the calibrated %g", sig.Capacity, want)
	}

	for i := range 2 {
		e.clk.Advance(30 * time.Second)
		before := slow.Load().Done
		sig = tier.Sample(ctx, e.clk.Now())
		if probes != i+1 || slow.Load().Done != before+1 {
			t.Errorf("idle interval %d: %d probes, %d hashes; want %d probes, one hash", i+1, probes, slow.Load().Done-before, i+1)
		}
		// Timings on a shared machine wobble (18–70 ms for one default
		// hash at a load of 8.6): within 10× of the test's own timing, and
		// far below the capacity calibrated at start.
		t.Logf("idle interval %d: capacity %.1f/s; the test timed %.1f/s; calibrated at start %.0f/s", i+1, sig.Capacity, slowCap, 1/startPerOp.Seconds())
		if sig.Capacity < slowCap/10 || sig.Capacity > slowCap*10 || sig.Capacity > 1/startPerOp.Seconds()/10 {
			t.Errorf("idle interval %d: capacity %.1f/s, want about the %.1f/s the machine hashes now, not the %.0f/s calibrated at start", i+1, sig.Capacity, slowCap, 1/startPerOp.Seconds())
		}
		if sig.Logins != 0 {
			t.Errorf("idle interval %d: logins %g/s, want 0 (a probe is no login)", i+1, sig.Logins)
		}
	}

	// A busy interval: three logins hashed, no probe; they are the logins.
	for range 3 {
		if _, err := slow.Hash(ctx, "a login"); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(30 * time.Second)
	before := slow.Load().Done
	sig = tier.Sample(ctx, e.clk.Now())
	if probes != 2 || slow.Load().Done != before {
		t.Errorf("busy interval: %d probes, %d hashes by the tier; want 2 probes in all, none now", probes, slow.Load().Done-before)
	}
	if math.Abs(sig.Logins-0.1) > 1e-9 {
		t.Errorf("busy interval: logins %g/s, want 0.1 (3 in 30 s)", sig.Logins)
	}
	if sig.Capacity < slowCap/10 || sig.Capacity > slowCap*10 {
		t.Errorf("busy interval: capacity %.1f/s, want about %.1f/s", sig.Capacity, slowCap)
	}
}

// TestTierSaturatedCaps: a window with both slots busy throughout hashed
// 30/s; in the next, quieter window each hash ran alone on a core and
// took 25 ms, which the cores ÷ one hash's time would make 80/s. The
// capacity stays near what the saturated pool did, trusted 5 % more each
// interval it keeps up, for SaturatedFor.
func TestTierSaturatedCaps(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("the pool's two slots need two cores")
	}
	e, _ := pacedEnv(t)
	l := password.Load{Slots: 2}
	tier := e.svc.NewTier(campaign.TierConfig{Node: "n-a", Load: func() password.Load { return l }, PerOp: 20 * time.Millisecond})
	tier.Sample(t.Context(), e.clk.Now())
	e.clk.Advance(10 * time.Second)
	l.Done, l.Busy = 300, 20*time.Second
	if sig := tier.Sample(t.Context(), e.clk.Now()); math.Abs(sig.Capacity-30) > 1e-9 {
		t.Fatalf("saturated window: capacity %v, want 30", sig.Capacity)
	}
	e.clk.Advance(10 * time.Second)
	l.Done, l.Busy = 500, 25*time.Second
	if sig := tier.Sample(t.Context(), e.clk.Now()); math.Abs(sig.Capacity-30*campaign.SaturatedGrowth) > 1e-9 {
		t.Errorf("after a saturated window: capacity %v, want 31.5 (30, trusted 5 %% more, not 80)", sig.Capacity)
	}
	e.clk.Advance(10 * time.Second)
	l.Done, l.Busy = 600, 27500*time.Millisecond
	if sig := tier.Sample(t.Context(), e.clk.Now()); math.Abs(sig.Capacity-30*campaign.SaturatedGrowth*campaign.SaturatedGrowth) > 1e-9 {
		t.Errorf("two intervals after: capacity %v, want 33.075", sig.Capacity)
	}
	e.clk.Advance(campaign.SaturatedFor)
	l.Done, l.Busy = 700, 30*time.Second
	if sig := tier.Sample(t.Context(), e.clk.Now()); math.Abs(sig.Capacity-80) > 1e-9 {
		t.Errorf("%v after the saturated window: capacity %v, want one hash's time again (80)", campaign.SaturatedFor, sig.Capacity)
	}
}

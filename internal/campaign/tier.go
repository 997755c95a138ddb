package campaign

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pace"
	"github.com/cordon-dev/cordon/internal/password"
)

// Tier turns the nodes' hashing pools into the login tier's signals.
// Each node measures its own pool between two samples — what it hashed
// and refused, and what it can hash — publishes that through the store
// (one sample per node, PutTierSample), and sums the fresh samples of
// every node (pace.Sum): a node that stopped reporting drops out with its
// capacity, and shedding or a queue on any node stops the ramps.
//
// Nodes that cannot share a store (each its own SQLite) fall back to
// Nodes (--pace-nodes): while this node has never seen another node's
// sample, its own figures are multiplied by it, assuming its peers are
// loaded alike, which a balancer makes roughly true. Once it has seen a
// peer, the store is shared and the samples are the rule: a peer that
// then stops reporting is not imagined back.
type Tier struct {
	store Store
	log   *slog.Logger
	node  string
	load  func() password.Load
	probe func(ctx context.Context) (time.Duration, error)
	queue func(capacity float64) float64
	paced func() int64
	nodes float64
	fresh time.Duration
	procs int

	mu        sync.Mutex
	at        time.Time
	last      password.Load
	lastPaced int64
	perOp     time.Duration // the last measured time of one uncontended hash
	shared    bool          // another node's fresh sample was seen once
	// saturated is what the pool hashed per second over the last window
	// every slot was busy throughout, at saturatedAt (SaturatedFor).
	saturated   float64
	saturatedAt time.Time
}

// SaturatedFor is how long what a saturated pool hashed caps the node's
// capacity. The cores ÷ one hash's time assumes the hashes get every
// core, but the requests and the machine's other work share them: a pool
// that was busy throughout a window hashed all it could then. Measured
// at real scale: one hash's time gave 45–91 logins/s on a machine that
// hashed 36–41/s when saturated, and the ramp shed.
const SaturatedFor = 10 * time.Minute

// SaturatedGrowth is how much more than a saturated pool's throughput
// each later interval in which the pool kept up trusts: 5 % an interval,
// so a figure measured while the machine's other work peaked does not
// hold the pace down for all of SaturatedFor, and the pace (at its
// target share) reaches the pool's true throughput again only slowly.
const SaturatedGrowth = 1.05

// TierConfig is what a Tier measures and how it shares it.
type TierConfig struct {
	// Node is this node's id; its sample is stored under it (empty: a
	// new id).
	Node string
	// Load reads the node's hashing pool (password.Hasher.Load).
	Load func() password.Load
	// Probe times one hash on that pool (Calibrate). Sample calls it when
	// the pool hashed nothing since the previous sample, so the capacity
	// follows the machine's load even while no one logs in: one argon2id
	// hash per idle interval (at the default cost 19 MiB and 18–70 ms of
	// a core, measured on 2 cores under a load average of 8.6). Nil: the
	// last measured time holds.
	Probe func(ctx context.Context) (time.Duration, error)
	// PerOp seeds the time one hash holds a slot until the pool has done
	// one (Calibrate measures it at start).
	PerOp time.Duration
	// Every is the pace interval: a node's sample counts for FreshFor
	// intervals.
	Every time.Duration
	// Nodes is the fallback for nodes that cannot share their samples
	// (--pace-nodes; 0 means 1).
	Nodes int
	// Queue, when not nil, says how many logins may wait for a slot at a
	// node of a capacity (logins/s): the pace then stays within what each
	// node's queue absorbs of random bunching (pace.Absorbs).
	Queue func(capacity float64) float64
}

// HasherQueue is TierConfig.Queue for nodes whose pools are like h: as
// many callers as may wait, or what the node hashes within the longest
// wait if fewer.
func HasherQueue(h *password.Hasher) func(capacity float64) float64 {
	callers, wait := h.Queue()
	return func(capacity float64) float64 { return min(float64(callers), capacity*wait.Seconds()) }
}

// FreshFor is how many pace intervals a node's sample counts for: a node
// two samples late still counts, one that missed three has stopped.
const FreshFor = 3

// tierPrune is the age past which Sample deletes a node's sample: a
// node's id is new at each start, so restarts would otherwise pile up.
// A day, on the writing node's clock: a node must be that far ahead to
// delete its live peers' samples.
const tierPrune = 24 * time.Hour

// NewTier builds the tier's sampler for one node, which also counts the
// service's paced re-logins (the logins that satisfied an auto ramp).
func (s *Service) NewTier(c TierConfig) *Tier {
	every := c.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	node := c.Node
	if node == "" {
		node = cordon.NewID("n")
	}
	return &Tier{store: s.store, log: s.log, node: node, load: c.Load, probe: c.Probe, queue: c.Queue, paced: s.pacedLogins.Load,
		nodes: float64(max(c.Nodes, 1)), fresh: FreshFor * every, procs: runtime.GOMAXPROCS(0), perOp: c.PerOp}
}

// Calibrate measures how long one hash holds a slot on this machine by
// hashing once with h; the pacer's capacity starts from it, and a Tier
// probes with it while the pool is idle.
func Calibrate(ctx context.Context, h *password.Hasher) (time.Duration, error) {
	before := h.Load()
	if _, err := h.Hash(ctx, "calibrating the login tier's capacity"); err != nil {
		return 0, err
	}
	after := h.Load()
	if n := after.Done - before.Done; n > 0 {
		return (after.Busy - before.Busy) / time.Duration(n), nil
	}
	return 0, fmt.Errorf("calibrate: the hash took no slot")
}

// Sample returns the login tier's signals at now: this node's since the
// previous Sample (the first one reports no logins, only the capacity),
// stored for the other nodes, plus every other node's fresh sample. A
// store that cannot be reached leaves this node's own figures, scaled as
// if no peer had been seen.
func (t *Tier) Sample(ctx context.Context, now time.Time) pace.Signals {
	t.mu.Lock()
	defer t.mu.Unlock()
	own := t.measure(ctx, now)
	samples := []cordon.TierSample{own}
	err := t.store.PutTierSample(ctx, &own, now.Add(-tierPrune))
	if err == nil {
		var all []cordon.TierSample
		all, err = t.store.TierSamples(ctx, now.Add(-t.fresh))
		for _, s := range all {
			if s.Node != t.node {
				samples = append(samples, s)
			}
		}
	}
	if err != nil && ctx.Err() == nil {
		t.log.Warn("login tier: cannot share this node's sample; pacing on it alone", "err", err)
	}
	sig, n := pace.Sum(samples, now, t.fresh, t.queue)
	sig.Nodes = n
	if n > 1 {
		t.shared = true
	}
	if n == 1 && !t.shared && t.nodes > 1 {
		sig.Capacity *= t.nodes
		sig.Logins *= t.nodes
		sig.Paced *= t.nodes
		sig.Shed *= t.nodes
		sig.Absorbs *= t.nodes
		sig.Nodes = int(t.nodes)
	}
	return sig
}

// measure is this node's sample at now, since the previous one; with the
// pool idle since then it first times a probe hash.
func (t *Tier) measure(ctx context.Context, now time.Time) cordon.TierSample {
	l, paced := t.load(), t.paced()
	s := cordon.TierSample{Node: t.node, At: now}
	saturated := false
	if dt := now.Sub(t.at).Seconds(); !t.at.IsZero() && dt > 0 {
		done, shed := l.Done-t.last.Done, l.Shed-t.last.Shed
		s.Logins = float64(done+shed) / dt
		s.Shed = float64(shed) / dt
		s.Paced = min(float64(paced-t.lastPaced)/dt, s.Logins)
		switch {
		case done > 0:
			// Hashes running on more slots than cores each take longer:
			// scale the slot time back to one uncontended hash.
			busy := l.Busy - t.last.Busy
			perOp := busy / time.Duration(done)
			if conc := busy.Seconds() / dt; conc > float64(t.procs) {
				perOp = time.Duration(float64(perOp) * float64(t.procs) / conc)
			}
			t.perOp = perOp
			if l.Slots > 0 && busy.Seconds() >= 0.9*float64(l.Slots)*dt {
				t.saturated, t.saturatedAt = float64(done)/dt, now
				saturated = true
			}
		case t.probe != nil:
			// Idle: a hash timed at start, or minutes ago, says nothing of
			// what the machine's other work leaves it now.
			if perOp, err := t.probe(ctx); err != nil {
				if ctx.Err() == nil {
					t.log.Warn("login tier: cannot time a probe hash; the last measured time holds", "err", err)
				}
			} else if perOp > 0 {
				t.perOp = perOp
			}
			// The probe is no login: the next window starts after it.
			l = t.load()
		}
	}
	if t.perOp > 0 {
		// A pool wider than the cores hashes no faster than the cores.
		s.Capacity = float64(min(l.Slots, t.procs)) / t.perOp.Seconds()
	}
	if !t.saturatedAt.IsZero() && now.Sub(t.saturatedAt) < SaturatedFor {
		if !saturated && !t.at.IsZero() {
			// The pool kept up: what it did when saturated may have been
			// a busy moment of the machine's. Trust a little more each
			// interval, until it saturates again (and is measured) or the
			// cap lapses.
			t.saturated *= SaturatedGrowth
		}
		s.Capacity = min(s.Capacity, t.saturated)
	}
	s.Queued = l.Waiting
	t.at, t.last, t.lastPaced = now, l, paced
	return s
}

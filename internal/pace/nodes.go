package pace

import (
	"math"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// maxFigure bounds each figure of one node's sample (logins per second):
// no node hashes a billion logins a second, and a bound keeps the sum of
// any number of samples finite.
const maxFigure = 1e9

// Sum adds the nodes' samples into the login tier's signals and returns
// how many nodes it counted: each node's latest sample, if measured
// within window of now — on either side, since a node whose clock is
// that far off cannot be told from one that stopped reporting. A node
// that stopped reporting drops out, its capacity with it. Shedding or a
// queue on any node counted shows in the sum, so it stops the ramps.
//
// A node's samples come from the node, never a client; still, a figure
// that is not a finite number ≥ 0 counts 0, and one above a billion
// counts a billion, so one broken node can neither make the capacity
// infinite nor the sum NaN; a node's paced logins count at most its
// logins.
//
// queue, when not nil, is how many logins may wait for a slot at a node
// of a capacity: Absorbs is then the sum of what each node absorbs.
func Sum(samples []cordon.TierSample, now time.Time, window time.Duration, queue func(capacity float64) float64) (Signals, int) {
	latest := map[string]cordon.TierSample{}
	for _, s := range samples {
		if d := s.At.Sub(now); d < -window || d > window {
			continue
		}
		if l, ok := latest[s.Node]; !ok || s.At.After(l.At) {
			latest[s.Node] = s
		}
	}
	nodes := make([]string, 0, len(latest))
	for n := range latest {
		nodes = append(nodes, n)
	}
	// The same samples sum to the same bits on every node.
	sort.Strings(nodes)
	var sig Signals
	for _, n := range nodes {
		s := latest[n]
		logins, capacity := figure(s.Logins), figure(s.Capacity)
		sig.Capacity += capacity
		if queue != nil {
			sig.Absorbs += Absorbs(capacity, figure(queue(capacity)))
		}
		sig.Logins += logins
		sig.Paced += min(figure(s.Paced), logins)
		sig.Shed += figure(s.Shed)
		if s.Queued > 0 && sig.Queued <= math.MaxInt-s.Queued {
			sig.Queued += s.Queued
		} else if s.Queued > 0 {
			sig.Queued = math.MaxInt
		}
	}
	return sig, len(nodes)
}

// figure is v as Sum counts it: 0 unless a finite number ≥ 0, at most
// maxFigure.
func figure(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return min(v, maxFigure)
}

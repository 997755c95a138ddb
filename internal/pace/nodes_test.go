package pace

import (
	"math"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestSum: the tier's signals are the sum of every node's latest sample
// measured within the window of now; a node that stopped reporting (or
// whose clock is that far off) drops out with its capacity; shedding or
// a queue on any one node shows in the sum; a broken figure counts 0.
func TestSum(t *testing.T) {
	const window = 90 * time.Second
	now := t0.Add(time.Hour)
	a := cordon.TierSample{Node: "n-a", At: now.Add(-10 * time.Second), Capacity: 40, Logins: 10, Paced: 4, Shed: 0, Queued: 0}
	b := cordon.TierSample{Node: "n-b", At: now.Add(-40 * time.Second), Capacity: 30, Logins: 6, Paced: 1}
	with := func(s cordon.TierSample, f func(*cordon.TierSample)) cordon.TierSample { f(&s); return s }
	tests := []struct {
		name    string
		samples []cordon.TierSample
		want    Signals
		nodes   int
	}{
		{"none", nil, Signals{}, 0},
		{"one node", []cordon.TierSample{a}, Signals{Capacity: 40, Logins: 10, Paced: 4}, 1},
		{"two nodes summed", []cordon.TierSample{a, b}, Signals{Capacity: 70, Logins: 16, Paced: 5}, 2},
		{"a node that stopped reporting drops out", []cordon.TierSample{a, with(b, func(s *cordon.TierSample) { s.At = now.Add(-window - time.Microsecond) })},
			Signals{Capacity: 40, Logins: 10, Paced: 4}, 1},
		{"a sample at the window's edge counts", []cordon.TierSample{a, with(b, func(s *cordon.TierSample) { s.At = now.Add(-window) })},
			Signals{Capacity: 70, Logins: 16, Paced: 5}, 2},
		{"a clock far ahead is not trusted", []cordon.TierSample{a, with(b, func(s *cordon.TierSample) { s.At = now.Add(window + time.Second) })},
			Signals{Capacity: 40, Logins: 10, Paced: 4}, 1},
		{"shedding on one node", []cordon.TierSample{a, with(b, func(s *cordon.TierSample) { s.Shed = 0.5 })},
			Signals{Capacity: 70, Logins: 16, Paced: 5, Shed: 0.5}, 2},
		{"a queue on one node", []cordon.TierSample{with(a, func(s *cordon.TierSample) { s.Queued = 3 }), b},
			Signals{Capacity: 70, Logins: 16, Paced: 5, Queued: 3}, 2},
		{"a node's latest sample only", []cordon.TierSample{a, with(a, func(s *cordon.TierSample) { s.At = now.Add(-50 * time.Second); s.Capacity = 1000 })},
			Signals{Capacity: 40, Logins: 10, Paced: 4}, 1},
		{"an infinite capacity counts 0", []cordon.TierSample{a, with(b, func(s *cordon.TierSample) { s.Capacity = math.Inf(1) })},
			Signals{Capacity: 40, Logins: 16, Paced: 5}, 2},
		{"NaN and negative figures count 0", []cordon.TierSample{a, with(b, func(s *cordon.TierSample) {
			s.Capacity, s.Logins, s.Paced, s.Shed, s.Queued = math.NaN(), -5, math.NaN(), math.Inf(-1), -2
		})}, Signals{Capacity: 40, Logins: 10, Paced: 4}, 2},
		{"paced at most the node's logins", []cordon.TierSample{with(a, func(s *cordon.TierSample) { s.Paced = 25 })},
			Signals{Capacity: 40, Logins: 10, Paced: 10}, 1},
		{"a huge capacity is bounded", []cordon.TierSample{with(a, func(s *cordon.TierSample) { s.Capacity = math.MaxFloat64 }), with(b, func(s *cordon.TierSample) { s.Capacity = math.MaxFloat64 })},
			Signals{Capacity: 2e9, Logins: 16, Paced: 5}, 2},
		{"queues do not overflow", []cordon.TierSample{with(a, func(s *cordon.TierSample) { s.Queued = math.MaxInt }), with(b, func(s *cordon.TierSample) { s.Queued = 7 })},
			Signals{Capacity: 70, Logins: 16, Paced: 5, Queued: math.MaxInt}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n := Sum(tt.samples, now, window, nil)
			if got != tt.want || n != tt.nodes {
				t.Errorf("Sum = %+v over %d nodes, want %+v over %d", got, n, tt.want, tt.nodes)
			}
		})
	}
}

// TestSumAbsorbs: what the tier absorbs is each node's, from its own
// capacity and queue, summed; a broken capacity absorbs nothing.
func TestSumAbsorbs(t *testing.T) {
	now := t0.Add(time.Hour)
	a := cordon.TierSample{Node: "n-a", At: now, Capacity: 40}
	b := cordon.TierSample{Node: "n-b", At: now, Capacity: 1.2}
	c := cordon.TierSample{Node: "n-c", At: now, Capacity: math.NaN()}
	// A node's queue: 64 logins, or what it hashes in 2 s if fewer.
	queue := func(capacity float64) float64 { return min(64, 2*capacity) }
	got, n := Sum([]cordon.TierSample{a, b, c}, now, time.Minute, queue)
	if want := Absorbs(40, 64) + Absorbs(1.2, 2.4); n != 3 || !near(got.Absorbs, want) {
		t.Errorf("Absorbs = %v over %d nodes, want %v over 3", got.Absorbs, n, want)
	}
	if got.Absorbs >= Absorbs(41.2, 64) {
		t.Errorf("two nodes absorb %v, as much as one of their summed capacity (%v): the small node's short queue is lost", got.Absorbs, Absorbs(41.2, 64))
	}
	if got, _ := Sum([]cordon.TierSample{a}, now, time.Minute, func(float64) float64 { return math.Inf(1) }); got.Absorbs != 0 {
		t.Errorf("an infinite queue absorbs %v, want 0 (unknown)", got.Absorbs)
	}
}

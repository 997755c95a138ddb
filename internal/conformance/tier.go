package conformance

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pace"
)

func tierTests() []subtest {
	return []subtest{
		{"RoundTrip", testTierSamplesRoundTrip},
		{"Refused", testTierSampleRefused},
		{"StaleExcluded", testTierSamplesStale},
		{"LateWriteKeepsNewer", testTierSampleLateWrite},
		{"ClockSteppedBackReplaces", testTierSampleClockStep},
		{"TwoNodesSummed", testTierSamplesSummed},
	}
}

func tierConcurrencyTests() []subtest {
	return []subtest{{"TierSamplesManyWriters", testTierSampleRace}}
}

func mustPutTierSample(t *testing.T, s cordon.Store, ts cordon.TierSample, prune time.Time) {
	t.Helper()
	if err := s.PutTierSample(t.Context(), &ts, prune); err != nil {
		t.Fatalf("PutTierSample(%s at %v): %v", ts.Node, ts.At, err)
	}
}

func tierSamplesSince(t *testing.T, s cordon.Store, since time.Time) []cordon.TierSample {
	t.Helper()
	got, err := s.TierSamples(t.Context(), since)
	if err != nil {
		t.Fatalf("TierSamples: %v", err)
	}
	return got
}

// tierString prints samples as the tests compare them: node, time in
// UTC to the microsecond, figures.
func tierString(ss []cordon.TierSample) string {
	out := ""
	for _, s := range ss {
		out += fmt.Sprintf("%s@%s cap=%g logins=%g paced=%g shed=%g queued=%d; ", s.Node, s.At.Format(time.RFC3339Nano), s.Capacity, s.Logins, s.Paced, s.Shed, s.Queued)
	}
	return out
}

// testTierSamplesRoundTrip: a sample comes back as stored, in UTC to the
// microsecond, one per node by node id; a second sample of a node
// replaces its first.
func testTierSamplesRoundTrip(t *testing.T, s cordon.Store) {
	if got := tierSamplesSince(t, s, at(0)); len(got) != 0 {
		t.Fatalf("TierSamples of an empty store = %s, want none", tierString(got))
	}
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-b", At: at(10 * time.Second).In(elsewhere()), Capacity: 61.25, Logins: 12.5, Paced: 0.125, Shed: 0, Queued: 0}, time.Time{})
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-a", At: at(5 * time.Second).In(elsewhere()), Capacity: 1.0 / 3, Logins: 0.1, Paced: 0, Shed: 2.75, Queued: 4}, time.Time{})
	got := tierSamplesSince(t, s, at(0))
	want := "n-a@2025-03-14T09:26:58.589793Z cap=0.3333333333333333 logins=0.1 paced=0 shed=2.75 queued=4; " +
		"n-b@2025-03-14T09:27:03.589793Z cap=61.25 logins=12.5 paced=0.125 shed=0 queued=0; "
	if g := tierString(got); g != want {
		t.Errorf("TierSamples =\n%s\nwant\n%s", g, want)
	}
	for _, g := range got {
		if g.At.Location() != time.UTC {
			t.Errorf("sample of %s: time in %v, want UTC", g.Node, g.At.Location())
		}
	}
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-b", At: at(40 * time.Second), Capacity: 58, Logins: 20}, time.Time{})
	want = "n-a@2025-03-14T09:26:58.589793Z cap=0.3333333333333333 logins=0.1 paced=0 shed=2.75 queued=4; " +
		"n-b@2025-03-14T09:27:33.589793Z cap=58 logins=20 paced=0 shed=0 queued=0; "
	if g := tierString(tierSamplesSince(t, s, at(0))); g != want {
		t.Errorf("after n-b's next sample, TierSamples =\n%s\nwant\n%s", g, want)
	}
}

// testTierSampleRefused: a sample without a node id or a time, or with a
// figure that would make every node's sum meaningless, is refused and
// nothing is stored.
func testTierSampleRefused(t *testing.T, s cordon.Store) {
	good := cordon.TierSample{Node: "n-a", At: at(0), Capacity: 40, Logins: 10}
	tests := []struct {
		name string
		f    func(*cordon.TierSample)
	}{
		{"no node id", func(ts *cordon.TierSample) { ts.Node = "" }},
		{"no time", func(ts *cordon.TierSample) { ts.At = time.Time{} }},
		{"NaN capacity", func(ts *cordon.TierSample) { ts.Capacity = math.NaN() }},
		{"infinite capacity", func(ts *cordon.TierSample) { ts.Capacity = math.Inf(1) }},
		{"negative logins", func(ts *cordon.TierSample) { ts.Logins = -1 }},
		{"NaN paced", func(ts *cordon.TierSample) { ts.Paced = math.NaN() }},
		{"infinite shed", func(ts *cordon.TierSample) { ts.Shed = math.Inf(1) }},
		{"negative queue", func(ts *cordon.TierSample) { ts.Queued = -1 }},
	}
	for _, tt := range tests {
		ts := good
		tt.f(&ts)
		if err := s.PutTierSample(t.Context(), &ts, time.Time{}); cordon.ErrorCode(err) != cordon.ECodeInvalid {
			t.Errorf("%s: PutTierSample = %v, want an invalid error", tt.name, err)
		}
	}
	if err := s.PutTierSample(t.Context(), nil, time.Time{}); cordon.ErrorCode(err) != cordon.ECodeInvalid {
		t.Errorf("nil sample: PutTierSample = %v, want an invalid error", err)
	}
	if got := tierSamplesSince(t, s, time.Time{}); len(got) != 0 {
		t.Errorf("after refused samples, TierSamples = %s, want none", tierString(got))
	}
}

// testTierSamplesStale: TierSamples leaves out samples measured before
// since (a node that stopped reporting), and PutTierSample deletes those
// measured before prune, of every node.
func testTierSamplesStale(t *testing.T, s cordon.Store) {
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-old", At: at(0), Capacity: 1}, time.Time{})
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-dead", At: at(30 * time.Second), Capacity: 2}, time.Time{})
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-live", At: at(2 * time.Minute), Capacity: 3}, time.Time{})
	got := tierSamplesSince(t, s, at(30*time.Second))
	if g, want := tierString(got), "n-dead@2025-03-14T09:27:23.589793Z cap=2 logins=0 paced=0 shed=0 queued=0; n-live@2025-03-14T09:28:53.589793Z cap=3 logins=0 paced=0 shed=0 queued=0; "; g != want {
		t.Errorf("TierSamples since 30 s =\n%s\nwant\n%s", g, want)
	}
	if got := tierSamplesSince(t, s, at(30*time.Second+time.Microsecond)); len(got) != 1 || got[0].Node != "n-live" {
		t.Errorf("TierSamples since 30 s + 1 µs = %s, want n-live only", tierString(got))
	}
	// n-live's next sample prunes what is older than 30 s: n-old goes,
	// n-dead (at exactly 30 s) stays.
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-live", At: at(3 * time.Minute), Capacity: 4}, at(30*time.Second))
	got = tierSamplesSince(t, s, time.Time{})
	if g, want := tierString(got), "n-dead@2025-03-14T09:27:23.589793Z cap=2 logins=0 paced=0 shed=0 queued=0; n-live@2025-03-14T09:29:53.589793Z cap=4 logins=0 paced=0 shed=0 queued=0; "; g != want {
		t.Errorf("after pruning before 30 s, TierSamples =\n%s\nwant\n%s", g, want)
	}
}

// testTierSampleLateWrite: a node's sample that arrives after a newer
// one (a slow write) leaves the newer one stored.
func testTierSampleLateWrite(t *testing.T, s cordon.Store) {
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-a", At: at(time.Minute), Capacity: 50, Shed: 3}, time.Time{})
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-a", At: at(30 * time.Second), Capacity: 80}, time.Time{})
	got := tierSamplesSince(t, s, time.Time{})
	if g, want := tierString(got), "n-a@2025-03-14T09:27:53.589793Z cap=50 logins=0 paced=0 shed=3 queued=0; "; g != want {
		t.Errorf("TierSamples = %s, want %s", g, want)
	}
}

// testTierSampleClockStep: a node whose clock ran 2 h ahead and was
// stepped back replaces its future-dated sample (a late write is seconds
// late, not hours), so its shedding reaches its peers again.
func testTierSampleClockStep(t *testing.T, s cordon.Store) {
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-a", At: at(2 * time.Hour), Capacity: 50}, time.Time{})
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-a", At: at(time.Second), Capacity: 40, Shed: 2}, time.Time{})
	got := tierSamplesSince(t, s, time.Time{})
	if len(got) != 1 || !got[0].At.Equal(at(time.Second)) || got[0].Shed != 2 {
		t.Errorf("TierSamples = %s, want n-a's sample after the step back (shed 2)", tierString(got))
	}
}

// testTierSamplesSummed: what a pacer reads of two nodes sums to the
// tier's signals, shedding on one of them included.
func testTierSamplesSummed(t *testing.T, s cordon.Store) {
	now := at(time.Hour)
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-a", At: now.Add(-5 * time.Second), Capacity: 40, Logins: 10, Paced: 4, Queued: 1}, time.Time{})
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-b", At: now.Add(-20 * time.Second), Capacity: 30, Logins: 6, Paced: 1, Shed: 0.5}, time.Time{})
	mustPutTierSample(t, s, cordon.TierSample{Node: "n-gone", At: now.Add(-10 * time.Minute), Capacity: 1000}, time.Time{})
	sig, n := pace.Sum(tierSamplesSince(t, s, now.Add(-90*time.Second)), now, 90*time.Second, nil)
	want := pace.Signals{Capacity: 70, Logins: 16, Paced: 5, Shed: 0.5, Queued: 1}
	if sig != want || n != 2 {
		t.Errorf("summed = %+v over %d nodes, want %+v over 2", sig, n, want)
	}
}

// testTierSampleRace: 8 nodes each publish 10 samples at once, out of
// order; every write succeeds and each node's latest sample is what is
// stored, one row per node.
func testTierSampleRace(t *testing.T, s cordon.Store) {
	const nodes, each = 8, 10
	errs := race(nodes*each, func(i int) error {
		node, k := i%nodes, each-1-i/nodes // the latest first, for some
		if i%3 == 0 {
			k = i / nodes
		}
		return s.PutTierSample(t.Context(), &cordon.TierSample{Node: fmt.Sprintf("n-%d", node), At: at(time.Duration(k) * time.Second),
			Capacity: float64(100*node + k), Logins: float64(k)}, time.Time{})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	got := tierSamplesSince(t, s, time.Time{})
	if len(got) != nodes {
		t.Fatalf("TierSamples = %d samples, want %d (one per node): %s", len(got), nodes, tierString(got))
	}
	for i, g := range got {
		if want := fmt.Sprintf("n-%d", i); g.Node != want || !g.At.Equal(at((each-1)*time.Second)) || g.Capacity != float64(100*i+each-1) || g.Logins != each-1 {
			t.Errorf("sample %d = %s, want %s's latest (at 9 s, capacity %d)", i, tierString([]cordon.TierSample{g}), want, 100*i+each-1)
		}
	}
}

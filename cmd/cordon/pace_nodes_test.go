package main

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
)

// TestPaceSharedByNodes: two nodes on one PostgreSQL store each publish
// their login tier sample under their own id, so each one's pacer sums
// both; a node that stops drops out of what is fresh.
func TestPaceSharedByNodes(t *testing.T) {
	store := pgtest.URL(t)
	const every = 100 * time.Millisecond
	a, err := startNodeIn(t, Config{Store: store, PaceEvery: every})
	if err != nil {
		t.Fatal(err)
	}
	b, err := startNodeIn(t, Config{Store: store, PaceEvery: every})
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() map[string]cordon.TierSample {
		t.Helper()
		ss, err := a.store.TierSamples(t.Context(), time.Now().Add(-3*every))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]cordon.TierSample{}
		for _, s := range ss {
			out[s.Node] = s
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := fresh()
		if len(got) == 2 && got[a.node].Capacity > 0 && got[b.node].Capacity > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fresh samples %+v, want one of %s and one of %s, each with a capacity", got, a.node, b.node)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		got := fresh()
		if _, ok := got[b.node]; !ok && len(got) == 1 && got[a.node].Capacity > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fresh samples after B stopped: %+v, want A's only", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

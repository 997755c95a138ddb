package feed

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// store stands for the control plane's whole state, as snapshots read it:
// a policy version, the revoked sessions and a key set.
type store struct {
	mu      sync.Mutex
	version uint64
	revoked []Revocation
	jwks    string
	builds  atomic.Int64
}

func (s *store) snapshot(context.Context) (Event, error) {
	s.builds.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return Event{Policy: &Policy{Version: s.version}, Revoked: slices.Clone(s.revoked), JWKS: json.RawMessage(s.jwks)}, nil
}

// The changes below commit, then publish, as the control plane does.

func (s *store) policy(h *Hub, v uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = v
	h.Publish(Event{Kind: KindPolicy, Policy: &Policy{Version: v}})
}

func (s *store) revoke(h *Hub, sids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []Revocation
	for _, sid := range sids {
		rs = append(rs, Revocation{SessionID: sid})
	}
	s.revoked = append(s.revoked, rs...)
	h.Publish(Event{Kind: KindRevoke, Revoked: rs})
}

func (s *store) keys(h *Hub, jwks string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks = jwks
	h.Publish(Event{Kind: KindKeys, JWKS: json.RawMessage(jwks)})
}

func sids(rs []Revocation) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.SessionID
	}
	return out
}

// TestSnapshotHoldsEverythingPublished: a gate is ready at its first
// event and decides on it. A snapshot cached before a policy change, a
// revocation and a key rotation must not reach a new subscriber with
// those three only replayed after it (the gate would answer on the old
// policy in between, letting the revoked session through): the first
// event holds them all, and nothing follows it until the next change.
func TestSnapshotHoldsEverythingPublished(t *testing.T) {
	st := &store{version: 1, revoked: []Revocation{{SessionID: "s-old"}}, jwks: `{"keys":["k1"]}`}
	h := NewHub(st.snapshot, 0)
	buffered(subscribe(t, h, "")) // caches the snapshot at 0

	st.policy(h, 2)
	st.revoke(h, "s-new")
	st.keys(h, `{"keys":["k2"]}`)
	got := buffered(subscribe(t, h, ""))
	if len(got) != 1 {
		t.Fatalf("got %d events (seqs %v), want the snapshot alone", len(got), seqs(got))
	}
	snap := got[0]
	if snap.Kind != KindSnapshot || snap.Seq != 3 {
		t.Errorf("got %s %s, want a snapshot at 3", snap.Kind, snap.ID())
	}
	if snap.Policy == nil || snap.Policy.Version != 2 {
		t.Errorf("snapshot policy %+v, want version 2", snap.Policy)
	}
	if want := []string{"s-old", "s-new"}; !slices.Equal(sids(snap.Revoked), want) {
		t.Errorf("snapshot revokes %v, want %v", sids(snap.Revoked), want)
	}
	if string(snap.JWKS) != `{"keys":["k2"]}` {
		t.Errorf("snapshot keys %s, want k2", snap.JWKS)
	}
	if n := st.builds.Load(); n != 1 {
		t.Errorf("built %d snapshots, want 1: folding the log in needs no store read", n)
	}
}

// TestSnapshotFoldKeepsTheNewestPolicy: a policy event older than the
// snapshot's version (a late publisher) does not take it back, as a gate
// would not let it.
func TestSnapshotFoldKeepsTheNewestPolicy(t *testing.T) {
	st := &store{version: 7}
	h := NewHub(st.snapshot, 0)
	buffered(subscribe(t, h, ""))
	h.Publish(Event{Kind: KindPolicy, Policy: &Policy{Version: 5}})
	h.Publish(Event{Kind: KindPolicy})
	snap := buffered(subscribe(t, h, ""))[0]
	if snap.Seq != 2 || snap.Policy.Version != 7 {
		t.Errorf("got %s with version %d, want seq 2 with version 7", snap.ID(), snap.Policy.Version)
	}
}

// TestSnapshotFoldSharesNothingWritable: subscribers share their
// snapshots (the handler encodes them while the hub folds the next), and
// folding appends revocations to the cached snapshot's array. No snapshot
// handed out, nor the build's own slice, may change afterwards.
func TestSnapshotFoldSharesNothingWritable(t *testing.T) {
	built := make([]Revocation, 1, 64) // room to append in place
	built[0] = Revocation{SessionID: "s-0"}
	h := NewHub(func(context.Context) (Event, error) { return Event{Policy: &Policy{}, Revoked: built}, nil }, 4)

	var held [][]string // each snapshot's revocations as handed out
	var snaps []Event
	take := func() {
		t.Helper()
		snap := buffered(subscribe(t, h, ""))[0]
		snaps = append(snaps, snap)
		held = append(held, sids(snap.Revoked))
	}
	take()
	h.Publish(Event{Kind: KindRevoke, Revoked: []Revocation{{SessionID: "s-1"}}})
	take()
	take() // nothing new: the same snapshot
	h.Publish(Event{Kind: KindRevoke, Revoked: []Revocation{{SessionID: "s-2"}}})
	h.Publish(Event{Kind: KindRevoke, Revoked: []Revocation{{SessionID: "s-3"}}})
	take()
	for range 4 { // past the log: rebuilt (the build knows no revocation)
		h.Publish(Event{Kind: KindRevoke, Revoked: []Revocation{{SessionID: "s-4"}}})
	}
	take()
	h.Publish(Event{Kind: KindRevoke, Revoked: []Revocation{{SessionID: "s-5"}}})
	take() // folded onto the build

	if got := sids(built); !slices.Equal(got, []string{"s-0"}) || built[:2][1].SessionID != "" {
		t.Errorf("the build's slice became %v (next slot %q): written by a fold", got, built[:2][1].SessionID)
	}
	want := [][]string{{"s-0"}, {"s-0", "s-1"}, {"s-0", "s-1"}, {"s-0", "s-1", "s-2", "s-3"}, {"s-0"}, {"s-0", "s-5"}}
	for i, snap := range snaps {
		if got := sids(snap.Revoked); !slices.Equal(got, held[i]) || !slices.Equal(got, want[i]) {
			t.Errorf("snapshot %d revokes %v, handed out as %v, want %v", i, got, held[i], want[i])
		}
	}
}

// TestSnapshotFoldStopsAtAnUnknownKind: an event the hub cannot fold is
// replayed after the snapshot, with the events after it, rather than
// dropped.
func TestSnapshotFoldStopsAtAnUnknownKind(t *testing.T) {
	st := &store{}
	h := NewHub(st.snapshot, 0)
	buffered(subscribe(t, h, ""))
	st.policy(h, 1)
	h.Publish(Event{Kind: "future"})
	st.policy(h, 3)
	got := buffered(subscribe(t, h, ""))
	if want := []uint64{1, 2, 3}; !equalSeqs(seqs(got), want) || got[0].Kind != KindSnapshot || got[0].Policy.Version != 1 {
		t.Errorf("got seqs %v, first %s; want the snapshot at 1 (version 1), then 2 and 3", seqs(got), got[0].Kind)
	}
}

// TestSnapshotHerdFoldsOnce: gates reconnecting together after a change
// cost one store read between them, and get the same current snapshot.
func TestSnapshotHerdFoldsOnce(t *testing.T) {
	st := &store{}
	h := NewHub(st.snapshot, 0)
	buffered(subscribe(t, h, ""))
	st.policy(h, 1)
	st.revoke(h, "s-1")

	const gates = 64
	firsts := make([]Event, gates)
	var wg sync.WaitGroup
	for i := range gates {
		wg.Go(func() {
			sub, err := h.Subscribe(context.Background(), "")
			if err != nil {
				t.Error(err)
				return
			}
			defer sub.Close()
			firsts[i] = <-sub.Events()
		})
	}
	wg.Wait()
	for i, e := range firsts {
		if e.Seq != 2 || e.Policy.Version != 1 || !slices.Equal(sids(e.Revoked), []string{"s-1"}) {
			t.Errorf("gate %d: first event %s, version %d, revoked %v; want the snapshot at 2", i, e.ID(), e.Policy.Version, sids(e.Revoked))
		}
	}
	if n := st.builds.Load(); n != 1 {
		t.Errorf("%d gates built %d snapshots, want 1", gates, n)
	}
}

package feed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// state stands for the control plane's store: a version that publishers
// raise before they publish, and that snapshots read.
type state struct {
	mu      sync.Mutex
	version atomic.Uint64
	builds  atomic.Int64
}

func (s *state) snapshot(context.Context) (Event, error) {
	s.builds.Add(1)
	return Event{Policy: &Policy{Version: s.version.Load()}}, nil
}

// change commits a new version and publishes it, in that order, as the
// control plane does; the lock keeps versions in Seq order.
func (s *state) change(h *Hub) Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.version.Add(1)
	return h.Publish(Event{Kind: KindPolicy, Policy: &Policy{Version: v}})
}

func newTestHub(t testing.TB, logCap int) (*Hub, *state) {
	t.Helper()
	s := &state{}
	return NewHub(s.snapshot, logCap), s
}

func subscribe(t *testing.T, h *Hub, lastID string) *Subscription {
	t.Helper()
	sub, err := h.Subscribe(context.Background(), lastID)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", lastID, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// buffered drains what the subscription holds right now, without waiting:
// the hub fills it synchronously, so this is exact.
func buffered(sub *Subscription) []Event {
	var out []Event
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

func seqs(es []Event) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestPublishNumbers(t *testing.T) {
	h, _ := newTestHub(t, 0)
	if len(h.Epoch()) != 16 {
		t.Errorf("epoch %q: want 16 hex chars", h.Epoch())
	}
	if other := NewHub(nil, 0); other.Epoch() == h.Epoch() {
		t.Errorf("two hubs share epoch %q", h.Epoch())
	}
	at := time.Date(2014, 5, 27, 8, 0, 0, 0, time.UTC)
	e1 := h.Publish(Event{Kind: KindRevoke})
	e2 := h.Publish(Event{Kind: KindRevoke, At: at})
	if e1.Seq != 1 || e2.Seq != 2 || e1.Epoch != h.Epoch() {
		t.Errorf("got %s, %s; want seqs 1, 2 in epoch %s", e1.ID(), e2.ID(), h.Epoch())
	}
	if e1.At.IsZero() {
		t.Error("At not stamped")
	}
	if !e2.At.Equal(at) {
		t.Errorf("At = %v, want the given %v kept", e2.At, at)
	}
}

func TestSubscribeReplaysTheGap(t *testing.T) {
	h, st := newTestHub(t, 0)
	var missedAfter Event
	for i := range 10 {
		e := st.change(h)
		if i == 3 {
			missedAfter = e
		}
	}
	sub := subscribe(t, h, missedAfter.ID())
	got := buffered(sub)
	if want := seqRange(5, 10); !equalSeqs(seqs(got), want) {
		t.Fatalf("replay seqs = %v, want %v", seqs(got), want)
	}
	st.change(h)
	if got := seqs(buffered(sub)); !equalSeqs(got, []uint64{11}) {
		t.Errorf("live seqs = %v, want [11]", got)
	}
}

func TestSubscribeUpToDateGetsOnlyLive(t *testing.T) {
	h, st := newTestHub(t, 0)
	last := st.change(h)
	sub := subscribe(t, h, last.ID())
	if got := buffered(sub); len(got) != 0 {
		t.Fatalf("got %v, want nothing before the next change", seqs(got))
	}
	st.change(h)
	if got := seqs(buffered(sub)); !equalSeqs(got, []uint64{2}) {
		t.Errorf("got %v, want [2]", got)
	}
}

func TestSubscribeStartsWithSnapshot(t *testing.T) {
	h, st := newTestHub(t, 4)
	for range 10 {
		st.change(h)
	}
	cases := []struct {
		name   string
		lastID string
	}{
		{"empty", ""},
		{"garbage", "garbage"},
		{"no epoch", ":5"},
		{"bad seq", h.Epoch() + ":x"},
		{"unknown epoch", "0123456789abcdef:9"},
		{"older than the log", h.Epoch() + ":5"},
		{"from the future", h.Epoch() + ":11"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := buffered(subscribe(t, h, tc.lastID))
			if len(got) != 1 {
				t.Fatalf("got %d events, want the snapshot alone", len(got))
			}
			snap := got[0]
			if snap.Kind != KindSnapshot || snap.Epoch != h.Epoch() || snap.Seq != 10 {
				t.Errorf("got %s %s, want snapshot %s:10", snap.Kind, snap.ID(), h.Epoch())
			}
			if snap.Policy == nil || snap.Policy.Version != 10 {
				t.Errorf("snapshot policy = %+v, want version 10", snap.Policy)
			}
		})
	}
}

func TestSubscribeOldestResumable(t *testing.T) {
	h, st := newTestHub(t, 4)
	for range 10 {
		st.change(h)
	}
	// The log holds 7..10, so after 6 is the oldest point to resume from.
	got := buffered(subscribe(t, h, h.Epoch()+":6"))
	if want := seqRange(7, 10); !equalSeqs(seqs(got), want) {
		t.Errorf("got %v, want %v", seqs(got), want)
	}
}

func TestResumeFromSnapshot(t *testing.T) {
	h, st := newTestHub(t, 0)
	st.change(h)
	snap := buffered(subscribe(t, h, ""))[0]
	st.change(h)
	got := buffered(subscribe(t, h, snap.ID()))
	if !equalSeqs(seqs(got), []uint64{2}) {
		t.Errorf("resuming from snapshot %s: got %v, want [2]", snap.ID(), seqs(got))
	}
}

func TestSnapshotReusedWhileResumable(t *testing.T) {
	h, st := newTestHub(t, 4)
	st.change(h)
	buffered(subscribe(t, h, ""))
	st.change(h)
	got := buffered(subscribe(t, h, ""))
	if n := st.builds.Load(); n != 1 {
		t.Errorf("built %d snapshots, want the first reused", n)
	}
	if len(got) != 1 || got[0].Kind != KindSnapshot || got[0].Seq != 2 || got[0].Policy.Version != 2 {
		t.Errorf("got %v, want one snapshot at 2 with version 2 (the first with 2 folded in)", seqs(got))
	}
	for range 5 {
		st.change(h)
	}
	buffered(subscribe(t, h, ""))
	if n := st.builds.Load(); n != 2 {
		t.Errorf("built %d snapshots, want a new one once the log moved past the old", n)
	}
}

func TestSubscribeSnapshotError(t *testing.T) {
	boom := errors.New("store down")
	h := NewHub(func(context.Context) (Event, error) { return Event{}, boom }, 0)
	if _, err := h.Subscribe(context.Background(), ""); !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
	if n := h.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d after a failed subscribe", n)
	}
}

func TestCloseEndsStream(t *testing.T) {
	h, _ := newTestHub(t, 0)
	sub := subscribe(t, h, "")
	<-sub.Events() // snapshot
	if n := h.Subscribers(); n != 1 {
		t.Fatalf("Subscribers() = %d, want 1", n)
	}
	sub.Close()
	sub.Close()
	if _, ok := <-sub.Events(); ok {
		t.Error("channel still open after Close")
	}
	if n := h.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d, want 0", n)
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	h, st := newTestHub(t, 0)
	slow := subscribe(t, h, "")
	fast := subscribe(t, h, "")
	n := uint64(subscriberBuffer + 10)

	// The fast subscriber reads each event as it comes; the slow one reads
	// nothing. The publishing runs aside so that a blocked Publish fails the
	// test instead of hanging it.
	fastGot := make(chan []Event, 1)
	go func() {
		got := []Event{<-fast.Events()}
		for range n {
			st.change(h)
			got = append(got, <-fast.Events())
		}
		fastGot <- got
	}()
	var got []Event
	select {
	case got = <-fastGot:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if want := seqRange(0, n); !equalSeqs(seqs(got), want) {
		t.Errorf("fast subscriber got %v, want the snapshot and 1..%d", seqs(got), n)
	}

	slowGot := buffered(slow)
	if _, ok := <-slow.Events(); ok {
		t.Fatal("slow subscriber's channel not closed")
	}
	// What it did get is a gap-free prefix, so it can resume after it.
	if want := seqRange(0, subscriberBuffer); !equalSeqs(seqs(slowGot), want) {
		t.Errorf("slow subscriber got %v, want the snapshot and a full buffer", seqs(slowGot))
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d, want the fast one alone", n)
	}
	rest := buffered(subscribe(t, h, slowGot[len(slowGot)-1].ID()))
	if want := seqRange(subscriberBuffer+1, n); !equalSeqs(seqs(rest), want) {
		t.Errorf("resumed with %v, want %v", seqs(rest), want)
	}
}

// TestRacingPublishSubscribe subscribes while others publish: every
// subscriber, starting from a snapshot or from an id, and resuming each
// time it is dropped, sees each later seq exactly once, and a snapshot
// holds every change up to its seq. With a small log, resuming falls back
// to snapshots too.
func TestRacingPublishSubscribe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logCap int
	}{
		{"default log", 0},
		{"small log", 32},
	} {
		t.Run(tc.name, func(t *testing.T) { racePublishSubscribe(t, tc.logCap) })
	}
}

func racePublishSubscribe(t *testing.T, logCap int) {
	const (
		publishers  = 8
		perPub      = 300
		subscribers = 16
		total       = publishers * perPub
	)
	h, st := newTestHub(t, logCap)
	for range 10 {
		st.change(h)
	}
	startID := h.Epoch() + ":8"

	var wg sync.WaitGroup
	start := make(chan struct{})
	for range publishers {
		wg.Go(func() {
			<-start
			for range perPub {
				st.change(h)
			}
		})
	}
	var resubs atomic.Int64
	errs := make(chan error, subscribers)
	for i := range subscribers {
		wg.Go(func() {
			<-start
			lastID := ""
			if i%2 == 1 {
				lastID = startID
			}
			errs <- follow(h, lastID, total+10, &resubs)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d subscribers resubscribed %d times after being dropped", subscribers, resubs.Load())
}

// follow reads the hub from lastID until seq last, resubscribing whenever
// it is dropped, and checks the sequence.
func follow(h *Hub, lastID string, last uint64, resubs *atomic.Int64) error {
	var next uint64 // the seq expected next; 0 until known
	if _, seq, ok := ParseID(lastID); ok {
		next = seq + 1
	}
	for {
		sub, err := h.Subscribe(context.Background(), lastID)
		if err != nil {
			return err
		}
		for e := range sub.Events() {
			if e.Kind == KindSnapshot {
				if e.Seq+1 < next {
					return fmt.Errorf("snapshot at %d goes back before %d", e.Seq, next-1)
				}
				if e.Policy.Version < e.Seq {
					return errors.New("snapshot misses changes up to its seq")
				}
			} else if next != 0 && e.Seq != next {
				sub.Close()
				return fmt.Errorf("got seq %d, want %d", e.Seq, next)
			}
			next = e.Seq + 1
			lastID = e.ID()
			if e.Seq == last {
				sub.Close()
				return nil
			}
		}
		resubs.Add(1)
	}
}

package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultLogCap is how many recent events a Hub keeps for resuming
	// subscribers: at a few changes a second it covers many minutes of a
	// gate's outage, at the cost of a few hundred KiB.
	DefaultLogCap = 4096

	// subscriberBuffer is how many live events a subscriber may lag behind
	// before it is dropped. Publish must never wait for a slow gate; a
	// dropped gate reconnects and resumes from the log, so dropping costs
	// a reconnect, never a change.
	subscriberBuffer = 256

	// snapshotAttempts bounds the rebuilds when more than the whole log is
	// published while one snapshot is being built.
	snapshotAttempts = 3
)

// Hub numbers the events of one server run, keeps the recent ones, and fans
// them out to subscribers. It is safe for concurrent use.
//
// Callers publish an event after the change it describes is committed: a
// snapshot built afterwards then holds every event up to the sequence
// number it is stamped with, which is what makes resuming from a snapshot
// gap-free.
type Hub struct {
	epoch string
	build func(ctx context.Context) (Event, error)

	// building admits one snapshot build at a time, so a herd of gates
	// reconnecting after a restart costs one store read, not one each.
	building chan struct{}

	mu   sync.Mutex
	seq  uint64
	log  []Event // ring: the event with Seq s is at log[s%len(log)]
	subs map[*Subscription]struct{}
	snap *Event // the last snapshot built, reused while the log can resume it
}

// NewHub returns a hub with a fresh random epoch. snapshot (required) builds
// the whole current state (Policy, Revoked, JWKS) for a subscriber that
// cannot resume; the hub sets its Epoch, Seq and Kind. logCap is how many
// recent events are kept for resuming (DefaultLogCap when not positive).
func NewHub(snapshot func(ctx context.Context) (Event, error), logCap int) *Hub {
	if logCap <= 0 {
		logCap = DefaultLogCap
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return &Hub{
		epoch:    hex.EncodeToString(b[:]),
		build:    snapshot,
		building: make(chan struct{}, 1),
		log:      make([]Event, logCap),
		subs:     make(map[*Subscription]struct{}),
	}
}

// Epoch returns the name of this hub's run, the first half of every id.
func (h *Hub) Epoch() string { return h.epoch }

// Publish numbers e (Epoch, the next Seq, and At when zero), keeps it for
// resuming subscribers, and hands it to every subscriber without waiting:
// one whose buffer is full is dropped (its channel closed) and will resume
// when it reconnects. It returns the numbered event. Subscribers share the
// event, so nobody may modify it or what it points to afterwards.
func (h *Hub) Publish(e Event) Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Epoch, e.Seq = h.epoch, h.seq
	if e.At.IsZero() {
		e.At = time.Now()
	}
	h.log[e.Seq%uint64(len(h.log))] = e
	for s := range h.subs {
		select {
		case s.ch <- e:
		default:
			h.dropLocked(s)
		}
	}
	return e
}

// Subscribers returns the number of live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Subscribe starts a subscription after lastID, an event id "EPOCH:SEQ"
// (the SSE Last-Event-ID). When the hub still holds every event after it,
// those are replayed and live events follow; otherwise (empty, malformed,
// another epoch, or older than the log) the subscription starts with a
// snapshot stamped with the sequence number it is current to. Either way no
// event is skipped or repeated, even while others publish. ctx bounds the
// snapshot build; an error means the snapshot could not be built.
func (h *Hub) Subscribe(ctx context.Context, lastID string) (*Subscription, error) {
	h.mu.Lock()
	if seq, ok := h.resumableLocked(lastID); ok {
		defer h.mu.Unlock()
		return h.subscribeLocked(nil, seq), nil
	}
	h.mu.Unlock()

	for range snapshotAttempts {
		snap, err := h.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		if h.coversLocked(snap.Seq) {
			defer h.mu.Unlock()
			return h.subscribeLocked(&snap, snap.Seq), nil
		}
		h.mu.Unlock()
	}
	return nil, errors.New("feed: events outran the snapshot build")
}

// resumableLocked reports whether lastID names an event of this epoch whose
// successors are all still in the log.
func (h *Hub) resumableLocked(lastID string) (uint64, bool) {
	epoch, seq, ok := ParseID(lastID)
	if !ok || epoch != h.epoch || !h.coversLocked(seq) {
		return 0, false
	}
	return seq, true
}

// coversLocked reports whether every event after seq is in the log.
func (h *Hub) coversLocked(seq uint64) bool {
	return seq <= h.seq && h.seq-seq <= uint64(len(h.log))
}

// subscribeLocked registers a subscriber that first receives first (when
// not nil), then the logged events after seq, then live ones. Copying the
// replay and registering under one hold of h.mu is what keeps a racing
// Publish from landing in neither or in both.
func (h *Hub) subscribeLocked(first *Event, seq uint64) *Subscription {
	n := int(h.seq - seq)
	if first != nil {
		n++
	}
	s := &Subscription{hub: h, ch: make(chan Event, n+subscriberBuffer)}
	if first != nil {
		s.ch <- *first
	}
	for q := seq + 1; q <= h.seq; q++ {
		s.ch <- h.log[q%uint64(len(h.log))]
	}
	h.subs[s] = struct{}{}
	return s
}

// snapshot returns a snapshot event stamped with the sequence number read
// before it was built: since events are published after their change is
// committed, the snapshot holds at least everything up to that number. A
// later event may already be reflected in it too; events are idempotent
// (a policy carries its version, revocations are a set, keys replace), so
// applying it again is harmless, while the opposite stamp could skip one.
func (h *Hub) snapshot(ctx context.Context) (Event, error) {
	select {
	case h.building <- struct{}{}:
		defer func() { <-h.building }()
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}

	h.mu.Lock()
	if h.snap != nil && h.coversLocked(h.snap.Seq) {
		e := *h.snap
		h.mu.Unlock()
		return e, nil
	}
	seq := h.seq
	h.mu.Unlock()

	e, err := h.build(ctx)
	if err != nil {
		return Event{}, fmt.Errorf("feed: build snapshot: %w", err)
	}
	e.Epoch, e.Seq, e.Kind = h.epoch, seq, KindSnapshot
	if e.At.IsZero() {
		e.At = time.Now()
	}
	h.mu.Lock()
	h.snap = &e
	h.mu.Unlock()
	return e, nil
}

// dropLocked ends s: its channel is closed after whatever it still buffers.
func (h *Hub) dropLocked(s *Subscription) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// Subscription is one subscriber's stream of events.
type Subscription struct {
	hub *Hub
	ch  chan Event
}

// Events returns the stream: the snapshot or replay first, then live
// events, in Seq order. It is closed by Close, or by the hub when the
// subscriber fell too far behind; the subscriber then reconnects with the
// id of the last event it handled.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Close ends the subscription. It may be called more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.dropLocked(s)
}

// ID returns the event's id, "EPOCH:SEQ", as sent in the SSE id field.
func (e Event) ID() string {
	return e.Epoch + ":" + strconv.FormatUint(e.Seq, 10)
}

// ParseID splits an event id "EPOCH:SEQ"; ok is false when it is malformed.
func ParseID(id string) (epoch string, seq uint64, ok bool) {
	epoch, s, found := strings.Cut(id, ":")
	if !found || epoch == "" {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return epoch, seq, true
}

package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
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
	snap *cached // the latest snapshot handed out
}

// cached is a snapshot the hub keeps for the next subscribers. Each
// subscriber gets it with the logged events after it folded in, and the
// folded snapshot is kept in its place, so a herd costs one fold, not one
// each. It is rebuilt from the store once the log no longer covers the
// build (base), as often as without folding: a rebuild also drops the
// revocations whose tokens have all expired, which folding only adds to.
type cached struct {
	e    Event
	base uint64 // the Seq of the build this snapshot was folded from
	// owned says e.Revoked's array past its length is the hub's alone: no
	// other snapshot handed out reaches there, so a fold may append in
	// place instead of copying every revocation in force.
	owned bool
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
// snapshot of everything published so far, stamped with the last sequence
// number (the cached snapshot with the logged events after it folded in;
// see currentLocked). Either way no event is skipped or repeated, even
// while others publish. ctx bounds the snapshot build; an error means the
// snapshot could not be built.
func (h *Hub) Subscribe(ctx context.Context, lastID string) (*Subscription, error) {
	h.mu.Lock()
	if seq, ok := h.resumableLocked(lastID); ok {
		defer h.mu.Unlock()
		return h.subscribeLocked(nil, seq), nil
	}
	h.mu.Unlock()

	for range snapshotAttempts {
		c, err := h.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		if h.coversLocked(c.e.Seq) {
			defer h.mu.Unlock()
			snap := h.currentLocked(c)
			return h.subscribeLocked(&snap, snap.Seq), nil
		}
		h.mu.Unlock()
	}
	return nil, errors.New("feed: events outran the snapshot build")
}

// currentLocked returns a snapshot current to h.seq: c (or the cached
// snapshot, when a later subscriber has moved it on) with the logged
// events after it folded in, and keeps that for the next subscriber.
//
// A subscriber's first event is all it holds until the next arrives: a
// gate reports ready and decides requests on it. Handed a snapshot older
// than the log's head and then the events after it, a gate would, for
// the moment between the two, refuse no session revoked since and apply
// no campaign activated since, although both were published before it
// connected. Folded, the snapshot holds everything published when the
// gate subscribed, so ready means current. c must be covered by the log.
func (h *Hub) currentLocked(c *cached) Event {
	src := c
	if h.snap != nil && h.snap.e.Seq >= c.e.Seq {
		src = h.snap
	}
	next := h.foldLocked(src, src == h.snap && src.owned)
	if src == h.snap || h.snap == nil || next.e.Seq > h.snap.e.Seq {
		h.snap = next
	}
	return next.e
}

// foldLocked applies the logged events after src to a copy of it, as a
// gate would apply them, and stamps it with the last one folded. inPlace
// allows appending revocations to src's array (see cached.owned). An
// event of a kind it does not know ends the fold: the subscriber gets it
// and the rest replayed after the snapshot. The folded snapshot is kept
// stamped before it, so every later fold stops there again, until the
// log no longer covers the snapshot and it is built again (up to the
// log's length, 4,096 events by default); meanwhile a new gate is ready
// at the snapshot before the events replayed after it. Skipping the event
// instead is not safe: the fold cannot know what it changes, and a gate
// that knows its kind would miss it. The server publishes only kinds the
// fold knows, so this is a fallback for one added without teaching it.
func (h *Hub) foldLocked(src *cached, inPlace bool) *cached {
	next := &cached{e: src.e, base: src.base, owned: inPlace}
	e := &next.e
	for q := e.Seq + 1; q <= h.seq; q++ {
		ev := &h.log[q%uint64(len(h.log))]
		switch ev.Kind {
		case KindPolicy:
			// As a gate does: a policy version only moves forward.
			if ev.Policy != nil && (e.Policy == nil || ev.Policy.Version > e.Policy.Version) {
				e.Policy = ev.Policy
			}
		case KindRevoke:
			if !next.owned {
				e.Revoked = slices.Clip(e.Revoked) // append copies: the array is shared
				next.owned = true
			}
			e.Revoked = append(e.Revoked, ev.Revoked...)
		case KindKeys:
			e.JWKS = ev.JWKS
		case KindSnapshot:
			e.Policy, e.Revoked, e.JWKS = ev.Policy, ev.Revoked, ev.JWKS
			next.owned = false
		default:
			return next
		}
		e.Seq, e.At = ev.Seq, ev.At
	}
	return next
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

// snapshot returns a snapshot stamped with the sequence number read
// before it was built (or folded up to since): since events are published after their change is
// committed, the snapshot holds at least everything up to that number. A
// later event may already be reflected in it too; events are idempotent
// (a policy carries its version, revocations are a set, keys replace), so
// applying it again is harmless, while the opposite stamp could skip one.
//
// The snapshot is the cached one while the log covers its build, so a herd
// of gates costs one store read.
func (h *Hub) snapshot(ctx context.Context) (*cached, error) {
	select {
	case h.building <- struct{}{}:
		defer func() { <-h.building }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	h.mu.Lock()
	if c := h.snap; c != nil && h.coversLocked(c.base) {
		h.mu.Unlock()
		return c, nil
	}
	seq := h.seq
	h.mu.Unlock()

	e, err := h.build(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed: build snapshot: %w", err)
	}
	e.Epoch, e.Seq, e.Kind = h.epoch, seq, KindSnapshot
	if e.At.IsZero() {
		e.At = time.Now()
	}
	c := &cached{e: e, base: seq}
	h.mu.Lock()
	h.snap = c
	h.mu.Unlock()
	return c, nil
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

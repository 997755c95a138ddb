package alert

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/detect"
)

// QueueSize bounds the attempts waiting for the detector. The detector
// handles about a million a second, far more than logins arrive (each
// costs an argon2id verify), so the queue is empty but for bursts.
const QueueSize = 1 << 16

// Raiser stores what the detector raises; *Service is one.
type Raiser interface {
	Raise(ctx context.Context, a *cordon.Alert) (bool, error)
}

// Watcher feeds login attempts to a detector and raises its alerts, off
// the login path: Observe only queues. It is per node: a deployment of
// several nodes detects what each node sees (an attack spread evenly over
// N nodes needs N times the thresholds' attempts to be seen).
//
// The queue is a slice that grows with a burst, not a channel of
// QueueSize items: a buffered channel allocates its whole buffer at once,
// and a channel of these items cost every server start 32 MB.
type Watcher struct {
	det    *detect.Detector
	raiser Raiser
	log    *slog.Logger

	mu      sync.Mutex
	queue   []item        // attempts and Sync markers, in order
	waiting int           // attempts queued or taken and not yet detected
	wake    chan struct{} // a token when queue may be non-empty

	alerts  chan raised
	dropped atomic.Int64
}

// item is an attempt, or a marker whose done is closed once everything
// queued before it has been raised (Sync).
type item struct {
	attempt detect.Attempt
	done    chan struct{}
}

// raised is an alert for the store, or a Sync marker.
type raised struct {
	alert detect.Alert
	done  chan struct{}
}

// NewWatcher returns a watcher; Run starts it.
func NewWatcher(det *detect.Detector, r Raiser, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{det: det, raiser: r, log: log, wake: make(chan struct{}, 1), alerts: make(chan raised, 1024)}
}

// push queues it; an attempt is refused when QueueSize attempts wait.
func (w *Watcher) push(it item) bool {
	w.mu.Lock()
	if it.done == nil {
		if w.waiting >= QueueSize {
			w.mu.Unlock()
			return false
		}
		w.waiting++
	}
	w.queue = append(w.queue, it)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // a token is already there
	}
	return true
}

// take returns what is queued, handing the queue buf to fill next. The
// attempts taken still count against QueueSize until done says they are
// detected, so the queue and the batch in hand together hold at most
// QueueSize attempts.
func (w *Watcher) take(buf []item) []item {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.queue
	w.queue = buf[:0]
	return out
}

// done marks n taken attempts detected.
func (w *Watcher) done(n int) {
	w.mu.Lock()
	w.waiting -= n
	w.mu.Unlock()
}

// Detector returns the watcher's detector.
func (w *Watcher) Detector() *detect.Detector { return w.det }

// Observe queues a login attempt and returns at once. When the queue is
// full the attempt is dropped and counted (Dropped): a login never waits
// for detection.
func (w *Watcher) Observe(a detect.Attempt) {
	if !w.push(item{attempt: a}) {
		w.dropped.Add(1)
	}
}

// Dropped counts the attempts a full queue turned away.
func (w *Watcher) Dropped() int64 { return w.dropped.Load() }

// Sync waits until every attempt queued before it has been through the
// detector and its alerts stored (tests, shutdown).
func (w *Watcher) Sync(ctx context.Context) error {
	done := make(chan struct{})
	w.push(item{done: done})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run detects and raises until ctx ends: the detector in one goroutine,
// the store writes in another, so a slow store never holds up detection.
func (w *Watcher) Run(ctx context.Context) {
	go w.raise(ctx)
	// The attacks alerted on within the window: a success that belongs to
	// one adds to the accounts it reached, and its alert is raised again
	// with them (the detector raises each attack once per cooldown).
	active := map[string]detect.Alert{}
	var batch []item
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		batch = w.take(batch)
		attempts := 0
		for i, it := range batch {
			if !w.detect(ctx, it, active) {
				return
			}
			if it.done == nil {
				attempts++
			}
			batch[i] = item{} // let the strings go
		}
		w.done(attempts)
		if cap(batch) > 4096 {
			batch = nil // a burst's buffer is not kept
		}
	}
}

// detect runs one queued item through the detector and hands what it
// raises to the store's goroutine; false when ctx ended.
func (w *Watcher) detect(ctx context.Context, it item, active map[string]detect.Alert) bool {
	if it.done != nil {
		select {
		case w.alerts <- raised{done: it.done}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	found := w.det.Observe(it.attempt)
	for _, al := range found {
		active[al.Kind+"/"+al.Key] = al
	}
	if it.attempt.OK {
		found = append(found, w.reached(it.attempt, active)...)
	}
	for _, al := range found {
		select {
		case w.alerts <- raised{alert: al}:
		default:
			w.log.Error("alert dropped: the store is not keeping up", "kind", al.Kind, "key", al.Key)
		}
	}
	return true
}

// reached returns the active alerts a successful attempt adds a reached
// account to, with their new evidence; it forgets alerts whose window
// has passed. A success that matches an attack (its account, its sprayed
// password, an address it failed from) came after the attack's failures,
// so it is added as it is, without a rescan of the window: a wave of
// successes costs O(1) each.
func (w *Watcher) reached(a detect.Attempt, active map[string]detect.Alert) []detect.Alert {
	var out []detect.Alert
	window := w.det.Rules().Window
	for k, al := range active {
		if a.At.Sub(al.To) > window {
			delete(active, k)
			continue
		}
		var match bool
		switch al.Kind {
		case detect.KindBruteForce:
			match = a.Account == al.Key
		case detect.KindSpraying:
			match = detect.Fingerprint(a.Password) == al.Key
		case detect.KindStuffing:
			match = slices.Contains(al.TopAddresses, a.Address)
		}
		if !match || slices.Contains(al.Reached, a.Account) {
			continue
		}
		al.ReachedTotal++
		if len(al.Reached) < detect.MaxListed {
			al.Reached = append(slices.Clone(al.Reached), a.Account)
			slices.Sort(al.Reached)
		}
		al.To = a.At
		active[k] = al
		out = append(out, al)
	}
	return out
}

func (w *Watcher) raise(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-w.alerts:
			if it.done != nil {
				close(it.done)
				continue
			}
			a := FromLogin(it.alert)
			if _, err := w.raiser.Raise(ctx, a); err != nil && ctx.Err() == nil {
				w.log.Error("store an alert", "kind", a.Kind, "key", a.Key, "err", err)
			}
		}
	}
}

// FromLogin turns the detector's alert into a stored one.
func FromLogin(al detect.Alert) *cordon.Alert {
	var summary string
	switch al.Kind {
	case detect.KindBruteForce:
		summary = fmt.Sprintf("brute force on account %s: %d failures from %d addresses in %s", Shown(al.Key), al.Failures, al.Addresses, span(al.From, al.To))
	case detect.KindSpraying:
		summary = fmt.Sprintf("password spraying: one password (%s) failed on %d accounts from %d addresses in %s", al.Key, al.Accounts, al.Addresses, span(al.From, al.To))
	case detect.KindStuffing:
		summary = fmt.Sprintf("credential stuffing: %d failures on %d accounts from %d addresses in %s", al.Failures, al.Accounts, al.Addresses, span(al.From, al.To))
	default:
		summary = al.Kind
	}
	if al.ReachedTotal > 0 {
		summary += fmt.Sprintf("; %d accounts reached", al.ReachedTotal)
	}
	return &cordon.Alert{Kind: al.Kind, Key: al.Key, Summary: summary, Evidence: cordon.AlertEvidence{
		From: al.From.UTC(), To: al.To.UTC(), Attempts: al.Attempts, Failures: al.Failures, Accounts: al.Accounts, Addresses: al.Addresses,
		TopAddresses: al.TopAddresses, Reached: al.Reached, ReachedTotal: al.ReachedTotal}}
}

// Shown is an attacker's string (a username tried) as a summary shows it:
// as it is when it is a short line of printable text, else quoted with
// its control characters escaped, so no alert line can forge another or
// drive a terminal.
func Shown(s string) string {
	if len(s) > 64 {
		s = cut(s, 64) + "…"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}

func span(from, to time.Time) string { return to.Sub(from).Truncate(time.Second).String() }

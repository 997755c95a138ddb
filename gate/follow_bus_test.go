package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/natsbus"
	"github.com/cordon-dev/cordon/internal/natstest"
	"github.com/cordon-dev/cordon/internal/token"
)

// TestBusFollowerReadyOnlyWhenCaughtUp: a gate that starts on a bus
// holding many revocations gets the latest policy and keys on one stream
// and the revocations on another, in no order between them. It must not
// decide before it has read every revocation retained when it started:
// the session revoked last is refused at every answer the gate gives
// while ready, and once ready.
func TestBusFollowerReadyOnlyWhenCaughtUp(t *testing.T) {
	const revocations = 300
	url := natstest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := natsbus.Open(ctx, url, natsbus.Options{RevocationTTL: time.Hour, Origin: "node-1", Deployment: "d-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_, keys, signer := newSigner(t, base.Add(-24*time.Hour))
	until := time.Now().Add(time.Hour) // the bus keeps them an hour of real time
	for i := range revocations {
		e := feed.Event{Kind: feed.KindRevoke, Revoked: []feed.Revocation{{SessionID: fmt.Sprintf("s-%d", i), Until: until}}}
		if err := pub.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(ctx, snapshot(1, nil, nil, keys.JWKS())); err != nil {
		t.Fatal(err)
	}

	st := NewState(issuer, audience)
	g := New(st, Options{Clock: func() time.Time { return base }, CacheSize: -1})
	last := bearerOf(sign(t, signer, claims(func(c *token.Claims) {
		c.SessionID = fmt.Sprintf("s-%d", revocations-1)
		c.Platform = cordon.PlatformIOS
	}), base))
	answer := func() string {
		w := newRecorder(g, last, androidPlay)
		var body errorBody // none when the request passed
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return fmt.Sprintf("%d %s", w.Code, body.Error)
	}
	var passed []string // answers other than session_revoked while ready
	events := 0
	st.onChange(func() { // under st's lock: the next event waits for this
		events++
		if st.Ready() {
			if a := answer(); a != "401 session_revoked" {
				passed = append(passed, fmt.Sprintf("event %d: %s", events, a))
			}
		}
	})
	f, err := NewFollower(ctx, st, FollowerConfig{Bus: url, RevocationTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	go f.Run(ctx)
	waitUntil(t, "the gate ready on the bus", st.Ready)
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(passed) > 0 {
		t.Errorf("the gate answered for the session revoked last before it read it, of %d events: %q", events, passed)
	}
	if a := answer(); a != "401 session_revoked" {
		t.Errorf("ready: %s, want 401 session_revoked", a)
	}
}

// TestCatchingUpIsNotReady: a State that holds a policy and keys while
// its Follower is still catching up answers 503 not_ready, and Ready
// names why.
func TestCatchingUpIsNotReady(t *testing.T) {
	f := newFixture(t, Options{})
	f.st.behind.Store(true)
	var nr *NotReady
	if err := f.g.Ready(); !errors.As(err, &nr) || nr.Reason != ReasonCatchingUp || f.st.Ready() {
		t.Errorf("catching up: Ready() = %v, State.Ready() = %t; want %s, false", err, f.st.Ready(), ReasonCatchingUp)
	}
	tok := bearerOf(f.token(claims()))
	if got := f.do(tok, androidPlay); got.code != http.StatusServiceUnavailable || got.err.Error != CodeNotReady {
		t.Errorf("catching up: %d %s, want 503 %s", got.code, got.err.Error, CodeNotReady)
	}
	f.st.behind.Store(false)
	if err := f.g.Ready(); err != nil || !f.st.Ready() {
		t.Errorf("caught up: Ready() = %v, State.Ready() = %t; want ready", err, f.st.Ready())
	}
	if got := f.do(tok, androidPlay); got.code != http.StatusOK {
		t.Errorf("caught up: %d %s, want 200", got.code, got.err.Error)
	}
}

// TestBusFollowerNotReadyBetweenASnapshotsParts: a gate that starts on an
// empty bus is caught up at once, then the server's first snapshot lands
// as its parts on two streams, its revocations behind others that the
// gate is slow to take. At no event the gate takes may it be ready and
// let the snapshot's revoked session through.
func TestBusFollowerNotReadyBetweenASnapshotsParts(t *testing.T) {
	url := natstest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := natsbus.Open(ctx, url, natsbus.Options{RevocationTTL: time.Hour, Origin: "node-1", Deployment: "d-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_, keys, signer := newSigner(t, base.Add(-24*time.Hour))
	st := NewState(issuer, audience)
	g := New(st, Options{Clock: func() time.Time { return base }, CacheSize: -1})
	tok := bearerOf(sign(t, signer, claims(func(c *token.Claims) { c.SessionID = "s-x"; c.Platform = cordon.PlatformIOS }), base))
	var passed []string // answers other than session_revoked while ready
	events := 0
	st.onChange(func() { // under st's lock: the next event waits for this
		events++
		time.Sleep(time.Millisecond) // the revocations fall behind
		if st.Ready() {
			w := newRecorder(g, tok, androidPlay)
			var body errorBody // none when the request passed
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if a := fmt.Sprintf("%d %s", w.Code, body.Error); a != "401 session_revoked" {
				passed = append(passed, fmt.Sprintf("event %d: %s", events, a))
			}
		}
	})
	f, err := NewFollower(ctx, st, FollowerConfig{Bus: url, RevocationTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	go f.Run(ctx)
	select {
	case <-f.bus.CaughtUp():
	case <-ctx.Done():
		t.Fatal("not caught up on the empty bus")
	}
	if st.Ready() {
		t.Fatal("ready on an empty bus")
	}
	until := time.Now().Add(time.Hour) // the bus keeps them an hour of real time
	for i := range 150 {
		e := feed.Event{Kind: feed.KindRevoke, Revoked: []feed.Revocation{{SessionID: fmt.Sprintf("s-%d", i), Until: until}}}
		if err := pub.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(ctx, snapshot(1, nil, []feed.Revocation{{SessionID: "s-x", Until: until}}, keys.JWKS())); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the gate ready on the bus", st.Ready)
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(passed) > 0 {
		t.Errorf("the gate let the revoked session through while ready, of %d events: %q", events, passed)
	}
	if !st.Revoked("s-x", base) {
		t.Error("ready without the snapshot's revocation")
	}
}

// TestBusFollowerTriesAgain: a Follow of the bus that fails (NATS away
// when it makes its consumers) is tried again until one follows; a
// Follower that gave up would leave its gate catching_up for good.
func TestBusFollowerTriesAgain(t *testing.T) {
	url := natstest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := natsbus.Open(ctx, url, natsbus.Options{RevocationTTL: time.Hour, Origin: "node-1", Deployment: "d-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_, keys, _ := newSigner(t, base.Add(-24*time.Hour))
	if err := pub.Publish(ctx, snapshot(1, nil, nil, keys.JWKS())); err != nil {
		t.Fatal(err)
	}
	st := NewState(issuer, audience)
	f, err := NewFollower(ctx, st, FollowerConfig{Bus: url, RevocationTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const failures = 3
	var calls atomic.Int32
	follow := f.follow
	f.follow = func(ctx context.Context, apply func(feed.Event, string)) error {
		if calls.Add(1) <= failures {
			return errors.New("natsbus: follow CORDON_FEED_latest: nats: connection closed")
		}
		return follow(ctx, apply)
	}
	f.retry, f.retryMax = time.Millisecond, 4*time.Millisecond
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- f.Run(runCtx) }()
	deadline := time.After(15 * time.Second)
	for !st.Ready() {
		select {
		case err := <-ran:
			t.Fatalf("Run returned %v after %d Follows, before the gate was ready", err, calls.Load())
		case <-deadline:
			t.Fatalf("not ready after %d Follows", calls.Load())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if n := calls.Load(); n != failures+1 {
		t.Errorf("%d Follows, want %d", n, failures+1)
	}
	stop()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

// TestFollowerForAReadyState: a Follower made again for a State that is
// ready leaves it ready: it goes on deciding on what it holds while the
// new one catches up, rather than answer 503 to everyone.
func TestFollowerForAReadyState(t *testing.T) {
	url := natstest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, keys, _ := newSigner(t, base.Add(-24*time.Hour))
	st := NewState(issuer, audience)
	if err := st.apply(snapshot(1, nil, nil, keys.JWKS())); err != nil {
		t.Fatal(err)
	}
	f, err := NewFollower(ctx, st, FollowerConfig{Bus: url, RevocationTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !st.Ready() {
		t.Error("a ready State is not ready once a Follower is made for it")
	}
	// A new State is not ready before its Follower's catch-up.
	fresh := NewState(issuer, audience)
	g, err := NewFollower(ctx, fresh, FollowerConfig{Bus: url, RevocationTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !fresh.behind.Load() {
		t.Error("a new State's Follower is not catching up")
	}
}

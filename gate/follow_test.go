package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

// TestFollowerFromAServer: a Follower of a server's feed applies its
// snapshot, then each event, and says it is connected.
func TestFollowerFromAServer(t *testing.T) {
	_, keys, _ := newSigner(t, base)
	hub := feed.NewHub(func(context.Context) (feed.Event, error) { return snapshot(3, nil, nil, keys.JWKS()), nil }, 0)
	srv := httptest.NewServer(feed.Handler(hub, slog.New(slog.DiscardHandler)))
	defer srv.Close()

	st := NewState(issuer, audience)
	f, err := NewFollower(context.Background(), st, FollowerConfig{Server: srv.URL, Token: "cat_test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	waitUntil(t, "the snapshot", func() bool { return st.Ready() && st.PolicyVersion() == 3 })
	if !f.Connected() || f.LastEvent().IsZero() {
		t.Errorf("connected %t, last event %v; want connected with an event", f.Connected(), f.LastEvent())
	}
	hub.Publish(policyEvent(4))
	waitUntil(t, "the policy event", func() bool { return st.PolicyVersion() == 4 })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestFollowerReadyOnlyWhenCurrent: a gate started after a revocation and
// a campaign's activation decides its first request on both, although the
// server's cached snapshot predates them. Every time the gate takes an
// event and holds a policy and keys, it must refuse the revoked session
// and deny the campaign's cohort: a gate handed the old snapshot and the
// two events only after it would answer between them on the old policy.
func TestFollowerReadyOnlyWhenCurrent(t *testing.T) {
	_, keys, signer := newSigner(t, base.Add(-24*time.Hour))
	var (
		mu      sync.Mutex
		version uint64 = 1
		cs      []*cordon.Campaign
		revoked []feed.Revocation
	)
	hub := feed.NewHub(func(context.Context) (feed.Event, error) {
		mu.Lock()
		defer mu.Unlock()
		return snapshot(version, cs, revoked, keys.JWKS()), nil
	}, 0)
	srv := httptest.NewServer(feed.Handler(hub, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := func(st *State) {
		f, err := NewFollower(ctx, st, FollowerConfig{Server: srv.URL, Token: "cat_test"})
		if err != nil {
			t.Fatal(err)
		}
		go f.Run(ctx)
	}

	// A first gate makes the server cache its snapshot (version 1).
	first := NewState(issuer, audience)
	follow(first)
	waitUntil(t, "the first gate's snapshot", first.Ready)

	// Committed, then published, as the control plane does.
	mu.Lock()
	revoked = []feed.Revocation{{SessionID: "s-revoked", Until: base.Add(ttl)}}
	mu.Unlock()
	hub.Publish(feed.Event{Kind: feed.KindRevoke, Revoked: revoked})
	mu.Lock()
	version, cs = 2, []*cordon.Campaign{reauthAndroid()}
	mu.Unlock()
	hub.Publish(policyEvent(2, cs...))

	clock := func() time.Time { return base }
	revokedTok := bearerOf(sign(t, signer, claims(func(c *token.Claims) { c.SessionID = "s-revoked"; c.Platform = cordon.PlatformIOS }), base))
	cohortTok := bearerOf(sign(t, signer, claims(), base))
	late := NewState(issuer, audience)
	g := New(late, Options{Clock: clock, CacheSize: -1})
	var (
		answers []string // what the gate said at each event it took
		events  atomic.Int64
	)
	late.onChange(func() { // under late's lock: no event can follow before this returns
		events.Add(1)
		if !late.Ready() {
			return
		}
		for _, tok := range []string{revokedTok, cohortTok} {
			w := newRecorder(g, tok, androidPlay)
			var body errorBody // none when the request passed
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			answers = append(answers, fmt.Sprintf("v%d %d %s", late.PolicyVersion(), w.Code, body.Error))
		}
	})
	follow(late)
	waitUntil(t, "the late gate at version 2", func() bool { return late.PolicyVersion() == 2 })
	late.mu.Lock()
	defer late.mu.Unlock()
	want := []string{"v2 401 session_revoked", "v2 401 reauth_required"}
	if !slices.Equal(answers, want) {
		t.Errorf("the late gate answered %q over %d events; want %q at its first", answers, events.Load(), want)
	}
}

func TestNewFollowerRefusesAServerURL(t *testing.T) {
	for _, u := range []string{"", "id.example.com", "ftp://id.example.com", "http://"} {
		if _, err := NewFollower(context.Background(), NewState(issuer, audience), FollowerConfig{Server: u}); err == nil {
			t.Errorf("NewFollower(Server %q): no error", u)
		}
	}
}

// waitUntil polls cond (a feed arrives over a real connection) for up
// to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

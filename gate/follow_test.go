package gate

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/feed"
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

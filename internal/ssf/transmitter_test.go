package ssf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/token"
)

// fixture is a transmitter on the in-memory store with a fake clock and
// a receiver counting pushes.
type fixture struct {
	tr     *Transmitter
	st     *memstore.Store
	clk    *clock.Fake
	pushes atomic.Int64
	url    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{st: memstore.New(), clk: clock.NewFake(time.Date(2026, 5, 27, 8, 0, 0, 0, time.UTC))}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.pushes.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(rc.Close)
	f.url = rc.URL
	k, _ := token.NewSigningKey(f.clk.Now())
	ks, err := token.NewKeySet([]*cordon.SigningKey{k}, time.Hour, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.tr = New(f.st, f.clk, nil, Config{Issuer: "https://cordon.example", Keys: func() *token.KeySet { return ks }, Policy: Policy{AllowHTTP: true}})
	// A stream is served only while its owner holds a usable ssf token.
	for _, name := range []string{"rp", "rp-paused", "rp-disabled", "rp-slow", "rp-fast", "other"} {
		f.owner(t, name)
	}
	return f
}

// owner issues a usable token of scope ssf named name, as
// `cordon token create NAME --scope ssf` does.
func (f *fixture) owner(t *testing.T, name string) *cordon.AdminToken {
	t.Helper()
	a := &cordon.AdminToken{ID: cordon.NewID("t"), Name: name, Hash: []byte("hash of " + name + " " + cordon.NewID("h")), Scopes: []string{cordon.ScopeSSF}, CreatedAt: f.clk.Now()}
	if err := f.st.CreateAdminToken(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) stream(t *testing.T, owner, status string) *cordon.SSFStream {
	t.Helper()
	r := &Request{Delivery: &Delivery{Method: cordon.SSFDeliveryPush, EndpointURL: f.url}, EventsRequested: &[]string{EventSessionRevoked}}
	s, err := f.tr.Create(t.Context(), owner, r)
	if err != nil {
		t.Fatal(err)
	}
	if status != cordon.SSFEnabled {
		if s, err = f.tr.SetStatus(t.Context(), owner, StatusRequest{StreamID: s.ID, Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// revoke makes a session and revokes it now.
func (f *fixture) revoke(t *testing.T, reason string) {
	t.Helper()
	ctx := context.Background()
	a := &cordon.Account{ID: cordon.NewID("u"), Username: cordon.NewID("n"), PasswordHash: "x", PasswordChangedAt: f.clk.Now(), CreatedAt: f.clk.Now()}
	if err := f.st.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	s := &cordon.Session{ID: cordon.NewID("s"), AccountID: a.ID, AuthTime: f.clk.Now(), CreatedAt: f.clk.Now(), LastSeenAt: f.clk.Now()}
	rt := &cordon.RefreshToken{Hash: []byte(s.ID), SessionID: s.ID, CreatedAt: f.clk.Now(), IdleExpiresAt: f.clk.Now().Add(time.Hour), AbsoluteExpiresAt: f.clk.Now().Add(time.Hour)}
	if err := f.st.CreateSession(ctx, s, rt); err != nil {
		t.Fatal(err)
	}
	if err := f.st.RevokeSession(ctx, s.ID, reason, f.clk.Now()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) queued(t *testing.T, s *cordon.SSFStream) int {
	evs, err := f.st.PendingSSF(t.Context(), s.ID, f.clk.Now().Add(time.Hour), 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestStreamStates: an enabled stream is pushed to, a paused one queues
// and is pushed to once enabled, a disabled one drops; an expiry is no
// event.
func TestStreamStates(t *testing.T) {
	f := newFixture(t)
	paused := f.stream(t, "rp-paused", cordon.SSFPaused)
	disabled := f.stream(t, "rp-disabled", cordon.SSFDisabled)
	f.revoke(t, cordon.RevokeAdmin)
	f.revoke(t, cordon.RevokeExpired)
	if err := f.tr.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.queued(t, paused); n != 1 {
		t.Errorf("paused stream queued %d, want 1 (the expiry is not an event)", n)
	}
	if n := f.queued(t, disabled); n != 0 {
		t.Errorf("disabled stream queued %d, want 0", n)
	}
	if n := f.pushes.Load(); n != 0 {
		t.Errorf("%d pushes to paused and disabled streams, want 0", n)
	}
	if _, err := f.tr.SetStatus(t.Context(), "rp-paused", StatusRequest{StreamID: paused.ID, Status: cordon.SSFEnabled}); err != nil {
		t.Fatal(err)
	}
	if err := f.tr.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.pushes.Load(); n != 1 {
		t.Errorf("after enabling: %d pushes, want 1", n)
	}
	if n := f.queued(t, paused); n != 0 {
		t.Errorf("after enabling: %d still queued", n)
	}
	// Disabling drops what a stream holds: enabled again, it gets nothing.
	f.tr.SetStatus(t.Context(), "rp-paused", StatusRequest{StreamID: paused.ID, Status: cordon.SSFPaused})
	f.revoke(t, cordon.RevokeLogout)
	if err := f.tr.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.queued(t, paused); n != 1 {
		t.Fatalf("paused again: %d queued, want 1", n)
	}
	f.tr.SetStatus(t.Context(), "rp-paused", StatusRequest{StreamID: paused.ID, Status: cordon.SSFDisabled})
	if n := f.queued(t, paused); n != 0 {
		t.Errorf("disabled: %d still queued, want 0", n)
	}
	f.tr.SetStatus(t.Context(), "rp-paused", StatusRequest{StreamID: paused.ID, Status: cordon.SSFEnabled})
	if err := f.tr.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.pushes.Load(); n != 1 {
		t.Errorf("enabled after a disable: %d pushes, want still 1", n)
	}
	// Read again (a restart's lookback): nothing is sent twice.
	f.tr.mu.Lock()
	f.tr.recent = map[string]time.Time{}
	f.tr.cursor = f.clk.Now().Add(-time.Hour)
	f.tr.mu.Unlock()
	if err := f.tr.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.pushes.Load(); n != 1 {
		t.Errorf("after re-reading the revocations: %d pushes, want still 1", n)
	}
}

// TestQueueBounded: a stream whose receiver never takes its SETs keeps at
// most QueueLimit, dropping the oldest and counting them.
func TestQueueBounded(t *testing.T) {
	f := newFixture(t)
	f.tr.cfg.QueueLimit = 3
	s := f.stream(t, "rp", cordon.SSFPaused)
	for range 5 {
		f.revoke(t, cordon.RevokeLogout)
	}
	if err := f.tr.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := f.st.SSFStreamByID(t.Context(), s.ID)
	if n := f.queued(t, s); n != 3 || got.Dropped != 2 {
		t.Errorf("queued %d, dropped %d; want 3 and 2", n, got.Dropped)
	}
}

// TestStreamsPerOwner: a token cannot create unbounded streams.
func TestStreamsPerOwner(t *testing.T) {
	f := newFixture(t)
	for range 10 {
		f.stream(t, "rp", cordon.SSFEnabled)
	}
	_, err := f.tr.Create(t.Context(), "rp", &Request{Delivery: &Delivery{Method: cordon.SSFDeliveryPoll}})
	if e, ok := err.(*cordon.Error); !ok || e.Code != cordon.ECodeConflict {
		t.Errorf("11th stream: %v, want conflict", err)
	}
	if _, err := f.tr.Create(t.Context(), "other", &Request{Delivery: &Delivery{Method: cordon.SSFDeliveryPoll}}); err != nil {
		t.Errorf("another owner's first stream: %v", err)
	}
}

// TestSlowReceiverBoundsARound: a receiver that never answers in time
// costs a round about one push timeout, not one per queued SET, and does
// not hold back another stream.
func TestSlowReceiverBoundsARound(t *testing.T) {
	f := newFixture(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()
	f.tr.cfg.PushTimeout = 200 * time.Millisecond
	f.tr.cfg.Client = PushClient(Policy{AllowHTTP: true}, 200*time.Millisecond)
	stuck, err := f.tr.Create(t.Context(), "rp-slow", &Request{Delivery: &Delivery{Method: cordon.SSFDeliveryPush, EndpointURL: slow.URL}, EventsRequested: &[]string{EventSessionRevoked}})
	if err != nil {
		t.Fatal(err)
	}
	f.stream(t, "rp-fast", cordon.SSFEnabled)
	for range 8 {
		f.revoke(t, cordon.RevokeLogout)
	}
	begun := time.Now()
	if err := f.tr.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begun); took > time.Second {
		t.Errorf("a round with a stuck receiver took %v, want about one 200 ms timeout (8 SETs would be 1.6 s)", took)
	}
	if n := f.pushes.Load(); n != 8 {
		t.Errorf("the other stream got %d pushes, want all 8", n)
	}
	if got, _ := f.st.SSFStreamByID(t.Context(), stuck.ID); got.LastError == "" {
		t.Errorf("the stuck stream shows no error")
	}
}

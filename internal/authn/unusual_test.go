package authn_test

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
)

// TestLoginFromSomewhereNewGoesFirst: in a ramp that puts unusual
// addresses first, a password login from neither a device nor an address
// the account used before admits the account early (a lead after the
// flush); a first login, and logins from a known device or address, do
// not; a wrong password from somewhere new does not either (only the
// password proves the account is reached). No login moves an admission
// later: the account keeps its place or comes in sooner.
func TestLoginFromSomewhereNewGoesFirst(t *testing.T) {
	ctx := t.Context()
	store, clk := memstore.New(), clock.NewFake(t0)
	camps, err := campaign.New(ctx, store, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := authn.New(ctx, authn.Deps{Store: store, Clock: clk, Campaigns: camps, Policy: password.DefaultPolicy(),
		Hasher:   password.NewHasher(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{}),
		Throttle: throttle.New(throttle.DefaultConfig(), clk)}, authn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := svc.CreateAccount(ctx, "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	login := func(addr, device, pw string) {
		t.Helper()
		f := iphone
		f.Device = device
		svc.Login(ctx, authn.LoginRequest{Username: "alice", Password: pw, Client: f, Address: addr})
	}
	login("192.0.2.1:1", "d-home", alicePassword) // before any campaign: known from now on
	c, err := camps.Create(ctx, []byte(`{"kind":"reauth","name":"n","ramp":{"start":"`+clk.Now().Add(time.Hour).Format(time.RFC3339)+`","duration":"72h","priority":{"unusual_addresses":true}}}`), "json", "a-admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := camps.Transition(ctx, c.ID, "activate", "a-admin"); err != nil {
		t.Fatal(err)
	}
	place, _ := camps.Policy().Admission(c.ID, alice.ID)
	early := func() []cordon.EarlyAdmission {
		t.Helper()
		if _, err := camps.FlushUnusual(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		got, err := camps.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Early
	}
	clk.Advance(time.Minute)
	login("192.0.2.1:2", "d-home", alicePassword)    // known device and address
	login("198.51.100.9:1", "d-home", alicePassword) // a known device from a new address
	login("192.0.2.1:3", "d-new", alicePassword)     // a new device at home
	login("203.0.113.5:1", "d-evil", "wrong password")
	if got := early(); len(got) != 0 {
		t.Fatalf("admitted early without a login from somewhere new: %+v", got)
	}
	clk.Advance(time.Minute)
	seen := clk.Now()
	login("203.0.113.5:1", "d-evil", alicePassword)
	got := early()
	if len(got) != 1 || got[0].Account != alice.ID || got[0].Why != cordon.AdmitUnusualAddress || !got[0].At.Equal(seen.Add(5*time.Second)) {
		t.Fatalf("after a login from somewhere new: %+v, want alice at %v", got, seen.Add(5*time.Second))
	}
	adm, why, _ := camps.Policy().AdmissionWhy(c.ID, alice.ID)
	if adm.After(place) || (adm.Before(place) && why != cordon.AdmitUnusualAddress) {
		t.Errorf("admission %v (%s), place %v: an early admission may only come sooner", adm, why, place)
	}
}

// TestFirstLoginIsNotUnusual: an account the node knows nothing of (its
// first login, or any after a restart) is not from somewhere new, so a
// restart does not admit everyone early.
func TestFirstLoginIsNotUnusual(t *testing.T) {
	clk := clock.NewFake(t0)
	th := throttle.New(throttle.DefaultConfig(), clk)
	a, err := th.Check(t.Context(), throttle.Keys{Account: "alice", Address: "192.0.2.1", Device: "d-1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Unusual() {
		t.Error("a first login is unusual")
	}
	a.Succeed()
	b, err := th.Check(t.Context(), throttle.Keys{Account: "alice", Address: "203.0.113.5", Device: "d-2"})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Unusual() {
		t.Error("a login from a new device and address is not unusual")
	}
	b.Cancel()
	clk.Advance(31 * 24 * time.Hour)
	c, err := th.Check(t.Context(), throttle.Keys{Account: "alice", Address: "203.0.113.5", Device: "d-2"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Unusual() {
		t.Error("unusual after every known pair expired: the account is as good as new")
	}
}

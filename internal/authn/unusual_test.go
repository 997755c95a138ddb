package authn_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
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

// unusualEnv is a service on the real campaign engine with a reauth
// campaign whose ramp puts unusual addresses first, starting an hour on
// (so every user's place is later than an early admission).
type unusualEnv struct {
	svc   *authn.Service
	camps *campaign.Service
	clk   *clock.Fake
	c     *cordon.Campaign // the last activated
}

func newUnusualEnv(t *testing.T) *unusualEnv {
	t.Helper()
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
	return &unusualEnv{svc: svc, camps: camps, clk: clk}
}

// activate starts a priority campaign.
func (u *unusualEnv) activate(t *testing.T) {
	t.Helper()
	c, err := u.camps.Create(t.Context(), []byte(`{"kind":"reauth","name":"n","ramp":{"start":"`+u.clk.Now().Add(time.Hour).Format(time.RFC3339)+`","duration":"72h","priority":{"unusual_addresses":true}}}`), "json", "a-admin")
	if err != nil {
		t.Fatal(err)
	}
	if u.c, err = u.camps.Transition(t.Context(), c.ID, "activate", "a-admin"); err != nil {
		t.Fatal(err)
	}
}

// early flushes the sightings and returns the campaign's early admissions.
func (u *unusualEnv) early(t *testing.T) []cordon.EarlyAdmission {
	t.Helper()
	if _, err := u.camps.FlushUnusual(t.Context(), u.clk.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := u.camps.Get(t.Context(), u.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got.Early
}

func (u *unusualEnv) login(t *testing.T, name, addr string, f cordon.ClientFacts) *authn.Tokens {
	t.Helper()
	tok, err := u.svc.Login(t.Context(), authn.LoginRequest{Username: name, Password: alicePassword, Client: f, Address: addr})
	if err != nil {
		t.Fatalf("login %s from %s: %v", name, addr, err)
	}
	return tok
}

// TestRefreshFromSomewhereNewGoesFirst: a session refreshed from a network
// the account never logged in from (the stolen-session case: the thief
// replays the session's own device id) admits the account early in a ramp
// that puts unusual addresses first, 5 s after it is seen. A refresh from
// the /24 of a known address does not, nor does any refresh that fails
// from somewhere new: a made-up token, a spent one (which ends its
// session), one a campaign refuses. The early admission only comes sooner.
func TestRefreshFromSomewhereNewGoesFirst(t *testing.T) {
	ctx := t.Context()
	u := newUnusualEnv(t)
	alice, err := u.svc.CreateAccount(ctx, "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	home := iphone
	home.Device = "d-home"
	s1 := u.login(t, "alice", "192.0.2.1:40000", home) // before any campaign: home is known
	s2 := u.login(t, "alice", "192.0.2.1:40001", home)
	s3 := u.login(t, "alice", "192.0.2.1:40002", android)
	u.activate(t)
	up, err := u.camps.Create(ctx, []byte(`{"kind":"upgrade","name":"u","cohort":{"platforms":["android"]},"upgrade":{"min_version":"9.0.0","mode":"immediate","urls":{"official":"https://example.com/app"}}}`), "json", "a-admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.camps.Transition(ctx, up.ID, "activate", "a-admin"); err != nil {
		t.Fatal(err)
	}
	place, _ := u.camps.Policy().Admission(u.c.ID, alice.ID)
	u.clk.Advance(time.Minute)

	refresh := func(tok *authn.Tokens, f cordon.ClientFacts, addr string) (*authn.Tokens, error) {
		t.Helper()
		return u.svc.Refresh(ctx, tok.RefreshToken, f, addr)
	}
	var re *authn.RefreshError
	// The owner at home, from another address of home's /24.
	if s1, err = refresh(s1, home, "192.0.2.200:5"); err != nil {
		t.Fatalf("refresh from home's /24: %v", err)
	}
	// Refreshes that fail, from somewhere new.
	if _, err := u.svc.Refresh(ctx, "crt_made-up-token", home, "203.0.113.5:1"); !errors.As(err, &re) {
		t.Fatalf("a made-up token: %v, want refused", err)
	}
	spent := *s2
	if _, err := refresh(s2, home, "192.0.2.1:40001"); err != nil {
		t.Fatal(err)
	}
	if _, err := refresh(&spent, home, "203.0.113.5:1"); !errors.As(err, &re) || re.Reason != cordon.RevokeRefreshReuse {
		t.Fatalf("a spent token: %v, want refused as reuse", err)
	}
	if _, err := refresh(s3, android, "203.0.113.5:1"); !errors.As(err, &re) || re.Reason != decision.ReasonUpgradeRequired {
		t.Fatalf("a session the upgrade campaign holds: %v, want upgrade_required", err)
	}
	if got := u.early(t); len(got) != 0 {
		t.Fatalf("admitted early without a successful refresh from somewhere new: %+v", got)
	}

	// The thief, with s1's token and its device id, from their network.
	u.clk.Advance(time.Minute)
	seen := u.clk.Now()
	if _, err := refresh(s1, home, "203.0.113.5:1"); err != nil {
		t.Fatalf("refresh from somewhere new: %v", err)
	}
	got := u.early(t)
	if len(got) != 1 || got[0].Account != alice.ID || got[0].Why != cordon.AdmitUnusualAddress || !got[0].At.Equal(seen.Add(5*time.Second)) {
		t.Fatalf("after a refresh from somewhere new: %+v, want alice at %v", got, seen.Add(5*time.Second))
	}
	adm, why, _ := u.camps.Policy().AdmissionWhy(u.c.ID, alice.ID)
	if !adm.Before(place) || why != cordon.AdmitUnusualAddress {
		t.Errorf("admission %v (%s), place %v: want sooner, for unusual_address", adm, why, place)
	}
}

// TestRefreshTeachesNoAddress: a refresh never makes a new address
// known, so a thief who refreshed from their network still logs in from
// there as a stranger (unusual, admitted early), and refreshes from home
// keep home known a month after the last login.
func TestRefreshTeachesNoAddress(t *testing.T) {
	ctx := t.Context()
	u := newUnusualEnv(t)
	alice, err := u.svc.CreateAccount(ctx, "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	home := iphone
	home.Device = "d-home"
	s := u.login(t, "alice", "192.0.2.1:1", home)
	for range 2 { // 40 days of refreshes from home's /24
		u.clk.Advance(20 * 24 * time.Hour)
		if s, err = u.svc.Refresh(ctx, s.RefreshToken, home, "192.0.2.9:1"); err != nil {
			t.Fatal(err)
		}
	}
	u.activate(t)
	if got := u.early(t); len(got) != 0 {
		t.Fatalf("the owner's refreshes from home admitted early: %+v", got)
	}
	// 40 days after the last login, still known: the next refresh from
	// somewhere new is seen.
	if _, err = u.svc.Refresh(ctx, s.RefreshToken, home, "203.0.113.5:1"); err != nil {
		t.Fatal(err)
	}
	if got := u.early(t); len(got) != 1 || got[0].Account != alice.ID {
		t.Fatalf("a refresh from somewhere new 40 days after the login, home refreshed since: %+v, want alice", got)
	}
	// The thief's network learnt nothing: in a second campaign, their
	// login from there on another device is from somewhere new too.
	u.activate(t)
	u.login(t, "alice", "203.0.113.5:2", android)
	if got := u.early(t); len(got) != 1 || got[0].Account != alice.ID {
		t.Fatalf("a login from where only a refresh was seen: early %+v, want alice", got)
	}
}

// TestConcurrentRefreshesFromSomewhereNew: 24 accounts refresh at once,
// 30 times each; half do so from home only, the other half once from
// somewhere new. Exactly the second half is admitted early (run with
// -race).
func TestConcurrentRefreshesFromSomewhereNew(t *testing.T) {
	ctx := t.Context()
	u := newUnusualEnv(t)
	const n = 24
	ids := make([]string, n)
	toks := make([]*authn.Tokens, n)
	for i := range n {
		name := fmt.Sprintf("user%d", i)
		a, err := u.svc.CreateAccount(ctx, name, alicePassword)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = a.ID
		toks[i] = u.login(t, name, fmt.Sprintf("198.51.100.%d:1", i), iphone)
	}
	u.activate(t)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok := toks[i]
			for j := range 30 {
				addr := fmt.Sprintf("198.51.100.%d:%d", 100+j, j) // home's /24
				if i%2 == 1 && j == 17 {
					addr = fmt.Sprintf("203.0.113.%d:1", i)
				}
				var err error
				if tok, err = u.svc.Refresh(ctx, tok.RefreshToken, iphone, addr); err != nil {
					t.Errorf("user%d refresh %d: %v", i, j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var got []string
	for _, e := range u.early(t) {
		got = append(got, e.Account)
	}
	var want []string
	for i := 1; i < n; i += 2 {
		want = append(want, ids[i])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("admitted early %v, want the accounts that refreshed from somewhere new %v", got, want)
	}
}

package campaign_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/pace"
)

// priorityEnv is 200 users with a session each, a saved report naming
// three of them (their data was read), and an active auto ramp over
// everyone that starts an hour after the activation, with the report's
// users and unusual addresses first.
func priorityEnv(t *testing.T) (*env, *cordon.Campaign) {
	t.Helper()
	var users []string
	for i := range 200 {
		users = append(users, fmt.Sprintf("user%d", i))
	}
	e := newEnv(t, users...)
	for _, u := range users {
		e.session(t, u, cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "play"}, 30*24*time.Hour)
	}
	if err := e.store.SaveAuditReport(t.Context(), &cordon.SavedAuditReport{ID: "r-read", Principals: []string{"svc"}, From: t0, To: t0, Created: t0,
		Subjects: []string{"user5", "user6", e.ids["user7"], "nobody-any-more"}}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	start := e.clk.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	c := e.create(t, `{"kind":"reauth","name":"prio","ramp":{"start":"`+start+`","mode":"auto","max_duration":"72h",
		"priority":{"users_from_report":"r-read","unusual_addresses":true}}}`)
	return e, e.transition(t, c.ID, "activate")
}

// gatePolicy is what a gate compiles from the feed's copy of the campaigns
// the server's policy was built from (OnPolicy → feed.WirePolicy → JSON).
func gatePolicy(t *testing.T, e *env) *decision.Policy {
	t.Helper()
	cs, v, err := e.svc.Enforcing(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(feed.WirePolicy(v, cs))
	if err != nil {
		t.Fatal(err)
	}
	var wp feed.Policy
	if err := json.Unmarshal(b, &wp); err != nil {
		t.Fatal(err)
	}
	p, err := decision.Compile(wp.DomainCampaigns(), wp.Version, e.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// agree checks the gate's policy and the server's decide every user's old
// session alike at each instant.
func agree(t *testing.T, e *env, gate *decision.Policy, at ...time.Time) {
	t.Helper()
	srv := e.svc.Policy()
	for u, id := range e.ids {
		s := &cordon.Session{ID: "s-" + u, AccountID: id, AuthTime: t0, Facts: cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "play"}}
		for _, now := range at {
			if g, v := decision.Decide(&decision.Input{Session: s, Now: now, Policy: gate}), decision.Decide(&decision.Input{Session: s, Now: now, Policy: srv}); g.Outcome != v.Outcome {
				t.Fatalf("at %v the gate says %s and the server %s for %s", now, g.Outcome, v.Outcome, u)
			}
		}
	}
}

// TestPriorityFromReport: the report's users are admitted at the ramp's
// first instant, before its order admits anyone, and say so; the others
// wait for their place; a gate following the feed decides alike.
func TestPriorityFromReport(t *testing.T) {
	e, c := priorityEnv(t)
	start := c.Ramp.Start
	if got := campaign.Priorities(c); got == nil || got.Named != 3 || got.UnusualAddress != 0 {
		t.Fatalf("priorities %+v, want 3 named", got)
	}
	for _, u := range []string{"user5", "user6", "user7"} {
		a, err := e.svc.AdmissionOf(t.Context(), c, u)
		if err != nil {
			t.Fatal(err)
		}
		if !a.At.Equal(start) || a.Why != cordon.AdmitPriority || a.Admitted {
			t.Errorf("%s: %+v, want admitted at the ramp's start %v (priority), not yet", u, a, start)
		}
	}
	a, err := e.svc.AdmissionOf(t.Context(), c, "user100")
	if err != nil || a.Why != cordon.AdmitRamp || !a.At.After(start) {
		t.Errorf("user100: %+v, %v; want a place after the start (ramp)", a, err)
	}
	if _, err := e.svc.AdmissionOf(t.Context(), c, "nobody"); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("an unknown user: %v, want not found", err)
	}
	agree(t, e, gatePolicy(t, e), start.Add(-time.Second), start, start.Add(time.Second), start.Add(time.Hour))
	// At the start exactly the three are in.
	in := 0
	for _, id := range e.ids {
		if adm, _ := e.svc.Policy().Admission(c.ID, id); !adm.After(start) {
			in++
		}
	}
	if in != 3 {
		t.Errorf("%d users in at the ramp's first instant, want the report's 3", in)
	}
}

// TestUnusualAddressGoesFirst: an account seen from somewhere new is
// admitted a lead after the flush, and only ever earlier than its place;
// seen again later, its admission does not move; a gate on the policy
// before the flush decides as the server after it until the lead is over;
// a campaign without unusual_addresses is untouched.
func TestUnusualAddressGoesFirst(t *testing.T) {
	e, c := priorityEnv(t)
	other := e.create(t, `{"kind":"reauth","name":"plain","ramp":{"start":"`+c.Ramp.Start.Format(time.RFC3339)+`","duration":"72h"}}`)
	e.transition(t, other.ID, "activate")
	e.clk.Advance(2 * time.Hour) // the ramp runs
	before := gatePolicy(t, e)
	user := "user150"
	place, _ := e.svc.Policy().Admission(c.ID, e.ids[user])
	if !place.After(e.clk.Now().Add(pace.Lead)) {
		t.Fatalf("pick a user whose place is later: %v", place)
	}
	plainBefore, _ := e.svc.Policy().Admission(other.ID, e.ids[user])
	e.svc.SeenUnusual(e.ids[user])
	e.svc.SeenUnusual(e.ids[user]) // twice: once
	flushed := e.clk.Now()
	n, err := e.svc.FlushUnusual(t.Context(), flushed)
	if err != nil || n != 1 {
		t.Fatalf("FlushUnusual = %d, %v; want 1", n, err)
	}
	got, _ := e.svc.Get(t.Context(), c.ID)
	a, err := e.svc.AdmissionOf(t.Context(), got, user)
	if err != nil {
		t.Fatal(err)
	}
	if want := flushed.Add(pace.Lead).UTC().Truncate(time.Microsecond); !a.At.Equal(want) || a.Why != cordon.AdmitUnusualAddress {
		t.Errorf("%s: %+v, want admitted at %v (unusual_address)", user, a, want)
	}
	if p := campaign.Priorities(got); p.UnusualAddress != 1 {
		t.Errorf("priorities %+v, want one unusual address", p)
	}
	if adm, _ := e.svc.Policy().Admission(other.ID, e.ids[user]); !adm.Equal(plainBefore) {
		t.Errorf("a ramp without unusual_addresses moved %s from %v to %v", user, plainBefore, adm)
	}
	// The gate a flush behind, and the gate after it, agree with the
	// server up to the lead.
	agree(t, e, before, flushed, flushed.Add(pace.Lead-time.Millisecond))
	after := gatePolicy(t, e)
	agree(t, e, after, flushed, flushed.Add(pace.Lead), flushed.Add(time.Hour))
	// Seen again an hour later: the first admission stands.
	e.clk.Advance(time.Hour)
	e.svc.SeenUnusual(e.ids[user])
	if n, err := e.svc.FlushUnusual(t.Context(), e.clk.Now()); err != nil || n != 0 {
		t.Errorf("a second sighting added %d, %v; want none", n, err)
	}
	if again, _ := e.svc.AdmissionOf(t.Context(), got, user); !again.At.Equal(a.At) {
		t.Errorf("a second sighting moved the admission from %v to %v", a.At, again.At)
	}
	// Someone whose place has passed: an early admission changes nothing.
	var early string
	for u, id := range e.ids {
		if adm, _ := e.svc.Policy().Admission(c.ID, id); adm.Before(c.Ramp.Start.Add(time.Minute)) && u != "user5" && u != "user6" && u != "user7" {
			early = u
			break
		}
	}
	if early != "" {
		was, _ := e.svc.Policy().Admission(c.ID, e.ids[early])
		e.svc.SeenUnusual(e.ids[early])
		if _, err := e.svc.FlushUnusual(t.Context(), e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if now, _ := e.svc.Policy().Admission(c.ID, e.ids[early]); !now.Equal(was) {
			t.Errorf("%s, admitted at %v, moved to %v", early, was, now)
		}
	}
}

// TestUnusualQueueBounded: a flood of sightings between two flushes keeps
// at most the queue's bound and counts the rest.
func TestUnusualQueueBounded(t *testing.T) {
	e := newEnv(t)
	for i := range 10_050 {
		e.svc.SeenUnusual(fmt.Sprintf("a-%d", i))
	}
	if d := e.svc.UnusualDropped(); d != 50 {
		t.Errorf("dropped %d, want 50", d)
	}
	// Nothing to admit into: the queue empties without error.
	if n, err := e.svc.FlushUnusual(t.Context(), e.clk.Now()); err != nil || n != 0 {
		t.Errorf("FlushUnusual with no campaign = %d, %v", n, err)
	}
}

// TestSightingBudget: early admissions of sighted accounts take at most
// the budget the pacer sets (SightingShare of the capacity): at 2 a
// second, five sightings go 2, then none at the same instant, then 2 a
// second later and the last after another; a quiet minute saves up ten
// seconds' worth at most.
func TestSightingBudget(t *testing.T) {
	e, c := priorityEnv(t)
	e.clk.Advance(2 * time.Hour) // the ramp runs
	e.svc.SetSightingRate(2)
	for i := 150; i < 155; i++ {
		e.svc.SeenUnusual(e.ids[fmt.Sprintf("user%d", i)])
	}
	flush := func(want int) {
		t.Helper()
		if n, err := e.svc.FlushUnusual(t.Context(), e.clk.Now()); err != nil || n != want {
			t.Fatalf("FlushUnusual at %v = %d, %v; want %d", e.clk.Now(), n, err, want)
		}
	}
	flush(2)
	flush(0)
	e.clk.Advance(time.Second)
	flush(2)
	e.clk.Advance(time.Second)
	flush(1)
	got, _ := e.svc.Get(t.Context(), c.ID)
	if p := campaign.Priorities(got); p.UnusualAddress != 5 {
		t.Errorf("priorities %+v, want the five sighted users admitted early", p)
	}
	// A quiet minute saves ten seconds' worth, not sixty.
	e.clk.Advance(time.Minute)
	for i := 100; i < 130; i++ {
		e.svc.SeenUnusual(e.ids[fmt.Sprintf("user%d", i)])
	}
	flush(20)
	// The pacer's rate is at least one a second, whatever the capacity.
	e.svc.SetSightingRate(0)
	e.clk.Advance(time.Second)
	flush(1)
	// The oldest sighting goes first, whatever its id; an account already
	// admitted early, seen again at every refresh, spends nothing.
	e.clk.Advance(time.Minute)
	e.svc.SetSightingRate(1)
	for range 30 { // drain what is left of the thirty
		e.clk.Advance(time.Second)
		if _, err := e.svc.FlushUnusual(t.Context(), e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// Ten seconds' worth saved up, twelve sighted: the first ten sighted
	// go, in whatever order their ids sort; re-sightings of an account
	// admitted early already spend nothing.
	var order []string
	for i := 60; i < 72; i++ {
		name := fmt.Sprintf("user%d", i)
		order = append(order, name)
		e.svc.SeenUnusual(e.ids[name])
		e.svc.SeenUnusual(e.ids["user150"]) // admitted early above
	}
	e.clk.Advance(time.Minute)
	flush(10)
	got, _ = e.svc.Get(t.Context(), c.ID)
	// The campaign's early list, not the admission: a user whose ramp
	// place has come already is admitted by the ramp whatever the list.
	early := map[string]bool{}
	for _, a := range got.Early {
		early[a.Account] = a.Why == cordon.AdmitUnusualAddress
	}
	for k, name := range order {
		if in := early[e.ids[name]]; in != (k < 10) {
			t.Errorf("%s, sighted %d of 12: in the early list %v", name, k+1, in)
		}
	}
}

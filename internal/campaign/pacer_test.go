package campaign_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/pace"
)

// pacedEnv is 300 users, each with a session: the first 150 seen at t0,
// the others one every 12 s over the next half hour; and an active auto
// campaign over all of them starting a minute after the last.
func pacedEnv(t *testing.T) (*env, *cordon.Campaign) {
	t.Helper()
	return pacedEnvSeen(t, func(i int) time.Duration {
		if i > 150 {
			return 12 * time.Second
		}
		return 0
	})
}

// pacedEnvSeen is pacedEnv with user i seen gap(i) after user i−1.
func pacedEnvSeen(t *testing.T, gap func(i int) time.Duration) (*env, *cordon.Campaign) {
	t.Helper()
	var users []string
	for i := range 300 {
		users = append(users, fmt.Sprintf("user%d", i))
	}
	e := newEnv(t, users...)
	for i, u := range users {
		e.clk.Advance(gap(i))
		e.session(t, u, cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore"}, 30*24*time.Hour)
	}
	e.clk.Advance(time.Minute)
	c := e.create(t, `{"kind":"reauth","name":"paced","ramp":{"start":"`+e.clk.Now().UTC().Format(time.RFC3339)+`","mode":"auto","max_duration":"72h"}}`)
	e.transition(t, c.ID, "activate")
	return e, c
}

var calm = pace.Signals{Capacity: 1, Logins: 0.1}

// TestPacerStoresAndInstalls: a step stores the pace, bumps the policy
// and installs it, so the server (and every gate, through OnPolicy)
// admits along it at once; a step under shedding stores speed 0.
func TestPacerStoresAndInstalls(t *testing.T) {
	e, c := pacedEnv(t)
	p := campaign.NewPacer(e.svc, 30*time.Second, e.svc.LiveAges)
	v0 := e.svc.Policy().Version
	e.clk.Advance(30 * time.Second)
	n, err := p.Step(t.Context(), e.clk.Now(), calm)
	if err != nil || n != 1 {
		t.Fatalf("Step = %d, %v; want 1 pace stored", n, err)
	}
	got, err := e.svc.Get(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sp := got.Ramp.Pace
	// The 150 installs seen together at t0 come back together, about 31
	// minutes after their admission, within one slot of the forecast (the
	// pacer's 30 s interval): 0.7 logins/s of headroom (80 % of 1, less
	// 0.1 of other logins) against 150 × 30 s / 30 s = 150 per share/s is
	// 0.00467 share/s, less what the max_duration line admits in the 5 s
	// before the new speed starts.
	if sp == nil || math.Abs(sp.Rate-0.7/150) > 2e-4 {
		t.Fatalf("stored pace %+v, want a rate of 0.00467", sp)
	}
	// At that speed everyone is admitted within two minutes, and the
	// last seen 31 minutes before come back after as long: 95 % of them
	// are projected back well within the hour.
	if sp.Back95.IsZero() || !sp.Back95.After(e.clk.Now()) || sp.Back95.After(e.clk.Now().Add(time.Hour)) {
		t.Errorf("projected 95 %% back by %v, want within the hour after %v", sp.Back95, e.clk.Now())
	}
	first := sp.Back95
	if v := e.svc.Policy().Version; v != v0+1 {
		t.Errorf("policy version %d, want %d", v, v0+1)
	}
	sc, err := decision.NewSchedule(got.Ramp)
	if err != nil {
		t.Fatal(err)
	}
	adm, _ := e.svc.Policy().Admission(c.ID, e.ids["user7"])
	if want := sc.At(decision.Share(decision.Seed(c.ID), decision.AccountHash(e.ids["user7"]))); !adm.Equal(want) && !adm.Equal(got.Activated) {
		t.Errorf("the installed policy admits user7 at %v, the stored pace at %v", adm, want)
	}
	e.clk.Advance(30 * time.Second)
	if _, err := p.Step(t.Context(), e.clk.Now(), pace.Signals{Capacity: 1, Logins: 1.4, Shed: 0.4}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.svc.Get(t.Context(), c.ID)
	if got.Ramp.Pace.Rate != 0 || len(got.Ramp.Pace.Points) != 3 {
		t.Errorf("after shedding: pace %+v, want rate 0 and a third point", got.Ramp.Pace)
	}
	// Held on the max_duration line, the projection moves out.
	if b := got.Ramp.Pace.Back95; !b.After(first.Add(time.Hour)) {
		t.Errorf("projected after shedding %v, want well after %v", b, first)
	}
}

// TestPacerRestartResumes: a node restarted between two steps — a new
// service and pacer on the same store, nothing else kept — stores the
// pace the node that ran all along stores. The cohort was seen one user
// every 6 s over half an hour, so what earlier steps admitted comes back
// in the slots the next steps' admissions would: a restarted node that
// forgot it would admit faster. The tier is small (0.04 logins/s), so
// the ramp is still running at the last step.
func TestPacerRestartResumes(t *testing.T) {
	small := pace.Signals{Capacity: 0.04, Logins: 0.004}
	steps := []pace.Signals{small, {Capacity: 0.04, Logins: 0.024, Paced: 0.02}, small, {Capacity: 0.04, Logins: 0.036, Paced: 0.032}, small}
	run := func(restartAt int) *cordon.Pace {
		e, c := pacedEnvSeen(t, func(int) time.Duration { return 6 * time.Second })
		p := campaign.NewPacer(e.svc, 30*time.Second, e.svc.LiveAges)
		for i, sig := range steps {
			if i == restartAt {
				svc, err := campaign.New(t.Context(), e.store, e.clk, nil)
				if err != nil {
					t.Fatal(err)
				}
				e.svc = svc
				p = campaign.NewPacer(svc, 30*time.Second, svc.LiveAges)
			}
			e.clk.Advance(30 * time.Second)
			if _, err := p.Step(t.Context(), e.clk.Now(), sig); err != nil {
				t.Fatal(err)
			}
		}
		got, err := e.svc.Get(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Ramp.Pace
	}
	a, b := run(-1), run(2)
	if a == nil || a.Points[len(a.Points)-1].Share >= 0.5 {
		t.Fatalf("ran all along: %+v; want a ramp still admitting at the last steps", a)
	}
	if b == nil || len(a.Points) != len(b.Points) || math.Abs(a.Rate-b.Rate) > 1e-12 {
		t.Fatalf("ran all along: %+v\nrestarted: %+v", a, b)
	}
	for i := range a.Points {
		if d := math.Abs(a.Points[i].Share - b.Points[i].Share); d > 1e-12 || a.Points[i].At.Sub(b.Points[i].At) != 0 {
			t.Errorf("point %d: %+v all along, %+v restarted", i, a.Points[i], b.Points[i])
		}
	}
}

// TestPacerSeenEvery: 100 installs last seen over the 10 minutes before
// the breach, under a 15 min access token, may each be in use right now
// (last_seen_at moves only at a login or a refresh): with SeenEvery the
// forecast takes every return as due at once, 100 re-logins per share/s
// in the first 30 s slot, so 0.7 logins/s of headroom admit 0.007
// share/s. Trusting the ages would spread them over 20 slots and admit
// 20 times as fast.
func TestPacerSeenEvery(t *testing.T) {
	rate := func(seen time.Duration) float64 {
		t.Helper()
		var users []string
		for i := range 100 {
			users = append(users, fmt.Sprintf("user%d", i))
		}
		e := newEnv(t, users...)
		for _, u := range users {
			e.clk.Advance(6 * time.Second)
			e.session(t, u, cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore"}, 30*24*time.Hour)
		}
		e.clk.Advance(time.Second)
		c := e.create(t, `{"kind":"reauth","name":"paced","ramp":{"start":"`+e.clk.Now().UTC().Format(time.RFC3339)+`","mode":"auto","max_duration":"72h"}}`)
		e.transition(t, c.ID, "activate")
		p := campaign.NewPacer(e.svc, 30*time.Second, e.svc.LiveAges).SeenEvery(seen)
		if n, err := p.Step(t.Context(), e.clk.Now(), calm); err != nil || n != 1 {
			t.Fatalf("Step = %d, %v; want 1 pace stored", n, err)
		}
		got, err := e.svc.Get(t.Context(), c.ID)
		if err != nil || got.Ramp.Pace == nil {
			t.Fatalf("Get = %+v, %v; want a pace", got, err)
		}
		return got.Ramp.Pace.Rate
	}
	if got := rate(15 * time.Minute); math.Abs(got-0.007) > 5e-4 {
		t.Errorf("rate with a 15 min token %v, want 0.007", got)
	}
	if got := rate(0); got < 0.1 {
		t.Errorf("rate trusting the ages %v, want about 0.14", got)
	}
}

package decision

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// withEarly gives a campaign early admissions.
func withEarly(es ...cordon.EarlyAdmission) func(*cordon.Campaign) {
	return func(c *cordon.Campaign) { c.Early = append(c.Early, es...) }
}

// TestPriorityAdmittedAtStart: a ramp's priority users (resolved at
// creation, At zero) are admitted at the ramp's first instant, before its
// hash order admits anyone, in a fixed ramp and an auto one alike; the
// others keep their place; every answer says why.
func TestPriorityAdmittedAtStart(t *testing.T) {
	start := base.Add(time.Hour) // the ramp starts after the activation
	for _, mode := range []string{cordon.RampFixed, cordon.RampAuto} {
		t.Run(mode, func(t *testing.T) {
			c := active("c-prio", cordon.KindReauth, cordon.Cohort{}, func(c *cordon.Campaign) {
				c.Ramp = &cordon.Ramp{Start: start, Duration: 72 * time.Hour}
				if mode == cordon.RampAuto {
					c.Ramp.Mode = cordon.RampAuto
				}
			}, withEarly(cordon.EarlyAdmission{Account: "u-read-1", Why: cordon.AdmitPriority},
				cordon.EarlyAdmission{Account: "u-read-2", Why: cordon.AdmitPriority}))
			p := policy(t, c)
			for _, u := range []string{"u-read-1", "u-read-2"} {
				at, why, _ := p.AdmissionWhy(c.ID, u)
				if !at.Equal(start) || why != cordon.AdmitPriority {
					t.Errorf("%s admitted at %v (%s), want the ramp's start %v (priority)", u, at, why, start)
				}
				s := &cordon.Session{ID: "s", AccountID: u, AuthTime: old, Facts: cordon.ClientFacts{Platform: "ios"}}
				if d := Decide(&Input{Session: s, Now: start, Policy: p}); d.Outcome != Deny {
					t.Errorf("%s not denied at the ramp's first instant: %+v", u, d)
				}
				if d := Decide(&Input{Session: s, Now: start.Add(-time.Nanosecond), Policy: p}); d.Outcome != Allow {
					t.Errorf("%s denied before the ramp began: %+v", u, d)
				}
			}
			without := policy(t, active("c-prio", cordon.KindReauth, cordon.Cohort{}, func(cc *cordon.Campaign) { r := *c.Ramp; cc.Ramp = &r }))
			for i := range 500 {
				u := fmt.Sprintf("u-%d", i)
				a1, why, _ := p.AdmissionWhy(c.ID, u)
				a2, _ := without.Admission(c.ID, u)
				if !a1.Equal(a2) || why != cordon.AdmitRamp {
					t.Fatalf("%s (no priority) admitted at %v (%s), want its place %v", u, a1, why, a2)
				}
			}
		})
	}
}

// TestPriorityNeverDelays: an early admission later than the user's place
// in the order changes nothing (the earlier stands), and one before the
// activation waits for it: a priority set can bring an admission forward,
// never hold one back.
func TestPriorityNeverDelays(t *testing.T) {
	ramp := ramp(base.Add(-time.Hour), 2*time.Hour) // half done at base
	plain := policy(t, active("c-r", cordon.KindReauth, cordon.Cohort{}, ramp))
	for i := range 300 {
		u := fmt.Sprintf("u-%d", i)
		place, _ := plain.Admission("c-r", u)
		late := cordon.EarlyAdmission{Account: u, At: place.Add(time.Hour), Why: cordon.AdmitUnusualAddress}
		p := policy(t, active("c-r", cordon.KindReauth, cordon.Cohort{}, ramp, withEarly(late)))
		if got, _ := p.Admission("c-r", u); !got.Equal(place) {
			t.Fatalf("%s: a later early admission moved %v to %v", u, place, got)
		}
	}
	// Activated at base, ramp from an hour before: an entry before the
	// activation admits at the activation, not before.
	c := active("c-r", cordon.KindReauth, cordon.Cohort{}, ramp, withEarly(cordon.EarlyAdmission{Account: "u-x", Why: cordon.AdmitPriority}))
	c.Activated = base
	if at, why, _ := policy(t, c).AdmissionWhy("c-r", "u-x"); !at.Equal(base) || why != cordon.AdmitActivation {
		t.Errorf("priority before the activation: %v (%s), want the activation %v", at, why, base)
	}
}

// TestOnceInAlwaysInUnderPaceAndPriority drives an auto ramp through
// random pace extensions (each a lead ahead, as internal/pace writes them)
// and random early admissions (each at now + lead, merged by the store's
// rule), and checks at every step, for every user: an admission made
// before the change's lead never moves (once in, always in: only the
// future's speed changes), and a gate still holding the previous
// policy decides as the server on the new one at every instant up to a
// lead after the change (gates and server agree).
func TestOnceInAlwaysInUnderPaceAndPriority(t *testing.T) {
	const lead = 5 * time.Second
	rng := rand.New(rand.NewPCG(18, 3))
	start := base
	c := active("c-auto", cordon.KindReauth, cordon.Cohort{}, func(c *cordon.Campaign) {
		c.Ramp = &cordon.Ramp{Start: start, Duration: 24 * time.Hour, Mode: cordon.RampAuto,
			Priority: &cordon.RampPriority{UnusualAddresses: true}}
		c.Activated = start
	}, withEarly(cordon.EarlyAdmission{Account: "u-3", Why: cordon.AdmitPriority}))
	users := make([]string, 400)
	for i := range users {
		users[i] = fmt.Sprintf("u-%d", i)
	}
	prev := policy(t, c)
	prevAdm := map[string]time.Time{}
	for _, u := range users {
		prevAdm[u], _ = prev.Admission(c.ID, u)
	}
	now := start
	for step := range 120 {
		now = now.Add(time.Duration(1+rng.IntN(60)) * time.Second)
		next := *c
		r := *c.Ramp
		next.Ramp = &r
		switch rng.IntN(3) {
		case 0, 1: // the pacer: a new speed from now + lead
			sc, err := NewSchedule(c.Ramp)
			if err != nil {
				t.Fatal(err)
			}
			p := cordon.Pace{Rate: rng.Float64() * 1e-3}
			if c.Ramp.Pace != nil {
				p.Points = append(p.Points, c.Ramp.Pace.Points...)
			} else {
				p.Points = []cordon.PacePoint{{At: start}}
			}
			at := now.Add(lead)
			if sc.ShareAt(at) >= 1 {
				continue
			}
			p.Points = append(p.Points, cordon.PacePoint{At: at, Share: sc.ShareAt(at)})
			if err := cordon.CheckPaceChange(c, c.Ramp.Pace, &p); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			r.Pace = &p
		case 2: // unusual addresses: some accounts, again or anew
			var adds []cordon.EarlyAdmission
			for range 1 + rng.IntN(5) {
				adds = append(adds, cordon.EarlyAdmission{Account: users[rng.IntN(len(users))], At: now.Add(lead), Why: cordon.AdmitUnusualAddress})
			}
			early, _, err := cordon.MergeEarly(c, adds)
			if err != nil {
				t.Fatal(err)
			}
			next.Early = early
		}
		cur := policy(t, &next)
		for _, u := range users {
			adm, _ := cur.Admission(c.ID, u)
			// Once in, always in: an admission already made (before the
			// change's lead) never moves; one still to come may move, but
			// never before now + lead.
			if pa := prevAdm[u]; pa.Before(now.Add(lead)) && !adm.Equal(pa) {
				t.Fatalf("step %d: %s, admitted at %v, now admitted at %v", step, u, pa, adm)
			}
			if adm.Before(now.Add(lead)) && !adm.Equal(prevAdm[u]) {
				t.Fatalf("step %d: %s's admission moved to %v, inside the lead", step, u, adm)
			}
			// A gate on the previous policy agrees up to now + lead.
			pa := prevAdm[u]
			for _, at := range []time.Time{now, now.Add(lead / 2), now.Add(lead - time.Nanosecond)} {
				if !adm.After(at) != !pa.After(at) {
					t.Fatalf("step %d: at %v the server admits %s (%v) and a gate a lead behind does not (%v), or the reverse", step, at, u, adm, pa)
				}
			}
			s := &cordon.Session{ID: "s", AccountID: u, AuthTime: start.Add(-time.Hour), Facts: cordon.ClientFacts{Platform: "android"}}
			if Decide(&Input{Session: s, Now: now, Policy: cur}).Outcome != Decide(&Input{Session: s, Now: now, Policy: prev}).Outcome {
				t.Fatalf("step %d: server and a gate one policy behind decide %s differently at %v", step, u, now)
			}
			prevAdm[u] = adm
		}
		c, prev = &next, cur
	}
}

// TestNothingSentGetsOut: once the ramp admits an account, no client facts
// a request sends (any platform, version, source, device) and no early
// admission anyone adds let a session from before the admission through.
func TestNothingSentGetsOut(t *testing.T) {
	c := active("c-r", cordon.KindReauth, cordon.Cohort{Platforms: []string{"android"}}, ramp(base.Add(-time.Hour), 2*time.Hour),
		withEarly(cordon.EarlyAdmission{Account: "u-1", At: base.Add(10 * time.Hour), Why: cordon.AdmitUnusualAddress}))
	p := policy(t, c)
	rng := rand.New(rand.NewPCG(1, 2))
	claims := []cordon.ClientFacts{{}, {Platform: "ios", Version: "99.0.0", Source: "appstore"}, {Platform: "android", Version: "0.0.1", Source: "play", Device: "d-evil"},
		{Platform: "web", Source: "web"}, {Platform: "android", Version: "not a version"}}
	for i := range 400 {
		u := fmt.Sprintf("u-%d", i)
		adm, _ := p.Admission(c.ID, u)
		s := &cordon.Session{ID: "s", AccountID: u, AuthTime: base.Add(-2 * time.Hour), Facts: cordon.ClientFacts{Platform: "android", Version: "1.0.0", Source: "play"}}
		now := adm.Add(time.Duration(rng.IntN(3600)) * time.Second)
		for _, cl := range claims {
			if d := Decide(&Input{Session: s, Client: cl, Now: now, Policy: p}); d.Outcome != Deny {
				t.Fatalf("%s admitted at %v got through at %v claiming %+v", u, adm, now, cl)
			}
		}
	}
}

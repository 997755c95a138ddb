package decision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestRampShare checks the admitted share at time t is within ±2 % of the
// ramp's line over 100,000 users, at several points of the ramp.
func TestRampShare(t *testing.T) {
	const n = 100_000
	start, dur := base, 72*time.Hour
	c := active("c-ramp", cordon.KindReauth, cordon.Cohort{}, ramp(start, dur))
	p := policy(t, c)
	for _, frac := range []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99} {
		now := start.Add(time.Duration(frac * float64(dur)))
		in := 0
		for i := range n {
			if adm, _ := p.Admission(c.ID, fmt.Sprintf("u-%d", i)); !adm.After(now) {
				in++
			}
		}
		got := float64(in) / n
		if math.Abs(got-frac) > 0.02 {
			t.Errorf("at %.0f%% of the ramp %.2f%% of users are in, want within ±2%%", frac*100, got*100)
		}
	}
}

// TestAdmissionStable checks a user once in stays in: admission does not
// depend on time or on the other campaigns, and a decision that denied at
// t denies at every later t for the same session.
func TestAdmissionStable(t *testing.T) {
	c := active("c-ramp", cordon.KindReauth, cordon.Cohort{}, ramp(base, 10*time.Hour))
	p1 := policy(t, c)
	p2 := policy(t, c, active("c-other", cordon.KindUpgrade, cordon.Cohort{}, upgrade("1.0.0", "flexible")))
	for i := range 2000 {
		u := fmt.Sprintf("u-%d", i)
		a1, _ := p1.Admission(c.ID, u)
		a2, _ := p2.Admission(c.ID, u)
		if !a1.Equal(a2) {
			t.Fatalf("admission of %s moved with another campaign: %v vs %v", u, a1, a2)
		}
		s := &cordon.Session{ID: "s", AccountID: u, AuthTime: old, Facts: cordon.ClientFacts{Platform: "ios", Source: "appstore"}}
		denied := false
		for h := 0; h <= 12; h++ {
			d := Decide(&Input{Session: s, Now: base.Add(time.Duration(h) * time.Hour), Policy: p1})
			if denied && d.Outcome != Deny {
				t.Fatalf("%s was in at an earlier hour and out at hour %d", u, h)
			}
			denied = d.Outcome == Deny
		}
		if !denied {
			t.Fatalf("%s not in after the ramp ended", u)
		}
	}
}

// TestCompositionOrderIndependent checks that the campaigns' order never
// changes a decision.
func TestCompositionOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cs := randomCampaigns(r, 40)
	ref := policy(t, cs...)
	sessions := randomSessions(r, 500)
	for round := range 20 {
		shuffled := append([]*cordon.Campaign(nil), cs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		p := policy(t, shuffled...)
		for _, s := range sessions {
			in := Input{Session: s, Now: base, Policy: ref}
			want := Decide(&in)
			in.Policy = p
			if got := Decide(&in); got.Outcome != want.Outcome || got.Reason != want.Reason || got.Campaign != want.Campaign {
				t.Fatalf("round %d: order changed the decision for %+v: %+v vs %+v", round, s.Facts, got, want)
			}
		}
	}
}

var versions = []string{"8.3.0", "8.4.0", "8.4.1", "8.5.0", "8.6.2", "9.0.0", ""}

func randomCampaigns(r *rand.Rand, n int) []*cordon.Campaign {
	kinds := cordon.Kinds
	var cs []*cordon.Campaign
	for i := range n {
		kind := kinds[r.IntN(len(kinds))]
		var co cordon.Cohort
		if r.IntN(2) == 0 {
			co.Platforms = []string{cordon.Platforms[r.IntN(len(cordon.Platforms))]}
		}
		if r.IntN(3) == 0 {
			co.Sources = []string{cordon.Sources[r.IntN(len(cordon.Sources))]}
		}
		if r.IntN(3) == 0 {
			co.Versions = "< " + versions[r.IntN(len(versions)-1)]
		}
		opts := []func(*cordon.Campaign){func(c *cordon.Campaign) { c.Activated = base.Add(-time.Duration(r.IntN(100)) * time.Hour) }}
		if r.IntN(2) == 0 {
			opts = append(opts, ramp(base.Add(-time.Duration(r.IntN(72))*time.Hour), time.Duration(1+r.IntN(96))*time.Hour))
		}
		if kind == cordon.KindUpgrade {
			mode := "immediate"
			if r.IntN(2) == 0 {
				mode = "flexible"
			}
			opts = append(opts, upgrade(versions[r.IntN(len(versions)-1)], mode))
		}
		cs = append(cs, active(fmt.Sprintf("c-%03d", i), kind, co, opts...))
	}
	return cs
}

func randomSessions(r *rand.Rand, n int) []*cordon.Session {
	var out []*cordon.Session
	for i := range n {
		out = append(out, &cordon.Session{ID: fmt.Sprintf("s-%d", i), AccountID: fmt.Sprintf("u-%d", r.IntN(n/2)),
			AuthTime: base.Add(-time.Duration(r.IntN(200)) * time.Hour),
			Facts: cordon.ClientFacts{Platform: cordon.Platforms[r.IntN(len(cordon.Platforms))], Version: versions[r.IntN(len(versions))],
				Source: cordon.Sources[r.IntN(len(cordon.Sources))]}})
	}
	return out
}

// FuzzDecide feeds arbitrary facts and times: Decide must never panic and
// must deny a session only with a known reason.
func FuzzDecide(f *testing.F) {
	f.Add("ios", "8.4.1", "appstore", "u-1", int64(-3600), int64(0))
	f.Add("android", "", "unknown", "", int64(0), int64(1<<40))
	f.Add("", "not-a-version", "sideload", "u-\x00", int64(-1<<62), int64(1<<62))
	p := policy(f, randomCampaigns(rand.New(rand.NewPCG(3, 4)), 30)...)
	f.Fuzz(func(t *testing.T, platform, version, source, user string, auth, now int64) {
		s := &cordon.Session{ID: "s", AccountID: user, AuthTime: time.Unix(0, auth), Facts: cordon.ClientFacts{Platform: platform, Version: version, Source: source}}
		d := Decide(&Input{Session: s, Client: cordon.ClientFacts{Platform: platform, Version: version}, Now: time.Unix(0, now), Policy: p})
		switch d.Reason {
		case "", ReasonReauthRequired, ReasonPasswordResetRequired, ReasonUpgradeRequired:
		default:
			t.Fatalf("unexpected reason %q", d.Reason)
		}
		if (d.Reason == ReasonUpgradeRequired) != (d.Outcome == Deny && d.Upgrade != nil) {
			t.Fatalf("upgrade denial without advice: %+v", d)
		}
		DecideOffline(&OfflineInput{AccountID: user, Facts: s.Facts, Issued: time.Unix(0, auth), Now: time.Unix(0, now), Policy: p})
	})
}

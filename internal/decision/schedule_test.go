package decision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func autoRamp(start time.Time, maxDur time.Duration, p *cordon.Pace) func(*cordon.Campaign) {
	return func(c *cordon.Campaign) {
		c.Ramp = &cordon.Ramp{Start: start, Duration: maxDur, Mode: cordon.RampAuto, Pace: p}
	}
}

// TestSchedulePinned pins a schedule's shares and admissions: points at
// 0 s (0 %), 100 s (10 %) and 200 s (10 %, a pause), then 0.1 % a second
// within a 10,000 s max_duration.
func TestSchedulePinned(t *testing.T) {
	p := &cordon.Pace{Points: []cordon.PacePoint{
		{At: base, Share: 0},
		{At: base.Add(100 * time.Second), Share: 0.1},
		{At: base.Add(200 * time.Second), Share: 0.1},
	}, Rate: 0.001}
	sc, err := NewSchedule(&cordon.Ramp{Start: base, Duration: 10000 * time.Second, Mode: cordon.RampAuto, Pace: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Duration
		want float64
	}{
		{"before the start", -time.Second, 0},
		{"half way to the first point", 50 * time.Second, 0.05},
		{"paused", 150 * time.Second, 0.1},
		// After the last point: 0.1 + 0.001/s × 100 s = 0.2; the floor,
		// 0.1 + 0.9 × 100/9800, is 0.109.
		{"at the rate", 300 * time.Second, 0.2},
		{"done", 1100 * time.Second, 1},
		{"long after", 100000 * time.Second, 1},
	} {
		if got := sc.ShareAt(base.Add(tc.at)); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: share at %v = %v, want %v", tc.name, tc.at, got, tc.want)
		}
	}
	for _, tc := range []struct {
		h    float64
		want time.Duration
	}{
		{0, 0},
		{0.05, 50 * time.Second},
		{0.1, 100 * time.Second}, // the first instant the share is 10 %
		{0.2, 300 * time.Second},
		{0.9, 1000 * time.Second},
	} {
		if got := sc.At(tc.h).Sub(base); (got - tc.want).Abs() > time.Microsecond {
			t.Errorf("admission of h=%v at %v, want %v", tc.h, got, tc.want)
		}
	}
	if got, want := sc.End().Sub(base), 1100*time.Second; (got - want).Abs() > time.Microsecond {
		t.Errorf("end = %v, want %v", got, want)
	}
}

// TestScheduleFloor: with no speed (rate 0, as when the login tier sheds)
// an auto ramp still admits along the straight line to 100 % at its
// max_duration, so it is never slower than max_duration.
func TestScheduleFloor(t *testing.T) {
	c := active("c-auto", cordon.KindReauth, cordon.Cohort{}, autoRamp(base, 72*time.Hour, &cordon.Pace{
		Points: []cordon.PacePoint{{At: base}, {At: base.Add(24 * time.Hour), Share: 0.5}},
	}))
	p := policy(t, c)
	m, err := NewMatcher(c)
	if err != nil {
		t.Fatal(err)
	}
	// From 50 % at 24 h to 100 % at 72 h: 75 % at 48 h.
	if got := m.Share(base.Add(48 * time.Hour)); math.Abs(got-0.75) > 1e-9 {
		t.Errorf("share at 48 h = %v, want 0.75", got)
	}
	for i := range 1000 {
		u := fmt.Sprintf("u-%d", i)
		adm, _ := p.Admission(c.ID, u)
		if adm.After(base.Add(72 * time.Hour)) {
			t.Fatalf("%s admitted at %v, after the 72 h max_duration", u, adm.Sub(base))
		}
	}
}

// TestCompileRefusesBadPace: a pace that takes an admission back, an
// unknown ramp mode, a negative rate never compile.
func TestCompileRefusesBadPace(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *cordon.Ramp
	}{
		{"share falls", &cordon.Ramp{Start: base, Duration: time.Hour, Mode: cordon.RampAuto, Pace: &cordon.Pace{
			Points: []cordon.PacePoint{{At: base, Share: 0.5}, {At: base.Add(time.Minute), Share: 0.4}}}}},
		{"time goes back", &cordon.Ramp{Start: base, Duration: time.Hour, Mode: cordon.RampAuto, Pace: &cordon.Pace{
			Points: []cordon.PacePoint{{At: base, Share: 0.1}, {At: base, Share: 0.2}}}}},
		{"share above one", &cordon.Ramp{Start: base, Duration: time.Hour, Mode: cordon.RampAuto, Pace: &cordon.Pace{
			Points: []cordon.PacePoint{{At: base, Share: 1.5}}}}},
		{"negative rate", &cordon.Ramp{Start: base, Duration: time.Hour, Mode: cordon.RampAuto, Pace: &cordon.Pace{
			Points: []cordon.PacePoint{{At: base}}, Rate: -1}}},
		{"no points", &cordon.Ramp{Start: base, Duration: time.Hour, Mode: cordon.RampAuto, Pace: &cordon.Pace{}}},
		{"unknown mode", &cordon.Ramp{Start: base, Duration: time.Hour, Mode: "turbo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := active("c-1", cordon.KindReauth, cordon.Cohort{})
			c.Ramp = tc.r
			if _, err := Compile([]*cordon.Campaign{c}, 1, base); err == nil {
				t.Errorf("compiled %+v", tc.r.Pace)
			}
		})
	}
}

// extend is the control plane's rule (internal/pace.Extend), restated
// here because pace imports this package: a new point at `at` with the
// share the old pace gives there, and a new speed after it.
func extend(t *testing.T, r *cordon.Ramp, at time.Time, rate float64) *cordon.Ramp {
	t.Helper()
	sc, err := NewSchedule(r)
	if err != nil {
		t.Fatal(err)
	}
	p := &cordon.Pace{Rate: rate}
	if r.Pace != nil {
		p.Points = append(p.Points, r.Pace.Points...)
	} else {
		p.Points = []cordon.PacePoint{{At: r.Start}}
	}
	if sc.ShareAt(at) >= 1 {
		return r // done: nothing left to pace
	}
	if p.Points[len(p.Points)-1].At.Before(at) {
		p.Points = append(p.Points, cordon.PacePoint{At: at, Share: sc.ShareAt(at)})
	}
	n := *r
	n.Pace = p
	return &n
}

// TestPaceChangesKeepOrder is the property "once in, always in" under
// changes of pace: over random sequences of speeds (0 to whole-cohort-in-
// a-minute), every user admitted by an instant keeps the same admission
// time on every later pace, users enter in the order of their hash, and
// the server (newest pace) and a gate holding the previous one agree on
// every decision at every instant before the change takes effect.
func TestPaceChangesKeepOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 2026))
	const users = 300
	for run := range 40 {
		ramp := &cordon.Ramp{Start: base, Duration: 72 * time.Hour, Mode: cordon.RampAuto}
		fixedAdm := map[string]time.Time{}
		now := base
		for step := range 30 {
			now = now.Add(time.Duration(r.IntN(1800)+1) * time.Second)
			prev := ramp
			rate := []float64{0, 1e-6, 1e-5, 1e-4, 1.0 / 60}[r.IntN(5)] * (0.5 + r.Float64())
			ramp = extend(t, ramp, now.Add(5*time.Second), rate)
			c := active("c-auto", cordon.KindReauth, cordon.Cohort{})
			c.Ramp, c.Activated = ramp, base
			pNew := policy(t, c)
			cPrev := *c
			cPrev.Ramp = prev
			pPrev := policy(t, &cPrev)
			sc, _ := NewSchedule(ramp)
			for i := range users {
				u := fmt.Sprintf("u-%d", i)
				adm, _ := pNew.Admission(c.ID, u)
				if was, ok := fixedAdm[u]; ok && !adm.Equal(was) {
					t.Fatalf("run %d step %d: %s was admitted at %v, now at %v", run, step, u, was.Sub(base), adm.Sub(base))
				}
				if !adm.After(now) {
					fixedAdm[u] = adm
				}
				// Order: the admission is the schedule's time for the hash.
				if want := sc.At(Share(Seed(c.ID), AccountHash(u))); !adm.Equal(want) {
					t.Fatalf("%s admitted at %v, its hash's time is %v", u, adm, want)
				}
				// A gate a few seconds behind decides as the server does.
				s := &cordon.Session{ID: "s", AccountID: u, AuthTime: old, Facts: atLogin}
				for _, d := range []time.Duration{0, time.Second, 4 * time.Second} {
					at := now.Add(d)
					a := Decide(&Input{Session: s, Client: atLogin, Now: at, Policy: pNew})
					b := Decide(&Input{Session: s, Client: atLogin, Now: at, Policy: pPrev})
					if a.Outcome != b.Outcome {
						t.Fatalf("run %d step %d: %s at +%v: server %v, gate on the previous pace %v", run, step, u, d, a.Outcome, b.Outcome)
					}
				}
			}
			// Monotone: the share never falls, sampled over the next hours.
			last := -1.0
			for k := range 200 {
				s := sc.ShareAt(base.Add(time.Duration(k) * 30 * time.Minute))
				if s < last {
					t.Fatalf("share falls from %v to %v at %v", last, s, time.Duration(k)*30*time.Minute)
				}
				last = s
			}
		}
	}
}

// BenchmarkDecideRamp compares a decision against one reauth campaign on
// a fixed ramp with one on an auto ramp whose pace has 2,048 points (the
// most a pace holds): the schedule's binary search should cost next to
// nothing beside the rest of a decision.
func BenchmarkDecideRamp(b *testing.B) {
	fixed := active("c-ramp", cordon.KindReauth, cordon.Cohort{}, ramp(base, 72*time.Hour))
	p := &cordon.Pace{}
	for i := range cordon.MaxPacePoints {
		p.Points = append(p.Points, cordon.PacePoint{At: base.Add(time.Duration(i) * time.Minute), Share: float64(i) / (2 * cordon.MaxPacePoints)})
	}
	p.Rate = 1e-5
	auto := active("c-ramp", cordon.KindReauth, cordon.Cohort{}, autoRamp(base, 72*time.Hour, p))
	for _, tc := range []struct {
		name string
		c    *cordon.Campaign
	}{{"fixed", fixed}, {"auto", auto}} {
		b.Run(tc.name, func(b *testing.B) {
			pol := policy(b, tc.c)
			ins := make([]Input, 256)
			for i := range ins {
				s := &cordon.Session{ID: fmt.Sprintf("s-%d", i), AccountID: fmt.Sprintf("u-%d", i), AuthTime: old, Facts: atLogin}
				ins[i] = Input{Session: s, Client: atLogin, Now: base.Add(20 * time.Hour), Policy: pol}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = Decide(&ins[i&255])
				i++
			}
		})
	}
}

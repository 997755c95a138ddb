package pace

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func autoRamp(u float64) *cordon.Ramp {
	return &cordon.Ramp{Start: t0, Duration: 72 * time.Hour, Mode: cordon.RampAuto, TargetUtilisation: u}
}

// ages gives n installs each of the ages listed, in turn.
func ages(n int, each ...time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = each[i%len(each)]
	}
	return out
}

func forecast(t *testing.T, a []time.Duration) *Forecast {
	t.Helper()
	f, err := NewForecast(t0, a, time.Minute, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

// TestForecastPinned: 100 installs, half seen just now and half 90 s ago.
// Admitting 20 % over the first minute brings 10 of each half, 1/6 of a
// login a second in each of the first two minutes. Then with 1 login/s
// of headroom and a 30 s interval, one share/s would add 25 logins/s to
// each of those minutes, so the most is (1 − 1/6)/25 = 1/30 share/s.
func TestForecastPinned(t *testing.T) {
	f := forecast(t, ages(100, 0, 90*time.Second))
	if got := f.Returning(); got != 1 {
		t.Errorf("returning share %v, want 1", got)
	}
	f.Admit(t0, t0.Add(time.Minute), 0.2)
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{{0, 1.0 / 6}, {time.Minute, 1.0 / 6}, {2 * time.Minute, 0}} {
		if got := f.Expected(t0.Add(tc.at)); !near(got, tc.want) {
			t.Errorf("expected at %v: %v, want %v", tc.at, got, tc.want)
		}
	}
	if got := MaxRate([]*Forecast{f}, t0, 30*time.Second, 1); !near(got, 1.0/30) {
		t.Errorf("max rate %v, want 1/30", got)
	}
	// Dormant installs (never seen: 34, or last seen before the 10 min
	// horizon: 33) add nothing; the 33 seen just now do.
	d := forecast(t, ages(100, -1, 0, time.Hour))
	if got := d.Returning(); !near(got, 0.33) {
		t.Errorf("returning share %v, want 0.33", got)
	}
}

// TestStepSharesHeadroom: 80 % of 60 logins/s is 48; 8/s of other logins
// leave 40 re-logins/s for two cohorts of 1,000 and 3,000 installs all
// seen in the last minute. Over a 30 s interval a share/s admits 2,000
// installs a second that come back within the minute: 0.02 share/s each,
// less what the max_duration line (72 h) admits in the 5 s lead before
// the new speed starts: 4,000 × 5/259,200 installs due in that minute.
func TestStepSharesHeadroom(t *testing.T) {
	ramps := []Ramp{
		{CampaignID: "c-b", Ramp: autoRamp(0.8), Forecast: forecast(t, ages(1000, 0))},
		{CampaignID: "c-a", Ramp: autoRamp(0.8), Forecast: forecast(t, ages(3000, 0))},
	}
	got := Step(t0, 30*time.Second, ramps, Signals{Capacity: 60, Logins: 10, Paced: 2})
	if len(got) != 2 {
		t.Fatalf("%d decisions, want 2", len(got))
	}
	for _, d := range got {
		if want := (40 - 4000*(5.0/259200)/60) / 2000; !near(d.Rate, want) {
			t.Errorf("%s: rate %v, want %v", d.CampaignID, d.Rate, want)
		}
		if d.Pace.Rate != d.Rate {
			t.Errorf("%s: pace rate %v, decision %v", d.CampaignID, d.Pace.Rate, d.Rate)
		}
		if !strings.Contains(d.Why, "40.0 re-logins/s of headroom") || !strings.Contains(d.Why, "2 auto campaigns") {
			t.Errorf("why = %q", d.Why)
		}
	}
}

// TestStepHoldsOnOverload: shedding, a queue, no capacity or no headroom
// each drop the speed to the max_duration line (rate 0), and say why.
func TestStepHoldsOnOverload(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  Signals
		why  string
	}{
		{"shedding", Signals{Capacity: 60, Logins: 70, Shed: 10}, "overloaded"},
		{"queue", Signals{Capacity: 60, Logins: 40, Queued: 3}, "hashing slot"},
		{"no capacity measured", Signals{}, "no login capacity"},
		{"no headroom", Signals{Capacity: 60, Logins: 50}, "fill the target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := autoRamp(0.8)
			r.Pace = &cordon.Pace{Points: []cordon.PacePoint{{At: t0}}, Rate: 0.001}
			got := Step(t0.Add(time.Minute), 30*time.Second, []Ramp{{CampaignID: "c-1", Ramp: r, Forecast: forecast(t, ages(10, 0))}}, tc.sig)
			if len(got) != 1 || got[0].Rate != 0 || got[0].Pace.Rate != 0 {
				t.Fatalf("decisions %+v, want one at rate 0", got)
			}
			if !strings.Contains(got[0].Why, tc.why) {
				t.Errorf("why = %q, want it to mention %q", got[0].Why, tc.why)
			}
		})
	}
}

// TestExtendKeepsThePast: a new speed changes nothing before now + Lead,
// a speed within 5 % of the current one writes nothing, and a finished
// ramp is left alone.
func TestExtendKeepsThePast(t *testing.T) {
	r := autoRamp(0.8)
	r.Pace = &cordon.Pace{Points: []cordon.PacePoint{{At: t0}}, Rate: 0.0001}
	if _, changed := Extend(r, t0.Add(time.Hour), 0.000104, ""); changed {
		t.Error("a 4 % change wrote a new pace")
	}
	p, changed := Extend(r, t0.Add(time.Hour), 0.0002, "")
	if !changed {
		t.Fatal("a doubling wrote nothing")
	}
	before, _ := decision.NewSchedule(r)
	after, _ := decision.NewSchedule(&cordon.Ramp{Start: r.Start, Duration: r.Duration, Mode: cordon.RampAuto, Pace: p})
	for _, d := range []time.Duration{0, 30 * time.Minute, time.Hour, time.Hour + Lead} {
		if a, b := before.ShareAt(t0.Add(d)), after.ShareAt(t0.Add(d)); a != b {
			t.Errorf("share at %v moved from %v to %v", d, a, b)
		}
	}
	// 0.3605 at 1 h 5 s, then 0.0002/s: 0.3605 + 0.0002 × 1795 s = 0.7195.
	if got := after.ShareAt(t0.Add(90 * time.Minute)); got < 0.7194 || got > 0.7196 {
		t.Errorf("share at 90 min = %v, want 0.7195", got)
	}
	done := autoRamp(0.8)
	done.Pace = &cordon.Pace{Points: []cordon.PacePoint{{At: t0}}, Rate: 1}
	if _, changed := Extend(done, t0.Add(time.Hour), 0, ""); changed {
		t.Error("a finished ramp got a new point")
	}
}

// TestForecastResumes: a forecast rebuilt after a restart and synced over
// the stored schedule expects what the one that ran all along expected,
// so a restarted node resumes the pace where it was.
func TestForecastResumes(t *testing.T) {
	a := ages(500, 0, 30*time.Second, 3*time.Minute, 7*time.Minute, -1)
	r := autoRamp(0.8)
	long := forecast(t, a)
	now := t0
	for i := range 20 {
		now = t0.Add(time.Duration(i+1) * 30 * time.Second)
		ds := Step(now, 30*time.Second, []Ramp{{CampaignID: "c-1", Ramp: r, Forecast: long}}, Signals{Capacity: 60, Logins: 5 + float64(i%3)})
		for _, d := range ds {
			rr := *r
			rr.Pace = d.Pace
			r = &rr
		}
	}
	sc, err := decision.NewSchedule(r)
	if err != nil {
		t.Fatal(err)
	}
	fresh := forecast(t, a)
	fresh.Sync(sc.ShareAt, now)
	for j := range 10 {
		at := now.Add(time.Duration(j) * time.Minute)
		if g, w := fresh.Expected(at), long.Expected(at); !near(g, w) {
			t.Errorf("expected at +%d min: rebuilt %v, ran all along %v", j, g, w)
		}
	}
	if g, w := MaxRate([]*Forecast{fresh}, now, 30*time.Second, 40), MaxRate([]*Forecast{long}, now, 30*time.Second, 40); !near(g, w) {
		t.Errorf("max rate after a restart %v, before %v", g, w)
	}
}

// TestEarliest: an install last seen an age ago under a 15 min access
// token was last used no earlier than age − 15 min (it would have
// refreshed): the forecast takes that end. Dormant stays dormant.
func TestEarliest(t *testing.T) {
	in := []time.Duration{-1, 0, 10 * time.Minute, 15 * time.Minute, 15*time.Minute + time.Second, 3 * time.Hour}
	got := Earliest(in, 15*time.Minute)
	want := []time.Duration{-1, 0, 0, 0, time.Second, 2*time.Hour + 45*time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Earliest(%v) = %v, want %v", in[i], got[i], want[i])
		}
	}
	if in[5] != 3*time.Hour {
		t.Errorf("Earliest changed its input: %v", in)
	}
	if got := Earliest(in, 0); got[2] != 10*time.Minute {
		t.Errorf("Earliest with no lag = %v, want the ages as they are", got)
	}
}

// TestForecastFineSlots: a forecast in 2 s slots over 14 days holds only
// the slots its ages reach, and an admission of 1,000 installs all seen
// 4 or 6 s ago is due 2 and 3 slots later, at 250 logins/s over those 4 s — what a
// minute's slot would have spread over the minute (16.7/s). MaxRate then
// admits per step only what that slot can take.
func TestForecastFineSlots(t *testing.T) {
	f, err := NewForecast(t0, ages(1000, 4*time.Second, 6*time.Second), 2*time.Second, 14*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.kernel) != 4 || len(f.expected) > 2*4+minWindow {
		t.Fatalf("kernel %d slots, window %d: want 4 and at most %d", len(f.kernel), len(f.expected), 2*4+minWindow)
	}
	f.Admit(t0, t0.Add(2*time.Second), 1)
	if got := f.Expected(t0.Add(4 * time.Second)); !near(got, 250) {
		t.Errorf("due at +4 s: %v/s, want 250", got)
	}
	if got := f.Expected(t0.Add(6 * time.Second)); !near(got, 250) {
		t.Errorf("due at +6 s: %v/s, want 250", got)
	}
	if got := f.Expected(t0.Add(8 * time.Second)); got != 0 {
		t.Errorf("due at +8 s: %v/s, want 0", got)
	}
	// A fresh forecast: 10 logins/s of headroom, 2 s steps; one share/s
	// over a step brings 1,000 × 2 × 0.5 / 2 = 500 logins/s into each
	// of the two slots: 0.02 share/s, 20 installs a second.
	g, _ := NewForecast(t0, ages(1000, 4*time.Second, 6*time.Second), 2*time.Second, 14*24*time.Hour)
	if got := MaxRate([]*Forecast{g}, t0, 2*time.Second, 10); !near(got, 0.02) {
		t.Errorf("max rate %v, want 0.02", got)
	}
	// Nobody returns within the horizon: no slot, no rate.
	d, _ := NewForecast(t0, ages(10, -1, 15*24*time.Hour), 2*time.Second, 14*24*time.Hour)
	if len(d.kernel) != 0 || d.Returning() != 0 || MaxRate([]*Forecast{d}, t0, 2*time.Second, 10) != 0 {
		t.Errorf("a dormant cohort: kernel %d, returning %v", len(d.kernel), d.Returning())
	}
}

// TestAbsorbs: λ ≤ 4CQ/(9 + 4Q); nothing for an unknown or broken
// capacity or queue.
func TestAbsorbs(t *testing.T) {
	for _, tc := range []struct {
		capacity, queue, want float64
	}{
		{40, 64, 4 * 40 * 64 / (9 + 4*64.0)},
		{1.2, 6, 4 * 1.2 * 6 / (9 + 24.0)},
		{60, 300, 4 * 60 * 300 / (9 + 1200.0)},
		{0, 64, 0},
		{-5, 64, 0},
		{40, 0, 0},
		{40, -1, 0},
		{math.Inf(1), 64, 0},
		{40, math.Inf(1), 0},
		{math.NaN(), 64, 0},
		{40, math.NaN(), 0},
	} {
		if got := Absorbs(tc.capacity, tc.queue); !near(got, tc.want) {
			t.Errorf("Absorbs(%v, %v) = %v, want %v", tc.capacity, tc.queue, got, tc.want)
		}
	}
	if a := Absorbs(40, 64) / 40; a < 0.9 || a > 1 {
		t.Errorf("a node of 40/s with 64 waiting absorbs %.2f of its capacity, want above the default target", a)
	}
}

// TestStepBunching: on a small tier what random bunching allows caps the
// pace below the target, and the reason says so; on a large one the
// target binds and Absorbs changes nothing.
func TestStepBunching(t *testing.T) {
	rate := func(sig Signals) (float64, string) {
		t.Helper()
		got := Step(t0, 30*time.Second, []Ramp{{CampaignID: "c", Ramp: autoRamp(0.8), Forecast: forecast(t, ages(1000, 0))}}, sig)
		if len(got) != 1 {
			t.Fatalf("Step = %+v, want one decision", got)
		}
		return got[0].Rate, got[0].Why
	}
	small := Signals{Capacity: 1.2, Logins: 0.2}
	free, _ := rate(small)
	small.Absorbs = Absorbs(1.2, 6)
	capped, why := rate(small)
	// Headroom 0.96 − 0.2 against 0.873 − 0.2.
	if want := free * (small.Absorbs - 0.2) / (0.96 - 0.2); math.Abs(capped-want) > 1e-3*want {
		t.Errorf("capped rate %v, want %v (uncapped %v)", capped, want, free)
	}
	if !strings.Contains(why, "random bunching") {
		t.Errorf("why = %q, want it to name the bunching", why)
	}
	large := Signals{Capacity: 60, Logins: 10}
	a, _ := rate(large)
	large.Absorbs = Absorbs(60, 300)
	if b, why := rate(large); !near(a, b) || strings.Contains(why, "bunching") {
		t.Errorf("a large tier: %v with Absorbs, %v without (%q)", b, a, why)
	}
}

// TestSlotHoldsHorizon: every pace interval serve accepts (1 s up) gives
// a slot whose 14-day forecast fits in a forecast's 2^20 slots.
func TestSlotHoldsHorizon(t *testing.T) {
	for _, every := range []time.Duration{time.Second, 1100 * time.Millisecond, 2 * time.Second, 30 * time.Second, time.Hour} {
		a := []time.Duration{0, 13 * 24 * time.Hour}
		if _, err := NewForecast(t0, a, Slot(every), 14*24*time.Hour); err != nil {
			t.Errorf("pace every %v: slot %v: %v", every, Slot(every), err)
		}
	}
}

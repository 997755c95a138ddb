package pace

import (
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

// TestStepSharesHeadroom: 80 % of 60 logins/s is 48; 8/s of other logins
// leave 40 re-logins/s, shared by two campaigns of 300,000 and 100,000
// returning users: each admits 40/400,000 = 0.0001 of its cohort a second.
func TestStepSharesHeadroom(t *testing.T) {
	ramps := []Ramp{
		{CampaignID: "c-b", Ramp: autoRamp(0.8), Returning: 100_000},
		{CampaignID: "c-a", Ramp: autoRamp(0.8), Returning: 300_000},
	}
	got := Step(t0.Add(time.Minute), ramps, Signals{Capacity: 60, Logins: 10, Paced: 2})
	if len(got) != 2 {
		t.Fatalf("%d decisions, want 2", len(got))
	}
	for _, d := range got {
		if d.Rate < 0.0000999999 || d.Rate > 0.0001000001 {
			t.Errorf("%s: rate %v, want 0.0001", d.CampaignID, d.Rate)
		}
		if d.Pace.Rate != d.Rate {
			t.Errorf("%s: pace rate %v, decision %v", d.CampaignID, d.Pace.Rate, d.Rate)
		}
		if !strings.Contains(d.Why, "40.0 re-logins/s of headroom") || !strings.Contains(d.Why, "400,000 returning users of 2 auto campaigns") {
			t.Errorf("why = %q", d.Why)
		}
		// The new point is a lead ahead, at the share the old pace gave.
		last := d.Pace.Points[len(d.Pace.Points)-1]
		if want := t0.Add(time.Minute + Lead); !last.At.Equal(want) {
			t.Errorf("new point at %v, want %v", last.At, want)
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
			got := Step(t0.Add(time.Minute), []Ramp{{CampaignID: "c-1", Ramp: r, Returning: 1000}}, tc.sig)
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
	// 0.36 at 1 h 5 s, then 0.0002/s: 0.36 + 0.0002 × 3595 = 1.079 → 1 at 2 h.
	if got := after.ShareAt(t0.Add(90 * time.Minute)); got < 0.7194 || got > 0.7196 {
		t.Errorf("share at 90 min = %v, want 0.7195", got)
	}
	done := autoRamp(0.8)
	done.Pace = &cordon.Pace{Points: []cordon.PacePoint{{At: t0}}, Rate: 1}
	if _, changed := Extend(done, t0.Add(time.Hour), 0, ""); changed {
		t.Error("a finished ramp got a new point")
	}
}

package pace

import (
	"testing"
	"time"
)

// TestProjectReturn: with everyone admitted at once and installs that
// come back after 1 h, 2 h, … 20 h, 95 % of the returning ones are back
// 19 h after admission; dormant installs do not count against the
// target; a ramp delays it by its own length at most; a target never
// reached, or a cohort of dormant installs only, projects nothing.
func TestProjectReturn(t *testing.T) {
	t0 := time.Date(2026, 5, 27, 8, 0, 0, 0, time.UTC)
	var ages []time.Duration
	for h := 1; h <= 20; h++ {
		ages = append(ages, time.Duration(h)*time.Hour)
	}
	ages = append(ages, -1, -1, -1) // dormant
	at := func(start time.Time, d time.Duration) func(time.Time) float64 {
		return func(t time.Time) float64 {
			switch {
			case t.Before(start):
				return 0
			case d == 0 || !t.Before(start.Add(d)):
				return 1
			}
			return float64(t.Sub(start)) / float64(d)
		}
	}
	near := func(what string, got, want time.Time) {
		t.Helper()
		if d := got.Sub(want); d < -time.Minute || d > time.Minute {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	got, ok := ProjectReturn(at(t0, 0), ages, t0, t0.Add(14*24*time.Hour), 0.95)
	if !ok {
		t.Fatal("no projection for an admitted cohort")
	}
	near("all at once", got, t0.Add(19*time.Hour))
	got, ok = ProjectReturn(at(t0, 0), ages, t0, t0.Add(14*24*time.Hour), 1)
	if !ok {
		t.Fatal("no projection of everyone returning")
	}
	near("everyone returning", got, t0.Add(20*time.Hour))
	// A 10 h ramp: the last admitted (at 10 h) come back by 30 h; 95 %
	// lies between 19 h and 29 h.
	got, ok = ProjectReturn(at(t0, 10*time.Hour), ages, t0, t0.Add(14*24*time.Hour), 0.95)
	if !ok || got.Before(t0.Add(19*time.Hour)) || got.After(t0.Add(29*time.Hour)) {
		t.Errorf("ramped: %v %v, want between 19 h and 29 h", got, ok)
	}
	if _, ok := ProjectReturn(at(t0, 0), ages, t0, t0.Add(10*time.Hour), 0.95); ok {
		t.Error("a target past the limit was projected")
	}
	if _, ok := ProjectReturn(at(t0, 0), []time.Duration{-1, -1}, t0, t0.Add(time.Hour), 0.95); ok {
		t.Error("a dormant cohort was projected")
	}
	// Many installs: quantiles stand for them, to the minute.
	many := make([]time.Duration, 100_000)
	for i := range many {
		many[i] = time.Duration(i%1000) * time.Minute
	}
	got, ok = ProjectReturn(at(t0, 0), many, t0, t0.Add(14*24*time.Hour), 0.5)
	if !ok {
		t.Fatal("no projection for 100,000 installs")
	}
	near("100,000 installs", got, t0.Add(500*time.Minute))
}

package pace

import (
	"errors"
	"math"
	"time"
)

// Forecast predicts the re-logins an auto ramp's admissions will cause,
// so the controller admits as fast as the login tier will be able to
// take them — not only as fast as it takes them now, since an admitted
// user comes back to log in minutes or days later.
//
// The model: an admitted install logs in again the next time its app
// shows up. For an install whose visits form a stationary process, the
// time from any instant to its next visit is distributed as the time
// since its last visit (the forward and backward recurrence times of a
// renewal process agree); so the delays of a cohort's re-logins are
// distributed as its sessions' ages since last seen at the breach, which
// the store holds (each session's last_seen_at). A dormant install, not
// seen within the horizon, never comes. Admitting a share s of a cohort
// of N installs at time a adds N·s·k(t−a) expected logins per second at
// t, k being the histogram of those ages; the controller keeps their sum
// over what it has admitted, by slot, and admits in the next interval
// only what keeps the sum within the headroom at every future slot.
type Forecast struct {
	slot     time.Duration
	installs float64
	kernel   []float64 // share of the cohort's installs returning in delay slot j
	start    time.Time // time of expected[0]
	expected []float64 // expected re-logins per second, by slot from start
	// synced is how far the admissions of the schedule are recorded.
	synced time.Time
}

// NewForecast builds a forecast for a cohort of installs, from the ages
// since last seen of its sessions at the breach (one per install; a
// session never seen counts as dormant: pass a negative age), in slots
// of slot over horizon. The kernel ends at the oldest age within the
// horizon, so memory is about three slices of (that age)/slot floats:
// fine slots cost little when the cohort was seen recently, and at most
// 2^20 slots over the horizon.
func NewForecast(start time.Time, ages []time.Duration, slot, horizon time.Duration) (*Forecast, error) {
	if slot <= 0 || horizon < slot || horizon/slot > 1<<20 {
		return nil, errors.New("forecast needs 0 < slot ≤ horizon and at most 2^20 slots")
	}
	n := int(horizon / slot)
	last := -1
	for _, a := range ages {
		if a >= 0 && int(a/slot) < n {
			last = max(last, int(a/slot))
		}
	}
	f := &Forecast{slot: slot, installs: float64(len(ages)), kernel: make([]float64, last+1), start: start}
	// What is admitted over one Sync (an interval and the lead) lands
	// within the first slots of the window; its returns reach at most a
	// kernel's length beyond.
	f.expected = make([]float64, 2*len(f.kernel)+minWindow)
	for _, a := range ages {
		if a < 0 {
			continue
		}
		if j := int(a / slot); j < n {
			f.kernel[j]++
		}
	}
	if f.installs > 0 {
		for j := range f.kernel {
			f.kernel[j] /= f.installs
		}
	}
	return f, nil
}

// Slot is the forecast slot for a controller stepping every interval:
// the interval, between 2 s and a minute. A forecast coarser than the
// steps spreads over its slot returns that come within seconds, and one
// step then admits a slot's worth of headroom. Below 2 s a 14-day
// horizon would need more than the 2^20 slots a forecast holds, and a
// restarted node's replay of the stored pace (slot by slot, each over
// the kernel) grows as the square of the slots: at 2 s slots a day of
// ramp over a two-week kernel replayed in about 30 s (measured), and at
// serve's default 30 s it is 225 times less work.
func Slot(interval time.Duration) time.Duration {
	return min(max(interval, 2*time.Second), time.Minute)
}

// minWindow is the slots the expected re-logins span beyond twice the
// kernel, so an admission spread over many short slots (an interval of
// seconds) is recorded whole even when the kernel is one slot long.
const minWindow = 1024

// Earliest is ages each lowered by seenEvery, the longest an install may
// go on being used without its last_seen_at moving (the access-token
// lifetime: last_seen_at moves only at a login or a refresh). An install
// last seen an age ago was last used between age and age − seenEvery ago
// (no later, or it would have refreshed); taking the lower end forecasts
// its return as early as it can be, so the pace errs slow, never fast.
// Negative ages (dormant) stay dormant; the result is a new slice.
func Earliest(ages []time.Duration, seenEvery time.Duration) []time.Duration {
	out := make([]time.Duration, len(ages))
	for i, a := range ages {
		switch {
		case a < 0:
			out[i] = a
		case a > seenEvery:
			out[i] = a - seenEvery
		}
	}
	return out
}

// Sync records what the schedule admitted since the last Sync (or since
// the forecast's start) up to now, slot by slot. The schedule is fixed
// up to now, so after a restart a new forecast synced over the stored
// schedule is the one the node had.
func (f *Forecast) Sync(shareAt func(time.Time) float64, now time.Time) {
	if f.synced.IsZero() {
		f.synced = f.start
	}
	for f.synced.Before(now) {
		next := f.synced.Add(f.slot)
		if next.After(now) {
			next = now
		}
		f.Admit(f.synced, next, shareAt(next)-shareAt(f.synced))
		f.synced = next
	}
}

// Returning is the share of the cohort's installs expected to come back
// within the horizon.
func (f *Forecast) Returning() float64 {
	var s float64
	for _, k := range f.kernel {
		s += k
	}
	return s
}

// advance drops the slots before now's.
func (f *Forecast) advance(now time.Time) {
	d := int(now.Sub(f.start) / f.slot)
	if d <= 0 {
		return
	}
	if d >= len(f.expected) {
		clear(f.expected)
	} else {
		copy(f.expected, f.expected[d:])
		clear(f.expected[len(f.expected)-d:])
	}
	f.start = f.start.Add(time.Duration(d) * f.slot)
}

// Admit records that a share of the cohort was admitted over [from, to).
func (f *Forecast) Admit(from, to time.Time, share float64) {
	if share <= 0 || !to.After(from) {
		return
	}
	if from.Before(f.start) {
		from = f.start // admissions before the window have returned or not
		if !to.After(from) {
			return
		}
	}
	f.advance(from)
	// Spread the admission over the slots it spans.
	per := share / to.Sub(from).Seconds()
	for t := from; t.Before(to); {
		next := f.start.Add((t.Sub(f.start)/f.slot + 1) * f.slot)
		if next.After(to) {
			next = to
		}
		f.add(int(t.Sub(f.start)/f.slot), per*next.Sub(t).Seconds())
		t = next
	}
}

func (f *Forecast) add(at int, share float64) {
	secs := f.slot.Seconds()
	w := f.installs * share / secs
	for j, k := range f.kernel {
		if at+j >= len(f.expected) {
			break
		}
		f.expected[at+j] += w * k
	}
}

// Expected is the re-logins per second expected at t from what was
// admitted so far.
func (f *Forecast) Expected(t time.Time) float64 {
	j := int(t.Sub(f.start) / f.slot)
	if j < 0 || j >= len(f.expected) {
		return 0
	}
	return f.expected[j]
}

// MaxRate is the largest share per second the forecasts' cohorts may all
// admit over the interval from `from` so that the expected re-logins
// of every forecast together stay within headroom at every future slot.
// The forecasts advance to from.
func MaxRate(fs []*Forecast, from time.Time, interval time.Duration, headroom float64) float64 {
	if len(fs) == 0 || headroom <= 0 {
		return 0
	}
	for _, f := range fs {
		f.advance(from)
	}
	// Only the slots a kernel reaches can be pushed over the headroom.
	n := 0
	for _, f := range fs {
		n = max(n, min(len(f.kernel), len(f.expected)))
	}
	rate := math.Inf(1)
	for j := 0; j < n; j++ {
		var e, per float64 // expected, and the logins/s one share/s over the interval adds
		for _, f := range fs {
			if j < len(f.expected) {
				e += f.expected[j]
			}
			if j < len(f.kernel) {
				per += f.installs * interval.Seconds() * f.kernel[j] / f.slot.Seconds()
			}
		}
		if per <= 0 {
			continue
		}
		rate = math.Min(rate, math.Max(0, headroom-e)/per)
	}
	if math.IsInf(rate, 1) {
		return 0
	}
	return rate
}

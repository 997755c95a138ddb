// Package pace is the control plane's half of an auto ramp: from what it
// measures of the login tier (capacity of every node, logins per second,
// overloaded answers, the hashing pools' queues) it chooses how fast each
// active auto campaign admits its cohort, and extends the campaign's
// schedule (cordon.Pace) so that enforcement points up to a lead behind
// still agree on who is admitted. It is pure: time and signals are
// arguments, and the decision engine reads the schedule it writes as an
// input (decision.Schedule), never a signal.
//
// The rule that keeps the login tier under its target: an admitted
// install logs in again when its app next shows up, and the delays are
// distributed as the cohort's ages since last seen (Forecast). The
// controller keeps the re-logins its ramps have admitted so far by
// future slot, and admits over the next interval only what keeps
// every future slot within the headroom: the target share of the
// capacity less the logins the ramps do not cause. Shedding or a queue
// in the hashing pools stops it at once: the ramps fall back to their
// max_duration line, which no controller can slow.
package pace

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// Lead is how far ahead of the control plane's clock a change of pace
// takes effect: every instant before now + Lead reads the same share on
// the old and the new schedule, so a gate that holds a policy up to Lead
// old decides as the server does. Gates learn of a change within a
// second (the feed); five leaves room for a slow reconnect.
const Lead = 5 * time.Second

// Signals are the login tier's live measurements, summed over its nodes
// over the last control interval.
type Signals struct {
	// Capacity is the logins per second the nodes can hash (each node's
	// measured throughput of its argon2id pool, summed).
	Capacity float64
	// Logins is the logins per second attempted, of every kind.
	Logins float64
	// Paced is the part of Logins that re-logins asked by auto ramps are.
	Paced float64
	// Shed is the logins per second answered overloaded (503).
	Shed float64
	// Queued is the number of logins waiting for a hashing slot.
	Queued int
	// Nodes is how many nodes the figures sum (what each node's own
	// share of the tier is); 0 when unknown.
	Nodes int
	// Absorbs is the most logins per second the tier takes without
	// shedding when they arrive at random (Absorbs, summed over the
	// nodes); zero when unknown, and then only the target caps the pace.
	Absorbs float64
}

// Absorbs is the most logins per second arriving at random (Poisson) a
// tier of capacity logins/s takes without shedding, when up to queue
// logins may wait for a slot: over any span T the arrivals, at three
// standard deviations above their mean λT, must fit in what the tier
// hashes and holds, CT + queue. The tightest span gives λ ≤ 4·C·Q /
// (9 + 4·Q), so a burst overflows the queue in about one span in a
// thousand. It matters only when the queue is short against the
// bunching: a node of 40 logins/s with 64 waiting takes 95 % of its
// capacity (above the default target); 1.2 logins/s with 6 waiting, 73 %.
func Absorbs(capacity, queue float64) float64 {
	const z2 = 9 // three standard deviations, squared
	if !(capacity > 0) || !(queue > 0) || math.IsInf(capacity, 0) || math.IsInf(queue, 0) {
		return 0
	}
	return 4 * capacity * queue / (z2 + 4*queue)
}

// Ramp is one active auto campaign as the controller sees it.
type Ramp struct {
	CampaignID string
	Ramp       *cordon.Ramp
	// Forecast predicts the re-logins of what the ramp admitted; Step
	// syncs it with the ramp's schedule. A ramp without one is left on
	// its max_duration line.
	Forecast *Forecast
}

// Decision is the controller's answer for one campaign: its new pace
// (nil when it is unchanged, so nothing is written or published).
type Decision struct {
	CampaignID string
	Pace       *cordon.Pace
	// Rate is the share per second it now admits at beyond the floor.
	Rate float64
	Why  string
}

// minChange is the relative change of speed below which the pace is left
// as it is: a point per tiny wobble would grow the policy for nothing.
const minChange = 0.05

// Step chooses every auto ramp's speed at now, until the next step an
// interval later, from the signals, and returns the paces that change.
// The ramps share the headroom — the target share of the capacity less
// the logins they do not cause — and admit the same share per second:
// the largest whose expected re-logins (MaxRate), added to those still
// to come from what they admitted before, fit the headroom at every
// future instant. Shedding or a queue drops the speed to 0 at once: the
// ramps then admit along their max_duration line only.
//
// Step syncs each ramp's Forecast, which is not safe for concurrent use:
// one control plane paces at a time.
func Step(now time.Time, interval time.Duration, ramps []Ramp, sig Signals) []Decision {
	ramps = append([]Ramp(nil), ramps...)
	sort.Slice(ramps, func(i, j int) bool { return ramps[i].CampaignID < ramps[j].CampaignID })
	var open []Ramp
	var fs []*Forecast
	for _, r := range ramps {
		sc, err := decision.NewSchedule(r.Ramp)
		if err != nil {
			continue // not a pace this controller can extend
		}
		if r.Forecast != nil {
			// The schedule is fixed up to now + Lead: what it admits until
			// then is as good as admitted.
			r.Forecast.Sync(sc.ShareAt, now.Add(Lead))
		}
		if sc.ShareAt(now.Add(Lead)) >= 1 || r.Forecast == nil {
			continue
		}
		open = append(open, r)
		fs = append(fs, r.Forecast)
	}
	if len(open) == 0 {
		return nil
	}
	u := open[0].Ramp.TargetUtilisation
	for _, r := range open {
		// Campaigns that share the tier take the most careful target.
		if t := r.Ramp.TargetUtilisation; t > 0 && (u <= 0 || t < u) {
			u = t
		}
	}
	if u <= 0 || u > 1 {
		u = cordon.DefaultTargetUtilisation
	}
	target := u * sig.Capacity
	bunched := sig.Absorbs > 0 && sig.Absorbs < target
	if bunched {
		target = sig.Absorbs
	}
	others := math.Max(0, sig.Logins-sig.Paced)
	headroom := target - others
	var rate float64
	var why string
	switch {
	case sig.Shed > 0:
		why = fmt.Sprintf("the login tier answered %.1f logins/s overloaded: admitting only along the max_duration line until it stops", sig.Shed)
	case sig.Queued > 0:
		why = fmt.Sprintf("%d logins wait for a hashing slot: admitting only along the max_duration line until the queue empties", sig.Queued)
	case sig.Capacity <= 0:
		why = "no login capacity measured yet: admitting along the max_duration line"
	case headroom <= 0:
		why = fmt.Sprintf("other logins (%.1f/s) fill the target %.0f %% of %.1f logins/s: admitting along the max_duration line", others, u*100, sig.Capacity)
	default:
		rate = MaxRate(fs, now.Add(Lead), interval, headroom)
		var due float64
		for _, f := range fs {
			due += f.Expected(now.Add(Lead))
		}
		share := fmt.Sprintf("%.0f %% of %.1f logins/s capacity", u*100, sig.Capacity)
		if bunched {
			share = fmt.Sprintf("%.0f %% of %.1f logins/s capacity, below the %.0f %% target: a tier this small sheds on random bunching above it", 100*target/sig.Capacity, sig.Capacity, u*100)
		}
		why = fmt.Sprintf("%.1f re-logins/s of headroom (%s, less %.1f/s other logins); %.1f/s already due from admitted users of %d auto campaign%s; the most that keeps every future slot within it",
			headroom, share, others, due, len(open), plural(len(open)))
	}
	var out []Decision
	for _, r := range open {
		p, changed := Extend(r.Ramp, now, rate, why)
		if changed {
			out = append(out, Decision{CampaignID: r.CampaignID, Pace: p, Rate: rate, Why: why})
		}
	}
	return out
}

// Extend returns the ramp's pace with speed rate (share per second) from
// now + Lead, and whether it differs from the current one. The share at
// every instant before now + Lead is unchanged: a point is added there at
// the share the current pace gives, and only the speed after it changes.
// A rate within minChange of the current one leaves the pace as it is; a
// pace of MaxPacePoints points keeps its last speed.
func Extend(r *cordon.Ramp, now time.Time, rate float64, why string) (*cordon.Pace, bool) {
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0 {
		rate = 0
	}
	cur := r.Pace
	if cur == nil {
		cur = &cordon.Pace{Points: []cordon.PacePoint{{At: r.Start}}}
	}
	old := cur.Rate
	if cur != r.Pace {
		old = -1 // no pace yet: always write the first one
	}
	if old >= 0 && math.Abs(rate-old) <= minChange*math.Max(old, rate) {
		return r.Pace, false
	}
	if len(cur.Points) >= cordon.MaxPacePoints {
		return r.Pace, false
	}
	sc, err := decision.NewSchedule(&cordon.Ramp{Start: r.Start, Duration: r.Duration, Mode: cordon.RampAuto, Pace: cur})
	if err != nil {
		return r.Pace, false
	}
	at := now.Add(Lead)
	if sc.ShareAt(at) >= 1 {
		// Done: a point past the end would slow what ran before it, as
		// the tail is capped at 100 %.
		return r.Pace, false
	}
	p := &cordon.Pace{Points: append([]cordon.PacePoint(nil), cur.Points...), Rate: rate, Why: why}
	if last := p.Points[len(p.Points)-1].At; last.Before(at) {
		p.Points = append(p.Points, cordon.PacePoint{At: at, Share: sc.ShareAt(at)})
	}
	return p, true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

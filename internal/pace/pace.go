// Package pace is the control plane's half of an auto ramp: from what it
// measures of the login tier (capacity of every node, logins per second,
// overloaded answers, the hashing pools' queues) it chooses how fast each
// active auto campaign admits its cohort, and extends the campaign's
// schedule (cordon.Pace) so that enforcement points up to a lead behind
// still agree on who is admitted. It is pure: time and signals are
// arguments, and the decision engine reads the schedule it writes as an
// input (decision.Schedule), never a signal.
//
// The rule that keeps the login tier under its target: a campaign that
// admits a share r per second of a cohort whose returning users (users
// seen lately; dormant ones never come back to log in) number R asks for
// at most r × R re-logins per second, however long users take to come
// back, because each admitted user logs in again at most once. So if
// Σ r_i × R_i stays within the headroom — the target share of the
// capacity minus every login the auto ramps do not cause — the paced
// re-logins never exceed it, whatever the lag between admission and
// return. Shedding or a queue in the hashing pools stops the speed-up
// at once: the ramps fall back to their max_duration line.
package pace

import (
	"fmt"
	"math"
	"sort"
	"strings"
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
}

// Ramp is one active auto campaign as the controller sees it.
type Ramp struct {
	CampaignID string
	Ramp       *cordon.Ramp
	// Returning is the number of the cohort's users expected to log in
	// again: those with a session seen lately. It bounds the re-logins
	// the campaign can cause per unit of share.
	Returning float64
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

// Step chooses every auto ramp's speed at now from the signals and
// returns the paces that change. The ramps share the headroom: each
// admits the same share per second, so together they cause at most the
// headroom of re-logins and all finish together.
func Step(now time.Time, ramps []Ramp, sig Signals) []Decision {
	target := 0.0
	var others float64
	sort.Slice(ramps, func(i, j int) bool { return ramps[i].CampaignID < ramps[j].CampaignID })
	var returning float64
	var open []Ramp
	for _, r := range ramps {
		sc, err := decision.NewSchedule(r.Ramp)
		if err != nil || sc.ShareAt(now.Add(Lead)) >= 1 {
			continue // done, or not a pace this controller can extend
		}
		open = append(open, r)
		returning += math.Max(r.Returning, 1)
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
	target = u * sig.Capacity
	others = math.Max(0, sig.Logins-sig.Paced)
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
		rate = headroom / returning
		why = fmt.Sprintf("%.1f re-logins/s of headroom (%.0f %% of %.1f logins/s capacity, less %.1f/s other logins) over %s returning users of %d auto campaign%s",
			headroom, u*100, sig.Capacity, others, count(returning), len(open), plural(len(open)))
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

func count(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

package cordon

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Ramp modes. A fixed ramp admits its cohort linearly over Duration; an
// auto ramp admits it as fast as the login tier can take the re-logins,
// along a Pace the control plane keeps extending, and never slower than
// a straight line to 100 % at Start + Duration (its max_duration).
const (
	RampFixed = "fixed"
	RampAuto  = "auto"
)

// DefaultTargetUtilisation is the share of the login tier's measured
// capacity an auto ramp aims to fill when the document names none.
const DefaultTargetUtilisation = 0.8

// MaxPacePoints bounds a pace: the control plane only adds a point when
// the speed changes, and past the bound it keeps the last speed (the
// max_duration floor still holds), so a policy stays small.
const MaxPacePoints = 2048

// PacePoint is the admitted share of a cohort at a time: users whose
// h(campaign, user) is below Share are in by At.
type PacePoint struct {
	At    time.Time `json:"at"`
	Share float64   `json:"share"`
}

// Pace is an auto ramp's schedule: the admitted share as a monotone
// non-decreasing function of time. Between points it is linear; after the
// last point it grows at Rate (share per second), but never slower than
// a straight line from the last point to 100 % at the ramp's deadline
// (Start + max_duration). The control plane only ever appends a point at
// a time at least a lead ahead of its clock, at the share the pace already
// gives there, so every instant before that point reads the same share
// on the old pace and the new: an enforcement point a few seconds behind
// agrees with the server on who is admitted, and a user once admitted
// stays admitted.
type Pace struct {
	Points []PacePoint `json:"points"`
	// Rate is the share per second after the last point.
	Rate float64 `json:"rate"`
	// Why says, for `campaign show`, what set the current speed.
	Why string `json:"why,omitempty"`
	// Back95 is when 95 % of the cohort's returning installs are
	// projected to have logged in again after their admission, at this
	// pace (zero: not projected). Informative: no decision reads it.
	Back95 time.Time `json:"back_95_by,omitzero"`
}

// Check reports the first way p breaks the pace's rules: at least one
// point, times strictly rising, shares in [0, 1] and never falling, a
// finite non-negative rate, at most MaxPacePoints points.
func (p *Pace) Check() error {
	switch {
	case len(p.Points) == 0:
		return fmt.Errorf("pace has no points")
	case len(p.Points) > MaxPacePoints:
		return fmt.Errorf("pace has %d points, more than %d", len(p.Points), MaxPacePoints)
	case math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0) || p.Rate < 0:
		return fmt.Errorf("pace rate %v is not a finite non-negative share per second", p.Rate)
	}
	for i, pt := range p.Points {
		if math.IsNaN(pt.Share) || pt.Share < 0 || pt.Share > 1 {
			return fmt.Errorf("pace point %d: share %v is outside [0, 1]", i, pt.Share)
		}
		if i == 0 {
			continue
		}
		prev := p.Points[i-1]
		if !pt.At.After(prev.At) {
			return fmt.Errorf("pace point %d: time %s is not after %s", i, pt.At.Format(time.RFC3339Nano), prev.At.Format(time.RFC3339Nano))
		}
		if pt.Share < prev.Share {
			return fmt.Errorf("pace point %d: share %v falls below %v: a pace never takes back an admission", i, pt.Share, prev.Share)
		}
	}
	return nil
}

// SamePace reports whether a and b are the same pace (nil only equals nil).
func SamePace(a, b *Pace) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Rate != b.Rate || a.Why != b.Why || len(a.Points) != len(b.Points) {
		return false
	}
	for i := range a.Points {
		if !a.Points[i].At.Equal(b.Points[i].At) || a.Points[i].Share != b.Points[i].Share {
			return false
		}
	}
	return true
}

// CheckPaceChange is the rule every store applies when a control plane
// replaces campaign c's pace prev with next: c is active or paused and
// has an auto ramp, its pace is still prev (a compare-and-set, so two
// control planes never overwrite each other: the loser reads again), and
// next is a valid pace that keeps every point of prev, so no admission
// already made moves. Whether next also keeps the instants between prev's
// last point and next's new one is the control plane's (internal/pace).
func CheckPaceChange(c *Campaign, prev, next *Pace) error {
	switch {
	case c.State != StateActive && c.State != StatePaused:
		return Errorf(ECodeConflict, "campaign %s is %s; only an active or paused campaign is paced", c.ID, c.State)
	case !c.Ramp.Auto():
		return Errorf(ECodeConflict, "campaign %s has no auto ramp to pace", c.ID)
	case !SamePace(c.Ramp.Pace, prev):
		return Errorf(ECodeConflict, "campaign %s was paced meanwhile; read it again", c.ID)
	case next == nil:
		return Errorf(ECodeInvalid, "a pace cannot be removed")
	}
	if err := next.Check(); err != nil {
		return Errorf(ECodeInvalid, "%v", err)
	}
	if prev != nil {
		if len(next.Points) < len(prev.Points) {
			return Errorf(ECodeInvalid, "the new pace drops points of the old one")
		}
		for i, p := range prev.Points {
			if !next.Points[i].At.Equal(p.At) || next.Points[i].Share != p.Share {
				return Errorf(ECodeInvalid, "the new pace changes point %d of the old one", i)
			}
		}
	}
	return nil
}

// RampPriority names who a ramp admits first, before its hash order
// begins (issue 18): the users of a saved audit report (whose data was
// read), named users, and, when UnusualAddresses is set, accounts that log
// in from an address or device the node has not seen them use while the
// ramp runs. A priority only ever brings an admission forward: it can
// never hold anyone back.
type RampPriority struct {
	Users            []string `json:"users,omitempty"`
	UsersFromReport  string   `json:"users_from_report,omitempty"`
	UnusualAddresses bool     `json:"unusual_addresses,omitempty"`
}

// Why a user was admitted before their place in a ramp's order
// (EarlyAdmission.Why), and the two ways to be admitted otherwise.
const (
	// AdmitPriority: a user the ramp's priority named (resolved at
	// creation), admitted from the ramp's first instant.
	AdmitPriority = "priority"
	// AdmitUnusualAddress: an account seen from somewhere new (a login, a
	// refreshed session) while the ramp ran, admitted a lead ahead of when it was seen.
	AdmitUnusualAddress = "unusual_address"
	// AdmitRamp: the user's place in the ramp's hash order (a fixed ramp's
	// line, or an auto ramp's pace).
	AdmitRamp = "ramp"
	// AdmitActivation: a campaign without a ramp, or a ramp that began
	// before the activation, admits at the activation.
	AdmitActivation = "activation"
)

// MaxEarly bounds a campaign's early admissions from signals (a flood of
// logins from new addresses must not grow every policy without bound);
// past it a signal is dropped and counted, and the ramp's order still
// admits everyone. Users named by the document are bounded by the
// cohort's own limit.
const MaxEarly = 100_000

// EarlyAdmission admits one account before its place in a ramp's order.
// At zero means "from the ramp's first instant" (a priority named at
// creation); else At is a time the control plane chose at least a lead
// ahead of its clock, so an enforcement point a few seconds behind agrees.
type EarlyAdmission struct {
	Account string    `json:"account"`
	At      time.Time `json:"at,omitzero"`
	Why     string    `json:"why"`
}

// MergeEarly is the rule every store applies when the control plane adds
// early admissions to campaign c: c is active or paused, its ramp admits
// unusual addresses first, each addition has a time and the reason
// AdmitUnusualAddress, and an account already admitted early keeps its
// admission (the first one stands: an admission never moves, so nobody
// admitted ever leaves). It returns the campaign's new list and how many
// were added; additions past MaxEarly are dropped.
func MergeEarly(c *Campaign, adds []EarlyAdmission) ([]EarlyAdmission, int, error) {
	switch {
	case c.State != StateActive && c.State != StatePaused:
		return nil, 0, Errorf(ECodeConflict, "campaign %s is %s; only an active or paused campaign admits early", c.ID, c.State)
	case c.Ramp == nil || c.Ramp.Priority == nil || !c.Ramp.Priority.UnusualAddresses:
		return nil, 0, Errorf(ECodeConflict, "campaign %s has no ramp that puts unusual addresses first", c.ID)
	}
	have := make(map[string]bool, len(c.Early)+len(adds))
	for _, e := range c.Early {
		have[e.Account] = true
	}
	out := slices.Clone(c.Early)
	added, signalled := 0, countWhy(out, AdmitUnusualAddress)
	for _, a := range adds {
		switch {
		case a.Account == "" || a.At.IsZero() || a.Why != AdmitUnusualAddress:
			return nil, 0, Errorf(ECodeInvalid, "an early admission needs an account, a time and the reason %q", AdmitUnusualAddress)
		case have[a.Account]:
			continue
		case signalled >= MaxEarly:
			return out, added, nil
		}
		have[a.Account] = true
		out = append(out, a)
		added++
		signalled++
	}
	return out, added, nil
}

func countWhy(es []EarlyAdmission, why string) int {
	n := 0
	for _, e := range es {
		if e.Why == why {
			n++
		}
	}
	return n
}

package pace

import (
	"slices"
	"time"
)

// maxProjectAges bounds the ages a projection reads: beyond it, evenly
// spaced quantiles of the sorted ages stand for the rest.
const maxProjectAges = 4096

// ProjectReturn says when the share target (in (0, 1]) of a cohort's
// returning installs will have logged in again after their admission,
// under the admission schedule shareAt (the share admitted by a time),
// from the cohort's ages since last seen (one per install; negative:
// dormant, never returning), searching from from to limit to the minute.
//
// The model is the forecast's: an install comes back after a delay
// distributed as its age since last seen, independent of its place in the
// admission order (a hash). So the returning installs back by T are, in
// expectation, the mean over them of shareAt(T − delay). ok is false when
// no install returns or the target is not reached by limit.
func ProjectReturn(shareAt func(time.Time) float64, ages []time.Duration, from, limit time.Time, target float64) (at time.Time, ok bool) {
	var delays []time.Duration
	for _, a := range ages {
		if a >= 0 {
			delays = append(delays, a)
		}
	}
	if len(delays) == 0 || target <= 0 || target > 1 || !limit.After(from) {
		return time.Time{}, false
	}
	if len(delays) > maxProjectAges {
		slices.Sort(delays)
		q := make([]time.Duration, maxProjectAges)
		for i := range q {
			q[i] = delays[(2*i+1)*len(delays)/(2*maxProjectAges)]
		}
		delays = q
	}
	back := func(t time.Time) float64 {
		var s float64
		for _, d := range delays {
			s += shareAt(t.Add(-d))
		}
		return s / float64(len(delays))
	}
	// A tolerance keeps float rounding from missing a target of 1.
	const eps = 1e-9
	if back(limit) < target-eps {
		return time.Time{}, false
	}
	lo, hi := from, limit
	for hi.Sub(lo) > time.Minute {
		mid := lo.Add(hi.Sub(lo) / 2)
		if back(mid) >= target-eps {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

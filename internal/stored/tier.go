package stored

import (
	"math"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// CheckTierSample refuses a login tier sample a backend cannot keep, or
// that would make every node's sum meaningless: no node id, no time, or a
// figure that is not a finite number ≥ 0 (SQLite would store a NaN as
// NULL, PostgreSQL keep it, and an infinite capacity would pace at any
// speed).
func CheckTierSample(s *cordon.TierSample) error {
	if s == nil || s.Node == "" || s.At.IsZero() {
		return cordon.Errorf(cordon.ECodeInvalid, "a tier sample needs a node id and a time")
	}
	for _, v := range []float64{s.Capacity, s.Logins, s.Paced, s.Shed} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return cordon.Errorf(cordon.ECodeInvalid, "a tier sample's figures are finite and not negative, not %g", v)
		}
	}
	if s.Queued < 0 {
		return cordon.Errorf(cordon.ECodeInvalid, "a tier sample's queue is not negative, not %d", s.Queued)
	}
	return nil
}

// TierClockStep is how far a node's stored sample may be dated after its
// new one before the new one replaces it anyway: a late write is seconds
// late, a clock stepped back is more.
const TierClockStep = time.Minute

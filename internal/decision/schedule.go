package decision

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Schedule is an auto ramp's pace (cordon.Pace) compiled for the engine:
// the admitted share as a monotone non-decreasing function of time, and
// its inverse, the time a user of share h is admitted. It is immutable
// and safe for concurrent use. The engine reads it as an input like the
// rest of the policy: it never reads a clock or a signal.
type Schedule struct {
	at    []int64   // Unix ns, strictly rising
	share []float64 // in [0, 1], never falling
	rate  float64   // share per ns after the last point
	// deadline is the ramp's start + max_duration: after the last point
	// the share grows at least along the line to 100 % there.
	deadline int64
	end      int64 // admit(1), kept: every decision asks for it
}

// NewSchedule compiles an auto ramp's pace. A ramp without a pace yet
// admits along its max_duration line from its start.
func NewSchedule(r *cordon.Ramp) (*Schedule, error) {
	if r == nil || !r.Auto() {
		return nil, fmt.Errorf("not an auto ramp")
	}
	if r.Duration <= 0 || r.Duration > time.Duration(math.MaxInt64/4) {
		return nil, fmt.Errorf("ramp max_duration %v", r.Duration)
	}
	p := r.Pace
	if p == nil {
		p = &cordon.Pace{Points: []cordon.PacePoint{{At: r.Start}}}
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	// Unix nanoseconds hold 1678 to 2262; a document's times lie in 1970 to
	// 2200 (campaigndoc), and a pace must too.
	lo, hi := time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	if r.Start.Before(lo) || !r.Start.Add(r.Duration).Before(hi) {
		return nil, fmt.Errorf("ramp from %v over %v leaves 1970 to 2200", r.Start, r.Duration)
	}
	for i, pt := range p.Points {
		if pt.At.Before(lo) || !pt.At.Before(hi) {
			return nil, fmt.Errorf("pace point %d at %v is outside 1970 to 2200", i, pt.At)
		}
	}
	s := &Schedule{
		at:       make([]int64, len(p.Points)),
		share:    make([]float64, len(p.Points)),
		rate:     p.Rate / float64(time.Second),
		deadline: r.Start.UnixNano() + int64(r.Duration),
	}
	for i, pt := range p.Points {
		s.at[i], s.share[i] = pt.At.UnixNano(), pt.Share
	}
	s.end = s.admit(1)
	return s, nil
}

// ShareAt is the admitted share at t, in [0, 1].
func (s *Schedule) ShareAt(t time.Time) float64 { return s.shareAt(t.UnixNano()) }

func (s *Schedule) shareAt(t int64) float64 {
	n := len(s.at) - 1
	if t < s.at[0] {
		return 0
	}
	if t >= s.at[n] {
		s0 := s.share[n]
		if s0 >= 1 {
			return 1
		}
		dt := float64(t - s.at[n])
		f := s0 + s.rate*dt
		if left := float64(s.deadline - s.at[n]); left <= 0 {
			f = 1
		} else {
			f = math.Max(f, s0+(1-s0)*dt/left)
		}
		return math.Min(1, f)
	}
	// The last point at or before t.
	i := sort.Search(len(s.at), func(i int) bool { return s.at[i] > t }) - 1
	f := float64(t-s.at[i]) / float64(s.at[i+1]-s.at[i])
	return s.share[i] + f*(s.share[i+1]-s.share[i])
}

// At is when the share reaches h: the admission time (Unix ns) of a user
// whose h(campaign, user) is h.
func (s *Schedule) At(h float64) time.Time { return time.Unix(0, s.admit(h)) }

func (s *Schedule) admit(h float64) int64 {
	n := len(s.share) - 1
	if h <= s.share[n] {
		// The first point whose share reaches h.
		i := sort.SearchFloat64s(s.share, h)
		if i == 0 {
			return s.at[0]
		}
		f := (h - s.share[i-1]) / (s.share[i] - s.share[i-1])
		return s.at[i-1] + int64(f*float64(s.at[i]-s.at[i-1]))
	}
	s0, t0 := s.share[n], s.at[n]
	left := s.deadline - t0
	if left <= 0 {
		return t0
	}
	dt := (h - s0) / (1 - s0) * float64(left)
	if s.rate > 0 {
		dt = math.Min(dt, (h-s0)/s.rate)
	}
	return t0 + int64(dt)
}

// End is when the share reaches 100 %: the latest admission.
func (s *Schedule) End() time.Time { return time.Unix(0, s.end) }

package campaign

import (
	"context"
	"errors"
	"math"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// Counts is a number of sessions and of the users they belong to.
type Counts struct {
	Sessions int64 `json:"sessions"`
	Users    int64 `json:"users"`
}

// TargetedView is whom the campaign targets, as last computed.
type TargetedView struct {
	Counts
	// Exact is false when the cohort was counted from buckets (then Users
	// is an upper bound, as in a preview).
	Exact bool `json:"exact"`
	// At is when the cohort was computed (at activation, then every
	// sample); absent for a draft.
	At *time.Time `json:"at,omitempty"`
}

// ProgressView is a campaign's progress as the API shows it: stated
// against its cohort, never against those it happened to block.
type ProgressView struct {
	// The raw counters (blocked_sessions, blocked_users, satisfied_users,
	// prompted_sessions, prompted_users), kept flat for older readers.
	cordon.Progress
	State cordon.State `json:"state"`
	// Targeted is the cohort: live sessions (and their users) the
	// campaign's selector matches.
	Targeted TargetedView `json:"targeted"`
	// AdmittedShare is the share of the cohort the ramp admits now (0 for
	// a draft).
	AdmittedShare float64 `json:"admitted_share"`
	// Admitted is the part of Targeted the ramp has admitted: counted user
	// by user at the cohort's last count when Targeted.Exact, else
	// AdmittedShare of Targeted, rounded down (the ramp admits users by a
	// hash, so that is the expected number).
	Admitted Counts `json:"admitted"`
	// Seen is the admitted sessions and users that made a request the
	// campaign denied (Blocked) or prompted (Prompted), at the server or a
	// gate.
	Seen     Counts `json:"seen"`
	Blocked  Counts `json:"blocked"`
	Prompted Counts `json:"prompted"`
	// Satisfied is the users that did what the campaign asks.
	Satisfied int64 `json:"satisfied"`
	// Waiting is the admitted part a campaign with a prerequisite (after:)
	// still waits for: it asks nothing of them yet, so they are neither
	// seen nor dormant (counted at the cohort's last count; 0 when the
	// cohort was counted from buckets).
	Waiting Counts `json:"waiting"`
	// Dormant is admitted, not waiting and not seen yet: those who have
	// not made a request since the campaign reached them.
	Dormant Counts `json:"dormant"`
	// SatisfiedOfAdmitted is Satisfied ÷ Admitted.Users and
	// SatisfiedOfCohort Satisfied ÷ Targeted.Users, each in [0, 1]; 0 when
	// the denominator is 0 (a draft, or nobody admitted yet).
	SatisfiedOfAdmitted float64 `json:"satisfied_of_admitted"`
	SatisfiedOfCohort   float64 `json:"satisfied_of_cohort"`
	// Complete is SatisfiedOfCohort, kept for older readers.
	Complete float64 `json:"complete"`
	// Breakdown splits every count by platform, version and source.
	Breakdown []ProgressBreakdown `json:"breakdown"`
	At        time.Time           `json:"at"`
}

// ProgressBreakdown is a campaign's progress among the sessions with one
// combination of facts (those at login).
type ProgressBreakdown struct {
	Platform  string `json:"platform"`
	Version   string `json:"version"`
	Source    string `json:"source"`
	Targeted  Counts `json:"targeted"`
	Admitted  Counts `json:"admitted"`
	Seen      Counts `json:"seen"`
	Waiting   Counts `json:"waiting"`
	Blocked   Counts `json:"blocked"`
	Prompted  Counts `json:"prompted"`
	Satisfied int64  `json:"satisfied"`
	Dormant   Counts `json:"dormant"`
}

// share returns n ÷ d in [0, 1], 0 when d is not positive.
func share(n, d int64) float64 {
	if d <= 0 || n <= 0 {
		return 0
	}
	return math.Min(1, float64(n)/float64(d))
}

// admitted is share of n, rounded down.
func admitted(share float64, n int64) int64 { return int64(math.Floor(share * float64(n))) }

func dormant(admitted, seen, waiting Counts) Counts {
	return Counts{max(0, admitted.Sessions-seen.Sessions-waiting.Sessions), max(0, admitted.Users-seen.Users-waiting.Users)}
}

// Progress returns what the campaign has done so far against whom it
// targets: a few rows read (the counters, the cohort and their rows by
// facts), whatever the fleet's size.
func (s *Service) Progress(ctx context.Context, c *cordon.Campaign) (*ProgressView, error) {
	pr, err := s.store.Progress(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	v := &ProgressView{Progress: pr, State: c.State, At: now.UTC(), Breakdown: []ProgressBreakdown{}}
	if c.State == cordon.StateDraft {
		// A draft targets nobody yet and has done nothing: 0 %, never 100.
		return v, nil
	}
	tg, err := s.store.CampaignTargeted(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.ProgressRows(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if m, err := decision.NewMatcher(c); err == nil {
		v.AdmittedShare = m.Share(now)
	}
	v.Targeted = TargetedView{Counts: Counts{tg.Sessions, tg.Users}, Exact: tg.Exact}
	if !tg.At.IsZero() {
		at := tg.At.UTC()
		v.Targeted.At = &at
	}
	// An exact cohort was counted user by user, admitted ones included,
	// at its last recount (at most a minute ago while it runs); a cohort
	// from buckets is admitted by the ramp's share now.
	exact := tg.Exact
	v.Admitted = Counts{admitted(v.AdmittedShare, tg.Sessions), admitted(v.AdmittedShare, tg.Users)}
	if exact {
		v.Admitted = Counts{tg.AdmittedSessions, tg.AdmittedUsers}
	}
	v.Blocked = Counts{pr.BlockedSessions, pr.BlockedUsers}
	v.Prompted = Counts{pr.PromptedSessions, pr.PromptedUsers}
	v.Seen = Counts{pr.BlockedSessions + pr.PromptedSessions, pr.BlockedUsers + pr.PromptedUsers}
	v.Satisfied = pr.SatisfiedUsers
	v.Waiting = Counts{tg.WaitingSessions, tg.WaitingUsers}
	v.Dormant = dormant(v.Admitted, v.Seen, v.Waiting)
	v.SatisfiedOfAdmitted = share(v.Satisfied, v.Admitted.Users)
	v.SatisfiedOfCohort = share(v.Satisfied, tg.Users)
	v.Complete = v.SatisfiedOfCohort

	byKey := map[factsKey]*ProgressBreakdown{}
	row := func(platform, version, source string) *ProgressBreakdown {
		k := factsKey{platform, version, source}
		b := byKey[k]
		if b == nil {
			b = &ProgressBreakdown{Platform: platform, Version: version, Source: source}
			byKey[k] = b
		}
		return b
	}
	for _, r := range tg.Rows {
		b := row(r.Platform, r.Version, r.Source)
		b.Targeted = Counts{r.Sessions, r.Users}
		b.Admitted = Counts{admitted(v.AdmittedShare, r.Sessions), admitted(v.AdmittedShare, r.Users)}
		if exact {
			b.Admitted = Counts{r.AdmittedSessions, r.AdmittedUsers}
		}
		b.Waiting = Counts{r.WaitingSessions, r.WaitingUsers}
	}
	for _, r := range rows {
		b := row(r.Platform, r.Version, r.Source)
		b.Blocked = Counts{r.BlockedSessions, r.BlockedUsers}
		b.Prompted = Counts{r.PromptedSessions, r.PromptedUsers}
		b.Seen = Counts{r.BlockedSessions + r.PromptedSessions, r.BlockedUsers + r.PromptedUsers}
		b.Satisfied = r.SatisfiedUsers
	}
	for _, b := range byKey {
		b.Dormant = dormant(b.Admitted, b.Seen, b.Waiting)
		v.Breakdown = append(v.Breakdown, *b)
	}
	sort.Slice(v.Breakdown, func(i, j int) bool {
		a, b := v.Breakdown[i], v.Breakdown[j]
		if a.Targeted.Sessions != b.Targeted.Sessions {
			return a.Targeted.Sessions > b.Targeted.Sessions
		}
		return a.Platform+"\x00"+a.Version+"\x00"+a.Source < b.Platform+"\x00"+b.Version+"\x00"+b.Source
	})
	return v, nil
}

// refreshTargeted counts whom the campaign targets now, with the preview's
// computation, and stores it with a sample of the counters.
func (s *Service) refreshTargeted(ctx context.Context, c *cordon.Campaign, now time.Time) error {
	p, err := s.Preview(ctx, c.ID)
	if err != nil {
		return err
	}
	tg := cordon.Targeted{Sessions: p.Sessions, Users: p.Users, AdmittedSessions: p.AdmittedSessions, AdmittedUsers: p.AdmittedUsers,
		WaitingSessions: p.WaitingSessions, WaitingUsers: p.WaitingUsers, Exact: p.Exact, At: now}
	for _, r := range p.Breakdown {
		tg.Rows = append(tg.Rows, cordon.TargetedRow{Platform: r.Platform, Version: r.Version, Source: r.Source,
			Sessions: r.Sessions, Users: r.Users, AdmittedSessions: r.AdmittedSessions, AdmittedUsers: r.AdmittedUsers,
			WaitingSessions: r.WaitingSessions, WaitingUsers: r.WaitingUsers})
	}
	if err := s.store.SetTargeted(ctx, c.ID, tg); err != nil {
		return err
	}
	return s.sample(ctx, c, tg, now)
}

// SampleEvery is how often Sample recounts each running campaign's cohort
// and stores a sample of its counters, unless told otherwise.
const SampleEvery = time.Minute

// sample stores the campaign's counters at now (to the second, so nodes
// sampling together write one row).
func (s *Service) sample(ctx context.Context, c *cordon.Campaign, tg cordon.Targeted, now time.Time) error {
	pr, err := s.store.Progress(ctx, c.ID)
	if err != nil {
		return err
	}
	sm := cordon.ProgressSample{
		At: now.UTC().Truncate(time.Second), TargetedSessions: tg.Sessions, TargetedUsers: tg.Users,
		BlockedSessions: pr.BlockedSessions, BlockedUsers: pr.BlockedUsers,
		PromptedSessions: pr.PromptedSessions, PromptedUsers: pr.PromptedUsers, SatisfiedUsers: pr.SatisfiedUsers,
	}
	if m, err := decision.NewMatcher(c); err == nil {
		sm.AdmittedShare = m.Share(now)
	}
	return s.store.RecordProgressSample(ctx, c.ID, sm)
}

// SampleAll recounts the cohort of every running campaign (active or
// paused) whose cohort is older than every, and stores a sample. Several
// nodes on one store share the work: a cohort another node counted within
// the interval is left alone.
func (s *Service) SampleAll(ctx context.Context, every time.Duration) error {
	cs, _, err := s.store.ActiveCampaigns(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		now := s.clock.Now()
		tg, err := s.store.CampaignTargeted(ctx, c.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !tg.At.IsZero() && now.Sub(tg.At) < every*9/10 {
			continue
		}
		if err := s.refreshTargeted(ctx, c, now); err != nil && !errors.Is(err, cordon.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Sample runs SampleAll every interval until ctx ends.
func (s *Service) Sample(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = SampleEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.SampleAll(ctx, every); err != nil {
				s.log.Warn("progress samples", "err", err)
			}
		}
	}
}

// MaxSeriesPoints bounds the points of a series the API answers; longer
// series are thinned evenly, keeping the first and the last.
const MaxSeriesPoints = 1000

// Series returns the campaign's samples from from, oldest first, thinned
// to at most points (≤ MaxSeriesPoints).
func (s *Service) Series(ctx context.Context, id string, from time.Time, points int) ([]cordon.ProgressSample, error) {
	if points < 2 || points > MaxSeriesPoints {
		points = MaxSeriesPoints
	}
	all, err := s.store.ProgressSeries(ctx, id, from, cordon.MaxProgressSamples)
	if err != nil {
		return nil, err
	}
	if all == nil {
		all = []cordon.ProgressSample{}
	}
	if len(all) <= points {
		return all, nil
	}
	out := make([]cordon.ProgressSample, 0, points)
	for i := range points {
		out = append(out, all[i*(len(all)-1)/(points-1)])
	}
	return out, nil
}

package campaign

import (
	"context"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// ExactPreviewLimit is the number of live sessions up to which a preview
// counts sessions one by one (exact users); above it, it sums buckets.
const ExactPreviewLimit = 200_000

// Preview is what a campaign would hit if activated now.
type Preview struct {
	Sessions int64 `json:"sessions"`
	Users    int64 `json:"users"`
	// Exact is false when counts come from buckets: then Users is an upper
	// bound (a user with sessions in several buckets counts in each) and
	// authenticated_before is judged to the day.
	Exact bool `json:"exact"`
	// AdmittedShare is the share of the cohort the ramp admits now.
	AdmittedShare float64 `json:"admitted_share"`
	// Breakdown counts sessions by platform, version and source.
	Breakdown []BreakdownRow `json:"breakdown"`
	// LiveSessions is the size of the whole fleet, for scale.
	LiveSessions int64 `json:"live_sessions"`
}

// BreakdownRow is one combination of facts in a preview.
type BreakdownRow struct {
	Platform string `json:"platform"`
	Version  string `json:"version"`
	Source   string `json:"source"`
	Sessions int64  `json:"sessions"`
}

type factsKey struct{ platform, version, source string }

// Preview counts the sessions and users a campaign would hit now.
func (s *Service) Preview(ctx context.Context, id string) (*Preview, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := decision.NewMatcher(c)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	// Sessions whose refresh family expired cannot be hit: sweep them out of
	// the live set first (the server also sweeps every minute).
	for {
		n, err := s.store.ExpireSessions(ctx, now, 10000)
		if err != nil {
			return nil, err
		}
		if n < 10000 {
			break
		}
	}
	total, err := s.store.LiveSessionCount(ctx)
	if err != nil {
		return nil, err
	}
	p := &Preview{AdmittedShare: m.Share(now), LiveSessions: total, Exact: true}
	rows := map[factsKey]int64{}
	users := map[string]struct{}{}
	count := func(sess *cordon.Session) error {
		if m.Match(sess, now) {
			p.Sessions++
			users[sess.AccountID] = struct{}{}
			rows[factsKey{sess.Facts.Platform, sess.Facts.Version, sess.Facts.Source}]++
		}
		return nil
	}
	switch {
	case len(c.UserIDs) > 0 || len(c.Cohort.Users) > 0 || c.Cohort.UsersFromReport != "":
		sessions, err := s.store.SessionsOf(ctx, c.UserIDs)
		if err != nil {
			return nil, err
		}
		for _, sess := range sessions {
			count(sess)
		}
	case total <= ExactPreviewLimit:
		if err := s.store.LiveSessions(ctx, count); err != nil {
			return nil, err
		}
	default:
		p.Exact = false
		buckets, err := s.store.Buckets(ctx)
		if err != nil {
			return nil, err
		}
		for i := range buckets {
			b := &buckets[i]
			if m.MatchBucket(b, now) {
				p.Sessions += b.Sessions
				p.Users += b.Users
				rows[factsKey{b.Platform, b.Version, b.Source}] += b.Sessions
			}
		}
	}
	if p.Exact {
		p.Users = int64(len(users))
	}
	p.Breakdown = make([]BreakdownRow, 0, len(rows))
	for k, n := range rows {
		p.Breakdown = append(p.Breakdown, BreakdownRow{k.platform, k.version, k.source, n})
	}
	sort.Slice(p.Breakdown, func(i, j int) bool {
		a, b := p.Breakdown[i], p.Breakdown[j]
		if a.Sessions != b.Sessions {
			return a.Sessions > b.Sessions
		}
		return a.Platform+a.Version+a.Source < b.Platform+b.Version+b.Source
	})
	return p, nil
}

// ProgressView is a campaign's progress as the API shows it.
type ProgressView struct {
	cordon.Progress
	// AdmittedShare is the share of the cohort the ramp admits now.
	AdmittedShare float64 `json:"admitted_share"`
	// Complete is satisfied users over blocked users (1 when none was
	// blocked yet).
	Complete float64   `json:"complete"`
	At       time.Time `json:"at"`
}

// Progress returns what the campaign has done so far, from its counters:
// one row read, whatever the fleet's size.
func (s *Service) Progress(ctx context.Context, c *cordon.Campaign) (*ProgressView, error) {
	pr, err := s.store.Progress(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	v := &ProgressView{Progress: pr, Complete: 1, At: now.UTC()}
	if m, err := decision.NewMatcher(c); err == nil {
		v.AdmittedShare = m.Share(now)
	}
	if c.State == cordon.StateDraft {
		v.AdmittedShare = 0
	}
	if pr.BlockedUsers > 0 {
		v.Complete = float64(pr.SatisfiedUsers) / float64(pr.BlockedUsers)
	}
	return v, nil
}

package campaign

import (
	"context"
	"errors"
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
	// AdmittedSessions and AdmittedUsers are the part of the cohort the
	// ramp admits now: counted user by user when Exact, else
	// AdmittedShare of Sessions and Users, rounded down.
	AdmittedSessions int64 `json:"admitted_sessions"`
	AdmittedUsers    int64 `json:"admitted_users"`
	// WaitingSessions and WaitingUsers are the admitted part that a
	// campaign with a prerequisite (after:) waits for now: a user when all
	// of its admitted sessions wait. Counted only when Exact (0 else).
	WaitingSessions int64 `json:"waiting_sessions"`
	WaitingUsers    int64 `json:"waiting_users"`
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
	// Users is the accounts with a session in the row (summed over the
	// row's buckets when the preview is not exact: an upper bound).
	Users int64 `json:"users"`
	// AdmittedSessions and AdmittedUsers: as Preview's, for the row.
	AdmittedSessions int64 `json:"admitted_sessions"`
	AdmittedUsers    int64 `json:"admitted_users"`
	// WaitingSessions and WaitingUsers: as Preview's, for the row.
	WaitingSessions int64 `json:"waiting_sessions"`
	WaitingUsers    int64 `json:"waiting_users"`
}

type factsKey struct{ platform, version, source string }

// Preview counts the sessions and users a campaign would hit now.
func (s *Service) Preview(ctx context.Context, id string) (*Preview, error) {
	c, err := s.store.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.PreviewOf(ctx, c)
}

// PreviewOf is Preview for a campaign given whole, stored or not: a
// notice's cohort is counted by the same computation (package notices).
func (s *Service) PreviewOf(ctx context.Context, c *cordon.Campaign) (*Preview, error) {
	m, err := decision.NewMatcher(c)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	waits, err := s.waiting(ctx, c, now)
	if err != nil {
		return nil, err
	}
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
	rows := map[factsKey]*BreakdownRow{}
	row := func(k factsKey) *BreakdownRow {
		r := rows[k]
		if r == nil {
			r = &BreakdownRow{Platform: k.platform, Version: k.version, Source: k.source}
			rows[k] = r
		}
		return r
	}
	users := map[string]bool{} // account → admitted now
	rowUsers := map[factsKey]map[string]bool{}
	// A user waits when every admitted session of it waits.
	waitingUsers := map[string]bool{}
	rowWaiting := map[factsKey]map[string]bool{}
	count := func(sess *cordon.Session) error {
		if m.Match(sess, now) {
			p.Sessions++
			admitted := m.Admitted(sess.AccountID, now)
			users[sess.AccountID] = users[sess.AccountID] || admitted
			k := factsKey{sess.Facts.Platform, sess.Facts.Version, sess.Facts.Source}
			r := row(k)
			r.Sessions++
			if rowUsers[k] == nil {
				rowUsers[k] = map[string]bool{}
				rowWaiting[k] = map[string]bool{}
			}
			rowUsers[k][sess.AccountID] = rowUsers[k][sess.AccountID] || admitted
			if admitted {
				p.AdmittedSessions++
				r.AdmittedSessions++
				w := waits(sess)
				if w {
					p.WaitingSessions++
					r.WaitingSessions++
				}
				if prev, seen := waitingUsers[sess.AccountID]; !seen || prev {
					waitingUsers[sess.AccountID] = w
				}
				if prev, seen := rowWaiting[k][sess.AccountID]; !seen || prev {
					rowWaiting[k][sess.AccountID] = w
				}
			}
		}
		return nil
	}
	switch {
	case len(c.UserIDs) > 0 || c.Cohort.ExplicitUsers():
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
				r := row(factsKey{b.Platform, b.Version, b.Source})
				r.Sessions += b.Sessions
				r.Users += b.Users
			}
		}
	}
	if p.Exact {
		p.Users = int64(len(users))
		for _, in := range users {
			if in {
				p.AdmittedUsers++
			}
		}
		for k, us := range rowUsers {
			rows[k].Users = int64(len(us))
			for _, in := range us {
				if in {
					rows[k].AdmittedUsers++
				}
			}
			for _, w := range rowWaiting[k] {
				if w {
					rows[k].WaitingUsers++
				}
			}
		}
		for _, w := range waitingUsers {
			if w {
				p.WaitingUsers++
			}
		}
	} else {
		p.AdmittedSessions, p.AdmittedUsers = admitted(p.AdmittedShare, p.Sessions), admitted(p.AdmittedShare, p.Users)
		for _, r := range rows {
			r.AdmittedSessions, r.AdmittedUsers = admitted(p.AdmittedShare, r.Sessions), admitted(p.AdmittedShare, r.Users)
		}
	}
	p.Breakdown = make([]BreakdownRow, 0, len(rows))
	for _, r := range rows {
		p.Breakdown = append(p.Breakdown, *r)
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

// waiting returns the judgement of whether campaign c, were it active
// now, waits for a session's prerequisite: the engine's own, on a policy
// of c and its prerequisite. A campaign without after never waits.
func (s *Service) waiting(ctx context.Context, c *cordon.Campaign, now time.Time) (func(*cordon.Session) bool, error) {
	if c.After == nil {
		return func(*cordon.Session) bool { return false }, nil
	}
	self := *c
	self.State = cordon.StateActive
	if self.Activated.IsZero() {
		self.Activated = now
	}
	cs := []*cordon.Campaign{&self}
	pre, err := s.store.Campaign(ctx, c.After.Campaign)
	switch {
	case err == nil:
		cs = append(cs, pre)
	case !errors.Is(err, cordon.ErrNotFound):
		return nil, err
	}
	p, err := decision.Compile(cs, 0, now)
	if err != nil {
		return nil, err
	}
	return func(sess *cordon.Session) bool { return p.Waiting(c.ID, sess, now) }, nil
}

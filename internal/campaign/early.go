package campaign

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/pace"
)

// maxUnusualQueue bounds the accounts waiting for the next flush: a flood
// of logins from new addresses between two flushes drops the rest (and
// counts them) rather than growing memory.
const maxUnusualQueue = 10_000

// unusualQueue holds the accounts seen from somewhere new since the last
// flush, each once, and the budget that drains it.
type unusualQueue struct {
	mu sync.Mutex
	// pending maps each account to when it was first queued (a sequence
	// number): the flushes take the oldest first.
	pending map[string]uint64
	seq     uint64
	dropped int64
	// rate is the admissions per second the flushes may make (0: no
	// budget set, every sighting admitted at once); tokens what they may
	// make now, refilled from last.
	rate   float64
	tokens float64
	last   time.Time
}

// SightingShare is the share of the login tier's capacity that early
// admissions of accounts seen from somewhere new may take: each of them
// logs in again at once, outside the pace. A refresh from another network
// is a thief's, or a phone's on its carrier rather than at home: without
// a budget, a large cohort's phones would send a burst of re-logins the
// pace never planned.
const SightingShare = 0.05

// SetSightingRate sets how many early admissions of sighted accounts the
// flushes may make per second (at least one; the pacer sets it from the
// tier's capacity at every step). Sightings beyond it wait in the queue,
// where the ramp may well admit them first.
func (s *Service) SetSightingRate(perSecond float64) {
	q := &s.unusual
	q.mu.Lock()
	defer q.mu.Unlock()
	if !(perSecond >= 1) { // NaN too
		perSecond = 1
	}
	perSecond = min(perSecond, 1e9)
	if q.rate == 0 {
		q.tokens = perSecond // a second's worth to start
	}
	q.rate = perSecond
	q.tokens = min(q.tokens, 10*q.rate)
}

// allow says how many of want early admissions the budget lets the
// flush at now make, and spends them.
func (q *unusualQueue) allow(now time.Time, want int) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rate == 0 {
		return want
	}
	if !q.last.IsZero() && now.After(q.last) {
		// At most ten seconds' worth saved up: a burst after a quiet spell
		// stays small.
		q.tokens = min(q.tokens+q.rate*now.Sub(q.last).Seconds(), 10*q.rate)
	}
	q.last = now
	n := min(want, int(q.tokens))
	q.tokens -= float64(n)
	return n
}

// SeenUnusual notes that an account was seen from somewhere new: a password
// login from an address and a device it was not known to use
// (throttle.Attempt.Unusual), or a session refreshed from a network it was
// not known at (throttle.Seen). It only queues: the
// next FlushUnusual admits the account early in every active ramp that
// puts unusual addresses first. What a client sends can only add an
// account here, never take one out, and an early admission only brings an
// admission forward: nothing a client does delays its own.
func (s *Service) SeenUnusual(accountID string) {
	if accountID == "" {
		return
	}
	q := &s.unusual
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = map[string]uint64{}
	}
	if _, queued := q.pending[accountID]; queued {
		return // keeps its place
	}
	if len(q.pending) >= maxUnusualQueue {
		q.dropped++
		return
	}
	q.seq++
	q.pending[accountID] = q.seq
}

// FlushUnusual admits the queued accounts early in every active campaign
// whose ramp puts unusual addresses first, at now + pace.Lead: a gate that
// holds a policy up to a lead old still decides as the server does, and
// the store keeps an account's first early admission (cordon.MergeEarly),
// so an admission never moves. It admits at most what the sighting budget
// allows (SetSightingRate), the oldest sighting first; the others keep
// their places in the queue, as do accounts it could not store. It returns how many
// admissions it added.
func (s *Service) FlushUnusual(ctx context.Context, now time.Time) (int, error) {
	q := &s.unusual
	q.mu.Lock()
	pending := q.pending
	q.pending = nil
	q.mu.Unlock()
	if len(pending) == 0 {
		return 0, nil
	}
	// Put accounts back in their places (ahead of those seen since); past
	// the bound, count them dropped.
	requeue := func(accounts []string) {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.pending == nil {
			q.pending = map[string]uint64{}
		}
		for _, a := range accounts {
			if _, ok := q.pending[a]; ok {
				q.pending[a] = min(q.pending[a], pending[a])
				continue
			}
			if len(q.pending) >= maxUnusualQueue {
				q.dropped++
				continue
			}
			q.pending[a] = pending[a]
		}
	}
	// Oldest sighting first.
	all := slices.SortedFunc(maps.Keys(pending), func(a, b string) int { return cmp.Compare(pending[a], pending[b]) })
	cs, _, err := s.store.ActiveCampaigns(ctx)
	if err != nil {
		requeue(all)
		return 0, err
	}
	// The campaigns that put unusual addresses first, and whom each
	// holds (nil: whoever its cohort's rules match).
	type target struct {
		c            *cordon.Campaign
		users, early map[string]bool
	}
	var targets []target
	for _, c := range cs {
		if c.State != cordon.StateActive || c.Ramp == nil || c.Ramp.Priority == nil || !c.Ramp.Priority.UnusualAddresses {
			continue
		}
		if !c.Ramp.Start.Add(c.Ramp.Duration).After(now) && !c.Ramp.Auto() {
			continue // a fixed ramp that has ended admits everyone already
		}
		var users map[string]bool
		if c.UserIDs != nil || len(c.Cohort.Users) > 0 || c.Cohort.UsersFromReport != "" {
			users = make(map[string]bool, len(c.UserIDs))
			for _, u := range c.UserIDs {
				users[u] = true
			}
		}
		early := make(map[string]bool, len(c.Early))
		for _, e := range c.Early {
			early[e.Account] = true
		}
		targets = append(targets, target{c, users, early})
	}
	// Only a sighting some campaign would admit spends the budget: not an
	// account outside every cohort, nor one each campaign admitted early
	// already (a phone re-sighted at every refresh on its carrier). The
	// rest are dropped, as there is nothing to bring forward.
	var candidates []string
	for _, a := range all {
		for _, t := range targets {
			if (t.users == nil || t.users[a]) && !t.early[a] {
				candidates = append(candidates, a)
				break
			}
		}
	}
	n := q.allow(now, len(candidates))
	admit := candidates[:n]
	requeue(candidates[n:])
	at := now.Add(pace.Lead).UTC().Truncate(time.Microsecond)
	added := 0
	for _, t := range targets {
		var adds []cordon.EarlyAdmission
		for _, a := range admit {
			if t.users != nil && !t.users[a] || t.early[a] {
				continue // not in the cohort, or in early already: an admission would change nothing
			}
			adds = append(adds, cordon.EarlyAdmission{Account: a, At: at, Why: cordon.AdmitUnusualAddress})
		}
		if len(adds) == 0 {
			continue
		}
		k, _, err := s.store.AdmitEarly(ctx, t.c.ID, adds)
		if cordon.ErrorCode(err) == cordon.ECodeConflict {
			continue // paused, ended or changed meanwhile
		}
		if err != nil {
			requeue(admit)
			return added, err
		}
		added += k
		if k > 0 {
			s.log.Info("admitted early: seen from somewhere new", "campaign", t.c.ID, "accounts", k)
		}
	}
	if added > 0 {
		return added, s.Reload(ctx)
	}
	return 0, nil
}

// UnusualDropped is how many sightings the queue dropped when full.
func (s *Service) UnusualDropped() int64 {
	s.unusual.mu.Lock()
	defer s.unusual.mu.Unlock()
	return s.unusual.dropped
}

// RunUnusual flushes the queue every interval until ctx ends.
func (s *Service) RunUnusual(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.FlushUnusual(ctx, s.clock.Now()); err != nil && ctx.Err() == nil {
				s.log.Warn("early admissions", "err", err)
			}
		}
	}
}

// Admission is when and why a campaign admits one user: what `cordon
// campaign admission` and GET …/admission?user= answer.
type Admission struct {
	Campaign string `json:"campaign"`
	Account  string `json:"account"`
	// InCohort is false when the campaign names its users and this is not
	// one of them (then the admission touches none of its sessions).
	InCohort bool `json:"in_cohort"`
	// At is when the user is admitted; Admitted whether that is past.
	At       time.Time `json:"admitted_at"`
	Admitted bool      `json:"admitted"`
	// Why is priority (named by the ramp's priority: users or a report
	// whose data was read), unusual_address (seen from somewhere new, at a
	// login or a refresh, during the ramp), ramp (the user's place in the
	// ramp's order, at its pace) or activation.
	Why string `json:"why"`
}

// AdmissionOf says when and why campaign c admits the user ref (an
// account id or username), as the engine decides it at every
// enforcement point. A draft is judged as if activated now.
func (s *Service) AdmissionOf(ctx context.Context, c *cordon.Campaign, ref string) (*Admission, error) {
	ids, err := s.resolveUsers(ctx, []string{ref})
	if err != nil {
		if cordon.ErrorCode(err) == cordon.ECodeUnprocessable {
			return nil, cordon.FieldError(cordon.ECodeNotFound, "user", "no account %q", ref)
		}
		return nil, err
	}
	acct := ids[0]
	now := s.clock.Now()
	at, why, ok := s.progress.Load().AdmissionWhy(c.ID, acct)
	if !ok {
		cc := *c
		cc.State = cordon.StateActive
		if cc.Activated.IsZero() {
			cc.Activated = now
		}
		pol, err := decision.Compile([]*cordon.Campaign{&cc}, 0, now)
		if err != nil {
			return nil, err
		}
		at, why, _ = pol.AdmissionWhy(c.ID, acct)
	}
	in := true
	if c.UserIDs != nil || len(c.Cohort.Users) > 0 || c.Cohort.UsersFromReport != "" {
		in = slices.Contains(c.UserIDs, acct)
	}
	return &Admission{Campaign: c.ID, Account: acct, InCohort: in, At: at.UTC(), Admitted: !now.Before(at), Why: why}, nil
}

// PriorityCounts is how many accounts a ramp admits early, by why.
type PriorityCounts struct {
	// Named are the ramp's priority users (users and users_from_report),
	// admitted from its first instant.
	Named int `json:"named"`
	// UnusualAddress are the accounts seen from somewhere new (a login or a
	// refresh).
	UnusualAddress int `json:"unusual_address"`
}

// Priorities counts c's early admissions; nil when its ramp has no
// priority.
func Priorities(c *cordon.Campaign) *PriorityCounts {
	if c.Ramp == nil || c.Ramp.Priority == nil {
		return nil
	}
	var p PriorityCounts
	for _, e := range c.Early {
		switch e.Why {
		case cordon.AdmitPriority:
			p.Named++
		case cordon.AdmitUnusualAddress:
			p.UnusualAddress++
		}
	}
	return &p
}

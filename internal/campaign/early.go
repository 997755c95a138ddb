package campaign

import (
	"context"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pace"
)

// maxUnusualQueue bounds the accounts waiting for the next flush: a flood
// of logins from new addresses between two flushes drops the rest (and
// counts them) rather than growing memory.
const maxUnusualQueue = 10_000

// unusualQueue holds the accounts seen from somewhere new since the last
// flush, each once.
type unusualQueue struct {
	mu      sync.Mutex
	pending map[string]bool
	dropped int64
}

// SeenUnusual notes that an account logged in from an address and a device
// it was not known to use (throttle.Attempt.Unusual). It only queues: the
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
		q.pending = map[string]bool{}
	}
	if len(q.pending) >= maxUnusualQueue && !q.pending[accountID] {
		q.dropped++
		return
	}
	q.pending[accountID] = true
}

// FlushUnusual admits the queued accounts early in every active campaign
// whose ramp puts unusual addresses first, at now + pace.Lead: a gate that
// holds a policy up to a lead old still decides as the server does, and
// the store keeps an account's first early admission (cordon.MergeEarly),
// so an admission never moves. It returns how many admissions it added;
// accounts it could not store stay queued for the next flush.
func (s *Service) FlushUnusual(ctx context.Context, now time.Time) (int, error) {
	q := &s.unusual
	q.mu.Lock()
	pending := q.pending
	q.pending = nil
	q.mu.Unlock()
	if len(pending) == 0 {
		return 0, nil
	}
	requeue := func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.pending == nil {
			q.pending = map[string]bool{}
		}
		for a := range pending {
			if len(q.pending) < maxUnusualQueue {
				q.pending[a] = true
			}
		}
	}
	cs, _, err := s.store.ActiveCampaigns(ctx)
	if err != nil {
		requeue()
		return 0, err
	}
	at := now.Add(pace.Lead).UTC().Truncate(time.Microsecond)
	added := 0
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
		var adds []cordon.EarlyAdmission
		for a := range pending {
			if users != nil && !users[a] {
				continue // not in the cohort: an admission would change nothing
			}
			adds = append(adds, cordon.EarlyAdmission{Account: a, At: at, Why: cordon.AdmitUnusualAddress})
		}
		if len(adds) == 0 {
			continue
		}
		n, _, err := s.store.AdmitEarly(ctx, c.ID, adds)
		if cordon.ErrorCode(err) == cordon.ECodeConflict {
			continue // paused, ended or changed meanwhile
		}
		if err != nil {
			requeue()
			return added, err
		}
		added += n
		if n > 0 {
			s.log.Info("admitted early: seen from somewhere new", "campaign", c.ID, "accounts", n)
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

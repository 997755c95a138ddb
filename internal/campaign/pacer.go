package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/pace"
)

// Pacer is one node's control loop for the active auto ramps: each Step
// hands the login tier's signals and each campaign's forecast to
// pace.Step, stores the paces that change (a compare-and-set: when another
// node paced meanwhile, this one keeps the stored pace and tries again at
// the next step) and installs the new policy, which every gate follows.
// It keeps nothing a restart loses: a forecast is rebuilt from the
// cohort's ages and replayed over the stored pace.
//
// Not yet run by `serve`: no node gathers the signals (capacity, logins,
// overloaded answers, the hashing queue) across the tier yet.
type Pacer struct {
	svc      *Service
	interval time.Duration
	// ages gives a cohort's installs' ages since last seen at t.
	ages      func(ctx context.Context, c *cordon.Campaign, t time.Time) ([]time.Duration, error)
	forecasts map[string]*pace.Forecast
}

// NewPacer builds a pacer stepping every interval; ages reads the
// cohort's ages since last seen (LiveAges reads them from the store).
func NewPacer(svc *Service, interval time.Duration, ages func(ctx context.Context, c *cordon.Campaign, t time.Time) ([]time.Duration, error)) *Pacer {
	return &Pacer{svc: svc, interval: interval, ages: ages, forecasts: map[string]*pace.Forecast{}}
}

// forecastHorizon is how far ahead a forecast looks, and in what slots.
const (
	forecastHorizon = 14 * 24 * time.Hour
	forecastSlot    = time.Minute
)

// Step paces every active auto ramp at now; it returns how many paces it
// stored.
func (p *Pacer) Step(ctx context.Context, now time.Time, sig pace.Signals) (int, error) {
	cs, _, err := p.svc.store.ActiveCampaigns(ctx)
	if err != nil {
		return 0, err
	}
	var ramps []pace.Ramp
	byID := map[string]*cordon.Campaign{}
	for _, c := range cs {
		if c.State != cordon.StateActive || !c.Ramp.Auto() {
			continue
		}
		f := p.forecasts[c.ID]
		if f == nil {
			from := c.Ramp.Start
			if c.Activated.After(from) {
				from = c.Activated
			}
			ages, err := p.ages(ctx, c, from)
			if err != nil {
				return 0, fmt.Errorf("campaign %s: cohort ages: %w", c.ID, err)
			}
			if f, err = pace.NewForecast(from, ages, forecastSlot, forecastHorizon); err != nil {
				return 0, err
			}
			p.forecasts[c.ID] = f
		}
		ramps = append(ramps, pace.Ramp{CampaignID: c.ID, Ramp: c.Ramp, Forecast: f})
		byID[c.ID] = c
	}
	stored := 0
	for _, d := range pace.Step(now, p.interval, ramps, sig) {
		c := byID[d.CampaignID]
		if _, err := p.svc.store.SetCampaignPace(ctx, c.ID, c.Ramp.Pace, d.Pace); err != nil {
			if cordon.ErrorCode(err) == cordon.ECodeConflict {
				p.svc.log.Info("campaign paced elsewhere meanwhile", "campaign", c.ID)
				continue
			}
			return stored, err
		}
		stored++
		p.svc.log.Info("campaign paced", "campaign", c.ID, "rate", d.Rate, "why", d.Why)
	}
	if stored > 0 {
		return stored, p.svc.Reload(ctx)
	}
	return 0, nil
}

// LiveAges reads a cohort's ages since last seen at t from the store's
// live sessions, one per session in the cohort; a session not seen in 30
// days counts as dormant. It scans every live session: for stores an
// exact preview scans (below 200,000 live sessions); larger fleets need
// the ages kept by bucket, which the store does not yet do.
func (s *Service) LiveAges(ctx context.Context, c *cordon.Campaign, t time.Time) ([]time.Duration, error) {
	m, err := decision.NewMatcher(c)
	if err != nil {
		return nil, err
	}
	var ages []time.Duration
	err = s.store.LiveSessions(ctx, func(sess *cordon.Session) error {
		if !m.Match(sess, t) {
			return nil
		}
		age := t.Sub(sess.LastSeenAt)
		if sess.LastSeenAt.IsZero() || age > 30*24*time.Hour {
			age = -1
		} else if age < 0 {
			age = 0
		}
		ages = append(ages, age)
		return nil
	})
	return ages, err
}

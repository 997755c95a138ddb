package ssf

import (
	"context"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// admissionEvery is how often admissions are looked for: each look costs
// one hash per named user of every active password_reset or reauth
// campaign (about 20 ms per million), whatever the ramp's share.
const admissionEvery = 5 * time.Second

// admissions sends RISC account-credential-change-required to every user
// a password_reset or reauth campaign admitted since the last look (or,
// at start, within Lookback), once per (campaign, user): the jti is
// derived from both, and a delivered jti is kept for Keep, longer than
// the window any look reads again.
//
// Only cohorts that name their users (users, users_from_report) are
// covered: a cohort of facts is a set of sessions, known only by reading
// every live session, which a periodic look must not do. Their users are
// denied at their next request all the same.
func (t *Transmitter) admissions(ctx context.Context, streams []*cordon.SSFStream) error {
	if t.cfg.Campaigns == nil {
		return nil
	}
	now := t.clock.Now()
	t.mu.Lock()
	if now.Sub(t.admLook) < admissionEvery {
		t.mu.Unlock()
		return nil
	}
	since := t.admCursor.Add(-overlap)
	if len(streams) == 0 {
		t.admLook, t.admCursor = now, now
		t.mu.Unlock()
		return nil
	}
	t.mu.Unlock()
	pol := t.cfg.Campaigns()
	camps, _, err := t.store.ActiveCampaigns(ctx)
	if err != nil || pol == nil {
		return err
	}
	var sigs []signal
	for _, c := range camps {
		if c.State != cordon.StateActive || (c.Kind != cordon.KindPasswordReset && c.Kind != cordon.KindReauth) {
			continue
		}
		for _, uid := range c.UserIDs {
			adm, ok := pol.Admission(c.ID, uid)
			if !ok || adm.After(now) || adm.Before(since) {
				continue
			}
			sigs = append(sigs, admissionSignal(c, uid, adm))
		}
	}
	if len(sigs) > 0 {
		if err := t.enqueueAll(ctx, streams, sigs); err != nil {
			return err
		}
	}
	t.mu.Lock()
	t.admLook, t.admCursor = now, now
	t.mu.Unlock()
	return nil
}

func admissionSignal(c *cordon.Campaign, uid string, adm time.Time) signal {
	return signal{
		key: "change-required/" + c.ID + "/" + uid, typ: EventChangeRequired, txn: c.ID,
		sub:   map[string]any{"format": "iss_sub", "sub": uid},
		event: map[string]any{"event_timestamp": adm.Unix(), "reason_admin": map[string]string{"en": string(c.Kind) + " campaign " + c.ID}},
	}
}

// PolicyFunc adapts a campaign service's current policy.
type PolicyFunc = func() *decision.Policy

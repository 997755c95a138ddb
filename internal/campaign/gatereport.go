package campaign

import (
	"context"
	"errors"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// MaxGateReports bounds the reports one gate batch may carry.
const MaxGateReports = 1000

// The outcomes a gate reports.
const (
	OutcomeDenied   = "denied"
	OutcomePrompted = "prompted"
)

// GateReport is one thing a gate says it enforced: a campaign denied (or,
// for a flexible upgrade, prompted) a session. It is a claim.
type GateReport struct {
	Campaign string `json:"campaign"`
	Session  string `json:"session"`
	Outcome  string `json:"outcome"`
}

// GateRefusal is a report the server did not count, and why.
type GateRefusal struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// GateResult answers a batch of gate reports.
type GateResult struct {
	// Accepted counts the reports the server checked and holds (counted
	// now, or counted before: a report is idempotent).
	Accepted int           `json:"accepted"`
	Refused  []GateRefusal `json:"refused"`
}

// ReportFromGate checks each report against the store and the campaign's
// own rules and counts those that hold as blocked or prompted. A gate
// holds a token, not the truth: a report counts only for a campaign that
// is enforcing (active), a session that exists and is live, and an
// outcome the campaign alone would give that session now, judged on the
// session's facts at login as the server holds them (not on anything the
// gate or the app says). The account is the session's, never the gate's.
// Nothing a gate reports can satisfy a campaign.
func (s *Service) ReportFromGate(ctx context.Context, reports []GateReport) (*GateResult, error) {
	if len(reports) > MaxGateReports {
		return nil, cordon.Errorf(cordon.ECodeTooLarge, "a batch carries at most %d reports (got %d)", MaxGateReports, len(reports))
	}
	now := s.clock.Now()
	res := &GateResult{Refused: []GateRefusal{}}
	refuse := func(i int, code, msg string) {
		res.Refused = append(res.Refused, GateRefusal{Index: i, Code: code, Message: msg})
	}
	// One compiled policy per campaign named in the batch (nil: not one
	// that enforces).
	policies := map[string]*decision.Policy{}
	policyOf := func(id string) (*decision.Policy, error) {
		if p, ok := policies[id]; ok {
			return p, nil
		}
		c, err := s.store.Campaign(ctx, id)
		if errors.Is(err, cordon.ErrNotFound) {
			policies[id] = nil
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var p *decision.Policy
		if c.State == cordon.StateActive {
			cs := []*cordon.Campaign{c}
			if c.After != nil {
				// The prerequisite is judged, never enforced here: a paused
				// one is judged as an active one, and an ended one keeps
				// its state (completed releases, cancelled holds).
				pre, err := s.store.Campaign(ctx, c.After.Campaign)
				if err != nil && !errors.Is(err, cordon.ErrNotFound) {
					return nil, err
				}
				if err == nil {
					if pre.State == cordon.StateActive {
						pp := *pre
						pp.State = cordon.StatePaused
						pre = &pp
					}
					cs = append(cs, pre)
				}
			}
			if p, err = decision.Compile(cs, 0, now); err != nil {
				p = nil
			}
		}
		policies[id] = p
		return p, nil
	}
	for i, r := range reports {
		if r.Outcome != OutcomeDenied && r.Outcome != OutcomePrompted {
			refuse(i, "invalid_outcome", `outcome must be "denied" or "prompted"`)
			continue
		}
		if r.Campaign == "" || len(r.Campaign) > 64 || r.Session == "" || len(r.Session) > 64 {
			refuse(i, "invalid_report", "campaign and session are ids of at most 64 bytes")
			continue
		}
		p, err := policyOf(r.Campaign)
		if err != nil {
			return nil, err
		}
		if p == nil {
			refuse(i, "unknown_campaign", "no active campaign with this id")
			continue
		}
		sess, err := s.store.SessionByID(ctx, r.Session)
		if errors.Is(err, cordon.ErrNotFound) {
			refuse(i, "unknown_session", "no session with this id")
			continue
		}
		if err != nil {
			return nil, err
		}
		if !sess.Live() {
			refuse(i, "session_ended", "the session has ended")
			continue
		}
		d := decision.Decide(&decision.Input{Session: sess, Now: now, Policy: p})
		var holds bool
		switch r.Outcome {
		case OutcomeDenied:
			holds = d.Outcome == decision.Deny && d.Campaign == r.Campaign
		case OutcomePrompted:
			holds = d.Outcome == decision.Allow && d.Campaign == r.Campaign && d.Upgrade != nil
		}
		if !holds {
			refuse(i, "not_enforced", "the campaign does not "+map[bool]string{true: "deny", false: "prompt"}[r.Outcome == OutcomeDenied]+" this session now")
			continue
		}
		if r.Outcome == OutcomeDenied {
			s.Blocked(ctx, d, sess)
		} else {
			s.Prompted(ctx, d, sess)
		}
		res.Accepted++
	}
	return res, nil
}

// Prompted records that a flexible campaign prompted a session, once per
// (campaign, session).
func (s *Service) Prompted(ctx context.Context, d decision.Decision, sess *cordon.Session) {
	if d.Campaign == "" {
		return
	}
	key := d.Campaign + "\x00" + sess.ID
	if _, seen := s.blocked.Load(key); seen {
		return
	}
	if _, err := s.store.RecordPrompted(ctx, d.Campaign, sess.ID, sess.AccountID, s.clock.Now()); err != nil {
		s.log.Warn("record prompted", "campaign", d.Campaign, "err", err)
		return
	}
	if s.nblocked.Load() < maxBlockedMemo {
		if _, loaded := s.blocked.LoadOrStore(key, struct{}{}); !loaded {
			s.nblocked.Add(1)
		}
	}
}

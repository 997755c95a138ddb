// Package alert keeps what detection raises: each attack or anomaly is one
// alert with its evidence, open until a person acknowledges it, every
// change an audit record (so an incident's timeline shows it). An alert
// can be opened as an incident, and when the attack reached accounts the
// incident gets a draft reauth campaign whose cohort is exactly those
// accounts; nothing is ever activated on its own.
//
// Login attempts reach detection through a Watcher: the login path hands
// it an attempt (an HMAC of the password, never the password) and goes on;
// the detector, the store and the webhook each run in goroutines of their
// own, so no login waits on any of them.
package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
)

// Principal is who raises alerts in the audit log.
const Principal = auditlog.ObjectPrefix + "detect"

// Category is the audit category of alert records.
const Category = "alerts"

// Store is what the service keeps alerts in.
type Store interface {
	cordon.AlertStore
	AccountByUsername(ctx context.Context, username string) (*cordon.Account, error)
	AccountByID(ctx context.Context, id string) (*cordon.Account, error)
}

// Config is what a Service is built from.
type Config struct {
	Store     Store
	Audit     *auditlog.Service
	Incidents *incident.Service
	Campaigns *campaign.Service
	Clock     clock.Clock
	Log       *slog.Logger
	// Webhook, when set, is told of every new alert.
	Webhook *Webhook
}

// Service keeps alerts. It is safe for concurrent use.
type Service struct {
	store     Store
	audit     *auditlog.Service
	incidents *incident.Service
	campaigns *campaign.Service
	clock     clock.Clock
	log       *slog.Logger
	webhook   *Webhook
}

// New returns a service. Store and Audit are required: an alert whose
// changes cannot be recorded is not kept.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Audit == nil {
		return nil, errors.New("alert: a store and the audit log are required")
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: c.Store, audit: c.Audit, incidents: c.Incidents, campaigns: c.Campaigns, clock: c.Clock, log: c.Log, webhook: c.Webhook}, nil
}

// record returns ctx carrying the audit entry of a change to alert id.
func (s *Service) record(ctx context.Context, by incident.Actor, id, what string) (context.Context, error) {
	if by.TokenID != "" {
		what += " (admin token " + by.TokenID + ")"
	}
	now := s.clock.Now()
	e, err := s.audit.Entry(audit.Event{Time: now, Principal: by.Principal, Action: audit.ActionWrite, Subject: incident.AlertSubject(id),
		Categories: []string{Category}, Purpose: cut(what, audit.MaxPurpose), Source: by.Source}, now, -1)
	if err != nil {
		return nil, err
	}
	return cordon.WithAudit(ctx, e), nil
}

// Raise stores an alert detection saw: a new one, or, while an alert of
// its kind and key is open, that one with the new evidence. It says which.
// A new alert goes to the webhook.
func (s *Service) Raise(ctx context.Context, a *cordon.Alert) (bool, error) {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	a.CreatedAt, a.UpdatedAt, a.State = now, now, cordon.AlertOpen
	// The audit record names the alert it changes: the open one of this
	// attack when there is one, else a new id. A race with an
	// acknowledgement makes the insert collide on the id; once more then.
	for range 3 {
		a.ID = cordon.NewID("al")
		if open, err := s.openAlert(ctx, a.Kind, a.Key); err != nil {
			return false, err
		} else if open != nil {
			a.ID = open.ID
		}
		what := fmt.Sprintf("alert raised: %s", a.Summary)
		rctx, err := s.record(ctx, incident.Actor{Principal: Principal}, a.ID, what)
		if err != nil {
			return false, err
		}
		created, err := s.store.RaiseAlert(rctx, a)
		if errors.Is(err, cordon.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return false, err
		}
		if created {
			s.log.Warn("alert raised", "alert", a.ID, "kind", a.Kind, "summary", a.Summary)
			if s.webhook != nil {
				s.webhook.Send(a)
			}
		}
		return created, nil
	}
	return false, cordon.Errorf(cordon.ECodeConflict, "alert %s %s kept changing while it was raised", a.Kind, a.Key)
}

// openAlert returns the open alert of kind and key, or nil (an index
// lookup: the open alerts' unique index is on kind and key).
func (s *Service) openAlert(ctx context.Context, kind, key string) (*cordon.Alert, error) {
	open, err := s.store.Alerts(ctx, cordon.AlertQuery{State: cordon.AlertOpen, Kind: kind, Key: key, Limit: 1})
	if err != nil || len(open) == 0 {
		return nil, err
	}
	return open[0], nil
}

// Get returns an alert.
func (s *Service) Get(ctx context.Context, id string) (*cordon.Alert, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	a, err := s.store.Alert(ctx, id)
	if cordon.ErrorCode(err) == cordon.ECodeNotFound {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no alert %q; cordon alert list shows them", id)
	}
	return a, err
}

// MaxList bounds a listing.
const MaxList = 1000

// List returns alerts, newest first: state "" for all, open or
// acknowledged; limit 0 means MaxList.
func (s *Service) List(ctx context.Context, state string, limit int) ([]*cordon.Alert, error) {
	q := cordon.AlertQuery{Limit: limit}
	if q.Limit <= 0 || q.Limit > MaxList {
		q.Limit = MaxList
	}
	if state != "" {
		st, err := ParseState(state)
		if err != nil {
			return nil, err
		}
		q.State = st
	}
	return s.store.Alerts(ctx, q)
}

// ParseState checks a state.
func ParseState(s string) (cordon.AlertState, error) {
	for _, v := range cordon.AlertStates {
		if string(v) == s {
			return v, nil
		}
	}
	return "", cordon.FieldError(cordon.ECodeUnprocessable, "state", "state must be open or acknowledged, not %q", short(s))
}

// Ack acknowledges an open alert. Of two admins acknowledging at once one
// wins; the other is told it is acknowledged already.
func (s *Service) Ack(ctx context.Context, by incident.Actor, id string) (*cordon.Alert, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.State == cordon.AlertAcknowledged {
		return nil, cordon.Errorf(cordon.ECodeConflict, "alert %s was acknowledged already, by %s at %s", id, a.AcknowledgedBy, a.AcknowledgedAt.Format(time.RFC3339))
	}
	rctx, err := s.record(ctx, by, id, "alert acknowledged")
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	a.State, a.AcknowledgedAt, a.AcknowledgedBy, a.UpdatedAt = cordon.AlertAcknowledged, &now, by.Principal, now
	if err := s.store.UpdateAlert(rctx, a); err != nil {
		if cordon.IsStale(err) {
			return nil, cordon.Errorf(cordon.ECodeConflict, "alert %s changed meanwhile (acknowledged or raised again); read it again and retry", id)
		}
		return nil, err
	}
	return a, nil
}

// Escalation is what opening an alert as an incident made.
type Escalation struct {
	Alert    *cordon.Alert    `json:"alert"`
	Incident *incident.View   `json:"incident"`
	Campaign *cordon.Campaign `json:"campaign,omitempty"`
	// Unknown are reached accounts that are no accounts any more (deleted
	// since), left out of the campaign's cohort.
	Unknown []string `json:"unknown_accounts,omitempty"`
}

// Escalate opens an alert as an incident of severity, links the alert to
// it, and when the attack reached accounts creates a draft reauth
// campaign whose cohort is exactly those accounts, linked to the alert and
// the incident. The campaign stays a draft: a person activates it.
// mayDraft says whether the caller may create campaigns: without it an
// alert that reached accounts is refused, judged on the alert read here
// (the watcher may add reached accounts until the escalation).
func (s *Service) Escalate(ctx context.Context, by incident.Actor, id, severity string, mayDraft bool) (*Escalation, error) {
	if s.incidents == nil {
		return nil, cordon.Errorf(cordon.ECodeUnprocessable, "this server keeps no incidents")
	}
	a, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Incident != "" {
		return nil, cordon.Errorf(cordon.ECodeConflict, "alert %s is incident %s already; cordon incident show %s", id, a.Incident, a.Incident)
	}
	if len(a.Evidence.Reached) > 0 && !mayDraft {
		return nil, cordon.Errorf(cordon.ECodeForbidden, "alert %s reached %d accounts: opening it drafts a campaign for them, which needs the scope %q too", a.ID, len(a.Evidence.Reached), cordon.ScopeCampaigns)
	}
	if severity == "" {
		severity = string(cordon.SeverityHigh)
	}
	if _, err := incident.ParseSeverity(severity); err != nil {
		return nil, err
	}
	ids, unknown, err := s.accounts(ctx, a.Evidence.Reached)
	if err != nil {
		return nil, err
	}
	inc, err := s.incidents.Open(ctx, by, incident.Open{Title: cut("alert "+a.ID+": "+a.Summary, incident.MaxTitle), Severity: severity, AwareAt: a.CreatedAt})
	if err != nil {
		return nil, err
	}
	out := &Escalation{Incident: inc, Unknown: unknown}
	if _, err := s.incidents.Link(ctx, by, inc.ID, cordon.LinkAlert, a.ID); err != nil {
		return nil, err
	}
	if len(ids) > 0 && s.campaigns != nil {
		doc, _ := json.Marshal(map[string]any{"kind": "reauth", "name": cut("re-login after alert "+a.ID+" ("+a.Kind+")", 200),
			"cohort": map[string]any{"users": ids}})
		cid := cordon.NewID("c")
		cctx, err := s.campaignRecord(ctx, by, cid, fmt.Sprintf("campaign draft created for alert %s: the %d accounts it reached", a.ID, len(ids)))
		if err != nil {
			return nil, err
		}
		c, err := s.campaigns.CreateWithID(cctx, cid, doc, "json", by.Principal)
		if err != nil {
			return nil, err
		}
		out.Campaign = c
		if _, err := s.incidents.Link(ctx, by, inc.ID, cordon.LinkCampaign, c.ID); err != nil {
			return nil, err
		}
	}
	what := "alert opened as incident " + inc.ID
	if out.Campaign != nil {
		what += "; draft campaign " + out.Campaign.ID + " proposed for the accounts it reached"
	}
	for range 3 {
		rctx, err := s.record(ctx, by, a.ID, what)
		if err != nil {
			return nil, err
		}
		a.Incident, a.UpdatedAt = inc.ID, s.clock.Now().UTC().Truncate(time.Microsecond)
		if out.Campaign != nil {
			a.Campaign = out.Campaign.ID
		}
		err = s.store.UpdateAlert(rctx, a)
		if cordon.IsStale(err) {
			// Raised again meanwhile: keep its new evidence, add the links.
			if a, err = s.store.Alert(ctx, id); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Alert = a
		return out, nil
	}
	return nil, cordon.Errorf(cordon.ECodeConflict, "alert %s kept changing; incident %s was opened: link it with cordon incident link %s alert %s", id, inc.ID, inc.ID, id)
}

func (s *Service) campaignRecord(ctx context.Context, by incident.Actor, id, what string) (context.Context, error) {
	if by.TokenID != "" {
		what += " (admin token " + by.TokenID + ")"
	}
	now := s.clock.Now()
	e, err := s.audit.Entry(audit.Event{Time: now, Principal: by.Principal, Action: audit.ActionWrite, Subject: auditlog.ObjectPrefix + "campaign/" + id,
		Categories: []string{"campaigns"}, Purpose: cut(what, audit.MaxPurpose), Source: by.Source}, now, -1)
	if err != nil {
		return nil, err
	}
	return cordon.WithAudit(ctx, e), nil
}

// accounts resolves the reached accounts (username keys or account ids)
// to account ids, sorted; those no longer accounts come back apart.
func (s *Service) accounts(ctx context.Context, reached []string) (ids, unknown []string, err error) {
	seen := map[string]bool{}
	for _, r := range reached {
		acct, err := s.store.AccountByID(ctx, r)
		if cordon.ErrorCode(err) == cordon.ECodeNotFound {
			acct, err = s.store.AccountByUsername(ctx, r)
		}
		if cordon.ErrorCode(err) == cordon.ECodeNotFound {
			unknown = append(unknown, r)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if !seen[acct.ID] {
			seen[acct.ID] = true
			ids = append(ids, acct.ID)
		}
	}
	slices.Sort(ids)
	return ids, unknown, nil
}

// checkID refuses an id no alert can have.
func checkID(id string) error {
	if id == "" || len(id) > 64 {
		return cordon.FieldError(cordon.ECodeUnprocessable, "id", "give an alert id (al-…, at most 64 characters)")
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return cordon.FieldError(cordon.ECodeUnprocessable, "id", "an alert id is letters, digits and dashes, not %q", short(id))
		}
	}
	return nil
}

func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && s[max]&0xc0 == 0x80 {
		max--
	}
	return s[:max]
}

func short(s string) string {
	if len(s) > 64 {
		return cut(s, 64) + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

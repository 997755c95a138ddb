// Package incident runs the incident record: a breach being handled, its
// severity and state, the time the team became aware of it (the start of
// the 72 hours GDPR Article 33 gives to tell the supervisory authority),
// and the saved audit reports and campaigns that belong to it.
//
// Its history is not kept beside it. Every change (open, note, state
// move, link) is an audit entry written in the transaction of the change,
// and the timeline is read back from the signed log, with the admin
// actions on the linked campaigns and reports: it is as tamper-evident as
// the log. The summary for the regulator is drawn from the linked objects
// and never states a figure the system does not hold.
package incident

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Bounds on what an admin writes.
const (
	// MaxTitle bounds a title, in bytes.
	MaxTitle = 200
	// MaxNote bounds a note, in bytes: a note is kept whole in its audit
	// entry's purpose (at most audit.MaxPurpose bytes with its prefix).
	MaxNote = 400
	// MaxLinks bounds the objects one incident links.
	MaxLinks = 200
	// NotifyWithin is GDPR Article 33(1)'s "not later than 72 hours after
	// having become aware of it".
	NotifyWithin = 72 * time.Hour
	// Category is the audit category of incident records, reserved for
	// cordon's own (auditlog.CordonCategories).
	Category = "incidents"
	// maxSkew is how far in the future an aware time may lie (clocks).
	maxSkew = time.Minute
	// retries bounds the rereads of a note or link that lost a race with
	// another change: they do not depend on the state, so they retry.
	retries = 5
)

// Store is what the service keeps incidents in.
type Store interface {
	cordon.IncidentStore
	SavedAuditReport(ctx context.Context, id string) (*cordon.SavedAuditReport, error)
	Notice(ctx context.Context, id string) (*cordon.Notice, error)
	Alert(ctx context.Context, id string) (*cordon.Alert, error)
}

// Config is what a Service is built from.
type Config struct {
	Store     Store
	Audit     *auditlog.Service
	Campaigns *campaign.Service
	Clock     clock.Clock
	// DPO is the data protection officer's contact, shown in the summary
	// (Article 33(3)(b)); empty when not configured.
	DPO string
}

// Service runs incidents. It is safe for concurrent use.
type Service struct {
	store     Store
	audit     *auditlog.Service
	campaigns *campaign.Service
	clock     clock.Clock
	dpo       string
}

// New returns a service. Store and Audit are required: an incident whose
// changes cannot be recorded is not kept.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Audit == nil {
		return nil, fmt.Errorf("incident: a store and the audit log are required")
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return &Service{store: c.Store, audit: c.Audit, campaigns: c.Campaigns, clock: c.Clock, dpo: c.DPO}, nil
}

// Actor is who makes a change, as the audit log names them.
type Actor struct {
	// Principal is the audit principal, "cordon:admin/NAME".
	Principal string
	// TokenID is the admin token's id, named in the record's purpose.
	TokenID string
	// Source is the client's address.
	Source string
}

// Subject is the audit subject of an incident's records.
func Subject(id string) string { return auditlog.ObjectPrefix + "incident/" + id }

// AlertSubject is the audit subject of an alert's records (package alert
// writes them; a linked alert's records join the timeline).
func AlertSubject(id string) string { return auditlog.ObjectPrefix + "alert/" + id }

// record returns ctx carrying the audit entry of a change to incident id:
// the store appends it in the change's transaction, so a change without
// its record cannot commit.
func (s *Service) record(ctx context.Context, by Actor, id, what string) (context.Context, error) {
	if by.TokenID != "" {
		what += " (admin token " + by.TokenID + ")"
	}
	now := s.clock.Now()
	e, err := s.audit.Entry(audit.Event{Time: now, Principal: by.Principal, Action: audit.ActionWrite, Subject: Subject(id),
		Categories: []string{Category}, Purpose: cut(what, audit.MaxPurpose), Source: by.Source}, now, -1)
	if err != nil {
		return nil, err
	}
	return cordon.WithAudit(ctx, e), nil
}

// cut shortens s to at most max bytes on a rune boundary.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// checkText refuses free text that is empty, too long, or not printable
// (a control character in a timeline could forge a line).
func checkText(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return cordon.FieldError(cordon.ECodeUnprocessable, field, "%s is required", field)
	}
	if len(s) > max {
		return cordon.FieldError(cordon.ECodeUnprocessable, field, "%s is %d bytes; at most %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return cordon.FieldError(cordon.ECodeUnprocessable, field, "%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return cordon.FieldError(cordon.ECodeUnprocessable, field, "%s holds a character that is not printable (one line of text, no control characters)", field)
		}
	}
	return nil
}

// ParseSeverity checks a severity.
func ParseSeverity(s string) (cordon.IncidentSeverity, error) {
	for _, v := range cordon.Severities {
		if string(v) == s {
			return v, nil
		}
	}
	return "", cordon.FieldError(cordon.ECodeUnprocessable, "severity", "severity must be one of low, medium, high, critical, not %q", short(s))
}

// ParseState checks a state.
func ParseState(s string) (cordon.IncidentState, error) {
	for _, v := range cordon.IncidentStates {
		if string(v) == s {
			return v, nil
		}
	}
	return "", cordon.FieldError(cordon.ECodeUnprocessable, "state", "state must be one of investigating, contained, resolved, not %q", short(s))
}

// ParseLinkKind checks a link kind.
func ParseLinkKind(s string) (cordon.LinkKind, error) {
	for _, v := range cordon.LinkKinds {
		if string(v) == s {
			return v, nil
		}
	}
	return "", cordon.FieldError(cordon.ECodeUnprocessable, "kind", "kind must be one of report, campaign, notice, alert, not %q", short(s))
}

func short(s string) string {
	if len(s) > 64 {
		return cut(s, 64) + "…"
	}
	return s
}

// CheckMove says whether an incident may move from one state to another.
// An incident moves forward (investigating → contained → resolved, or
// straight to resolved) and back from contained to investigating when the
// breach turns out wider. Resolved is final unless reopen is asked for
// explicitly, and then only to investigating: a reopened incident is
// investigated again, and its timeline says who reopened it.
func CheckMove(from, to cordon.IncidentState, reopen bool) error {
	if from == to {
		return cordon.FieldError(cordon.ECodeUnprocessable, "state", "the incident is %s already", from)
	}
	if reopen && from != cordon.IncidentResolved {
		return cordon.FieldError(cordon.ECodeUnprocessable, "reopen", "only a resolved incident can be reopened; this one is %s", from)
	}
	switch from {
	case cordon.IncidentInvestigating:
		return nil // to contained or resolved
	case cordon.IncidentContained:
		return nil // back to investigating, or resolved
	case cordon.IncidentResolved:
		if reopen && to == cordon.IncidentInvestigating {
			return nil
		}
		if reopen {
			return cordon.FieldError(cordon.ECodeUnprocessable, "state", "a resolved incident reopens to investigating, not %s", to)
		}
		return cordon.FieldError(cordon.ECodeUnprocessable, "state", "the incident is resolved; to move it to %s, reopen it explicitly (reopen: true / --reopen)", to)
	}
	return cordon.FieldError(cordon.ECodeUnprocessable, "state", "unknown state %q", from)
}

// View is an incident as shown: the record and its 72-hour clock.
type View struct {
	*cordon.Incident
	// NotifyBy is AwareAt + 72 hours: when Article 33 expects the
	// supervisory authority to have been told.
	NotifyBy time.Time `json:"notify_by"`
	// NotifyLeft is the time left until NotifyBy, negative when overdue.
	NotifyLeft string `json:"notify_left"`
	Overdue    bool   `json:"notify_overdue"`
}

func (s *Service) view(inc *cordon.Incident) *View {
	by := inc.AwareAt.Add(NotifyWithin)
	left := by.Sub(s.clock.Now()).Truncate(time.Minute)
	return &View{Incident: inc, NotifyBy: by, NotifyLeft: cordon.FormatDuration(left), Overdue: left < 0}
}

// Clock says the 72-hour clock in words: "41h12m left" or "overdue by 3h".
func (v *View) Clock() string {
	if v.Overdue {
		return "overdue by " + strings.TrimPrefix(v.NotifyLeft, "-")
	}
	return v.NotifyLeft + " left"
}

// Open is what an incident is opened with.
type Open struct {
	Title    string
	Severity string
	// AwareAt is when the team became aware; zero means now.
	AwareAt time.Time
}

// Open records a new incident, investigating.
func (s *Service) Open(ctx context.Context, by Actor, o Open) (*View, error) {
	if err := checkText("title", o.Title, MaxTitle); err != nil {
		return nil, err
	}
	sev, err := ParseSeverity(o.Severity)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	aware := o.AwareAt.UTC().Truncate(time.Microsecond)
	if o.AwareAt.IsZero() {
		aware = now
	}
	if aware.After(now.Add(maxSkew)) {
		return nil, cordon.FieldError(cordon.ECodeUnprocessable, "aware_at", "aware_at %s is in the future; it is when the team became aware of the breach", aware.Format(time.RFC3339))
	}
	if aware.Before(now.AddDate(-10, 0, 0)) {
		return nil, cordon.FieldError(cordon.ECodeUnprocessable, "aware_at", "aware_at %s is more than ten years ago", aware.Format(time.RFC3339))
	}
	inc := &cordon.Incident{ID: cordon.NewID("i"), Title: o.Title, Severity: sev, State: cordon.IncidentInvestigating,
		AwareAt: aware, CreatedAt: now, CreatedBy: by.Principal, UpdatedAt: now, Links: []cordon.IncidentLink{}}
	ctx, err = s.record(ctx, by, inc.ID, fmt.Sprintf("incident opened: severity %s; aware at %s; title: %s", sev, aware.Format(time.RFC3339), o.Title))
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateIncident(ctx, inc); err != nil {
		return nil, err
	}
	return s.view(inc), nil
}

// Get returns an incident.
func (s *Service) Get(ctx context.Context, id string) (*View, error) {
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		if cordon.ErrorCode(err) == cordon.ECodeNotFound {
			return nil, cordon.Errorf(cordon.ECodeNotFound, "no incident %q", short(id))
		}
		return nil, err
	}
	return s.view(inc), nil
}

// List returns every incident, newest first.
func (s *Service) List(ctx context.Context) ([]*View, error) {
	incs, err := s.store.Incidents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*View, len(incs))
	for i, inc := range incs {
		out[i] = s.view(inc)
	}
	return out, nil
}

// stale is the answer to a change that lost its compare-and-set.
func stale(id string, cur *cordon.Incident) error {
	return cordon.Errorf(cordon.ECodeConflict, "incident %s was changed by someone else meanwhile (it is now %s, version %d); read it again and retry", id, cur.State, cur.Version)
}

// Move changes an incident's state. version, when not 0, is the version
// the caller saw: a change made since is a conflict, not overwritten.
// Of two admins moving one incident at once, exactly one wins; the other
// gets a conflict that names the state it is now in.
func (s *Service) Move(ctx context.Context, by Actor, id string, to cordon.IncidentState, reopen bool, version int64) (*View, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	inc := v.Incident
	if version != 0 && version != inc.Version {
		return nil, stale(id, inc)
	}
	if err := CheckMove(inc.State, to, reopen); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("state %s -> %s", inc.State, to)
	if reopen {
		what += " (reopened)"
	}
	ctx, err = s.record(ctx, by, id, what)
	if err != nil {
		return nil, err
	}
	next := *inc
	next.State, next.UpdatedAt = to, s.clock.Now().UTC().Truncate(time.Microsecond)
	if err := s.store.UpdateIncident(ctx, &next); err != nil {
		if cordon.IsStale(err) {
			if cur, err := s.store.Incident(ctx, id); err == nil {
				return nil, stale(id, cur)
			}
		}
		return nil, err
	}
	return s.view(&next), nil
}

// retry runs change against the current incident until it does not lose
// a race with another change, a few times at most.
func (s *Service) retry(ctx context.Context, id string, change func(inc *cordon.Incident) error) (*View, error) {
	for i := 0; ; i++ {
		v, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		err = change(v.Incident)
		if !cordon.IsStale(err) || i == retries {
			if err != nil {
				if cordon.IsStale(err) {
					return nil, stale(id, v.Incident)
				}
				return nil, err
			}
			return s.Get(ctx, id)
		}
	}
}

// Note adds a note to the incident's timeline. Notes live only in the
// audit log; the incident's version moves so the note commits with a
// change of the row.
func (s *Service) Note(ctx context.Context, by Actor, id, text string) (*View, error) {
	if err := checkText("text", text, MaxNote); err != nil {
		return nil, err
	}
	return s.retry(ctx, id, func(inc *cordon.Incident) error {
		rctx, err := s.record(ctx, by, id, "note: "+text)
		if err != nil {
			return err
		}
		next := *inc
		next.UpdatedAt = s.clock.Now().UTC().Truncate(time.Microsecond)
		return s.store.UpdateIncident(rctx, &next)
	})
}

// Link links an object that exists to the incident. Alerts are a named
// kind for what issue 15 adds later; until cordon keeps them, linking one
// is refused.
func (s *Service) Link(ctx context.Context, by Actor, id string, kind cordon.LinkKind, object string) (*View, error) {
	if err := s.exists(ctx, kind, object); err != nil {
		return nil, err
	}
	return s.retry(ctx, id, func(inc *cordon.Incident) error {
		for _, l := range inc.Links {
			if l.Kind == kind && l.ID == object {
				return cordon.FieldError(cordon.ECodeConflict, "id", "%s %s is linked to incident %s already", kind, object, id)
			}
		}
		if len(inc.Links) >= MaxLinks {
			return cordon.FieldError(cordon.ECodeUnprocessable, "id", "incident %s links %d objects, the most it may", id, MaxLinks)
		}
		rctx, err := s.record(ctx, by, id, fmt.Sprintf("linked %s %s", kind, object))
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC().Truncate(time.Microsecond)
		_, err = s.store.LinkIncident(rctx, id, inc.Version, cordon.IncidentLink{Kind: kind, ID: object, LinkedAt: now, LinkedBy: by.Principal}, now)
		return err
	})
}

// Unlink removes a link.
func (s *Service) Unlink(ctx context.Context, by Actor, id string, kind cordon.LinkKind, object string) (*View, error) {
	if object == "" || len(object) > 64 || !printableID(object) {
		return nil, cordon.FieldError(cordon.ECodeUnprocessable, "id", "give the id of the linked %s (at most 64 letters, digits and dashes)", kind)
	}
	return s.retry(ctx, id, func(inc *cordon.Incident) error {
		rctx, err := s.record(ctx, by, id, fmt.Sprintf("unlinked %s %s", kind, object))
		if err != nil {
			return err
		}
		_, err = s.store.UnlinkIncident(rctx, id, inc.Version, kind, object, s.clock.Now())
		if cordon.ErrorCode(err) == cordon.ECodeNotFound {
			return cordon.FieldError(cordon.ECodeNotFound, "id", "%s %s is not linked to incident %s", kind, short(object), id)
		}
		return err
	})
}

// exists refuses a link to an object cordon does not hold.
func (s *Service) exists(ctx context.Context, kind cordon.LinkKind, object string) error {
	if object == "" || len(object) > 64 || !printableID(object) {
		return cordon.FieldError(cordon.ECodeUnprocessable, "id", "give the id of the %s to link (at most 64 letters, digits and dashes)", kind)
	}
	var err error
	switch kind {
	case cordon.LinkReport:
		_, err = s.store.SavedAuditReport(ctx, object)
	case cordon.LinkCampaign:
		if s.campaigns == nil {
			return cordon.FieldError(cordon.ECodeUnprocessable, "kind", "this server runs no campaigns")
		}
		_, err = s.campaigns.Get(ctx, object)
	case cordon.LinkNotice:
		_, err = s.store.Notice(ctx, object)
	case cordon.LinkAlert:
		_, err = s.store.Alert(ctx, object)
	default:
		return cordon.FieldError(cordon.ECodeUnprocessable, "kind", "unknown kind %q", kind)
	}
	if cordon.ErrorCode(err) == cordon.ECodeNotFound {
		return cordon.FieldError(cordon.ECodeNotFound, "id", "no %s %q", kind, short(object))
	}
	return err
}

func printableID(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

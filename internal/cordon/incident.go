package cordon

import (
	"context"
	"errors"
	"time"
)

// IncidentSeverity is how bad an incident is, as the team judges it.
type IncidentSeverity string

// The severities, least first.
const (
	SeverityLow      IncidentSeverity = "low"
	SeverityMedium   IncidentSeverity = "medium"
	SeverityHigh     IncidentSeverity = "high"
	SeverityCritical IncidentSeverity = "critical"
)

// Severities lists every severity, least first.
var Severities = []IncidentSeverity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// IncidentState is where an incident stands.
type IncidentState string

// The states. An incident opens investigating; the moves allowed between
// states are package incident's rules.
const (
	IncidentInvestigating IncidentState = "investigating"
	IncidentContained     IncidentState = "contained"
	IncidentResolved      IncidentState = "resolved"
)

// IncidentStates lists every state in the order an incident moves.
var IncidentStates = []IncidentState{IncidentInvestigating, IncidentContained, IncidentResolved}

// LinkKind is the kind of object linked to an incident.
type LinkKind string

// The kinds of link. Notices and alerts are named now so links keep one
// shape; until they exist, linking one is refused.
const (
	LinkReport   LinkKind = "report" // a saved audit report (r-…)
	LinkCampaign LinkKind = "campaign"
	LinkNotice   LinkKind = "notice"
	LinkAlert    LinkKind = "alert"
)

// LinkKinds lists every kind of link.
var LinkKinds = []LinkKind{LinkReport, LinkCampaign, LinkNotice, LinkAlert}

// Incident is a breach being handled: what it is, how bad, where it
// stands, when the team became aware of it (the start of GDPR Article 33's
// 72 hours), and the objects that belong to it. Its history is not kept
// here: it is read from the audit log (package incident).
type Incident struct {
	ID        string           `json:"id"`
	Title     string           `json:"title"`
	Severity  IncidentSeverity `json:"severity"`
	State     IncidentState    `json:"state"`
	AwareAt   time.Time        `json:"aware_at"`
	CreatedAt time.Time        `json:"created_at"`
	CreatedBy string           `json:"created_by"`
	UpdatedAt time.Time        `json:"updated_at"`
	// Version counts the incident's changes from 1; a change names the
	// version it was made against, so of two concurrent changes one wins.
	Version int64          `json:"version"`
	Links   []IncidentLink `json:"links"`
}

// IncidentLink is an object that belongs to an incident.
type IncidentLink struct {
	Kind     LinkKind  `json:"kind"`
	ID       string    `json:"id"`
	LinkedAt time.Time `json:"linked_at"`
	LinkedBy string    `json:"linked_by"`
}

// ErrStale is returned by a compare-and-set whose expected version is no
// longer the stored one: someone else changed the row first.
var ErrStale = &Error{Code: ECodeConflict, Message: "changed by someone else meanwhile; read it again and retry"}

// IsStale reports whether err is ErrStale. errors.Is matches any conflict
// (ErrAlreadyExists too); a caller that retries on a lost compare-and-set
// must tell the two apart.
func IsStale(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == ErrStale.Code && e.Message == ErrStale.Message
}

// IncidentStore keeps incidents and their links. Every change bumps the
// incident's version by one, and carries the audit entries of its context
// (WithAudit) in its transaction.
type IncidentStore interface {
	// CreateIncident stores a new incident with no links at version 1
	// (inc.Version is set); ErrAlreadyExists for a taken id.
	CreateIncident(ctx context.Context, inc *Incident) error
	// Incident returns an incident with its links, oldest link first;
	// ErrNotFound when there is none.
	Incident(ctx context.Context, id string) (*Incident, error)
	// Incidents returns every incident with its links, newest created
	// first.
	Incidents(ctx context.Context) ([]*Incident, error)
	// UpdateIncident stores inc's title, severity, state and updated time
	// if the stored version is still inc.Version, and sets inc.Version to
	// the next. ErrNotFound when there is no such incident; ErrStale when
	// its version moved: of concurrent updates against one version
	// exactly one succeeds.
	UpdateIncident(ctx context.Context, inc *Incident) error
	// LinkIncident adds l to the incident if its version is still version,
	// and returns the new version. ErrNotFound when there is no such
	// incident, ErrStale when its version moved, ErrAlreadyExists when
	// the object is linked already. The store does not check that the
	// object exists: the caller does.
	LinkIncident(ctx context.Context, id string, version int64, l IncidentLink, at time.Time) (int64, error)
	// UnlinkIncident removes the link of kind and object id if the
	// incident's version is still version, and returns the new version.
	// ErrNotFound when the incident or the link is missing; ErrStale when
	// its version moved.
	UnlinkIncident(ctx context.Context, id string, version int64, kind LinkKind, object string, at time.Time) (int64, error)
}

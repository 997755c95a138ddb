package cordon

import (
	"context"
	"time"
)

// AlertState is where an alert stands: it opens, and a person
// acknowledges it.
type AlertState string

// The states.
const (
	AlertOpen         AlertState = "open"
	AlertAcknowledged AlertState = "acknowledged"
)

// AlertStates lists every state in the order an alert moves.
var AlertStates = []AlertState{AlertOpen, AlertAcknowledged}

// Alert is an attack or an anomaly detection saw, with its evidence. One
// attack is one alert: while an alert of a kind and key is open, raising
// it again updates its evidence (and Seen) instead of adding another.
type Alert struct {
	ID string `json:"id"`
	// Kind is what was seen: credential_stuffing, password_spraying,
	// brute_force (login abuse), or an access rule's kind.
	Kind string `json:"kind"`
	// Key is what the attack is about, within its kind: the account of a
	// brute force, a fingerprint of a sprayed password, the principal and
	// rule of an access anomaly. Kind and Key are the dedup key.
	Key      string        `json:"key"`
	Summary  string        `json:"summary"`
	State    AlertState    `json:"state"`
	Evidence AlertEvidence `json:"evidence"`
	// Report is the admin API path of the blast-radius report that shows
	// an access anomaly ("" for login abuse).
	Report string `json:"report,omitempty"`
	// Incident is the incident the alert was opened as; Campaign the draft
	// campaign proposed for the accounts it reached.
	Incident  string    `json:"incident,omitempty"`
	Campaign  string    `json:"campaign,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Seen counts the times the attack was raised while the alert was open.
	Seen           int64      `json:"seen"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	// Version counts the alert's changes from 1 (compare-and-set).
	Version int64 `json:"version"`
}

// AlertEvidence is what an alert rests on. Login abuse fills the counts,
// addresses and accounts; an access anomaly the principal and its reads.
type AlertEvidence struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Attempts  int       `json:"attempts,omitempty"`
	Failures  int       `json:"failures,omitempty"`
	Accounts  int       `json:"accounts,omitempty"`
	Addresses int       `json:"addresses,omitempty"`
	// TopAddresses are the addresses with the most failures, most first.
	TopAddresses []string `json:"top_addresses,omitempty"`
	// Reached are the accounts (ids or username keys) the attack got into.
	Reached      []string `json:"reached,omitempty"`
	ReachedTotal int      `json:"reached_total,omitempty"`
	// Access anomalies.
	Rule       string   `json:"rule,omitempty"`
	Principal  string   `json:"principal,omitempty"`
	Users      int      `json:"users,omitempty"`    // distinct users read in the window
	Baseline   float64  `json:"baseline,omitempty"` // the principal's usual distinct users per window
	Categories []string `json:"categories,omitempty"`
	Subjects   []string `json:"subjects,omitempty"` // users read (at most a few)
	Hour       *int     `json:"hour,omitempty"`     // the UTC hour of an off-hours read
	Entries    []uint64 `json:"entries,omitempty"`  // audit log indexes, at most a few
}

// AlertQuery selects alerts; zero fields select all.
type AlertQuery struct {
	State AlertState
	// Kind and Key, when both set, select one attack's alerts.
	Kind, Key string
	// Limit bounds the answer (newest first); 0 means no bound.
	Limit int
}

// AlertStore keeps alerts. Every change carries the audit entries of its
// context (WithAudit) in its transaction.
type AlertStore interface {
	// RaiseAlert stores a: a new alert at version 1 with Seen 1, or, when
	// an open alert of a.Kind and a.Key exists, that alert with a's
	// evidence, summary and report, Seen one more and its version moved.
	// a is filled with the stored alert; created says which happened.
	RaiseAlert(ctx context.Context, a *Alert) (created bool, err error)
	// Alert returns an alert; ErrNotFound when there is none.
	Alert(ctx context.Context, id string) (*Alert, error)
	// Alerts returns the alerts q selects, newest created first.
	Alerts(ctx context.Context, q AlertQuery) ([]*Alert, error)
	// UpdateAlert stores a's state, acknowledgement, incident, campaign and
	// updated time if the stored version is still a.Version, and moves
	// a.Version to the next. ErrNotFound, or ErrStale when it moved.
	UpdateAlert(ctx context.Context, a *Alert) error
}

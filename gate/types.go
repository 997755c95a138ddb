package gate

import (
	"errors"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// The types of this file are the gate's own, so that code outside this
// module can name everything the API hands it. The decision engine and
// the domain have types of their own inside the module; the gate copies
// their values into these at its boundary.

// Outcome is whether a Decision lets the request through.
type Outcome uint8

// Outcomes of a Decision.
const (
	// Allow lets the request through, possibly with upgrade advice.
	Allow Outcome = iota
	// Deny refuses it; Decision.Reason says why.
	Deny
)

// String is "allow" or "deny".
func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "unknown"
}

// MarshalText makes an Outcome read as its word in JSON.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Decision is what the gate decided about a request: the decision engine's
// answer, as cordon serve would give it for the same session, request and
// policy.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Reason is the wire code of a denial: session_revoked,
	// reauth_required, password_reset_required or upgrade_required; empty
	// when allowed.
	Reason string `json:"reason,omitempty"`
	// Message is fit to show the person holding the token.
	Message string `json:"message,omitempty"`
	// Campaign is the id of the campaign that decided, if one did.
	Campaign string `json:"campaign,omitempty"`
	// Upgrade is set for an upgrade denial (Mode immediate) and for an
	// allowed request whose app should offer an update (Mode flexible).
	Upgrade *Upgrade `json:"upgrade,omitempty"`
}

// Upgrade is the update a campaign asks of an app.
type Upgrade struct {
	// MinVersion is the lowest version (semver) the campaign accepts.
	MinVersion string `json:"min_version"`
	// Mode is "immediate" (the request is refused with 426) or
	// "flexible" (it passes, with a Cordon-Upgrade response header).
	Mode string `json:"mode"`
	// URL is where to get the update: the page of the store the install
	// came from, or the official site.
	URL string `json:"update_url"`
	// Sideloaded is true when the install source is unknown or not an
	// official store: URL is then the official site, never elsewhere.
	Sideloaded bool `json:"sideloaded,omitempty"`
}

// Error is the error Decide returns when a request does not reach the
// decision engine. Code is the wire code (one of the Code constants),
// Message is fit to show the person holding the token, RetryAfter is
// seconds to wait (set for not_ready).
type Error struct {
	Code       string
	Message    string
	RetryAfter int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Codes of the errors Decide returns. Denials by the policy (and a
// revoked session) are Decisions, not errors.
const (
	CodeUnauthorized   = "unauthorized"          // no Authorization header: 401
	CodeInvalidToken   = "invalid_token"         // bad, expired or foreign token: 401
	CodeInvalidClient  = "invalid_client_header" // malformed Cordon-Client: 400
	CodeInvalidRequest = "invalid_request"       // more than one credential: 400
	CodeNotReady       = "not_ready"             // no policy or keys yet: 503
)

// ClientFacts are what a request says about the app that sends it: its
// platform (android, ios, …), version, install source (play, appstore,
// official, …) and device id.
type ClientFacts struct {
	Platform string `json:"platform"`
	Version  string `json:"version,omitempty"`
	Source   string `json:"source"`
	Device   string `json:"device,omitempty"`
}

// publicDecision copies an engine decision into the gate's own type.
func publicDecision(d *decision.Decision) Decision {
	out := Decision{Outcome: Outcome(d.Outcome), Reason: d.Reason, Message: d.Message, Campaign: d.Campaign}
	if u := d.Upgrade; u != nil {
		out.Upgrade = &Upgrade{MinVersion: u.MinVersion, Mode: u.Mode, URL: u.URL, Sideloaded: u.Sideloaded}
	}
	return out
}

// publicError turns an error of the domain into the gate's Error. Any
// other error (a bug) passes as it is.
func publicError(err error) error {
	var e *cordon.Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: e.Message, RetryAfter: e.RetryAfter}
	}
	return err
}

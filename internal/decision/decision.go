// Package decision is cordon's decision engine: a pure function from a
// session's facts, the request's client facts, the time and the compiled
// policy to a decision. It does no I/O and reads no clock (time is an
// argument), so enforcement points (the server, the gate middleware, the
// gate proxy) all decide the same way, in microseconds, and its tests are
// golden tables.
//
// This first cut knows one rule: a session must be live. Campaigns extend
// Policy and Decide.
package decision

import (
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Outcome is what an enforcement point does with a request.
type Outcome uint8

const (
	// Allow lets the request through.
	Allow Outcome = iota
	// Deny refuses it; Decision.Reason says why.
	Deny
)

func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "unknown"
}

// MarshalText makes outcomes read as words in JSON and golden files.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Reasons a request is denied; each is also the wire error code.
const (
	ReasonSessionRevoked = "session_revoked"
)

// Decision is the engine's answer.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Reason is the wire code of a denial ("" when allowed).
	Reason string `json:"reason,omitempty"`
	// Message is for a person.
	Message string `json:"message,omitempty"`
}

// Policy is the compiled, immutable policy an enforcement point holds.
// Version grows with every change so points can tell which one they hold.
type Policy struct {
	Version uint64
}

// Input is everything a decision depends on.
type Input struct {
	Session *cordon.Session
	// Client is what this request's Cordon-Client header says.
	Client cordon.ClientFacts
	Now    time.Time
	Policy *Policy
}

// Decide returns the decision for in. It never allocates on the allow path.
func Decide(in *Input) Decision {
	if in.Session == nil || !in.Session.Live() {
		return Decision{Outcome: Deny, Reason: ReasonSessionRevoked, Message: "this session has ended; please log in again"}
	}
	return Decision{Outcome: Allow}
}

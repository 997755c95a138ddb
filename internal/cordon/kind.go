package cordon

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Kind is a campaign kind: what a campaign asks of its cohort. Its rules
// (KindRules) are all in this file; to add a kind, follow "How to add a
// campaign kind" in ARCHITECTURE.md.
type Kind string

// Campaign kinds.
const (
	KindReauth        Kind = "reauth"
	KindPasswordReset Kind = "password_reset"
	KindUpgrade       Kind = "upgrade"
	KindOfflineRekey  Kind = "offline_rekey"
)

// Kinds lists every campaign kind, in the order documents and errors name
// them.
var Kinds = []Kind{KindReauth, KindPasswordReset, KindUpgrade, KindOfflineRekey}

// Judged is what a campaign's cohort is judged on.
type Judged uint8

const (
	// FactsAtLogin are the platform, version and source recorded when the
	// session authenticated, never rewritten: no later Cordon-Client claim
	// moves a session out of (or into) the cohort. Every campaign that
	// protects something judges these.
	FactsAtLogin Judged = iota + 1
	// VersionReported is the app version the request reports now (from
	// the session's platform), else the one at login; platform and source
	// stay the session's. Only a campaign that protects nothing an
	// attacker wants may judge it: an in-place update then satisfies it.
	VersionReported
)

// Event is something a user does, or something enforcement does, that a
// campaign's progress counts.
type Event uint8

const (
	// EventRequest: a request with an access token, a refresh, or
	// POST /v1/decide.
	EventRequest Event = iota + 1
	// EventLogin: a login whose password was right.
	EventLogin
	// EventPasswordSet: a new password (reset or change).
	EventPasswordSet
	// EventUpgraded: a request from the session's install reporting a
	// version that owes no upgrade.
	EventUpgraded
	// EventOfflineCheckIn: an offline grant presented at check-in.
	EventOfflineCheckIn
	// EventOfflineGrant: a new offline grant.
	EventOfflineGrant
)

// Denial reasons of campaigns; each is also the wire error code.
const (
	ReasonReauthRequired        = "reauth_required"
	ReasonPasswordResetRequired = "password_reset_required"
	ReasonUpgradeRequired       = "upgrade_required"
	ReasonOfflineGrantRevoked   = "offline_grant_revoked"
)

// Denial is how a campaign refuses: the wire code and the HTTP status.
type Denial struct {
	Reason string
	Status int
}

// KindRules are everything a campaign kind means, in one place.
type KindRules struct {
	// Judges is what its cohort is judged on.
	Judges Judged
	// Denial is its refusal. An upgrade in flexible mode does not refuse:
	// the request passes with a Cordon-Upgrade header.
	Denial Denial
	// BlockedAt are the events at which it denies (and its progress counts
	// a blocked session).
	BlockedAt []Event
	// SatisfiedBy is the event that does what it asks (and its progress
	// counts a satisfied user, once, if the campaign blocked the account).
	SatisfiedBy Event
	// Upgrade says whether its document has an upgrade block (required)
	// or must not have one.
	Upgrade bool
	// Message is the message of a campaign that gives none.
	Message string
	// Precedes says whether another campaign may wait for it (after:):
	// what it asks of a session must be judgeable from that session alone
	// (its facts at login and its auth_time), as every gate judges it. An
	// offline_rekey is satisfied by a grant, which no session decision
	// sees, so nothing may wait for one.
	Precedes bool
}

// kindRules are the rules of every kind.
var kindRules = map[Kind]*KindRules{
	// reauth denies a session authenticated before its user's admission;
	// a new login in the cohort, after the admission, satisfies it.
	KindReauth: {
		Judges:      FactsAtLogin,
		Denial:      Denial{ReasonReauthRequired, http.StatusUnauthorized},
		BlockedAt:   []Event{EventRequest},
		Precedes:    true,
		SatisfiedBy: EventLogin,
		Message:     "For your security, please log in again.",
	},
	// password_reset denies the same sessions, and a login of an account
	// in the cohort must set a new password; only a new password (never a
	// login) satisfies it.
	KindPasswordReset: {
		Judges:      FactsAtLogin,
		Denial:      Denial{ReasonPasswordResetRequired, http.StatusUnauthorized},
		BlockedAt:   []Event{EventRequest, EventLogin},
		Precedes:    true,
		SatisfiedBy: EventPasswordSet,
		Message:     "For your security, please set a new password.",
	},
	// upgrade denies (immediate, 426 with the store of the install's
	// source) or prompts (flexible) a session whose reported version is
	// below min_version; a request reporting a version that owes nothing
	// satisfies it.
	KindUpgrade: {
		Judges:      VersionReported,
		Denial:      Denial{ReasonUpgradeRequired, http.StatusUpgradeRequired},
		BlockedAt:   []Event{EventRequest},
		Precedes:    true,
		SatisfiedBy: EventUpgraded,
		Upgrade:     true,
		Message:     "Please update the app to keep using it.",
	},
	// offline_rekey revokes offline grants issued before the admission, at
	// check-in; a new grant satisfies it.
	KindOfflineRekey: {
		Judges:      FactsAtLogin,
		Denial:      Denial{ReasonOfflineGrantRevoked, http.StatusForbidden},
		BlockedAt:   []Event{EventOfflineCheckIn},
		SatisfiedBy: EventOfflineGrant,
		Message:     "Please download your offline content again.",
	},
}

// Rules returns the kind's rules; false for an unknown kind.
func (k Kind) Rules() (*KindRules, bool) {
	r, ok := kindRules[k]
	return r, ok
}

// MustRules returns the rules of a kind this package defines; it panics on
// any other.
func (k Kind) MustRules() *KindRules {
	r, ok := kindRules[k]
	if !ok {
		panic(fmt.Sprintf("cordon: unknown campaign kind %q", string(k)))
	}
	return r
}

// Valid reports whether k is a campaign kind.
func (k Kind) Valid() bool {
	_, ok := kindRules[k]
	return ok
}

// KindNames are the kinds as strings, joined for messages.
func KindNames() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// DenialOf returns the denial whose wire code is reason, if a campaign
// kind gives it.
func DenialOf(reason string) (Denial, bool) {
	for _, k := range Kinds {
		if d := kindRules[k].Denial; d.Reason == reason {
			return d, true
		}
	}
	return Denial{}, false
}

// SatisfiedBy returns the kinds an event satisfies.
func SatisfiedBy(e Event) []Kind {
	var ks []Kind
	for _, k := range Kinds {
		if kindRules[k].SatisfiedBy == e {
			ks = append(ks, k)
		}
	}
	return ks
}

// Blocks reports whether the kind denies at the event.
func (r *KindRules) Blocks(e Event) bool { return slices.Contains(r.BlockedAt, e) }

// State is a campaign's lifecycle state: draft → active ⇄ paused →
// completed | cancelled.
type State string

// Campaign states.
const (
	StateDraft     State = "draft"
	StateActive    State = "active"
	StatePaused    State = "paused"
	StateCompleted State = "completed"
	StateCancelled State = "cancelled"
)

// Enforcing reports whether a campaign in the state is compiled into the
// policy (only an active one is).
func (s State) Enforcing() bool {
	switch s {
	case StateActive:
		return true
	case StateDraft, StatePaused, StateCompleted, StateCancelled:
		return false
	}
	return false
}

// Ended reports whether the state is final (completed or cancelled).
func (s State) Ended() bool {
	switch s {
	case StateCompleted, StateCancelled:
		return true
	case StateDraft, StateActive, StatePaused:
		return false
	}
	return false
}

// Verb names the action that leads to the state, for messages.
func (s State) Verb() string {
	switch s {
	case StateActive:
		return "activate"
	case StatePaused:
		return "pause"
	case StateCompleted:
		return "complete"
	case StateCancelled:
		return "cancel"
	case StateDraft:
	}
	return "move to " + string(s)
}

// Install sources a campaign may name a store page for, in the order
// cordon.Sources lists them: the official stores and the service's own
// download page. Every other source ("web", "unknown") is side-loaded or
// storeless, and an upgrade sends it to SourceOfficial, never elsewhere.
var OfficialSources = []string{SourcePlay, SourceAmazon, SourceAppStore, SourceMicrosoft, SourceOfficial}

// Official reports whether source is one of OfficialSources.
func Official(source string) bool { return slices.Contains(OfficialSources, source) }

// Package decision is cordon's decision engine: a pure function from a
// session's facts, the request's client facts, the time and the compiled
// policy to a decision. It does no I/O and reads no clock (time is an
// argument), so every enforcement point (the server, the gate middleware,
// the gate proxy) decides the same way, in well under a microsecond, and
// its tests are golden tables.
//
// The semantics, which ARCHITECTURE.md repeats:
//   - A campaign admits each user of its cohort at a stable time:
//     ramp start + duration × h(campaign, user), h uniform in [0, 1);
//     without a ramp, at activation. Once in, always in.
//   - reauth and password_reset deny a session whose auth_time is before
//     its user's admission time; logging in again satisfies them.
//   - upgrade denies (immediate) or prompts (flexible) a session whose app
//     version is below min_version; the version is the one the request
//     reports, else the session's last known.
//   - offline_rekey revokes offline grants issued before the admission.
//   - Several campaigns compose: the strictest decision wins (revoked >
//     password_reset > reauth > immediate upgrade > flexible upgrade >
//     allow); among equals the latest cut-off, or the highest min_version,
//     then the smallest campaign id, so the order of campaigns never matters.
//   - Paused, completed and cancelled campaigns enforce nothing.
package decision

import (
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Outcome is what an enforcement point does with a request.
type Outcome uint8

const (
	// Allow lets the request through (possibly with an upgrade prompt).
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
	ReasonSessionRevoked        = "session_revoked"
	ReasonPasswordResetRequired = "password_reset_required"
	ReasonReauthRequired        = "reauth_required"
	ReasonUpgradeRequired       = "upgrade_required"
	ReasonOfflineGrantRevoked   = "offline_grant_revoked"
)

// Upgrade tells a client which version to reach and where to get it.
type Upgrade struct {
	MinVersion string `json:"min_version"`
	Mode       string `json:"mode"`
	URL        string `json:"update_url"`
	// Sideloaded is true when the install source is unknown or not an
	// official store: the URL is then the official site, never elsewhere.
	Sideloaded bool `json:"sideloaded,omitempty"`
}

// Decision is the engine's answer.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Reason is the wire code of a denial ("" when allowed).
	Reason string `json:"reason,omitempty"`
	// Message is for a person.
	Message string `json:"message,omitempty"`
	// Campaign is the id of the campaign that decided, if one did.
	Campaign string `json:"campaign,omitempty"`
	// Upgrade is set for an upgrade denial (immediate) and for an allowed
	// request that should prompt an upgrade (flexible). It points into the
	// policy and must not be modified.
	Upgrade *Upgrade `json:"upgrade,omitempty"`
}

// Input is everything a decision depends on.
type Input struct {
	Session *cordon.Session
	// Client is what this request's Cordon-Client header says.
	Client cordon.ClientFacts
	Now    time.Time
	Policy *Policy
}

// severity orders decisions; the larger wins.
const (
	sevAllow = iota
	sevFlexible
	sevImmediate
	sevReauth
	sevPasswordReset
)

// Decide returns the decision for in. It does not allocate.
func Decide(in *Input) Decision {
	s := in.Session
	if s == nil || !s.Live() {
		return Decision{Outcome: Deny, Reason: ReasonSessionRevoked, Message: "this session has ended; please log in again"}
	}
	p := in.Policy
	if p == nil || len(p.campaigns) == 0 {
		return Decision{Outcome: Allow}
	}
	f := effectiveFacts(s, in.Client)
	now := in.Now.UnixNano()
	// auth_time travels in access tokens in whole seconds (RFC 7519
	// NumericDate), so a gate knows it only to the second. Judging it to the
	// second everywhere keeps the server and every gate in agreement, and
	// rounding the admission up fails closed: every session authenticated
	// before its admission is denied; a re-login in the very second of the
	// admission is denied too, and the next one passes.
	auth := s.AuthTime.Unix()
	authMicro := s.AuthTime.UnixMicro()
	pl := platformIndex(f.Platform)
	src := sourceIndex(f.Source)
	ver := p.version(f.Version)

	uh := AccountHash(s.AccountID)

	best, bestSev := -1, sevAllow
	var bestKey int64 // cut-off (ns) for reauth kinds; unused for upgrades
	for _, i := range p.byPlatform[pl] {
		c := &p.campaigns[i]
		if kindSeverity[c.kind] < bestSev {
			break // the list is strictest first: nothing after can win
		}
		// Cheap, kind-specific exits before the cohort and the ramp hash.
		switch c.kind {
		case kindOffline:
			continue
		case kindReauth, kindPasswordReset:
			if auth >= ceilSec(c.latest()) {
				continue
			}
		case kindUpgrade:
			if ver.v != nil && !ver.v.LessThan(c.minVersion) {
				continue
			}
		}
		if !c.matches(i, src, ver, authMicro, s.AccountID) {
			continue
		}
		adm := c.admission(uh)
		if now < adm {
			continue
		}
		var sev int
		var key int64
		switch c.kind {
		case kindReauth, kindPasswordReset:
			if auth >= ceilSec(adm) {
				continue
			}
			sev, key = sevReauth, adm
			if c.kind == kindPasswordReset {
				sev = sevPasswordReset
			}
		case kindUpgrade:
			sev = sevFlexible
			if c.immediate {
				sev = sevImmediate
			}
		}
		if sev > bestSev || (sev == bestSev && best >= 0 && c.beats(&p.campaigns[best], key, bestKey)) {
			best, bestSev, bestKey = i, sev, key
		}
	}
	if best < 0 {
		return Decision{Outcome: Allow}
	}
	c := &p.campaigns[best]
	switch bestSev {
	case sevPasswordReset:
		return Decision{Outcome: Deny, Reason: ReasonPasswordResetRequired, Message: c.message, Campaign: c.id}
	case sevReauth:
		return Decision{Outcome: Deny, Reason: ReasonReauthRequired, Message: c.message, Campaign: c.id}
	case sevImmediate:
		return Decision{Outcome: Deny, Reason: ReasonUpgradeRequired, Message: c.message, Campaign: c.id, Upgrade: &c.upgrades[src]}
	default:
		return Decision{Outcome: Allow, Campaign: c.id, Upgrade: &c.upgrades[src]}
	}
}

// OfflineInput is an offline grant presented at check-in.
type OfflineInput struct {
	AccountID string
	// Facts are the client facts the grant was issued to.
	Facts cordon.ClientFacts
	// AuthTime is the auth_time of the grant's session.
	AuthTime time.Time
	Issued   time.Time
	Now      time.Time
	Policy   *Policy
}

// DecideOffline says whether an offline grant still holds: an
// offline_rekey campaign revokes grants issued before its user's admission.
func DecideOffline(in *OfflineInput) Decision {
	p := in.Policy
	if p == nil {
		return Decision{Outcome: Allow}
	}
	pl := platformIndex(in.Facts.Platform)
	src := sourceIndex(in.Facts.Source)
	ver := p.version(in.Facts.Version)
	now, issued := in.Now.UnixNano(), in.Issued.UnixNano()
	best := -1
	var bestKey int64
	for _, i := range p.byPlatform[pl] {
		c := &p.campaigns[i]
		if c.kind != kindOffline || !c.matches(i, src, ver, in.AuthTime.UnixMicro(), in.AccountID) {
			continue
		}
		adm := c.admission(AccountHash(in.AccountID))
		if now < adm || issued >= adm {
			continue
		}
		if best < 0 || c.beats(&p.campaigns[best], adm, bestKey) {
			best, bestKey = i, adm
		}
	}
	if best < 0 {
		return Decision{Outcome: Allow}
	}
	c := &p.campaigns[best]
	return Decision{Outcome: Deny, Reason: ReasonOfflineGrantRevoked, Message: c.message, Campaign: c.id}
}

// effectiveFacts are the session's facts with the version the request
// reports, when the request comes from the same platform and says one.
func effectiveFacts(s *cordon.Session, c cordon.ClientFacts) cordon.ClientFacts {
	f := s.Facts
	if c.Version != "" && c.Platform == f.Platform {
		f.Version = c.Version
	}
	return f
}

// ResetInput is a login whose password was right.
type ResetInput struct {
	AccountID string
	// Client is the login's client facts.
	Client cordon.ClientFacts
	// PasswordChangedAt is when the account's password was last set.
	PasswordChangedAt time.Time
	Now               time.Time
	Policy            *Policy
}

// ResetRequired says whether a login must set a new password before it
// opens a session: a password_reset campaign has admitted the account (its
// cohort matched on the login's client facts, with authenticated_before
// judged against when the password was last set) and the password predates
// the admission. The latest such admission decides.
func ResetRequired(in *ResetInput) Decision {
	p := in.Policy
	if p == nil {
		return Decision{Outcome: Allow}
	}
	src := sourceIndex(in.Client.Source)
	ver := p.version(in.Client.Version)
	uh := AccountHash(in.AccountID)
	now, changed := in.Now.UnixNano(), in.PasswordChangedAt.UnixNano()
	best := -1
	var bestKey int64
	for _, i := range p.byPlatform[platformIndex(in.Client.Platform)] {
		c := &p.campaigns[i]
		if c.kind != kindPasswordReset || !c.matches(i, src, ver, in.PasswordChangedAt.UnixMicro(), in.AccountID) {
			continue
		}
		adm := c.admission(uh)
		if now < adm || changed >= adm {
			continue
		}
		if best < 0 || c.beats(&p.campaigns[best], adm, bestKey) {
			best, bestKey = i, adm
		}
	}
	if best < 0 {
		return Decision{Outcome: Allow}
	}
	c := &p.campaigns[best]
	return Decision{Outcome: Deny, Reason: ReasonPasswordResetRequired, Message: c.message, Campaign: c.id}
}

// ceilSec is a Unix-ns time in whole seconds, rounded up.
func ceilSec(ns int64) int64 {
	if ns > 0 && ns%1e9 != 0 {
		return ns/1e9 + 1
	}
	return ns / 1e9
}

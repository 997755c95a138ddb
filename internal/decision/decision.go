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
//   - A campaign that protects (reauth, password_reset, offline_rekey)
//     judges what the session was when it authenticated: its platform,
//     version and source recorded at login, never rewritten. Nothing a
//     request claims moves a session out of such a cohort.
//   - reauth and password_reset deny a session whose auth_time is before
//     its user's admission time; logging in again satisfies them.
//   - upgrade denies (immediate) or prompts (flexible) a session whose app
//     version is below min_version; the version is the one the request
//     reports (from the session's platform), else the one at login. Only
//     upgrade reads a claimed version: an in-place update satisfies it, and
//     it protects nothing an attacker wants.
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
// A campaign's denial is its kind's (cordon.KindRules.Denial).
const (
	ReasonSessionRevoked        = "session_revoked"
	ReasonPasswordResetRequired = cordon.ReasonPasswordResetRequired
	ReasonReauthRequired        = cordon.ReasonReauthRequired
	ReasonUpgradeRequired       = cordon.ReasonUpgradeRequired
	ReasonOfflineGrantRevoked   = cordon.ReasonOfflineGrantRevoked
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
type severity uint8

const (
	sevAllow severity = iota
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
	now := in.Now.UnixNano()
	// auth_time travels in access tokens in whole seconds (RFC 7519
	// NumericDate), so a gate knows it only to the second. Judging it to the
	// second everywhere keeps the server and every gate in agreement, and
	// rounding the admission up fails closed: every session authenticated
	// before its admission is denied; a re-login in the very second of the
	// admission is denied too, and the next one passes.
	auth := s.AuthTime.Unix()
	authMicro := s.AuthTime.UnixMicro()
	// Platform and source are always the session's. The cohort of a
	// protecting campaign is judged on the version at login (atLogin); only
	// an upgrade reads the version this request reports (now).
	pl := platformIndex(s.Facts.Platform)
	src := sourceIndex(s.Facts.Source)
	atLogin := p.version(s.Facts.Version)
	current := atLogin
	var claimed *verInfo // a version this request reports, if another
	if v := reportedVersion(s, in.Client); v != s.Facts.Version {
		current = p.version(v)
		claimed = current
	}

	uh := AccountHash(s.AccountID)

	best, bestSev := -1, sevAllow
	var bestKey int64 // cut-off (ns) for reauth kinds; unused for upgrades
	for _, i := range p.byPlatform[pl] {
		c := &p.campaigns[i]
		if c.kind.severity() < bestSev {
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
			if current.v != nil && !current.v.LessThan(c.minVersion) {
				continue
			}
		}
		ver := atLogin
		if c.current {
			ver = current
		}
		if !c.matches(i, src, ver, authMicro, s.AccountID) {
			continue
		}
		adm := c.admission(uh)
		if c.after != afterNone {
			var wait bool
			// A claimed version may release a waiting campaign here: a
			// request's campaigns only deny, so releasing one can only add
			// a denial. (DecideDownload, which hands out keys, never lets a
			// claim release.)
			if adm, wait = p.waits(c, uh, adm, pl, src, atLogin, claimed, auth, authMicro, s.AccountID); wait {
				continue
			}
		}
		if now < adm {
			continue
		}
		var sev severity
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
		case kindOffline:
			continue
		default: // a kind the engine does not know denies
			sev, key = sevPasswordReset, adm
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
	case sevFlexible:
		return Decision{Outcome: Allow, Campaign: c.id, Upgrade: &c.upgrades[src]}
	case sevImmediate:
		return Decision{Outcome: Deny, Reason: c.kind.reason(), Message: c.message, Campaign: c.id, Upgrade: &c.upgrades[src]}
	case sevAllow, sevReauth, sevPasswordReset:
	}
	// Every other severity denies with the kind's reason (a new login for
	// a kind the engine does not know).
	return Decision{Outcome: Deny, Reason: c.kind.reason(), Message: c.message, Campaign: c.id}
}

// OfflineInput is an offline grant presented at check-in.
type OfflineInput struct {
	AccountID string
	// Facts are the client facts the grant was issued to.
	Facts cordon.ClientFacts
	// AuthTime is the auth_time of the grant's session.
	AuthTime time.Time
	// Client is what the check-in's Cordon-Client says. A claim: it is
	// read only to release a prerequisite (an install updated in place
	// says so here), which can only bring a revocation forward, never keep
	// a grant.
	Client cordon.ClientFacts
	Issued time.Time
	Now    time.Time
	Policy *Policy
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
	var claimed *verInfo
	if in.Client.Platform == in.Facts.Platform && in.Client.Version != "" && in.Client.Version != in.Facts.Version {
		claimed = p.version(in.Client.Version)
	}
	now, issued := in.Now.UnixNano(), in.Issued.UnixNano()
	uh := AccountHash(in.AccountID)
	authMicro := in.AuthTime.UnixMicro()
	best := -1
	var bestKey int64
	for _, i := range p.byPlatform[pl] {
		c := &p.campaigns[i]
		if c.kind != kindOffline || !c.matches(i, src, ver, authMicro, in.AccountID) {
			continue
		}
		adm := c.admission(uh)
		if c.after != afterNone {
			var wait bool
			if adm, wait = p.waits(c, uh, adm, pl, src, ver, claimed, in.AuthTime.Unix(), authMicro, in.AccountID); wait {
				continue
			}
		}
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

// waits applies campaign c's prerequisite to one session (facts at login:
// platform pl, source src, version ver; auth_time auth in seconds and
// authMicro in µs). It returns the admission the campaign then has (a
// satisfied: false prerequisite moves it to the prerequisite's own, when
// later) and whether the campaign waits for the session.
//
// satisfied: true waits while the session owes the prerequisite, judged
// on what the server trusts: the facts recorded at login, never what a
// request claims, so a stolen token that reports the new version does not
// release what waits for an upgrade. claimed (nil unless an offline
// request or check-in reports another version) may release it too: a
// released campaign only denies a request or revokes a grant sooner.
func (p *Policy) waits(c *compiled, uh uint64, adm int64, pl, src int, ver, claimed *verInfo, auth, authMicro int64, account string) (int64, bool) {
	switch c.after {
	case afterNone, afterRelease:
		return adm, false
	case afterAdmitted:
		return max(adm, p.campaigns[c.pre].admission(uh)), false
	case afterJudge:
		j := int(c.pre)
		pre := &p.campaigns[j]
		if !pre.owes(j, uh, pl, src, ver, auth, authMicro, account) {
			return adm, false
		}
		return adm, claimed == nil || pre.owes(j, uh, pl, src, claimed, auth, authMicro, account)
	case afterHold:
	}
	return adm, true
}

// owes reports whether a session (facts at login) is in the cohort of
// campaign i (c) and has not done what it asks: an upgrade, a version at
// or above min_version; a reauth or password_reset, a login at or after
// its user's admission (so a user the ramp has not reached yet owes it
// too). It does not depend on the campaign being active.
func (c *compiled) owes(i int, uh uint64, pl, src int, ver *verInfo, auth, authMicro int64, account string) bool {
	if c.platforms != 0 && c.platforms&(1<<pl) == 0 {
		return false
	}
	if !c.matches(i, src, ver, authMicro, account) {
		return false
	}
	switch c.kind {
	case kindUpgrade:
		return ver.v == nil || ver.v.LessThan(c.minVersion)
	case kindReauth, kindPasswordReset:
		return auth < ceilSec(c.admission(uh))
	case kindOffline:
	}
	return true // a kind nothing may wait for holds its dependants
}

// reportedVersion is the app version an upgrade campaign judges: the one
// the request reports when it comes from the session's platform and says
// one, else the session's version at login.
func reportedVersion(s *cordon.Session, c cordon.ClientFacts) string {
	if c.Version != "" && c.Platform == s.Facts.Platform {
		return c.Version
	}
	return s.Facts.Version
}

// ReportedVersion is reportedVersion for callers outside the engine
// (progress: an in-place update).
func ReportedVersion(s *cordon.Session, c cordon.ClientFacts) string { return reportedVersion(s, c) }

// ResetInput is a login whose password was right.
type ResetInput struct {
	AccountID string
	// Client is the login's client facts: a claim, which can put the
	// login into a cohort but never take the account out of one.
	Client cordon.ClientFacts
	// Sessions are the account's sessions live at or after ResetSince
	// (ended ones included), with the facts recorded when each
	// authenticated.
	Sessions []*cordon.Session
	// Admitted holds the ids of the campaigns that have already denied the
	// account (recorded by the store): an admission, once made, holds.
	Admitted map[string]bool
	// PasswordChangedAt is when the account's password was last set.
	PasswordChangedAt time.Time
	Now               time.Time
	Policy            *Policy
}

// ResetRequired says whether a login must set a new password before it
// opens a session. A password_reset admission belongs to the account, not
// to a login: the account is in a campaign's cohort when any of its live
// sessions is (judged on the facts recorded at its login), when the
// campaign has already denied it, or when this login's own facts match
// (authenticated_before judged against when the password was last set).
// Once the ramp admits the account, every login must set a new password,
// whatever it claims to be, until a password set after the admission.
// The latest such admission decides.
func ResetRequired(in *ResetInput) Decision {
	p := in.Policy
	if p == nil {
		return Decision{Outcome: Allow}
	}
	uh := AccountHash(in.AccountID)
	now, changed := in.Now.UnixNano(), in.PasswordChangedAt.UnixNano()
	best := -1
	var bestKey int64
	for i := range p.campaigns[:p.n] {
		c := &p.campaigns[i]
		if c.kind != kindPasswordReset {
			continue
		}
		adm := c.admission(uh)
		if now < adm || changed >= adm {
			continue
		}
		if !in.Admitted[c.id] && !c.inCohort(p, i, in.Client, in.PasswordChangedAt, in.AccountID) && !c.anyInCohort(p, i, in.Sessions) {
			continue
		}
		// A verify: email campaign outranks every other that denies: the
		// old password, which the others would take as proof, is what it
		// distrusts (a login's claimed facts could otherwise pick a
		// password campaign and its token).
		if best < 0 || c.byEmail && !p.campaigns[best].byEmail ||
			c.byEmail == p.campaigns[best].byEmail && c.beats(&p.campaigns[best], adm, bestKey) {
			best, bestKey = i, adm
		}
	}
	if best < 0 {
		return Decision{Outcome: Allow}
	}
	c := &p.campaigns[best]
	return Decision{Outcome: Deny, Reason: ReasonPasswordResetRequired, Message: c.message, Campaign: c.id}
}

// inCohort reports whether facts that authenticated at auth put the
// account into the cohort of campaign i (c).
func (c *compiled) inCohort(p *Policy, i int, f cordon.ClientFacts, auth time.Time, account string) bool {
	if c.platforms != 0 && c.platforms&(1<<platformIndex(f.Platform)) == 0 {
		return false
	}
	return c.matches(i, sourceIndex(f.Source), p.version(f.Version), auth.UnixMicro(), account)
}

// anyInCohort reports whether one of the sessions is in the cohort of
// campaign i (c), judged on its facts and auth_time at login. A session
// counts while live and also once ended, if it ended after the campaign
// was activated: ending the session the campaign holds (a logout, a
// revoked or replayed refresh token) must not take the account out of
// the cohort, or a stolen password could end it and log in claiming
// another platform.
func (c *compiled) anyInCohort(p *Policy, i int, sessions []*cordon.Session) bool {
	for _, s := range sessions {
		if (s.Live() || s.RevokedAt.UnixNano() >= c.activated) && c.inCohort(p, i, s.Facts, s.AuthTime, s.AccountID) {
			return true
		}
	}
	return false
}

// Reauthenticated returns the reauth campaigns a new login satisfies: the
// new session is in the campaign's cohort (judged on the facts it
// authenticated with) and authenticated at or after its account's
// admission. A login from outside the cohort satisfies nothing, or any
// login at all would count as the work done.
func (p *Policy) Reauthenticated(s *cordon.Session) []string {
	var ids []string
	uh := AccountHash(s.AccountID)
	for i := range p.campaigns[:p.n] {
		c := &p.campaigns[i]
		if c.kind != kindReauth {
			continue
		}
		if s.AuthTime.Unix() < ceilSec(c.admission(uh)) {
			continue
		}
		// authenticated_before selects sessions from before a time; the
		// new session is after it by construction, so judge the rest only.
		if c.inCohort(p, i, s.Facts, time.Time{}, s.AccountID) {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// ResetSince is the earliest activation of the policy's password_reset
// campaigns (zero without one): ResetInput.Sessions must hold every
// session of the account live at or after it.
func (p *Policy) ResetSince() time.Time {
	var first int64
	for i := range p.campaigns[:p.n] {
		c := &p.campaigns[i]
		if c.kind == kindPasswordReset && (first == 0 || c.activated < first) {
			first = c.activated
		}
	}
	if first == 0 {
		return time.Time{}
	}
	return time.Unix(0, first)
}

// ResetCampaigns returns the ids of the policy's password_reset
// campaigns.
func (p *Policy) ResetCampaigns() []string {
	var ids []string
	for i := range p.campaigns[:p.n] {
		if p.campaigns[i].kind == kindPasswordReset {
			ids = append(ids, p.campaigns[i].id)
		}
	}
	return ids
}

// ResetByEmail reports whether id is a password_reset campaign with
// verify: email: its demand is met only through the link it emails, so
// neither a login's reset token nor a change with the old password may.
func (p *Policy) ResetByEmail(id string) bool {
	for i := range p.campaigns {
		if p.campaigns[i].id == id {
			return p.campaigns[i].kind == kindPasswordReset && p.campaigns[i].byEmail
		}
	}
	return false
}

// ceilSec is a Unix-ns time in whole seconds, rounded up.
func ceilSec(ns int64) int64 {
	if ns > 0 && ns%1e9 != 0 {
		return ns/1e9 + 1
	}
	return ns / 1e9
}

// messageLoginOnUpdatedApp is the message of a download refused to an install
// that reports the version its prerequisite asks for but logged in on an
// older one: the server trusts only what the session was at login.
const messageLoginOnUpdatedApp = "log in again on the updated app to download offline content again"

// DecideDownload says whether a session may download offline content (a
// new offline grant) now. An offline_rekey campaign that admits the
// session's user but waits for a prerequisite the session still owes
// refuses it: a grant issued then would postdate the re-key's admission
// and so survive it, on an install the re-key was waiting to see
// upgraded. The refusal says what to do: the prerequisite's own denial
// (update the app, log in again, set a new password), or a new login when
// the request reports the version asked for but the session logged in on
// an older one (a claim the server cannot check). Otherwise it is Decide.
func DecideDownload(in *Input) Decision {
	d := Decide(in)
	if d.Outcome == Deny {
		return d
	}
	s, p := in.Session, in.Policy
	if p == nil {
		return d
	}
	pl := platformIndex(s.Facts.Platform)
	src := sourceIndex(s.Facts.Source)
	ver := p.version(s.Facts.Version)
	uh := AccountHash(s.AccountID)
	now, auth, authMicro := in.Now.UnixNano(), s.AuthTime.Unix(), s.AuthTime.UnixMicro()
	for _, i := range p.byPlatform[pl] {
		c := &p.campaigns[i]
		if c.kind != kindOffline || c.after != afterJudge || !c.matches(i, src, ver, authMicro, s.AccountID) {
			continue
		}
		if now < c.admission(uh) {
			continue
		}
		j := int(c.pre)
		pre := &p.campaigns[j]
		if !pre.owes(j, uh, pl, src, ver, auth, authMicro, s.AccountID) {
			continue
		}
		switch pre.kind {
		case kindUpgrade:
			if cur := p.version(reportedVersion(s, in.Client)); pre.owes(j, uh, pl, src, cur, auth, authMicro, s.AccountID) {
				return Decision{Outcome: Deny, Reason: ReasonUpgradeRequired, Message: pre.message, Campaign: pre.id, Upgrade: &pre.upgrades[src]}
			}
			return Decision{Outcome: Deny, Reason: ReasonReauthRequired, Message: messageLoginOnUpdatedApp, Campaign: c.id}
		case kindReauth, kindPasswordReset, kindOffline:
		}
		return Decision{Outcome: Deny, Reason: pre.kind.reason(), Message: pre.message, Campaign: pre.id}
	}
	return d
}

// Waiting reports whether the campaign (an enforcing one of the policy)
// waits for its prerequisite for this session at now: progress counts such
// a session as waiting, neither seen nor dormant.
func (p *Policy) Waiting(campaignID string, s *cordon.Session, now time.Time) bool {
	for i := range p.campaigns[:p.n] {
		c := &p.campaigns[i]
		if c.id != campaignID {
			continue
		}
		if c.after == afterNone {
			return false
		}
		uh := AccountHash(s.AccountID)
		own := c.admission(uh)
		adm, wait := p.waits(c, uh, own, platformIndex(s.Facts.Platform), sourceIndex(s.Facts.Source), p.version(s.Facts.Version), nil, s.AuthTime.Unix(), s.AuthTime.UnixMicro(), s.AccountID)
		t := now.UnixNano()
		return wait || (t >= own && t < adm)
	}
	return false
}

package cordon

import (
	"context"
	"strings"
	"time"
)

// How a password_reset campaign verifies its users (Campaign.Verify).
const (
	VerifyPassword = "password"
	VerifyEmail    = "email"
)

// Upgrade modes, after Play In-App Updates.
const (
	UpgradeImmediate = "immediate"
	UpgradeFlexible  = "flexible"
)

// Campaign is a targeted, staged demand on a cohort of sessions: log in
// again, set a new password, upgrade the app, or download offline content
// again. The document fields are as SPEC.md gives them.
type Campaign struct {
	ID      string       `json:"id"`
	Kind    Kind         `json:"kind"`
	Name    string       `json:"name"`
	Cohort  Cohort       `json:"cohort"`
	Ramp    *Ramp        `json:"ramp,omitempty"`
	Upgrade *UpgradeSpec `json:"upgrade,omitempty"`
	Message string       `json:"message,omitempty"`
	// After makes the campaign wait for another (a prerequisite).
	After *After `json:"after,omitempty"`
	// Verify is how a password_reset campaign's users prove themselves:
	// "" or VerifyPassword (the old password at login, then a new one),
	// or VerifyEmail (a single-use link sent to the account's address;
	// the old password proves nothing).
	Verify  string    `json:"verify,omitempty"`
	State   State     `json:"state"`
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
	// Activated is when the campaign was first activated; a campaign with
	// no ramp admits everyone then.
	Activated time.Time `json:"activated_at,omitzero"`
	// Ended is when it was completed or cancelled.
	Ended time.Time `json:"ended_at,omitzero"`
	// UserIDs are the account ids of Cohort.Users (given as ids or
	// usernames), of Cohort.UsersFromReport and of Cohort.Subjects
	// (Subject.AccountID), resolved at creation.
	UserIDs []string `json:"-"`
	// Early are the accounts a ramp admits before their place in its
	// order (Ramp.Priority): its named users, resolved at creation, and
	// those the control plane added since (MergeEarly). Only ever grows.
	Early []EarlyAdmission `json:"-"`
}

// Cohort selects sessions. Every field is optional; absent means any.
type Cohort struct {
	Platforms []string `json:"platforms,omitempty"`
	// Versions is a semantic-version constraint on the app version, e.g.
	// "< 8.5.0".
	Versions            string     `json:"versions,omitempty"`
	Sources             []string   `json:"sources,omitempty"`
	AuthenticatedBefore *time.Time `json:"authenticated_before,omitempty"`
	// Users are account ids or usernames.
	Users           []string `json:"users,omitempty"`
	UsersFromReport string   `json:"users_from_report,omitempty"`
	// Subjects are users of trusted external issuers (the identity
	// provider the company runs), named as their tokens name them.
	Subjects []Subject `json:"subjects,omitempty"`
}

// Subject is a user of a trusted external OpenID issuer: (issuer, sub).
// cordon holds no account for them; their tokens are verified against the
// issuer's keys, and campaigns judge them by AccountID.
type Subject struct {
	Issuer string `json:"issuer"`
	Sub    string `json:"sub"`
}

// AccountID is the subject as one id, "ISSUER#SUB", used wherever an
// account id is (ramps, cohorts, progress, the audit log). An issuer has
// no fragment, so the first '#' splits it back.
func (s Subject) AccountID() string { return s.Issuer + "#" + s.Sub }

// ParseSubjectID reads an AccountID of a Subject back: an http(s) issuer
// URL, '#', a non-empty sub. Any other id (cordon's own accounts) is not
// one.
func ParseSubjectID(id string) (Subject, bool) {
	iss, sub, ok := strings.Cut(id, "#")
	if !ok || sub == "" || !(strings.HasPrefix(iss, "https://") || strings.HasPrefix(iss, "http://")) || len(iss) <= len("https://") {
		return Subject{}, false
	}
	return Subject{Issuer: iss, Sub: sub}, true
}

// ExplicitUsers reports whether the cohort names its users (users,
// users_from_report or subjects): then it selects those users only, even
// when none resolves.
func (c *Cohort) ExplicitUsers() bool {
	return len(c.Users) > 0 || c.UsersFromReport != "" || len(c.Subjects) > 0
}

// After is a campaign's prerequisite: the campaign reaches a session only
// once the prerequisite no longer holds it back (ARCHITECTURE.md,
// "Campaigns that wait for each other").
type After struct {
	// Campaign is the prerequisite's id.
	Campaign string `json:"campaign"`
	// Satisfied: true waits until the session (Per install) or the account
	// (Per user) has done what the prerequisite asks; false waits only
	// until the prerequisite has admitted the user.
	Satisfied bool `json:"satisfied"`
	// Per is AfterPerInstall or AfterPerUser.
	Per string `json:"per"`
}

// What After.Satisfied is judged on.
const (
	// AfterPerInstall judges each session (an install) on its own.
	AfterPerInstall = "install"
	// AfterPerUser judges the account.
	AfterPerUser = "user"
)

// Ramp admits the cohort's users over Duration from Start: each user at a
// stable time Start + Duration × h(campaign, user), h uniform in [0, 1).
//
// An auto ramp (Mode RampAuto) admits in the same order, at the speed its
// Pace gives; Duration is then its max_duration, the latest it may end.
type Ramp struct {
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	// Mode is "" or RampFixed for a linear ramp, RampAuto for a paced one.
	Mode string `json:"mode,omitempty"`
	// TargetUtilisation is the share of the login tier's capacity an auto
	// ramp aims to fill (0 < u ≤ 1).
	TargetUtilisation float64 `json:"target_utilisation,omitempty"`
	// Pace is an auto ramp's schedule; nil until the control plane sets
	// one, when the ramp admits along its max_duration line.
	Pace *Pace `json:"pace,omitempty"`
	// Priority names who goes first (nil: nobody).
	Priority *RampPriority `json:"priority,omitempty"`
}

// Auto reports whether the ramp paces itself.
func (r *Ramp) Auto() bool { return r != nil && r.Mode == RampAuto }

// UpgradeSpec is what an upgrade campaign demands.
type UpgradeSpec struct {
	MinVersion string `json:"min_version"`
	Mode       string `json:"mode"`
	// URLs maps install sources to their store page; "official" is the
	// service's own download page, used for unknown and unofficial sources.
	URLs map[string]string `json:"urls"`
}

// TrailEntry records one admin action on a campaign.
type TrailEntry struct {
	CampaignID string    `json:"campaign_id"`
	Action     string    `json:"action"` // create, activate, pause, resume, cancel, complete
	Actor      string    `json:"actor"`  // admin token id
	At         time.Time `json:"at"`
	Document   []byte    `json:"document,omitempty"`
}

// CampaignStore keeps campaigns, the policy version, the admin trail and
// the counters of progress.
type CampaignStore interface {
	// CreateCampaign stores a draft and its trail entry in one transaction.
	CreateCampaign(ctx context.Context, c *Campaign, t *TrailEntry) error
	Campaign(ctx context.Context, id string) (*Campaign, error)
	// Campaigns lists campaigns, newest first.
	Campaigns(ctx context.Context) ([]*Campaign, error)
	// TransitionCampaign moves a campaign from one of the states in from to
	// the state to, writes the trail entry and bumps the policy version, in
	// one transaction, and returns the updated campaign and the new policy
	// version. It writes O(1) rows whatever the number of sessions. A
	// campaign not in any state of from: ErrConflict-coded error.
	TransitionCampaign(ctx context.Context, id string, from []State, to State, t *TrailEntry) (*Campaign, uint64, error)
	// SetCampaignPace replaces an auto ramp's pace prev with next and bumps
	// the policy version, in one transaction, if CheckPaceChange allows it
	// (else its error, ErrConflict-coded when the campaign was paced or
	// moved meanwhile), and returns the new policy version. A pace change
	// is the control plane's, not an admin's: it writes no trail entry.
	SetCampaignPace(ctx context.Context, id string, prev, next *Pace) (uint64, error)
	// AdmitEarly adds early admissions to a campaign as MergeEarly allows
	// (else its error), bumping the policy version when any was added, in
	// one transaction; it returns how many were added and the policy
	// version. Like a pace change it is the control plane's: no trail.
	AdmitEarly(ctx context.Context, id string, adds []EarlyAdmission) (int, uint64, error)
	// PutTierSample stores a node's sample of the login tier in place of
	// the node's previous one, unless that one was measured later (a
	// delayed write never replaces a newer sample), and deletes every
	// sample measured before prune (nodes long gone: a node's id is new at
	// each start), in one transaction. A sample without a node id or a
	// time, or with a figure that is not a finite number ≥ 0:
	// ECodeInvalid, nothing stored.
	PutTierSample(ctx context.Context, s *TierSample, prune time.Time) error
	// TierSamples returns the samples measured at or after since, one per
	// node, by node id.
	TierSamples(ctx context.Context, since time.Time) ([]TierSample, error)
	// ActiveCampaigns returns the campaigns in state active or paused and
	// the policy version they make up, read in one transaction.
	ActiveCampaigns(ctx context.Context) ([]*Campaign, uint64, error)
	// PolicyVersion returns the current policy version.
	PolicyVersion(ctx context.Context) (uint64, error)
	Trail(ctx context.Context, campaignID string) ([]*TrailEntry, error)
}

// Bucket counts the live sessions that share one combination of client
// facts and day of authentication. The store keeps buckets current on every
// session write, so a preview sums buckets instead of scanning sessions.
type Bucket struct {
	Platform string
	Version  string
	Source   string
	// AuthDay is the UTC day (midnight) of the sessions' auth_time.
	AuthDay time.Time
	// Sessions is the number of live sessions in the bucket.
	Sessions int64
	// Users is the number of accounts with at least one live session in
	// the bucket. Summed over several buckets it is an upper bound, since
	// one account may have sessions in more than one.
	Users int64
}

// Progress is what a campaign has done so far, counted as it happens.
type Progress struct {
	// BlockedSessions is the number of distinct sessions denied at least
	// once by the campaign.
	BlockedSessions int64 `json:"blocked_sessions"`
	// BlockedUsers is the number of distinct accounts among them.
	BlockedUsers int64 `json:"blocked_users"`
	// SatisfiedUsers is the number of accounts that did what the campaign
	// asked (logged in again, set a new password, upgraded, re-downloaded).
	SatisfiedUsers int64 `json:"satisfied_users"`
	// PromptedSessions and PromptedUsers count the sessions a flexible
	// campaign prompted (RecordPrompted) and the accounts it first reached
	// by a prompt; BlockedUsers counts those first reached by a denial, so
	// the two user counts add up to the accounts the campaign has seen.
	PromptedSessions int64 `json:"prompted_sessions"`
	PromptedUsers    int64 `json:"prompted_users"`
}

// FleetStore keeps the aggregates that make previews instant and the
// counters that make progress O(1).
type FleetStore interface {
	// Buckets returns every non-empty bucket.
	Buckets(ctx context.Context) ([]Bucket, error)
	// LiveSessionCount is the number of live sessions (sum of buckets).
	LiveSessionCount(ctx context.Context) (int64, error)
	// SessionsOf returns the live sessions of the given accounts, for
	// explicit-user cohorts and exact previews of small stores.
	SessionsOf(ctx context.Context, accountIDs []string) ([]*Session, error)
	// LiveSessions calls fn for every live session; only for stores small
	// enough to scan (exact previews), never on a request path.
	LiveSessions(ctx context.Context, fn func(*Session) error) error
	// RecordBlocked notes that the campaign denied the session; counting
	// each (campaign, session) once. It reports whether this was the first.
	RecordBlocked(ctx context.Context, campaignID, sessionID, accountID string, at time.Time) (bool, error)
	// RecordSatisfied notes that the account satisfied the campaign, once,
	// and only if the campaign blocked (or prompted) the account before (a login of an
	// account the campaign never asked anything of satisfies nothing). It
	// reports whether it counted.
	RecordSatisfied(ctx context.Context, campaignID, accountID string, at time.Time) (bool, error)
	// AccountBlocked reports whether the campaign has denied the account at
	// least once (RecordBlocked). An unknown campaign answers false.
	AccountBlocked(ctx context.Context, campaignID, accountID string) (bool, error)
	// Progress returns the campaign's counters.
	Progress(ctx context.Context, campaignID string) (Progress, error)
}

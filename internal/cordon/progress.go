package cordon

import (
	"context"
	"time"
)

// Targeted is whom a campaign targets: the live sessions and users the
// preview's computation finds, fixed when the campaign is activated and
// recomputed at a bounded cadence while it runs (sessions come and go).
type Targeted struct {
	Sessions int64 `json:"sessions"`
	Users    int64 `json:"users"`
	// Exact is false when the counts come from buckets (Users is then an
	// upper bound), as in a preview.
	Exact bool `json:"exact"`
	// AdmittedSessions and AdmittedUsers are the part the ramp admitted
	// at At, counted user by user when Exact.
	AdmittedSessions int64 `json:"admitted_sessions"`
	AdmittedUsers    int64 `json:"admitted_users"`
	// WaitingSessions and WaitingUsers are the admitted part a campaign
	// with a prerequisite (after:) still waits for, at At: a user counts
	// when every admitted session of it waits.
	WaitingSessions int64 `json:"waiting_sessions"`
	WaitingUsers    int64 `json:"waiting_users"`
	// At is when it was computed; zero when never (a draft).
	At time.Time `json:"at"`
	// Rows split the sessions (and, when exact, the users) by facts.
	Rows []TargetedRow `json:"rows,omitempty"`
}

// TargetedRow is the part of a cohort with one combination of facts.
type TargetedRow struct {
	Platform string `json:"platform"`
	Version  string `json:"version"`
	Source   string `json:"source"`
	Sessions int64  `json:"sessions"`
	Users    int64  `json:"users"`
	// AdmittedSessions and AdmittedUsers: as Targeted's, for the row.
	AdmittedSessions int64 `json:"admitted_sessions"`
	AdmittedUsers    int64 `json:"admitted_users"`
	// WaitingSessions and WaitingUsers: as Targeted's, for the row.
	WaitingSessions int64 `json:"waiting_sessions"`
	WaitingUsers    int64 `json:"waiting_users"`
}

// ProgressRow is a campaign's counters for the sessions with one
// combination of facts (those the session had at login). A user is counted
// in the row of the first session the campaign saw of it; satisfied users
// in the row they were first seen in, so each row is a funnel of its own.
type ProgressRow struct {
	Platform         string `json:"platform"`
	Version          string `json:"version"`
	Source           string `json:"source"`
	BlockedSessions  int64  `json:"blocked_sessions"`
	BlockedUsers     int64  `json:"blocked_users"`
	PromptedSessions int64  `json:"prompted_sessions"`
	PromptedUsers    int64  `json:"prompted_users"`
	SatisfiedUsers   int64  `json:"satisfied_users"`
}

// ProgressSample is a campaign's counters at one moment, for a chart.
type ProgressSample struct {
	At               time.Time `json:"at"`
	TargetedSessions int64     `json:"targeted_sessions"`
	TargetedUsers    int64     `json:"targeted_users"`
	// AdmittedShare is the share of the cohort the ramp admitted then.
	AdmittedShare    float64 `json:"admitted_share"`
	BlockedSessions  int64   `json:"blocked_sessions"`
	BlockedUsers     int64   `json:"blocked_users"`
	PromptedSessions int64   `json:"prompted_sessions"`
	PromptedUsers    int64   `json:"prompted_users"`
	SatisfiedUsers   int64   `json:"satisfied_users"`
}

// MaxProgressSamples bounds what ProgressSeries returns in one call.
const MaxProgressSamples = 10_000

// ProgressStore keeps what progress is measured against (the cohort), the
// counters by facts, the prompts of flexible campaigns and the samples a
// chart is drawn from. Unknown campaigns: ErrNotFound.
type ProgressStore interface {
	// SetTargeted replaces the campaign's cohort (and its rows).
	SetTargeted(ctx context.Context, campaignID string, c Targeted) error
	// CampaignTargeted returns the campaign's cohort; the zero Cohort when
	// none was set.
	CampaignTargeted(ctx context.Context, campaignID string) (Targeted, error)
	// RecordPrompted notes that the campaign prompted the session (a
	// flexible upgrade), counting each (campaign, session) once, like
	// RecordBlocked: the account becomes one the campaign has reached, so
	// an upgrade after the prompt satisfies it. It reports whether this
	// was the first. A session the campaign blocked or prompted before is
	// not counted again.
	RecordPrompted(ctx context.Context, campaignID, sessionID, accountID string, at time.Time) (bool, error)
	// ProgressRows returns the campaign's counters by facts, largest first
	// is not promised: ordered by platform, version, source.
	ProgressRows(ctx context.Context, campaignID string) ([]ProgressRow, error)
	// RecordProgressSample stores a sample; a second sample of the same
	// campaign at the same instant replaces the first (nodes sampling the
	// same minute agree).
	RecordProgressSample(ctx context.Context, campaignID string, s ProgressSample) error
	// ProgressSeries returns up to limit (≤ MaxProgressSamples) samples at
	// or after from, oldest first.
	ProgressSeries(ctx context.Context, campaignID string, from time.Time, limit int) ([]ProgressSample, error)
}

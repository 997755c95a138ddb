package cordon

import (
	"context"
	"time"
)

// NoticeState is where a notice stands: draft → published → withdrawn.
type NoticeState string

// The states of a notice. A draft is seen by nobody; a published notice is
// served to the sessions of its cohort (and explains its campaign's
// denials); a withdrawn one is served no more. Withdrawn is final.
const (
	NoticeDraft     NoticeState = "draft"
	NoticePublished NoticeState = "published"
	NoticeWithdrawn NoticeState = "withdrawn"
)

// NoticeStates lists every state in the order a notice moves.
var NoticeStates = []NoticeState{NoticeDraft, NoticePublished, NoticeWithdrawn}

// NoticeText is a notice in one language: a one-line plain-text title and
// a Markdown body.
type NoticeText struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Notice is what cordon tells the users of a cohort in their apps: text
// per BCP 47 language with a default, the cohort it targets (a campaign's
// cohort, matched the same way against the facts a session had at
// login), and optionally the incident it belongs to and the campaign whose
// denials it explains.
type Notice struct {
	ID       string `json:"id"`
	Incident string `json:"incident,omitempty"`
	// Campaign, when set, is the campaign the notice explains: its
	// denials carry the notice (the Cordon-Notice header) while both the
	// notice is published and the campaign enforces.
	Campaign        string                `json:"campaign,omitempty"`
	Cohort          Cohort                `json:"cohort"`
	DefaultLanguage string                `json:"default_language"`
	Texts           map[string]NoticeText `json:"texts"`
	// Email sends the notice, once published, to every account it
	// targets that has an address (in its default language), besides
	// serving it in the app.
	Email       bool        `json:"email,omitempty"`
	State       NoticeState `json:"state"`
	CreatedAt   time.Time   `json:"created_at"`
	CreatedBy   string      `json:"created_by"`
	UpdatedAt   time.Time   `json:"updated_at"`
	PublishedAt time.Time   `json:"published_at,omitzero"`
	WithdrawnAt time.Time   `json:"withdrawn_at,omitzero"`
	// UserIDs are the account ids of Cohort.Users and
	// Cohort.UsersFromReport, resolved at creation as a campaign's are.
	UserIDs []string `json:"-"`
}

// NoticeProgress counts what a notice has reached: the sessions (and
// their distinct accounts) it was served to, and those that acknowledged
// it.
type NoticeProgress struct {
	DeliveredSessions int64 `json:"delivered_sessions"`
	DeliveredUsers    int64 `json:"delivered_users"`
	AckedSessions     int64 `json:"acknowledged_sessions"`
	AckedUsers        int64 `json:"acknowledged_users"`
}

// NoticeStore keeps in-app notices and who saw them. Changes carry the
// audit entries of their context (WithAudit) in their transaction.
type NoticeStore interface {
	// CreateNotice stores a new notice (in n.State, a draft);
	// ErrAlreadyExists for a taken id.
	CreateNotice(ctx context.Context, n *Notice) error
	// Notice returns a notice; ErrNotFound when there is none.
	Notice(ctx context.Context, id string) (*Notice, error)
	// Notices returns every notice, newest created first.
	Notices(ctx context.Context) ([]*Notice, error)
	// PublishedNotices returns the published notices, oldest published
	// first.
	PublishedNotices(ctx context.Context) ([]*Notice, error)
	// TransitionNotice moves the notice from one of the states in from to
	// to at at (setting PublishedAt or WithdrawnAt), and returns it. Of
	// concurrent transitions from one state exactly one wins; the others
	// get an ECodeConflict error (ErrNotFound for no such notice). A
	// notice that explains a campaign bumps the policy version in the same
	// transaction, so every node and enforcement point learns it with the
	// next policy.
	TransitionNotice(ctx context.Context, id string, from []NoticeState, to NoticeState, at time.Time) (*Notice, error)
	// RecordNoticeDelivered notes that the notice was served to the
	// session (of account), once per (notice, session); it reports
	// whether this was the first time.
	RecordNoticeDelivered(ctx context.Context, noticeID, sessionID, accountID string, at time.Time) (bool, error)
	// AckNotice notes that the session acknowledged the notice, once per
	// (notice, session), delivered too if it was not; it reports whether
	// this was the first acknowledgement.
	AckNotice(ctx context.Context, noticeID, sessionID, accountID string, at time.Time) (bool, error)
	// SessionNoticeAcks returns when the session acknowledged each notice
	// it acknowledged, by notice id.
	SessionNoticeAcks(ctx context.Context, sessionID string) (map[string]time.Time, error)
	// NoticeProgress returns the notice's counters; zero for a notice
	// nobody was served.
	NoticeProgress(ctx context.Context, noticeID string) (NoticeProgress, error)
}

// PublicUpdate is one published statement of an incident's public page.
type PublicUpdate struct {
	ID              string                `json:"id"`
	PublishedAt     time.Time             `json:"published_at"`
	PublishedBy     string                `json:"published_by"`
	DefaultLanguage string                `json:"default_language"`
	Texts           map[string]NoticeText `json:"texts"`
}

// PublicPage is an incident's public page: its stable slug and the
// updates published on it, newest first. Nothing else is ever on it.
type PublicPage struct {
	Incident string         `json:"incident"`
	Slug     string         `json:"slug"`
	Updates  []PublicUpdate `json:"updates"`
}

// PublicPageStore keeps incidents' public pages. A page exists from its
// first published update: there is no draft to leak.
type PublicPageStore interface {
	// PublishPageUpdate appends u to the incident's page. The first update
	// creates the page under slug (ErrAlreadyExists when another
	// incident's page has it); later ones may give slug empty or the
	// page's own (another slug: ECodeConflict). Empty slug and no page:
	// ErrNotFound.
	PublishPageUpdate(ctx context.Context, incident, slug string, u *PublicUpdate) (*PublicPage, error)
	// PublicPageBySlug returns a page with its updates; ErrNotFound when
	// no page has the slug.
	PublicPageBySlug(ctx context.Context, slug string) (*PublicPage, error)
	// PublicPageOf returns an incident's page; ErrNotFound when it has
	// none.
	PublicPageOf(ctx context.Context, incident string) (*PublicPage, error)
}

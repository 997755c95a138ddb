package stored

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// noticeDoc is the part of a notice a backend keeps as one JSON document:
// what is fixed at creation and only read whole.
type noticeDoc struct {
	Cohort          cordon.Cohort                `json:"cohort"`
	DefaultLanguage string                       `json:"default_language"`
	Texts           map[string]cordon.NoticeText `json:"texts"`
	UserIDs         []string                     `json:"user_ids,omitempty"`
	Email           bool                         `json:"email,omitempty"`
}

// CheckNotice refuses a notice a backend cannot keep.
func CheckNotice(n *cordon.Notice) error {
	if n == nil || n.ID == "" || n.CreatedAt.IsZero() || len(n.Texts) == 0 || !slices.Contains(cordon.NoticeStates, n.State) {
		return cordon.Errorf(cordon.ECodeInvalid, "a notice needs an id, a creation time, a state and texts")
	}
	return nil
}

// EncodeNotice returns the document of a notice.
func EncodeNotice(n *cordon.Notice) ([]byte, error) {
	return json.Marshal(noticeDoc{Cohort: n.Cohort, DefaultLanguage: n.DefaultLanguage, Texts: n.Texts, UserIDs: n.UserIDs, Email: n.Email})
}

// NoticeRow is a notice as a backend reads it back.
type NoticeRow struct {
	ID, Incident, Campaign, State, CreatedBy string
	Created, Updated, Published, Withdrawn   int64
	Doc                                      []byte
}

// DecodeNotice rebuilds a notice from its row.
func DecodeNotice(r *NoticeRow) (*cordon.Notice, error) {
	var d noticeDoc
	if err := json.Unmarshal(r.Doc, &d); err != nil {
		return nil, fmt.Errorf("notice %s: stored document: %w", r.ID, err)
	}
	n := &cordon.Notice{ID: r.ID, Incident: r.Incident, Campaign: r.Campaign, State: cordon.NoticeState(r.State), CreatedBy: r.CreatedBy,
		Cohort: d.Cohort, DefaultLanguage: d.DefaultLanguage, Texts: d.Texts, UserIDs: d.UserIDs, Email: d.Email,
		CreatedAt: Time(r.Created), UpdatedAt: Time(r.Updated)}
	if n.Cohort.AuthenticatedBefore != nil {
		t := n.Cohort.AuthenticatedBefore.UTC()
		n.Cohort.AuthenticatedBefore = &t
	}
	if r.Published != 0 {
		n.PublishedAt = Time(r.Published)
	}
	if r.Withdrawn != 0 {
		n.WithdrawnAt = Time(r.Withdrawn)
	}
	return n, nil
}

// ZeroMicros is Micros, with the zero time as 0 (never set).
func ZeroMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return Micros(t)
}

// NoticeMoved sets the times of a notice that moved to state to at at.
func NoticeMoved(n *cordon.Notice, to cordon.NoticeState, at time.Time) {
	at = Time(Micros(at))
	n.State, n.UpdatedAt = to, at
	switch to {
	case cordon.NoticePublished:
		n.PublishedAt = at
	case cordon.NoticeWithdrawn:
		n.WithdrawnAt = at
	case cordon.NoticeDraft:
	}
}

// NoticeConflict is the error of a transition from a state not allowed.
func NoticeConflict(id string, cur cordon.NoticeState, to cordon.NoticeState) error {
	return cordon.Errorf(cordon.ECodeConflict, "notice %s is %s; it cannot become %s", id, cur, to)
}

// CheckPageUpdate refuses a public page update a backend cannot keep.
func CheckPageUpdate(incident, slug string, u *cordon.PublicUpdate) error {
	if incident == "" || u == nil || u.ID == "" || u.PublishedAt.IsZero() || len(u.Texts) == 0 {
		return cordon.Errorf(cordon.ECodeInvalid, "a page update needs an incident, an id, a time and texts")
	}
	return nil
}

// EncodeTexts and DecodeTexts keep a page update's texts as JSON.
func EncodeTexts(m map[string]cordon.NoticeText) ([]byte, error) { return json.Marshal(m) }

// DecodeTexts reads texts written by EncodeTexts.
func DecodeTexts(b []byte) (map[string]cordon.NoticeText, error) {
	var m map[string]cordon.NoticeText
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("page update: stored texts: %w", err)
	}
	return m, nil
}

// PageSlugConflict is the error of an update that names another slug than
// its page's: a page's URL never moves.
func PageSlugConflict(incident, have, want string) error {
	return cordon.FieldError(cordon.ECodeConflict, "slug", "incident %s's page is /status/%s; its slug does not change (asked for %q)", incident, have, want)
}

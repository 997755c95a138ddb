package auditlog

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// The investigator's questions besides the blast-radius report, each
// answered per principal.
const (
	// QuestionSubject: who touched this user (any name of the account).
	QuestionSubject = "subject"
	// QuestionCategory: every principal that touched this category.
	QuestionCategory = "category"
	// QuestionPrincipals: the principals the log knows.
	QuestionPrincipals = "principals"
)

// MaxPatternStars bounds the '*' of one principal pattern: each one is a
// backtracking point for GLOB and LIKE, and no investigator needs more.
const MaxPatternStars = 4

// Question is one of the investigator's questions.
type Question struct {
	Kind string
	// Subject names the user for QuestionSubject: a username (any case)
	// or an account id.
	Subject string
	// Category for QuestionCategory.
	Category string
	// Principals narrows any question to principals (names or '*'
	// patterns); empty means every principal.
	Principals []string
	// From and To bound the window, [From, To); zero From is the log's
	// beginning, zero To no end.
	From, To time.Time
}

// PrincipalRow is one principal's part in an answer.
type PrincipalRow struct {
	Principal  string           `json:"principal"`
	Events     int64            `json:"events"`
	Actions    map[string]int64 `json:"actions"`
	Categories []string         `json:"categories"`
	First      time.Time        `json:"first"`
	Last       time.Time        `json:"last"`
}

// Answer is a question's answer: one row per principal, and the totals.
type Answer struct {
	Question string `json:"question"`
	Subject  string `json:"subject,omitempty"`
	// Account is the account Subject resolves to; Unresolved says it
	// names none (the answer then covers entries logged under that exact
	// name).
	Account    string     `json:"account,omitempty"`
	Unresolved bool       `json:"unresolved,omitempty"`
	Category   string     `json:"category,omitempty"`
	Principals []string   `json:"principal_filter,omitempty"`
	From       *time.Time `json:"from,omitempty"`
	To         *time.Time `json:"to,omitempty"`
	// Found is how many principals the answer lists.
	Found      int              `json:"principals_found"`
	Events     int64            `json:"events"`
	Actions    map[string]int64 `json:"actions"`
	Categories []string         `json:"categories"`
	First      *time.Time       `json:"first,omitempty"`
	Last       *time.Time       `json:"last,omitempty"`
	// Rows lists the first MaxListed principals; Truncated says more
	// were counted (AnswerRows streams them all).
	Rows      []PrincipalRow `json:"-"`
	Truncated bool           `json:"principals_truncated,omitempty"`
	Summary   string         `json:"summary"`
}

// CheckPrincipals refuses principal names and patterns a query cannot
// take: more than MaxPrincipals, empty, unprintable or too long, or a
// pattern with more than MaxPatternStars '*'.
func CheckPrincipals(principals []string) error {
	if len(principals) > MaxPrincipals {
		return cordon.FieldError(cordon.ECodeInvalid, "principal", "name at most %d principals", MaxPrincipals)
	}
	for _, p := range principals {
		if err := audit.CheckName("principal", p, audit.MaxPrincipal); err != nil {
			return cordon.FieldError(cordon.ECodeInvalid, "principal", "a principal must be 1 to %d bytes of printable text", audit.MaxPrincipal)
		}
		if strings.Count(p, "*") > MaxPatternStars {
			return cordon.FieldError(cordon.ECodeInvalid, "principal", "a principal pattern may hold at most %d '*', not %d", MaxPatternStars, strings.Count(p, "*"))
		}
	}
	return nil
}

// filter checks q and turns it into the store's filter.
func (s *Service) filter(ctx context.Context, q Question, a *Answer) (cordon.AuditFilter, error) {
	f := cordon.AuditFilter{From: q.From, To: q.To, By: cordon.AuditByPrincipal}
	if err := CheckPrincipals(q.Principals); err != nil {
		return f, err
	}
	if !q.To.IsZero() && !q.From.Before(q.To) {
		return f, cordon.FieldError(cordon.ECodeInvalid, "to", "the window is empty: from must be before to")
	}
	f.Principals = slices.Compact(slices.Sorted(slices.Values(q.Principals)))
	a.Principals = f.Principals
	switch q.Kind {
	case QuestionSubject:
		if err := audit.CheckName("subject", q.Subject, audit.MaxSubject); err != nil {
			return f, cordon.FieldError(cordon.ECodeInvalid, "subject", "a subject must be 1 to %d bytes of printable text", audit.MaxSubject)
		}
		accounts, err := s.store.ResolveSubjects(ctx, []string{q.Subject})
		if err != nil {
			return f, err
		}
		a.Subject = q.Subject
		// The exact name catches entries logged under it before it was
		// an account (or before subjects were resolved).
		f.Users = []string{q.Subject}
		if id, ok := accounts[q.Subject]; ok {
			a.Account = id
			if id != q.Subject {
				f.Users = append(f.Users, id)
			}
		} else {
			a.Unresolved = true
		}
	case QuestionCategory:
		if !slices.Contains(s.categories, q.Category) {
			return f, cordon.FieldError(cordon.ECodeInvalid, "category", "unknown category %q; the log's categories are %s", short(q.Category), strings.Join(s.categories, ", "))
		}
		a.Category, f.Category = q.Category, q.Category
	case QuestionPrincipals:
	default:
		return f, cordon.FieldError(cordon.ECodeInvalid, "question", "a question is subject, category or principals, not %q", short(q.Kind))
	}
	return f, nil
}

// short cuts echoed input.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Ask answers a question.
func (s *Service) Ask(ctx context.Context, q Question) (*Answer, error) {
	a := &Answer{Question: q.Kind, Actions: zeroActions(), Categories: []string{}}
	f, err := s.filter(ctx, q, a)
	if err != nil {
		return nil, err
	}
	if !q.From.IsZero() {
		from := q.From.UTC()
		a.From = &from
	}
	if !q.To.IsZero() {
		to := q.To.UTC()
		a.To = &to
	}
	touched := map[string]bool{}
	err = s.store.AuditQuery(ctx, f, func(x *cordon.AuditAccess) error {
		a.Found++
		a.Events += x.Count
		for act, n := range x.Actions {
			a.Actions[act] += n
		}
		for _, c := range x.Categories {
			touched[c] = true
		}
		if a.First == nil || x.First.Before(*a.First) {
			t := x.First
			a.First = &t
		}
		if a.Last == nil || x.Last.After(*a.Last) {
			t := x.Last
			a.Last = &t
		}
		if len(a.Rows) < MaxListed {
			a.Rows = append(a.Rows, principalRow(x))
		} else {
			a.Truncated = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.Categories = slices.Sorted(func(yield func(string) bool) {
		for c := range touched {
			if !yield(c) {
				return
			}
		}
	})
	a.Summary = answerSummary(a)
	return a, nil
}

// AnswerRows streams every row of a question's answer, for a CSV longer
// than an answer holds.
func (s *Service) AnswerRows(ctx context.Context, q Question, fn func(*PrincipalRow) error) error {
	f, err := s.filter(ctx, q, &Answer{})
	if err != nil {
		return err
	}
	return s.store.AuditQuery(ctx, f, func(x *cordon.AuditAccess) error {
		r := principalRow(x)
		return fn(&r)
	})
}

func principalRow(x *cordon.AuditAccess) PrincipalRow {
	acts := zeroActions()
	for k, n := range x.Actions {
		acts[k] += n
	}
	return PrincipalRow{Principal: x.Principal, Events: x.Count, Actions: acts, Categories: x.Categories, First: x.First, Last: x.Last}
}

// answerSummary is the answer in one line, e.g. "alice (account u-1):
// touched by 2 principals in 5 events: 4 read, 1 export; email, payment".
func answerSummary(a *Answer) string {
	var b strings.Builder
	switch a.Question {
	case QuestionSubject:
		b.WriteString(a.Subject)
		if a.Unresolved {
			b.WriteString(" (names no account: unresolved)")
		} else if a.Account != a.Subject {
			b.WriteString(" (account " + a.Account + ")")
		}
		b.WriteString(": touched by ")
	case QuestionCategory:
		b.WriteString(a.Category + ": touched by ")
	default:
		b.WriteString("the log knows ")
	}
	b.WriteString(plural(a.Found, "principal", "principals"))
	b.WriteString(" in " + ActionSummary(a.Events, a.Actions))
	if a.Question != QuestionCategory && len(a.Categories) > 0 {
		b.WriteString("; " + strings.Join(a.Categories, ", "))
	}
	return b.String()
}

// AnswerPurpose says which question was asked, for the record of it.
func AnswerPurpose(q Question) string {
	var b strings.Builder
	b.WriteString(q.Kind + " question")
	switch q.Kind {
	case QuestionSubject:
		b.WriteString(": subject " + q.Subject)
	case QuestionCategory:
		b.WriteString(": category " + q.Category)
	}
	if len(q.Principals) > 0 {
		b.WriteString("; principals " + strings.Join(q.Principals, ", "))
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		b.WriteString("; " + timeOrOpen(q.From) + " to " + timeOrOpen(q.To))
	}
	return b.String()
}

func timeOrOpen(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.UTC().Format(time.RFC3339)
}

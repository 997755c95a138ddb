package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// The investigator's questions: GET /admin/v1/audit/subject (who touched
// this user), /admin/v1/audit/category (who touched this category) and
// /admin/v1/audit/principals (the principals the log knows). Each answers
// per principal, broken down by action, as JSON, CSV or one line of text,
// and is recorded in the log as a read of it.

// questionQuery reads a question's parameters: subject or category, any
// principal names or '*' patterns, and an optional window (from and to
// in RFC 3339; without them, the whole log).
func questionQuery(r *http.Request, kind string) (auditlog.Question, error) {
	q := r.URL.Query()
	qn := auditlog.Question{Kind: kind, Principals: q["principal"]}
	switch kind {
	case auditlog.QuestionSubject:
		if len(q["subject"]) != 1 {
			return qn, cordon.FieldError(cordon.ECodeInvalid, "subject", "name one subject: a username or an account id (subject=alice)")
		}
		qn.Subject = q.Get("subject")
	case auditlog.QuestionCategory:
		if len(q["category"]) != 1 {
			return qn, cordon.FieldError(cordon.ECodeInvalid, "category", "name one category (category=payment)")
		}
		qn.Category = q.Get("category")
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"from", &qn.From}, {"to", &qn.To}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return qn, cordon.FieldError(cordon.ECodeInvalid, f.name, "%s must be an RFC 3339 time such as 2026-11-29T00:00:00Z, not %q", f.name, short(v))
		}
		*f.t = t
	}
	return qn, nil
}

func (s *Server) handleQuestion(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		format, err := reportFormat(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		qn, err := questionQuery(r, kind)
		if err != nil {
			writeError(w, r, err)
			return
		}
		a, err := s.audit.Ask(r.Context(), qn)
		if err == nil {
			err = s.recordLogRead(r, audit.ActionRead, auditlog.AnswerPurpose(qn))
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeAnswer(w, r, format, a, func(ctx context.Context, fn func(*auditlog.PrincipalRow) error) error {
			return s.audit.AnswerRows(ctx, qn, fn)
		})
	}
}

// answerCSVHeader is the CSV header of a question's answer.
var answerCSVHeader = append([]string{"principal", "events", "categories", "first", "last"}, auditlog.Actions()...)

func writeAnswer(w http.ResponseWriter, r *http.Request, format string, a *auditlog.Answer, rows func(context.Context, func(*auditlog.PrincipalRow) error) error) {
	switch format {
	case "json":
		list := a.Rows
		if list == nil {
			list = []auditlog.PrincipalRow{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"answer": a, "principals": list})
	case "csv":
		writeCSV(w, r, http.StatusOK, answerCSVHeader, a.Rows, a.Truncated, rows, func(p *auditlog.PrincipalRow) []string {
			rec := []string{csvSafe(p.Principal), strconv.FormatInt(p.Events, 10), strings.Join(p.Categories, " "),
				p.First.UTC().Format(time.RFC3339Nano), p.Last.UTC().Format(time.RFC3339Nano)}
			for _, act := range auditlog.Actions() {
				rec = append(rec, strconv.FormatInt(p.Actions[act], 10))
			}
			return rec
		})
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, AnswerText(a))
	}
}

// AnswerText is the human form of an answer: the one-line summary, then
// a line per principal.
func AnswerText(a *auditlog.Answer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", a.Summary)
	if len(a.Principals) > 0 {
		fmt.Fprintf(&b, "principals: %s\n", strings.Join(a.Principals, ", "))
	}
	if a.From != nil || a.To != nil {
		fmt.Fprintf(&b, "window: %s to %s\n", openTime(a.From), openTime(a.To))
	}
	const shown = 50
	for i, p := range a.Rows {
		if i == shown {
			fmt.Fprintf(&b, "  … and %d more (--format csv lists them all)\n", a.Found-shown)
			break
		}
		fmt.Fprintf(&b, "  %s: %s; %s; %s to %s\n", p.Principal, auditlog.ActionSummary(p.Events, p.Actions), strings.Join(p.Categories, ", "),
			p.First.Format(time.RFC3339), p.Last.Format(time.RFC3339))
	}
	return b.String()
}

func openTime(t *time.Time) string {
	if t == nil {
		return "(open)"
	}
	return t.Format(time.RFC3339)
}

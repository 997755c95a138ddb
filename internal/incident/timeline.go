package incident

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Entry is one line of a timeline: an audit entry as its signed leaf
// says it, with its position in the log so anyone can prove it there
// (cordon audit proof).
type Entry struct {
	Index     uint64    `json:"index"`
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	Action    string    `json:"action"`
	// Object is what the entry is about: "incident i-…", "campaign c-…",
	// "report r-…".
	Object string `json:"object"`
	// What is the entry's purpose: what was done.
	What     string `json:"what"`
	Source   string `json:"source,omitempty"`
	LeafHash string `json:"leaf_hash"`
	// Damaged says the stored entry does not read as the log wrote it
	// (its leaf does not parse or does not hash to its stored hash);
	// cordon audit verify locates the damage.
	Damaged bool `json:"damaged,omitempty"`
}

// Timeline is an incident's history read from the audit log.
type Timeline struct {
	Incident string    `json:"incident"`
	Title    string    `json:"title"`
	At       time.Time `json:"at"`
	Entries  []Entry   `json:"entries"`
}

const auditLogSubject = auditlog.ObjectPrefix + "audit-log"

// Timeline reads the incident's history from the audit log: its own
// entries and the admin actions on the campaigns, notices and saved reports it
// links, in log order. Nothing of it comes from the incident's row but
// which objects are linked, so editing the row changes no entry.
func (s *Service) Timeline(ctx context.Context, id string) (*Timeline, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	subjects := []string{Subject(id)}
	// objects names the other linked objects by their audit subject.
	objects := map[string]string{}
	var reports []string
	for _, l := range v.Links {
		switch l.Kind {
		case cordon.LinkCampaign:
			sub := auditlog.ObjectPrefix + "campaign/" + l.ID
			subjects = append(subjects, sub)
			objects[sub] = "campaign " + l.ID
		case cordon.LinkReport:
			reports = append(reports, l.ID)
		case cordon.LinkNotice:
			sub := auditlog.ObjectPrefix + "notice/" + l.ID
			subjects = append(subjects, sub)
			objects[sub] = "notice " + l.ID
		case cordon.LinkAlert:
			sub := AlertSubject(l.ID)
			subjects = append(subjects, sub)
			objects[sub] = "alert " + l.ID
		}
	}
	if len(reports) > 0 {
		subjects = append(subjects, auditLogSubject)
	}
	t := &Timeline{Incident: id, Title: v.Title, At: s.clock.Now().UTC(), Entries: []Entry{}}
	err = s.audit.EntriesAbout(ctx, subjects, func(e *cordon.AuditEntry) error {
		out, keep := readEntry(e, id, objects, reports)
		if keep {
			t.Entries = append(t.Entries, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// readEntry turns a stored entry into a timeline line, reading every
// field from the signed leaf, and says whether it belongs to the
// timeline.
func readEntry(e *cordon.AuditEntry, id string, objects map[string]string, reports []string) (Entry, bool) {
	out := Entry{Index: e.Index, Time: e.Time, Principal: e.Principal, Action: e.Action, LeafHash: hex.EncodeToString(e.LeafHash)}
	ev, err := audit.ParseLeaf(e.Leaf)
	if err != nil || !bytes.Equal(audit.LeafHash(e.Leaf), e.LeafHash) || ev.Subject != e.Subject {
		out.Damaged, out.Object = true, e.Subject
		out.What = "this entry is damaged (its leaf does not match the log); run cordon audit verify"
		return out, true
	}
	out.Time, out.Principal, out.Action, out.What, out.Source = ev.Time.UTC(), ev.Principal, ev.Action, ev.Purpose, ev.Source
	switch {
	case ev.Subject == Subject(id):
		out.Object = "incident " + id
	case objects[ev.Subject] != "":
		out.Object = objects[ev.Subject]
	case ev.Subject == auditLogSubject:
		r := reportOf(ev.Purpose, reports)
		if r == "" {
			return out, false
		}
		out.Object = "report " + r
	default:
		return out, false
	}
	return out, true
}

// reportOf returns which of reports an audit-log record is about: the
// records of saving one ("report r-… saved: …") and reading it
// ("saved report r-… read").
func reportOf(purpose string, reports []string) string {
	for _, r := range reports {
		if strings.HasPrefix(purpose, "report "+r+" saved") || strings.HasPrefix(purpose, "saved report "+r+" read") {
			return r
		}
	}
	return ""
}

// Markdown writes the timeline for a postmortem.
func (t *Timeline) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Timeline of incident %s: %s\n\n", t.Incident, md(t.Title))
	fmt.Fprintf(&b, "Read from cordon's audit log at %s. Each line is a signed log entry; prove one with `cordon audit proof INDEX`.\n\n", t.At.Format(time.RFC3339))
	if len(t.Entries) == 0 {
		b.WriteString("No entries.\n")
		return b.String()
	}
	b.WriteString("| when (UTC) | who | about | what | log entry |\n|---|---|---|---|---|\n")
	for _, e := range t.Entries {
		what := md(e.What)
		if e.Damaged {
			what = "**" + what + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n", e.Time.Format("2006-01-02 15:04:05"), md(e.Principal), md(e.Object), what, e.Index)
	}
	return b.String()
}

// Text writes the timeline for a terminal.
func (t *Timeline) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "incident %s: %s\n", t.Incident, t.Title)
	for _, e := range t.Entries {
		flag := ""
		if e.Damaged {
			flag = "DAMAGED "
		}
		fmt.Fprintf(&b, "  #%-6d %s  %-24s %-30s %s%s\n", e.Index, e.Time.Format(time.RFC3339), e.Principal, e.Object, flag, e.What)
	}
	if len(t.Entries) == 0 {
		b.WriteString("  (no entries)\n")
	}
	return b.String()
}

// md escapes text for a Markdown table cell or list item: nothing an
// admin wrote can open a link or an image (both need '['), HTML, code, a
// heading or a new cell, nor one of GitHub's autolinks (a bare
// "https://…", "www.…" or "name@host": the ':' before "//", the '.'
// after "www" and every '@' are escaped, which renders them as written).
// Parentheses are left as written: a lawyer edits this text, and they
// mean nothing without a '['.
func md(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune("\\`*_[]<>|#~@", r),
			r == ':' && strings.HasPrefix(s[i+1:], "//"),
			r == '.' && i >= 3 && strings.EqualFold(s[i-3:i], "www"):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

package incident

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Note prefixes that file a note under a section of the summary; any
// other note describes the nature of the breach.
const (
	PrefixConsequence = "consequences:"
	PrefixMeasure     = "measure:"
	PrefixNotified    = "notified:"
)

// NoteLine is a note as the summary quotes it, from the audit log.
type NoteLine struct {
	Time  time.Time `json:"time"`
	By    string    `json:"by"`
	Text  string    `json:"text"`
	Index uint64    `json:"log_index"`
}

// Figure is a figure the summary states, or says it does not know. The
// summary never states a figure cordon does not hold: without its source
// a figure is "not known yet", with what would provide it.
type Figure struct {
	Known bool `json:"known"`
	// Count is the figure when it is a number.
	Count *int `json:"count,omitempty"`
	// Values are the figure when it is a list.
	Values []string `json:"values,omitempty"`
	// From names where the figure comes from.
	From []string `json:"from,omitempty"`
	// NotKnownYet says what would provide a figure not known.
	NotKnownYet string `json:"not_known_yet,omitempty"`
}

// ReportFacts is what a linked saved audit report says.
type ReportFacts struct {
	ID         string    `json:"id"`
	Principals []string  `json:"principals"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Users      int       `json:"users"`
	// Unresolved counts the subjects the report logged that name no
	// account: not counted as people, said apart.
	Unresolved int      `json:"unresolved_subjects"`
	Categories []string `json:"categories_touched"`
}

// Measure is a linked campaign with its progress counters.
type Measure struct {
	Campaign       string  `json:"campaign"`
	Kind           string  `json:"kind"`
	Name           string  `json:"name"`
	State          string  `json:"state"`
	BlockedUsers   int64   `json:"blocked_users"`
	SatisfiedUsers int64   `json:"satisfied_users"`
	Complete       float64 `json:"complete"`
}

// Summary is the regulator-ready summary: the fields GDPR Article 33(3)
// names, drawn from the incident, its notes and its linked objects.
type Summary struct {
	Incident *View     `json:"incident"`
	At       time.Time `json:"at"`
	// (a) the nature of the breach: the title and the notes.
	Nature []NoteLine `json:"nature"`
	// (a) the categories of data and the approximate number of people
	// concerned, from the linked saved audit reports.
	Categories Figure        `json:"data_categories"`
	People     Figure        `json:"people"`
	Reports    []ReportFacts `json:"reports"`
	// (b) the data protection officer's contact.
	DPO Figure `json:"dpo"`
	// (c) the likely consequences: notes beginning "consequences:".
	Consequences []NoteLine `json:"consequences"`
	// (d) the measures taken: linked campaigns and notes beginning
	// "measure:".
	Measures     []Measure  `json:"measures"`
	MeasureNotes []NoteLine `json:"measure_notes"`
	Notified     []NoteLine `json:"notified"`
	// Remains lists what is still to do or to find out.
	Remains []string `json:"remains"`
}

// tokenSuffix ends the purpose of a record made with an admin token.
const tokenSuffix = " (admin token "

// noteText returns a note's text from its record's purpose.
func noteText(what string) (string, bool) {
	text, ok := strings.CutPrefix(what, "note: ")
	if !ok {
		return "", false
	}
	if i := strings.LastIndex(text, tokenSuffix); i >= 0 && strings.HasSuffix(text, ")") {
		text = text[:i]
	}
	return text, true
}

// Summary builds the incident's summary for the supervisory authority.
func (s *Service) Summary(ctx context.Context, id string) (*Summary, error) {
	t, err := s.Timeline(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Incident: v, At: s.clock.Now().UTC(), Nature: []NoteLine{}, Consequences: []NoteLine{}, Measures: []Measure{},
		MeasureNotes: []NoteLine{}, Notified: []NoteLine{}, Reports: []ReportFacts{}, Remains: []string{}}
	for _, e := range t.Entries {
		if e.Object != "incident "+id || e.Damaged {
			continue
		}
		text, ok := noteText(e.What)
		if !ok {
			continue
		}
		n := NoteLine{Time: e.Time, By: e.Principal, Index: e.Index}
		lower := strings.ToLower(text)
		switch {
		case strings.HasPrefix(lower, PrefixConsequence):
			n.Text = strings.TrimSpace(text[len(PrefixConsequence):])
			sum.Consequences = append(sum.Consequences, n)
		case strings.HasPrefix(lower, PrefixMeasure):
			n.Text = strings.TrimSpace(text[len(PrefixMeasure):])
			sum.MeasureNotes = append(sum.MeasureNotes, n)
		case strings.HasPrefix(lower, PrefixNotified):
			n.Text = strings.TrimSpace(text[len(PrefixNotified):])
			sum.Notified = append(sum.Notified, n)
		default:
			n.Text = text
			sum.Nature = append(sum.Nature, n)
		}
	}
	if err := s.scope(ctx, sum); err != nil {
		return nil, err
	}
	if err := s.measures(ctx, sum); err != nil {
		return nil, err
	}
	if s.dpo != "" {
		sum.DPO = Figure{Known: true, Values: []string{s.dpo}, From: []string{"cordon serve --dpo"}}
	} else {
		sum.DPO = Figure{NotKnownYet: "no contact is configured; start the server with --dpo CONTACT"}
	}
	sum.Remains = remains(sum)
	return sum, nil
}

// scope fills the categories of data and the people concerned from the
// linked saved audit reports.
func (s *Service) scope(ctx context.Context, sum *Summary) error {
	users := map[string]bool{}
	var cats []string
	for _, l := range sum.Incident.Links {
		if l.Kind != cordon.LinkReport {
			continue
		}
		saved, err := s.store.SavedAuditReport(ctx, l.ID)
		if err != nil {
			return err
		}
		rep, err := s.audit.SavedReport(ctx, l.ID)
		if err != nil {
			return err
		}
		for _, u := range saved.Subjects {
			users[u] = true
		}
		for _, c := range rep.Touched {
			if !slices.Contains(cats, c) {
				cats = append(cats, c)
			}
		}
		sum.Reports = append(sum.Reports, ReportFacts{ID: l.ID, Principals: saved.Principals, From: saved.From, To: saved.To,
			Users: len(saved.Subjects), Unresolved: rep.Unresolved, Categories: rep.Touched})
	}
	if len(sum.Reports) == 0 {
		missing := "no saved audit report is linked; save the blast-radius report (cordon audit report --save) and link it (cordon incident link ID report r-…)"
		sum.Categories = Figure{NotKnownYet: missing}
		sum.People = Figure{NotKnownYet: missing}
		return nil
	}
	var from []string
	for _, r := range sum.Reports {
		from = append(from, "report "+r.ID)
	}
	slices.Sort(cats)
	n := len(users)
	sum.Categories = Figure{Known: true, Values: cats, From: from}
	if sum.Categories.Values == nil {
		sum.Categories.Values = []string{}
	}
	sum.People = Figure{Known: true, Count: &n, From: from}
	return nil
}

// measures fills the linked campaigns with their progress.
func (s *Service) measures(ctx context.Context, sum *Summary) error {
	if s.campaigns == nil {
		return nil
	}
	for _, l := range sum.Incident.Links {
		if l.Kind != cordon.LinkCampaign {
			continue
		}
		c, err := s.campaigns.Get(ctx, l.ID)
		if err != nil {
			return err
		}
		p, err := s.campaigns.Progress(ctx, c)
		if err != nil {
			return err
		}
		sum.Measures = append(sum.Measures, Measure{Campaign: c.ID, Kind: string(c.Kind), Name: c.Name, State: string(c.State),
			BlockedUsers: p.BlockedUsers, SatisfiedUsers: p.SatisfiedUsers, Complete: p.Complete})
	}
	return nil
}

// remains lists what is still open.
func remains(sum *Summary) []string {
	var out []string
	v := sum.Incident
	if v.State != cordon.IncidentResolved {
		out = append(out, fmt.Sprintf("the incident is %s, not resolved", v.State))
	}
	if len(sum.Notified) == 0 {
		out = append(out, fmt.Sprintf("telling the supervisory authority: not recorded (a note beginning %q records it); Article 33 expects it by %s (%s)",
			PrefixNotified, v.NotifyBy.Format(time.RFC3339), v.Clock()))
	}
	if !sum.People.Known {
		out = append(out, "the scope: "+sum.People.NotKnownYet)
	}
	if len(sum.Consequences) == 0 {
		out = append(out, fmt.Sprintf("the likely consequences: not known yet; the team's assessment, as a note beginning %q", PrefixConsequence))
	}
	if len(sum.Measures) == 0 && len(sum.MeasureNotes) == 0 {
		out = append(out, fmt.Sprintf("no measure is linked: link the campaigns (cordon incident link ID campaign c-…) or note one beginning %q", PrefixMeasure))
	}
	for _, m := range sum.Measures {
		switch cordon.State(m.State) {
		case cordon.StateDraft:
			out = append(out, fmt.Sprintf("campaign %s (%s) is a draft: it has not acted yet", m.Campaign, m.Kind))
		case cordon.StateActive, cordon.StatePaused:
			out = append(out, fmt.Sprintf("campaign %s (%s) is %s: %d of %d blocked users satisfied", m.Campaign, m.Kind, m.State, m.SatisfiedUsers, m.BlockedUsers))
		case cordon.StateCompleted, cordon.StateCancelled:
		}
	}
	if !sum.DPO.Known {
		out = append(out, "the data protection officer's contact: "+sum.DPO.NotKnownYet)
	}
	out = append(out, "telling the people concerned: not known yet; cordon does not send notices yet")
	return out
}

// Markdown writes the summary as Markdown a lawyer can edit, section by
// section of Article 33(3).
func (sum *Summary) Markdown() string {
	var b strings.Builder
	v := sum.Incident
	fmt.Fprintf(&b, "# Personal data breach: %s\n\n", md(v.Title))
	fmt.Fprintf(&b, "- Incident: %s (severity %s, %s)\n", v.ID, v.Severity, v.State)
	fmt.Fprintf(&b, "- Became aware: %s\n", v.AwareAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "- Article 33 notification due: %s (%s)\n", v.NotifyBy.Format(time.RFC3339), v.Clock())
	fmt.Fprintf(&b, "- Drawn from cordon at %s; every figure names its source, and a figure cordon does not hold is written \"not known yet\".\n\n", sum.At.Format(time.RFC3339))

	b.WriteString("## (a) Nature of the breach\n\n")
	b.WriteString(md(v.Title) + "\n\n")
	notes(&b, sum.Nature, "No notes yet.")
	b.WriteString("### Categories of personal data concerned\n\n")
	figure(&b, sum.Categories, func(f Figure) string {
		if len(f.Values) == 0 {
			return "none touched"
		}
		return strings.Join(f.Values, ", ")
	})
	b.WriteString("### Approximate number of data subjects concerned\n\n")
	figure(&b, sum.People, func(f Figure) string { return fmt.Sprintf("%d", *f.Count) })
	for _, r := range sum.Reports {
		switch {
		case r.Unresolved == 1:
			fmt.Fprintf(&b, "\n1 logged subject names no account and is not counted (report %s): a typo, or a person cordon does not know.\n", r.ID)
		case r.Unresolved > 1:
			fmt.Fprintf(&b, "\n%d logged subjects name no account and are not counted (report %s): typos, or people cordon does not know.\n", r.Unresolved, r.ID)
		}
	}
	for _, r := range sum.Reports {
		fmt.Fprintf(&b, "- report %s: users %d; principals %s; %s to %s; categories: %s\n", r.ID, r.Users, md(strings.Join(r.Principals, ", ")),
			r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), orNone(r.Categories))
	}
	if len(sum.Reports) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("## (b) Data protection officer\n\n")
	figure(&b, sum.DPO, func(f Figure) string { return md(strings.Join(f.Values, ", ")) })
	b.WriteString("## (c) Likely consequences\n\n")
	notes(&b, sum.Consequences, fmt.Sprintf("Not known yet: the team's assessment, recorded as a note beginning %q.", PrefixConsequence))
	b.WriteString("## (d) Measures taken or proposed\n\n")
	if len(sum.Measures) == 0 && len(sum.MeasureNotes) == 0 {
		b.WriteString("Not known yet: no campaign is linked and no measure noted.\n\n")
	}
	if len(sum.Measures) > 0 {
		b.WriteString("| campaign | kind | name | state | blocked users | satisfied users | complete |\n|---|---|---|---|---|---|---|\n")
		for _, m := range sum.Measures {
			// Nobody blocked yet is not "100 % complete": say nothing.
			complete := "–"
			if m.BlockedUsers > 0 {
				complete = fmt.Sprintf("%.0f %%", m.Complete*100)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %s |\n", m.Campaign, m.Kind, md(m.Name), m.State, m.BlockedUsers, m.SatisfiedUsers, complete)
		}
		b.WriteString("\n")
	}
	notes(&b, sum.MeasureNotes, "")
	if len(sum.Notified) > 0 {
		b.WriteString("## Notification\n\n")
		notes(&b, sum.Notified, "")
	}
	b.WriteString("## What remains\n\n")
	for _, r := range sum.Remains {
		b.WriteString("- " + md(r) + "\n")
	}
	return b.String()
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

func figure(b *strings.Builder, f Figure, show func(Figure) string) {
	if !f.Known {
		b.WriteString("Not known yet: " + md(f.NotKnownYet) + "\n\n")
		return
	}
	fmt.Fprintf(b, "%s (from %s)\n\n", show(f), strings.Join(f.From, ", "))
}

func notes(b *strings.Builder, ns []NoteLine, none string) {
	if len(ns) == 0 {
		if none != "" {
			b.WriteString(none + "\n\n")
		}
		return
	}
	for _, n := range ns {
		fmt.Fprintf(b, "- %s (%s, %s; log entry %d)\n", md(n.Text), n.Time.Format(time.RFC3339), md(n.By), n.Index)
	}
	b.WriteString("\n")
}

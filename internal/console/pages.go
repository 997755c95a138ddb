package console

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/chart"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
)

// maxCampaignDoc bounds a pasted campaign document, as the API does.
const maxCampaignDoc = 1 << 20

// --- Incident room ---

type incidentRow struct {
	*incident.View
	Campaigns []campaignBar
	Timeline  []incident.Entry
	// Notices: the console runs notices and public pages.
	Notices bool
	// LinkedNotices are the notices linked to the incident, with their
	// acknowledgements.
	LinkedNotices []noticeLine
}

// noticeLine is a linked notice in the incident room.
type noticeLine struct {
	ID, Title, State string
	AckedUsers       int64
}

// campaignBar is a linked campaign's progress, as a bar.
type campaignBar struct {
	ID, Name  string
	State     cordon.State
	Satisfied int64
	Cohort    int64
	Share     float64
}

type incidentsPage struct {
	Open, Closed []incidentRow
	// Alerts are the open alerts, to acknowledge or open as incidents.
	Alerts  []*cordon.Alert
	Problem string
	Form    struct{ Title, Severity string }
}

func (c *Console) incidentRows(ctx context.Context) (open, closed []incidentRow, err error) {
	views, err := c.cfg.Incidents.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range views {
		row := incidentRow{View: v, Notices: c.cfg.Notices != nil}
		for _, l := range v.Links {
			if l.Kind == cordon.LinkNotice && c.cfg.Notices != nil {
				n, err := c.cfg.Notices.Get(ctx, l.ID)
				if err != nil {
					return nil, nil, err
				}
				prog, _, err := c.cfg.Notices.Reached(ctx, n)
				if err != nil {
					return nil, nil, err
				}
				row.LinkedNotices = append(row.LinkedNotices, noticeLine{ID: n.ID, Title: n.Texts[n.DefaultLanguage].Title, State: string(n.State), AckedUsers: prog.AckedUsers})
				continue
			}
			if l.Kind != cordon.LinkCampaign {
				continue
			}
			bar, err := c.campaignBar(ctx, l.ID)
			if err != nil {
				return nil, nil, err
			}
			row.Campaigns = append(row.Campaigns, bar)
		}
		if v.State == cordon.IncidentResolved {
			closed = append(closed, row)
			continue
		}
		tl, err := c.cfg.Incidents.Timeline(ctx, v.ID)
		if err != nil {
			return nil, nil, err
		}
		row.Timeline = tl.Entries
		if n := len(row.Timeline); n > 20 {
			row.Timeline = row.Timeline[n-20:]
		}
		open = append(open, row)
	}
	return open, closed, nil
}

func (c *Console) campaignBar(ctx context.Context, id string) (campaignBar, error) {
	camp, err := c.cfg.Campaigns.Get(ctx, id)
	if err != nil {
		return campaignBar{}, err
	}
	p, err := c.cfg.Campaigns.Progress(ctx, camp)
	if err != nil {
		return campaignBar{}, err
	}
	return campaignBar{ID: camp.ID, Name: camp.Name, State: camp.State, Satisfied: p.Satisfied, Cohort: p.Targeted.Users, Share: p.SatisfiedOfCohort}, nil
}

func (c *Console) handleIncidents(w http.ResponseWriter, r *http.Request) {
	var p incidentsPage
	var err error
	if p.Open, p.Closed, err = c.incidentRows(r.Context()); err != nil {
		c.fail(w, r, err)
		return
	}
	if p.Alerts, err = c.roomAlerts(r.Context()); err != nil {
		c.fail(w, r, err)
		return
	}
	p.Form.Severity = "high"
	c.page(w, r, http.StatusOK, "incidents", nil, p)
}

func (c *Console) incidentsLive(r *http.Request) (template.HTML, error) {
	open, _, err := c.incidentRows(r.Context())
	if err != nil {
		return "", err
	}
	return c.fragment("incident-list", open)
}

func (c *Console) handleOpenIncident(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	o := incident.Open{Title: r.PostFormValue("title"), Severity: r.PostFormValue("severity")}
	_, err := c.cfg.Incidents.Open(r.Context(), c.actor(r), o)
	var ce *cordon.Error
	if errors.As(err, &ce) && statusOf(ce.Code) < 500 {
		var p incidentsPage
		p.Open, p.Closed, _ = c.incidentRows(r.Context())
		p.Alerts, _ = c.roomAlerts(r.Context())
		p.Problem, p.Form.Title, p.Form.Severity = ce.Message, o.Title, o.Severity
		c.page(w, r, statusOf(ce.Code), "incidents", nil, p)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

func (c *Console) actor(r *http.Request) incident.Actor {
	return incident.Actor{Principal: clip(Principal(admin(r).Name), audit.MaxPrincipal), Source: clip(c.cfg.ClientAddr(r), audit.MaxSource)}
}

// incidentProblem answers a refused incident change on the incident room,
// with what was wrong.
func (c *Console) incidentProblem(w http.ResponseWriter, r *http.Request, err error) {
	var ce *cordon.Error
	if !errors.As(err, &ce) || statusOf(ce.Code) >= 500 {
		c.fail(w, r, err)
		return
	}
	var p incidentsPage
	var lerr error
	if p.Open, p.Closed, lerr = c.incidentRows(r.Context()); lerr != nil {
		c.fail(w, r, lerr)
		return
	}
	p.Alerts, _ = c.roomAlerts(r.Context())
	p.Problem, p.Form.Severity = ce.Message, "high"
	if ce.Field != "" {
		p.Problem = ce.Field + ": " + ce.Message
	}
	c.page(w, r, statusOf(ce.Code), "incidents", nil, p)
}

// handleIncidentState moves an incident (investigating → contained →
// resolved), at the version the page showed: of two people moving it at
// once, one wins and the other is told its state now.
func (c *Console) handleIncidentState(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	to, err := incident.ParseState(r.PostFormValue("state"))
	if err != nil {
		c.incidentProblem(w, r, err)
		return
	}
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil || version < 1 {
		c.incidentProblem(w, r, cordon.FieldError(cordon.ECodeInvalid, "version", "the form lost the incident's version; reload the page"))
		return
	}
	if _, err := c.cfg.Incidents.Move(r.Context(), c.actor(r), r.PathValue("id"), to, false, version); err != nil {
		c.incidentProblem(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

func (c *Console) handleIncidentNote(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	if _, err := c.cfg.Incidents.Note(r.Context(), c.actor(r), r.PathValue("id"), r.PostFormValue("text")); err != nil {
		c.incidentProblem(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// handleSummary downloads the GDPR Article 33(3) summary as Markdown.
func (c *Console) handleSummary(w http.ResponseWriter, r *http.Request) {
	sum, err := c.cfg.Incidents.Summary(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, admin(r), audit.ActionExport, incident.Subject(r.PathValue("id")), "incident summary downloaded", "incidents"); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="incident-summary.md"`)
	io.WriteString(w, sum.Markdown())
}

// --- Campaigns ---

type campaignsPage struct {
	Campaigns []*cordon.Campaign
	// Incidents are the open incidents a new campaign may be linked to.
	Incidents []*incident.View
	Incident  string
	// Form is the form's last input when it was refused.
	Form      *campaignForm
	Kinds     []cordon.Kind
	Platforms []string
	Doc       string
	Problem   string
	// Field is the document field the problem is at.
	Field string
}

// reportID is what a saved report's id looks like; anything else in the
// query is not put in a draft.
var reportID = regexp.MustCompile(`^r-[a-z0-9]{1,60}$`)

const exampleDoc = `kind: reauth
name: Log in again after the token leak
cohort:
  platforms: [ios, android]
  versions: "< 8.5.0"
message: Please sign in again to keep your account safe.
`

func (c *Console) handleCampaigns(w http.ResponseWriter, r *http.Request) {
	list, err := c.cfg.Campaigns.List(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	doc := exampleDoc
	if rep := r.URL.Query().Get("report"); reportID.MatchString(rep) {
		// One click from a saved blast-radius report to a draft: its users
		// are the cohort.
		doc = fmt.Sprintf("kind: password_reset\nname: Reset the passwords of report %s\ncohort:\n  users_from_report: %s\nmessage: Your password must be changed.\n", rep, strconv.Quote(rep))
	}
	slices.Reverse(list)
	incs, err := c.openIncidents(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "campaigns", nil, campaignsPage{Campaigns: list, Doc: doc, Incidents: incs, Incident: r.URL.Query().Get("incident"), Kinds: formKinds, Platforms: cordon.Platforms})
}

func (c *Console) openIncidents(ctx context.Context) ([]*incident.View, error) {
	all, err := c.cfg.Incidents.List(ctx)
	if err != nil || !cordon.RoleHasScope(admin0(ctx), cordon.ScopeIncidents) {
		return nil, err
	}
	var open []*incident.View
	for _, v := range all {
		if v.State != cordon.IncidentResolved {
			open = append(open, v)
		}
	}
	return open, nil
}

func (c *Console) handleCreateCampaign(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCampaignDoc+4096)
	if !parseForm(w, r) {
		return
	}
	c.createCampaign(w, r, r.PostFormValue("document"), nil)
}

// campaignForm is the campaign as the form (not the YAML) gives it.
type campaignForm struct {
	Kind, Name, Versions, Message string
	Platforms                     []string
	// Problem and Field: the refusal, at the form field it names.
	Problem, Field string
}

// FormKinds are the kinds the form builds; an upgrade needs its store
// pages, so it is written as YAML.
var formKinds = []cordon.Kind{cordon.KindReauth, cordon.KindPasswordReset, cordon.KindOfflineRekey}

// handleCampaignForm builds the document from the form's fields and
// creates it as the YAML form does: one validation, one path.
func (c *Console) handleCampaignForm(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	f := &campaignForm{Kind: r.PostFormValue("kind"), Name: r.PostFormValue("name"), Versions: r.PostFormValue("versions"),
		Message: r.PostFormValue("message"), Platforms: r.PostForm["platforms"]}
	doc := map[string]any{"kind": f.Kind, "name": f.Name}
	cohort := map[string]any{}
	if len(f.Platforms) > 0 {
		cohort["platforms"] = f.Platforms
	}
	if f.Versions != "" {
		cohort["versions"] = f.Versions
	}
	doc["cohort"] = cohort
	if f.Message != "" {
		doc["message"] = f.Message
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.createCampaign(w, r, string(b), f)
}

func (c *Console) createCampaign(w http.ResponseWriter, r *http.Request, doc string, form *campaignForm) {
	a := admin(r)
	incID := r.PostFormValue("incident")
	again := func(status int, problem, field string) {
		list, _ := c.cfg.Campaigns.List(r.Context())
		slices.Reverse(list)
		incs, _ := c.openIncidents(r.Context())
		p := campaignsPage{Campaigns: list, Doc: doc, Problem: problem, Field: field, Incidents: incs, Incident: incID, Kinds: formKinds, Platforms: cordon.Platforms}
		if form != nil {
			form.Problem, form.Field = problem, field
			p.Form, p.Doc, p.Problem, p.Field = form, exampleDoc, "", ""
		}
		c.page(w, r, status, "campaigns", nil, p)
	}
	if incID != "" {
		// The incident must exist, and the person may change incidents,
		// before anything is made.
		if !cordon.RoleHasScope(a.Role, cordon.ScopeIncidents) {
			again(http.StatusForbidden, "your role cannot link campaigns to incidents", "incident")
			return
		}
		if _, err := c.cfg.Incidents.Get(r.Context(), incID); err != nil {
			again(http.StatusUnprocessableEntity, "no such incident; pick one from the list", "incident")
			return
		}
	}
	id := cordon.NewID("c")
	camp, err := change(c, r, a, func(ctx context.Context) (*cordon.Campaign, error) {
		return c.cfg.Campaigns.CreateWithID(ctx, id, []byte(doc), "yaml", Principal(a.Name))
	}, audit.ActionWrite, "cordon:campaign/"+id, "campaign draft created", "campaigns")
	var ce *cordon.Error
	if errors.As(err, &ce) && statusOf(ce.Code) < 500 {
		again(statusOf(ce.Code), ce.Message, ce.Field)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if incID != "" {
		if _, err := c.cfg.Incidents.Link(r.Context(), c.actor(r), incID, cordon.LinkCampaign, camp.ID); err != nil {
			// The draft exists: say so rather than let a retry make a
			// second one.
			c.fail(w, r, cordon.Errorf(cordon.ErrorCode(err), "campaign %s was created as a draft but not linked to the incident: %s", camp.ID, publicMessage(err)))
			return
		}
	}
	http.Redirect(w, r, Prefix+"/campaigns/"+camp.ID, http.StatusSeeOther)
}

type campaignPage struct {
	C        *cordon.Campaign
	Preview  *campaign.Preview
	Unknown  int64
	Chart    template.HTML
	Live     template.HTML
	Problem  string
	FourEyes bool
	// Pending is the admin whose activation awaits approval ("" if none).
	Pending string
}

func canTransition(s cordon.State, action string) bool {
	switch action {
	case "activate":
		return s == cordon.StateDraft
	case "pause":
		return s == cordon.StateActive
	case "resume":
		return s == cordon.StatePaused
	case "cancel":
		return s == cordon.StateDraft || s == cordon.StateActive || s == cordon.StatePaused
	case "complete":
		return s == cordon.StateActive || s == cordon.StatePaused
	}
	return false
}

func (c *Console) campaignPage(ctx context.Context, id string) (*campaignPage, error) {
	camp, err := c.cfg.Campaigns.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &campaignPage{C: camp, FourEyes: c.cfg.FourEyes}
	if camp.State == cordon.StateDraft {
		if p.Preview, err = c.cfg.Campaigns.Preview(ctx, id); err != nil {
			return nil, err
		}
		var bars []chart.Bar
		for _, row := range p.Preview.Breakdown {
			bars = append(bars, chart.Bar{Label: row.Platform + " " + row.Version + " " + row.Source, Value: float64(row.Sessions)})
			if row.Platform == cordon.PlatformUnknown || row.Version == "" || row.Version == "unknown" || row.Source == cordon.SourceUnknown {
				p.Unknown += row.Sessions
			}
		}
		p.Chart = chart.Bars("Sessions the campaign would hit, by platform, version and source", "sessions", bars)
		c.mu.Lock()
		p.Pending = c.approvals[id].By
		c.mu.Unlock()
	} else if p.Live, err = c.campaignFragment(ctx, camp); err != nil {
		return nil, err
	}
	return p, nil
}

type liveCampaign struct {
	C        *cordon.Campaign
	Progress *campaign.ProgressView
	Chart    template.HTML
}

func (c *Console) campaignFragment(ctx context.Context, camp *cordon.Campaign) (template.HTML, error) {
	prog, err := c.cfg.Campaigns.Progress(ctx, camp)
	if err != nil {
		return "", err
	}
	samples, err := c.cfg.Campaigns.Series(ctx, camp.ID, time.Time{}, 200)
	if err != nil {
		return "", err
	}
	admitted := chart.Series{Name: "admitted users", Class: "s2"}
	blocked := chart.Series{Name: "blocked users", Class: "s1"}
	satisfied := chart.Series{Name: "satisfied users", Class: "s0"}
	for _, s := range samples {
		admitted.Points = append(admitted.Points, chart.Point{At: s.At, Value: s.AdmittedShare * float64(s.TargetedUsers)})
		blocked.Points = append(blocked.Points, chart.Point{At: s.At, Value: float64(s.BlockedUsers)})
		satisfied.Points = append(satisfied.Points, chart.Point{At: s.At, Value: float64(s.SatisfiedUsers)})
	}
	// The chart ends at now, with the live counters.
	now := c.cfg.Clock.Now()
	admitted.Points = append(admitted.Points, chart.Point{At: now, Value: float64(prog.Admitted.Users)})
	blocked.Points = append(blocked.Points, chart.Point{At: now, Value: float64(prog.Blocked.Users)})
	satisfied.Points = append(satisfied.Points, chart.Point{At: now, Value: float64(prog.Satisfied)})
	ch := chart.Lines("Progress over time: admitted, blocked and satisfied users", []chart.Series{admitted, blocked, satisfied})
	return c.fragment("campaign-live", liveCampaign{C: camp, Progress: prog, Chart: ch})
}

func (c *Console) campaignLive(r *http.Request) (template.HTML, error) {
	camp, err := c.cfg.Campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return "", err
	}
	return c.campaignFragment(r.Context(), camp)
}

func (c *Console) handleCampaign(w http.ResponseWriter, r *http.Request) {
	p, err := c.campaignPage(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "campaign", nil, p)
}

// handleTransition pauses, resumes, cancels, completes or activates. An
// activation must be confirmed by typing the campaign's id (the page
// shows what it will hit next to the box); with four-eyes, the first
// admin's activation waits for another admin's approval.
func (c *Console) handleTransition(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	a := admin(r)
	again := func(problem string) {
		p, err := c.campaignPage(r.Context(), id)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		p.Problem = problem
		c.page(w, r, http.StatusUnprocessableEntity, "campaign", nil, p)
	}
	switch action {
	case "activate", "approve":
		if r.PostFormValue("confirm") != id {
			again("Type the campaign's id, " + id + ", to confirm the activation.")
			return
		}
		if c.cfg.FourEyes {
			c.mu.Lock()
			pending, ok := c.approvals[id]
			if action == "activate" && !ok {
				c.approvals[id] = approval{By: a.Name, At: c.cfg.Clock.Now()}
			}
			c.mu.Unlock()
			switch {
			case action == "activate" && !ok:
				if err := c.record(r, a, audit.ActionWrite, "cordon:campaign/"+id, "campaign activation requested; awaits a second admin's approval", "campaigns"); err != nil {
					c.fail(w, r, err)
					return
				}
				http.Redirect(w, r, Prefix+"/campaigns/"+id, http.StatusSeeOther)
				return
			case !ok:
				again("No activation awaits approval.")
				return
			case pending.By == a.Name:
				again("You asked for this activation: another admin must approve it.")
				return
			}
			c.mu.Lock()
			delete(c.approvals, id)
			c.mu.Unlock()
		}
		action = "activate"
	case "pause", "resume", "cancel", "complete":
		if action == "cancel" {
			c.mu.Lock()
			delete(c.approvals, id)
			c.mu.Unlock()
		}
	default:
		c.fail(w, r, cordon.Errorf(cordon.ECodeNotFound, "no campaign action %q", action))
		return
	}
	if _, err := change(c, r, a, func(ctx context.Context) (*cordon.Campaign, error) {
		return c.cfg.Campaigns.Transition(ctx, id, action, Principal(a.Name))
	}, audit.ActionWrite, "cordon:campaign/"+id, "campaign "+action, "campaigns"); err != nil {
		var ce *cordon.Error
		if errors.As(err, &ce) && ce.Code == cordon.ECodeConflict {
			again("The campaign cannot " + action + " from its current state.")
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/campaigns/"+id, http.StatusSeeOther)
}

// --- Blast radius ---

type blastPage struct {
	Principals, From, To string
	Report               *reportView
	Problem              string
}

type reportView struct {
	Users, Unresolved int
	Events            int64
	Touched           []string
	Untouched         []string
	Accesses          []cordon.AuditAccess
	Truncated         bool
	Chart             template.HTML
	Query             string
}

// blastQuery reads principals (one per line or comma-separated) and the
// window from the query; a missing window is the last 30 days.
func (c *Console) blastQuery(r *http.Request) (principals []string, from, to time.Time, err error) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	for _, p := range strings.FieldsFunc(q.Get("principals"), func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if p = strings.TrimSpace(p); p != "" {
			principals = append(principals, p)
		}
	}
	if len(principals) == 0 {
		return nil, from, to, cordon.FieldError(cordon.ECodeInvalid, "principals", "name at least one principal (a service or person whose access is in question)")
	}
	to, from = c.cfg.Clock.Now(), c.cfg.Clock.Now().AddDate(0, 0, -30)
	parse := func(field, v string, into *time.Time) error {
		if v == "" {
			return nil
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				*into = t
				return nil
			}
		}
		return cordon.FieldError(cordon.ECodeInvalid, field, "%s must be a date (2026-03-01) or a time (2026-03-01T10:00)", field)
	}
	if err := parse("from", q.Get("from"), &from); err != nil {
		return nil, from, to, err
	}
	if err := parse("to", q.Get("to"), &to); err != nil {
		return nil, from, to, err
	}
	return principals, from, to, nil
}

func (c *Console) handleBlast(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := blastPage{Principals: q.Get("principals"), From: q.Get("from"), To: q.Get("to")}
	if p.Principals == "" {
		c.page(w, r, http.StatusOK, "blast", nil, p)
		return
	}
	principals, from, to, err := c.blastQuery(r)
	if err != nil {
		var ce *cordon.Error
		errors.As(err, &ce)
		p.Problem = ce.Message
		c.page(w, r, http.StatusBadRequest, "blast", nil, p)
		return
	}
	if err := c.record(r, admin(r), audit.ActionRead, "cordon:audit-log", reportPurpose("blast radius", principals, from, to), "audit_log"); err != nil {
		c.fail(w, r, err)
		return
	}
	rep, err := c.cfg.Audit.Report(r.Context(), principals, from, to)
	if err != nil {
		var ce *cordon.Error
		if errors.As(err, &ce) && statusOf(ce.Code) < 500 {
			p.Problem = ce.Message
			c.page(w, r, statusOf(ce.Code), "blast", nil, p)
			return
		}
		c.fail(w, r, err)
		return
	}
	rv := &reportView{Users: rep.Users, Unresolved: rep.Unresolved, Events: rep.Events, Touched: rep.Touched, Untouched: rep.Untouched,
		Accesses: rep.Accesses, Truncated: rep.Truncated, Query: r.URL.RawQuery}
	perCat := map[string]int{}
	for _, a := range rep.Accesses {
		for _, cat := range a.Categories {
			perCat[cat]++
		}
	}
	var bars []chart.Bar
	for _, cat := range rep.Touched {
		bars = append(bars, chart.Bar{Label: cat, Value: float64(perCat[cat])})
	}
	rv.Chart = chart.Bars("Users touched per data category", "users", bars)
	p.Report = rv
	c.page(w, r, http.StatusOK, "blast", nil, p)
}

func reportPurpose(what string, principals []string, from, to time.Time) string {
	return fmt.Sprintf("%s: principals %s; %s to %s", what, strings.Join(principals, ", "), from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
}

// csvSafe keeps a spreadsheet from running a cell as a formula (CSV
// injection): a cell that starts with = + - @ or a tab is quoted by a
// leading apostrophe.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (c *Console) handleBlastCSV(w http.ResponseWriter, r *http.Request) {
	principals, from, to, err := c.blastQuery(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, admin(r), audit.ActionExport, "cordon:audit-log", reportPurpose("blast radius CSV", principals, from, to), "audit_log"); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="blast-radius.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"subject", "account", "categories", "events", "first", "last"})
	err = c.cfg.Audit.ReportRows(r.Context(), principals, from, to, func(a *cordon.AuditAccess) error {
		return cw.Write([]string{csvSafe(a.Subject), csvSafe(a.Account), csvSafe(strings.Join(a.Categories, " ")), strconv.FormatInt(a.Count, 10),
			a.First.UTC().Format(time.RFC3339), a.Last.UTC().Format(time.RFC3339)})
	})
	cw.Flush()
	if err != nil {
		// Headers are gone: cut the connection so the file is not taken
		// for whole.
		c.cfg.Log.Error("console: blast CSV", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// handleSaveCohort saves the report (its users become a cohort) and goes
// to the campaign form with a draft naming it.
func (c *Console) handleSaveCohort(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	principals, from, to, err := c.blastQuery(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	a := admin(r)
	rep, err := c.cfg.Audit.SaveReport(r.Context(), principals, from, to, Principal(a.Name))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, a, audit.ActionWrite, "cordon:report/"+rep.ID, reportPurpose("blast radius saved as a cohort", principals, from, to), "audit_log"); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/campaigns?report="+rep.ID+"#new", http.StatusSeeOther)
}

// --- Fleet ---

type fleetPage struct {
	Live template.HTML
}

type fleetView struct {
	Total                     int64
	Platform, Version, Source template.HTML
	Below                     string
	BelowCount                int64
	BelowShare                float64
	BelowPlatform             string
}

func (c *Console) fleetFragment(ctx context.Context, below, platform string) (template.HTML, error) {
	buckets, err := c.cfg.Store.Buckets(ctx)
	if err != nil {
		return "", err
	}
	v := fleetView{Below: below, BelowPlatform: platform}
	byPlatform, byVersion, bySource := map[string]int64{}, map[string]int64{}, map[string]int64{}
	var cons *semver.Constraints
	if below != "" {
		cons, _ = semverBelow(below)
	}
	for _, b := range buckets {
		v.Total += b.Sessions
		byPlatform[b.Platform] += b.Sessions
		byVersion[b.Platform+" "+b.Version] += b.Sessions
		bySource[b.Source] += b.Sessions
		if cons == nil || (platform != "" && platform != b.Platform) {
			continue
		}
		if ver, err := semver.NewVersion(b.Version); err == nil && cons.Check(ver) {
			v.BelowCount += b.Sessions
		}
	}
	if v.Total > 0 {
		v.BelowShare = float64(v.BelowCount) / float64(v.Total)
	}
	v.Platform = chart.Bars("Live sessions by platform", "sessions", bars(byPlatform, 20))
	v.Version = chart.Bars("Live sessions by platform and version (top 20)", "sessions", bars(byVersion, 20))
	v.Source = chart.Bars("Live sessions by install source", "sessions", bars(bySource, 20))
	return c.fragment("fleet-live", v)
}

// bars turns counts into bars, largest first (ties by label), at most n.
func bars(m map[string]int64, n int) []chart.Bar {
	var out []chart.Bar
	for k, v := range m {
		out = append(out, chart.Bar{Label: k, Value: float64(v)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value > out[j].Value
		}
		return out[i].Label < out[j].Label
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (c *Console) handleFleet(w http.ResponseWriter, r *http.Request) {
	below, platform := r.URL.Query().Get("below"), r.URL.Query().Get("platform")
	if below != "" {
		if _, err := semverBelow(below); err != nil {
			c.fail(w, r, cordon.FieldError(cordon.ECodeInvalid, "below", "%q is not a version (8.5.0)", below))
			return
		}
	}
	live, err := c.fleetFragment(r.Context(), below, platform)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "fleet", nil, fleetPage{Live: live})
}

func (c *Console) fleetLive(r *http.Request) (template.HTML, error) {
	below := r.URL.Query().Get("below")
	if below != "" {
		if _, err := semverBelow(below); err != nil {
			below = ""
		}
	}
	return c.fleetFragment(r.Context(), below, r.URL.Query().Get("platform"))
}

// --- Audit ---

type auditPage struct {
	Size   uint64
	Last   *cordon.AuditCheckpoint
	Origin string
	Job    template.HTML
}

func (c *Console) auditPage(ctx context.Context) (*auditPage, error) {
	size, err := c.cfg.Audit.Size(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := c.cfg.Audit.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	job, err := c.fragment("audit-verify", c.verifyState())
	if err != nil {
		return nil, err
	}
	p := &auditPage{Size: size, Origin: c.cfg.Audit.Origin(), Job: job}
	if len(cps) > 0 {
		p.Last = cps[len(cps)-1]
	}
	return p, nil
}

func (c *Console) handleAudit(w http.ResponseWriter, r *http.Request) {
	p, err := c.auditPage(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "audit", nil, p)
}

// admin0 is the role of the context's admin ("" when none).
func admin0(ctx context.Context) string {
	if a, _ := ctx.Value(ctxKey{}).(*cordon.ConsoleAdmin); a != nil {
		return a.Role
	}
	return ""
}

func publicMessage(err error) string {
	var ce *cordon.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	return "an internal error"
}

func parseForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxCampaignDoc+4096)
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return false
	}
	return true
}

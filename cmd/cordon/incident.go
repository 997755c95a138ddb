package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cordon-dev/cordon/internal/adminclient"
)

type incidentLinkOut struct {
	Kind     string    `json:"kind"`
	ID       string    `json:"id"`
	LinkedAt time.Time `json:"linked_at"`
	LinkedBy string    `json:"linked_by"`
}

type incidentOut struct {
	ID         string            `json:"id"`
	Title      string            `json:"title"`
	Severity   string            `json:"severity"`
	State      string            `json:"state"`
	AwareAt    time.Time         `json:"aware_at"`
	CreatedAt  time.Time         `json:"created_at"`
	CreatedBy  string            `json:"created_by"`
	Version    int64             `json:"version"`
	Links      []incidentLinkOut `json:"links"`
	NotifyBy   time.Time         `json:"notify_by"`
	NotifyLeft string            `json:"notify_left"`
	Overdue    bool              `json:"notify_overdue"`
}

// clock says the 72-hour clock in words.
func (o *incidentOut) clock() string {
	if o.Overdue {
		return "overdue by " + strings.TrimPrefix(o.NotifyLeft, "-")
	}
	return o.NotifyLeft + " left"
}

func incidentUsageError(format string, args ...any) error {
	return usageError(format, args...)
}

// incidentOpts are the incident verbs' flags; each verb defines those it
// reads.
type incidentOpts struct {
	title, severity, awareAt, format, out string
	reopen                                bool
	version                               int64
}

func incidentCmd(a *app) *cobra.Command {
	verb := func(use, short, long, example string, flags func(fs *flag.FlagSet, o *incidentOpts)) *cobra.Command {
		name, _, _ := strings.Cut(use, " ")
		return leaf(&cobra.Command{Use: use, Short: short, Long: long, Example: example, Args: cobra.ArbitraryArgs},
			func(fs *flag.FlagSet) action {
				o := &incidentOpts{}
				if flags != nil {
					flags(fs, o)
				}
				return func(ctx context.Context, pos []string) error {
					return runIncident(ctx, a.client(), name, pos, *o, a.stdout)
				}
			})
	}
	version := func(fs *flag.FlagSet, o *incidentOpts) {
		fs.Int64Var(&o.version, "version", 0, "the version you read: refuse the move if the incident changed since")
	}
	export := func(formats, def string) func(fs *flag.FlagSet, o *incidentOpts) {
		return func(fs *flag.FlagSet, o *incidentOpts) {
			fs.StringVar(&o.format, "format", "", formats+" (default "+def+")")
			fs.StringVar(&o.out, "o", "", "write to FILE instead of stdout")
		}
	}
	return group(&cobra.Command{
		Use:   "incident",
		Short: "Open and run an incident: its record, timeline and regulator summary",
		Long: `An incident has a title, a severity (low, medium, high, critical), a state
(investigating, contained, resolved) and the time the team became aware of it:
the start of the 72 hours GDPR Article 33 gives to tell the regulator, shown as
time left. Saved audit reports and campaigns are linked to it. Its timeline is
read from the tamper-evident audit log (every change, note and link, and the
admin actions on what is linked), and its summary states the fields Article
33(3) names, writing "not known yet" for any figure cordon does not hold.
Admin token scope: incidents.`,
		Example: `  cordon incident open --title "Support tool compromised" --severity high --aware-at 3h
  cordon incident link INC report r-...
  cordon incident timeline INC --format md -o timeline.md`,
	},
		verb("open [TITLE...]", "Open an incident", `Open an incident, investigating. The title is --title or the arguments.`,
			`  cordon incident open --title "Support tool compromised" --severity high
  cordon incident open Support tool compromised --severity critical --aware-at 2026-05-27T08:00:00Z`,
			func(fs *flag.FlagSet, o *incidentOpts) {
				fs.StringVar(&o.title, "title", "", "the incident's title (one line)")
				fs.StringVar(&o.severity, "severity", "", "low, medium, high or critical")
				fs.StringVar(&o.awareAt, "aware-at", "", "when the team became aware: RFC 3339 or a duration ago (3h); default now")
			}),
		verb("list", "List the incidents", `List the incidents with their state, their 72-hour clock and links.`, `  cordon incident list`, nil),
		verb("show ID", "Show an incident", `Show an incident: severity, state, version, clock and links.`, `  cordon incident show INC`, nil),
		verb("note ID TEXT...", "Add a note to an incident's timeline",
			`Add a one-line note. Notes live only in the audit log. A note beginning
"consequences:", "measure:" or "notified:" goes to that section of the summary.`,
			`  cordon incident note INC "measure: forced re-login for desktop, iOS and WP"`, nil),
		verb("status ID investigating|contained|resolved", "Move an incident to another state",
			`Move an incident: investigating → contained or resolved; contained →
investigating or resolved. Resolved is final unless --reopen (back to
investigating).`,
			`  cordon incident status INC contained
  cordon incident status INC investigating --reopen`,
			func(fs *flag.FlagSet, o *incidentOpts) {
				fs.BoolVar(&o.reopen, "reopen", false, "reopen a resolved incident (to investigating)")
				version(fs, o)
			}),
		verb("close ID", "Resolve an incident", `The same as status ID resolved.`, `  cordon incident close INC`, version),
		verb("link ID report|campaign|notice|alert OBJECT_ID", "Link a saved report, a campaign, a notice or an alert to an incident",
			`Link an object that exists: a saved audit report (r-...), a campaign (c-...),
a notice (n-...) or an alert (al-...; cordon alert escalate opens one as an
incident).`,
			`  cordon incident link INC report r-...
  cordon incident link INC campaign c-...
  cordon incident link INC alert al-...`, nil),
		verb("unlink ID report|campaign|notice|alert OBJECT_ID", "Unlink an object from an incident", `Unlink an object; the link and unlink stay in the timeline.`,
			`  cordon incident unlink INC campaign c-...`, nil),
		verb("timeline ID", "Print an incident's timeline, read from the audit log",
			`Print the timeline: the incident's own entries and the admin actions on
what is linked, with who and when, read from the signed log. md is for the
postmortem.`,
			`  cordon incident timeline INC
  cordon incident timeline INC --format md -o timeline.md`, export("text, md or json", "text")),
		verb("summary ID", "Print the regulator summary (GDPR Article 33(3))",
			`Print the fields Article 33(3) names, as Markdown a lawyer can edit, from
the linked reports and campaigns; a figure cordon does not hold is written
"not known yet" with what would provide it.`,
			`  cordon incident summary INC -o summary.md`, export("md or json", "md")),
		incidentPageCmd(a, "publish"), incidentPageCmd(a, "update"),
	)
}

// runIncident runs one incident verb against a server's admin API.
func runIncident(ctx context.Context, c *adminclient.Client, verb string, pos []string, o incidentOpts, stdout io.Writer) error {
	title, severity, awareAt, reopen, version, format, out := &o.title, &o.severity, &o.awareAt, &o.reopen, &o.version, &o.format, &o.out
	var err error
	path := func(id string, rest ...string) string {
		p := "/admin/v1/incidents/" + url.PathEscape(id)
		for _, r := range rest {
			p += "/" + url.PathEscape(r)
		}
		return p
	}
	show := func(o *incidentOut) {
		fmt.Fprintf(stdout, "incident %s: %s\n", o.ID, o.Title)
		fmt.Fprintf(stdout, "  severity %s, %s (version %d)\n", o.Severity, o.State, o.Version)
		fmt.Fprintf(stdout, "  aware at %s; Article 33 notification due %s (%s)\n", o.AwareAt.Format(time.RFC3339), o.NotifyBy.Format(time.RFC3339), o.clock())
		fmt.Fprintf(stdout, "  opened %s by %s\n", o.CreatedAt.Format(time.RFC3339), o.CreatedBy)
		for _, l := range o.Links {
			fmt.Fprintf(stdout, "  linked %s %s (%s, %s)\n", l.Kind, l.ID, l.LinkedAt.Format(time.RFC3339), l.LinkedBy)
		}
	}
	need := func(n int, what string) error {
		if len(pos) != n {
			return incidentUsageError("incident %s takes %s", verb, what)
		}
		return nil
	}
	switch verb {
	case "open":
		t := *title
		if t == "" && len(pos) > 0 {
			t = strings.Join(pos, " ")
		} else if len(pos) > 0 {
			return incidentUsageError("incident open takes --title or the title as arguments, not both")
		}
		if t == "" || *severity == "" {
			return incidentUsageError("incident open needs --title and --severity")
		}
		body := map[string]any{"title": t, "severity": *severity}
		if *awareAt != "" {
			at, err := parseAwareAt(*awareAt, time.Now())
			if err != nil {
				return incidentUsageError("--aware-at: %v", err)
			}
			body["aware_at"] = at
		}
		var o incidentOut
		if err := c.Do(ctx, "POST", "/admin/v1/incidents", body, &o); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "opened incident %s (%s, investigating); Article 33 notification due %s (%s)\n", o.ID, o.Severity, o.NotifyBy.Format(time.RFC3339), o.clock())
		return nil
	case "list":
		if err := need(0, "no arguments"); err != nil {
			return err
		}
		var l struct {
			Incidents []incidentOut `json:"incidents"`
		}
		if err := c.Do(ctx, "GET", "/admin/v1/incidents", nil, &l); err != nil {
			return err
		}
		if len(l.Incidents) == 0 {
			fmt.Fprintln(stdout, "no incidents")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tSTATE\tAWARE AT\t72H CLOCK\tLINKS\tTITLE")
		for _, o := range l.Incidents {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", o.ID, o.Severity, o.State, o.AwareAt.Format(time.RFC3339), o.clock(), len(o.Links), o.Title)
		}
		return tw.Flush()
	case "show":
		if err := need(1, "ID"); err != nil {
			return err
		}
		var o incidentOut
		if err := c.Do(ctx, "GET", path(pos[0]), nil, &o); err != nil {
			return err
		}
		show(&o)
		return nil
	case "note":
		if len(pos) < 2 {
			return incidentUsageError("incident note takes ID TEXT...")
		}
		var o incidentOut
		if err := c.Do(ctx, "POST", path(pos[0], "notes"), map[string]any{"text": strings.Join(pos[1:], " ")}, &o); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "noted on incident %s (version %d)\n", o.ID, o.Version)
		return nil
	case "status", "close":
		body := map[string]any{}
		var p string
		if verb == "close" {
			if err := need(1, "ID"); err != nil {
				return err
			}
			p = path(pos[0], "close")
		} else {
			if err := need(2, "ID STATE"); err != nil {
				return err
			}
			p = path(pos[0], "state")
			body["state"] = pos[1]
			if *reopen {
				body["reopen"] = true
			}
		}
		if *version != 0 {
			body["version"] = *version
		}
		var o incidentOut
		if err := c.Do(ctx, "POST", p, body, &o); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "incident %s is %s (version %d)\n", o.ID, o.State, o.Version)
		return nil
	case "link", "unlink":
		if err := need(3, "ID KIND OBJECT_ID (KIND: report, campaign or alert)"); err != nil {
			return err
		}
		var o incidentOut
		if verb == "link" {
			err = c.Do(ctx, "POST", path(pos[0], "links"), map[string]any{"kind": pos[1], "id": pos[2]}, &o)
		} else {
			err = c.Do(ctx, "DELETE", path(pos[0], "links", pos[1], pos[2]), nil, &o)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%sed %s %s %s incident %s (%d links)\n", verb, pos[1], pos[2], map[string]string{"link": "to", "unlink": "from"}[verb], o.ID, len(o.Links))
		return nil
	case "timeline", "summary":
		if err := need(1, "ID"); err != nil {
			return err
		}
		f := *format
		if f == "" {
			f = map[string]string{"timeline": "text", "summary": "md"}[verb]
		}
		var q string
		switch {
		case f == "md" || f == "json":
			q = "?format=" + f
		case f == "text" && verb == "timeline":
			q = "?format=json"
		default:
			return incidentUsageError("incident %s: --format %q is not one of text, md, json (text: timeline only)", verb, f)
		}
		resp, err := c.Open(ctx, "GET", path(pos[0], verb)+q, "", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return err
		}
		if f == "text" {
			if data, err = timelineText(data); err != nil {
				return err
			}
		}
		if *out != "" {
			if err := os.WriteFile(*out, data, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote the %s of incident %s to %s\n", verb, pos[0], *out)
			return nil
		}
		_, err = stdout.Write(data)
		return err
	}
	return incidentUsageError("unknown incident verb %q", verb)
}

// parseAwareAt reads an RFC 3339 time or a duration ago ("3h", "90m").
func parseAwareAt(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && strings.HasSuffix(s, "d") && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
		return time.Time{}, errors.New("give an RFC 3339 time (2026-12-01T07:00:00Z) or how long ago (3h, 2d)")
	}
	return now.Add(-d), nil
}

// timelineText renders the timeline's JSON for a terminal.
func timelineText(data []byte) ([]byte, error) {
	var t struct {
		Incident string `json:"incident"`
		Title    string `json:"title"`
		Entries  []struct {
			Index     uint64    `json:"index"`
			Time      time.Time `json:"time"`
			Principal string    `json:"principal"`
			Object    string    `json:"object"`
			What      string    `json:"what"`
			Damaged   bool      `json:"damaged"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "incident %s: %s (from the audit log)\n", t.Incident, t.Title)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tWHEN (UTC)\tWHO\tABOUT\tWHAT")
	for _, e := range t.Entries {
		what := e.What
		if e.Damaged {
			what = "DAMAGED: " + what
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Index, e.Time.UTC().Format("2006-01-02 15:04:05"), e.Principal, e.Object, what)
	}
	tw.Flush()
	return []byte(b.String()), nil
}

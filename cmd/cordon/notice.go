package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// noticeOut is a notice as the admin API answers it.
type noticeOut struct {
	ID              string `json:"id"`
	Incident        string `json:"incident"`
	Campaign        string `json:"campaign"`
	State           string `json:"state"`
	DefaultLanguage string `json:"default_language"`
	Texts           map[string]struct {
		Title string `json:"title"`
	} `json:"texts"`
	CreatedAt   time.Time `json:"created_at"`
	PublishedAt time.Time `json:"published_at"`
	Targeted    *struct {
		Sessions int64 `json:"sessions"`
		Users    int64 `json:"users"`
		Exact    bool  `json:"exact"`
	} `json:"targeted"`
	Progress *struct {
		DeliveredSessions int64 `json:"delivered_sessions"`
		DeliveredUsers    int64 `json:"delivered_users"`
		AckedSessions     int64 `json:"acknowledged_sessions"`
		AckedUsers        int64 `json:"acknowledged_users"`
	} `json:"progress"`
	Email bool `json:"email"`
	Mail  *struct {
		Queued int64 `json:"queued"`
		Sent   int64 `json:"sent"`
		Failed int64 `json:"failed"`
	} `json:"mail"`
}

func (n *noticeOut) title() string { return n.Texts[n.DefaultLanguage].Title }

func noticePath(id string) string { return "/admin/v1/notices/" + url.PathEscape(id) }

func noticeCmd(a *app) *cobra.Command {
	return group(&cobra.Command{
		Use:   "notice",
		Short: "Tell a cohort's users something in their apps",
		Long: `An in-app notice targets a cohort exactly as a campaign does (platforms,
versions, sources, authenticated_before, users, users_from_report), matched
against the facts each session had at login, and carries its text in one or
more languages (BCP 47 tags, with a default). A draft is seen by nobody;
published, it is served to its cohort's apps at GET /v1/notices, in the best
language of their Accept-Language, and apps acknowledge it; withdrawn, it is
served no more. A notice that names a campaign explains that campaign's
denials: they carry a Cordon-Notice header with its id and title.
Admin token scope: notices.`,
		Example: `  cordon notice create -f notice.yaml --incident i-0123
  cordon notice publish n-0123
  cordon notice show n-0123`,
	}, noticeCreateCmd(a), noticeListCmd(a), noticeShowCmd(a),
		noticeMoveCmd(a, "publish", "Publish a draft notice to its cohort"),
		noticeMoveCmd(a, "withdraw", "Withdraw a notice for good"))
}

func noticeCreateCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a draft notice from a JSON or YAML document",
		Long: `Create a draft notice from a document (JSON or YAML):

  campaign: c-...            # optional: the campaign whose denials it explains
  cohort: {platforms: [ios]} # optional, a campaign's cohort; absent: everyone
  default_language: en
  texts:
    en: {title: "Please log in again", body: "We **reset** sessions ..."}
    de: {title: "Bitte melden Sie sich neu an", body: "..."}

Titles are one line of plain text; bodies are Markdown, shown sanitised.
-f - reads standard input. --incident links the notice to an incident as it
is created (the token needs the incidents scope too).`,
		Example: `  cordon notice create -f notice.yaml
  printf 'default_language: en\ntexts: {en: {title: Hello, body: Hi}}\n' | cordon notice create -f -
  cordon notice create -f notice.yaml --incident i-0123`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		file := fs.String("f", "", "notice document (JSON or YAML; - for stdin)")
		incident := fs.String("incident", "", "link the new notice to this incident (i-...)")
		return func(ctx context.Context, _ []string) error {
			if *file == "" {
				return usageError("notice create takes -f FILE (JSON or YAML; - for stdin)")
			}
			doc, err := readInput(a, *file)
			if err != nil {
				return err
			}
			path := "/admin/v1/notices"
			if *incident != "" {
				path += "?incident=" + url.QueryEscape(*incident)
			}
			var raw json.RawMessage
			if err := a.client().DoRaw(ctx, "POST", path, documentType(*file, doc), bytes.NewReader(doc), &raw); err != nil {
				return err
			}
			var n noticeOut
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "created notice %s (%s); check whom it targets with cordon notice show %s, then: cordon notice publish %s\n", n.ID, n.State, n.ID, n.ID)
				return err
			})
		}
	})
	c.MarkFlagFilename("f", "yaml", "yml", "json")
	out = withOutput(c)
	return c
}

// readInput reads file, or standard input for "-", without a leading
// byte-order mark.
func readInput(a *app, file string) ([]byte, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(a.stdin, 8<<20))
	} else {
		b, err = os.ReadFile(file)
	}
	return bytes.TrimPrefix(b, []byte("\ufeff")), err
}

func noticeListCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "list",
		Short:   "List every notice",
		Long:    "List every notice with its id, state, incident, campaign and title in its default language.",
		Example: "  cordon notice list\n  cordon notice list -o json",
		Args:    noArgs,
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, _ []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", "/admin/v1/notices", nil, &raw); err != nil {
				return err
			}
			var list struct {
				Notices []noticeOut `json:"notices"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tINCIDENT\tCAMPAIGN\tTITLE")
				for _, n := range list.Notices {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.ID, n.State, dash(n.Incident), dash(n.Campaign), oneLine(n.title()))
				}
				return tw.Flush()
			})
		}
	})
	out = withOutput(c)
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a title on its line of a table, whatever it holds.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func noticeShowCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "show ID",
		Short: "Show a notice and its reach",
		Long: `Show a notice: its state, languages, and its reach: the sessions and users
its cohort targets now (the campaign preview's computation), and those it was
delivered to and that acknowledged it.`,
		Example: "  cordon notice show n-0123\n  cordon notice show n-0123 -o json",
		Args:    oneArg("notice ID"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", noticePath(pos[0]), nil, &raw); err != nil {
				return err
			}
			var n noticeOut
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				tags := make([]string, 0, len(n.Texts))
				for t := range n.Texts {
					tags = append(tags, t)
				}
				sort.Strings(tags)
				fmt.Fprintf(a.stdout, "notice %s: %s\n", n.ID, oneLine(n.title()))
				fmt.Fprintf(a.stdout, "  %s; languages %s (default %s)\n", n.State, strings.Join(tags, ", "), n.DefaultLanguage)
				if n.Incident != "" || n.Campaign != "" {
					fmt.Fprintf(a.stdout, "  incident %s; explains campaign %s\n", dash(n.Incident), dash(n.Campaign))
				}
				if t := n.Targeted; t != nil {
					exact := "exact"
					if !t.Exact {
						exact = "from aggregates; users is an upper bound"
					}
					fmt.Fprintf(a.stdout, "  targets %d session(s) of %d user(s) (%s)\n", t.Sessions, t.Users, exact)
				}
				if p := n.Progress; p != nil {
					fmt.Fprintf(a.stdout, "  delivered to %d session(s) of %d user(s); acknowledged by %d session(s) of %d user(s)\n",
						p.DeliveredSessions, p.DeliveredUsers, p.AckedSessions, p.AckedUsers)
				}
				switch {
				case n.Mail != nil:
					fmt.Fprintf(a.stdout, "  email: %d queued, %d sent, %d failed\n", n.Mail.Queued, n.Mail.Sent, n.Mail.Failed)
				case n.Email:
					fmt.Fprintln(a.stdout, "  email: once published")
				}
				return nil
			})
		}
	})
	out = withOutput(c)
	return c
}

func noticeMoveCmd(a *app, verb, short string) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Long: short + `. Publish moves a draft to published; withdraw moves a draft or a
published notice to withdrawn, for good. A notice that explains a campaign
reaches every gate with the policy feed within a second. Each move is an
audit record; a move the notice's state does not allow fails with exit 1.`,
		Example: "  cordon notice " + verb + " n-0123",
		Args:    oneArg("notice ID"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", noticePath(pos[0])+"/"+verb, nil, &raw); err != nil {
				return err
			}
			var n noticeOut
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "notice %s is %s\n", n.ID, n.State)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

// pageOut is a public page as the admin API answers it.
type pageOut struct {
	Incident string `json:"incident"`
	Slug     string `json:"slug"`
	Updates  []struct {
		ID          string    `json:"id"`
		PublishedAt time.Time `json:"published_at"`
	} `json:"updates"`
}

// incidentPageCmd is incident publish (the first statement, naming the
// page's slug) and incident update (each one after).
func incidentPageCmd(a *app, verb string) *cobra.Command {
	var out *outputFormat
	short := "Publish an incident's public page with its first statement"
	long := `Publish the incident's public page at /status/SLUG (HTML that reads well on a
phone, /status/SLUG.atom and /status/SLUG.json) with a first statement.
`
	example := "  cordon incident publish INC --slug may-2026 -f notice.md\n  cordon incident publish INC --slug may-2026 -f notice.md -f de=notice.de.md"
	if verb == "update" {
		short = "Append a statement to an incident's public page"
		long = `Append a statement to the incident's public page, newest first; earlier
ones stay.
`
		example = "  cordon incident update INC -f update.md"
	}
	c := leaf(&cobra.Command{
		Use:   verb + " ID -f FILE.md",
		Short: short,
		Long: long + `Each file is Markdown whose first line is its title as a heading
("# Title"); the rest is the body, shown sanitised (no HTML, no script). The
first -f is in the --lang language, the default; more languages are given as
-f TAG=FILE. Only what is published here is ever on the page, and each
statement is an audit record in the incident's timeline. Scope: incidents.`,
		Example: example,
		Args:    oneArg("incident ID"),
	}, func(fs *flag.FlagSet) action {
		var files multiFlag
		fs.Var(&files, "f", "Markdown file, first line '# Title' (- for stdin); TAG=FILE for another language; repeatable")
		lang := fs.String("lang", "en", "the language of the first -f, the page's default")
		slug := fs.String("slug", "", "the page's URL name, /status/SLUG (publish: required)")
		return func(ctx context.Context, pos []string) error {
			if len(files) == 0 {
				return usageError("incident %s takes -f FILE.md", verb)
			}
			if verb == "publish" && *slug == "" {
				return usageError("incident publish takes --slug SLUG: the page's stable URL name, e.g. may-2026")
			}
			body := struct {
				Slug            string                       `json:"slug,omitempty"`
				DefaultLanguage string                       `json:"default_language"`
				Texts           map[string]map[string]string `json:"texts"`
			}{Slug: *slug, DefaultLanguage: *lang, Texts: map[string]map[string]string{}}
			for i, f := range files {
				tag, file := *lang, f
				if t, rest, ok := strings.Cut(f, "="); ok && i > 0 {
					tag, file = t, rest
				} else if i > 0 {
					return usageError("-f %q: a further language is given as TAG=FILE (e.g. de=notice.de.md)", f)
				}
				md, err := readInput(a, file)
				if err != nil {
					return err
				}
				title, text, err := splitMarkdown(md)
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				if _, dup := body.Texts[tag]; dup {
					return usageError("-f: language %q is given twice", tag)
				}
				body.Texts[tag] = map[string]string{"title": title, "body": text}
			}
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", "/admin/v1/incidents/"+url.PathEscape(pos[0])+"/page", body, &raw); err != nil {
				return err
			}
			var p pageOut
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "published at %s/status/%s (%d statement(s))\n", strings.TrimSuffix(a.serverURL(), "/"), p.Slug, len(p.Updates))
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

// splitMarkdown takes a statement's title from its first line, a
// Markdown heading "# Title", and returns the rest as its body.
func splitMarkdown(md []byte) (title, body string, err error) {
	s := strings.ReplaceAll(string(md), "\r\n", "\n")
	s = strings.TrimLeft(s, "\n")
	first, rest, _ := strings.Cut(s, "\n")
	t, ok := strings.CutPrefix(first, "# ")
	if !ok || strings.TrimSpace(t) == "" {
		return "", "", fmt.Errorf("the first line is the title as a Markdown heading, \"# Title\"")
	}
	return strings.TrimSpace(t), strings.TrimSpace(rest), nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

type campaignOut struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Name     string          `json:"name"`
	State    string          `json:"state"`
	Cohort   json.RawMessage `json:"cohort"`
	Ramp     json.RawMessage `json:"ramp"`
	Upgrade  json.RawMessage `json:"upgrade"`
	Message  string          `json:"message"`
	After    *afterOut       `json:"after"`
	Verify   string          `json:"verify"`
	Created  time.Time       `json:"created_at"`
	Progress *progressOut    `json:"progress"`
	Email    *struct {
		Queued int64 `json:"queued"`
		Sent   int64 `json:"sent"`
		Failed int64 `json:"failed"`
	} `json:"email"`

	PolicyVersion uint64 `json:"policy_version"`
	// Priority counts the users the ramp admits before its order.
	Priority *struct {
		Named          int `json:"named"`
		UnusualAddress int `json:"unusual_address"`
	} `json:"priority"`
}

// afterOut is a campaign's prerequisite as the API shows it.
type afterOut struct {
	Campaign  string `json:"campaign"`
	Satisfied bool   `json:"satisfied"`
	Per       string `json:"per"`
}

// String says what the campaign waits for, in words.
func (a *afterOut) String() string {
	if !a.Satisfied {
		return a.Campaign + " (once it has admitted the user)"
	}
	return fmt.Sprintf("%s (once satisfied, per %s)", a.Campaign, a.Per)
}

func campaignCmd(a *app) *cobra.Command {
	return group(&cobra.Command{
		Use:   "campaign",
		Short: "Create, preview, start and follow campaigns",
		Long: `A campaign asks a cohort of sessions to do something (reauth, password_reset,
upgrade, revoke...) at the gates. It starts as a draft: create it from a
document, preview whom it would hit, activate it, follow its progress and trail,
and pause, resume, cancel or complete it.`,
		Example: `  cordon campaign create -f may-incident.yaml
  cordon campaign preview c-0123
  cordon campaign activate c-0123
  cordon campaign show c-0123 --watch`,
	},
		campaignCreateCmd(a), campaignListCmd(a), campaignPreviewCmd(a), campaignShowCmd(a), campaignAdmissionCmd(a),
		campaignTransitionCmd(a, "activate", "Start enforcing a draft or paused campaign at every gate"),
		campaignTransitionCmd(a, "pause", "Stop enforcing an active campaign for now"),
		campaignTransitionCmd(a, "resume", "Enforce a paused campaign again"),
		campaignTransitionCmd(a, "cancel", "End a campaign without completing it"),
		campaignTransitionCmd(a, "complete", "End a campaign as done"),
	)
}

func campaignCreateCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a draft campaign from a JSON or YAML document",
		Long: `Create a draft campaign from a campaign document (JSON or YAML; its JSON
Schema is served at /schema/campaign.json). The draft does nothing until
activated: preview it first. -f - reads the document from standard input,
YAML or JSON alike. --incident links the campaign to an incident as it is
created (the token needs the incidents scope too; an unknown incident creates
nothing). A document with after: {campaign: c-...} waits for that campaign:
it reaches an install only once the install has done what the prerequisite
asks (judged on what it logged in with), or per user, or once the
prerequisite has admitted the user (satisfied: false).`,
		Example: `  cordon campaign create -f may-incident.yaml
  printf 'kind: reauth\nname: ios only\ncohort: {platforms: [ios]}\n' | cordon campaign create -f -
  printf 'kind: offline_rekey\nname: re-key on 8.5\nafter: {campaign: c-0123}\n' | cordon campaign create -f -
  cordon campaign create -f reauth.yaml --incident i-0123`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		file := fs.String("f", "", "campaign document (JSON or YAML; - for stdin)")
		incident := fs.String("incident", "", "link the new campaign to this incident (i-...)")
		return func(ctx context.Context, _ []string) error {
			if *file == "" {
				return usageError("campaign create takes -f FILE (JSON or YAML; - for stdin)")
			}
			var doc []byte
			var err error
			if *file == "-" {
				doc, err = io.ReadAll(io.LimitReader(a.stdin, 8<<20))
			} else {
				doc, err = os.ReadFile(*file)
			}
			if err != nil {
				return err
			}
			// A byte-order mark (Windows editors) is no part of the document.
			doc = bytes.TrimPrefix(doc, []byte("\ufeff"))
			ct := documentType(*file, doc)
			var raw json.RawMessage
			path := "/admin/v1/campaigns"
			if *incident != "" {
				path += "?incident=" + url.QueryEscape(*incident)
			}
			if err := a.client().DoRaw(ctx, "POST", path, ct, strings.NewReader(string(doc)), &raw); err != nil {
				return err
			}
			var c campaignOut
			if err := json.Unmarshal(raw, &c); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "created %s campaign %s (%s); preview it, then: cordon campaign activate %s\n", c.Kind, c.ID, c.State, c.ID)
				return err
			})
		}
	})
	c.MarkFlagFilename("f", "yaml", "yml", "json")
	out = withOutput(c)
	return c
}

func campaignListCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "list",
		Short:   "List every campaign",
		Long:    "List every campaign with its id, kind, state, creation time and name.",
		Example: "  cordon campaign list\n  cordon campaign list -o json",
		Args:    noArgs,
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, _ []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", "/admin/v1/campaigns", nil, &raw); err != nil {
				return err
			}
			var list struct {
				Campaigns []campaignOut `json:"campaigns"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tSTATE\tCREATED\tAFTER\tNAME")
				for _, x := range list.Campaigns {
					after := "-"
					if x.After != nil {
						after = x.After.Campaign
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Kind, x.State, x.Created.Format(time.RFC3339), after, x.Name)
				}
				return tw.Flush()
			})
		}
	})
	out = withOutput(c)
	return c
}

// campaignPath is the admin API path of campaign id.
func campaignPath(id string) string { return "/admin/v1/campaigns/" + url.PathEscape(id) }

func campaignPreviewCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "preview ID",
		Short: "Count the sessions and users a campaign would hit now",
		Long: `Count the sessions and users a campaign would hit if activated now, out of
the live sessions, with a breakdown by platform, version and source, and the
share of the cohort its ramp admits now. Exact up to 200,000 live sessions;
above, counted from aggregates (users is then an upper bound).`,
		Example: "  cordon campaign preview c-0123\n  cordon campaign preview c-0123 -o json",
		Args:    oneArg("campaign ID"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", campaignPath(pos[0])+"/preview", nil, &raw); err != nil {
				return err
			}
			var p struct {
				Sessions        int64   `json:"sessions"`
				Users           int64   `json:"users"`
				LiveSessions    int64   `json:"live_sessions"`
				Exact           bool    `json:"exact"`
				AdmittedShare   float64 `json:"admitted_share"`
				WaitingSessions int64   `json:"waiting_sessions"`
				WaitingUsers    int64   `json:"waiting_users"`
				Breakdown       []struct {
					Platform, Version, Source string
					Sessions                  int64
				}
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				exact := "exact"
				if !p.Exact {
					exact = "from aggregates; users is an upper bound"
				}
				fmt.Fprintf(a.stdout, "would hit %d session(s) of %d user(s) (%s), of %d live sessions; the ramp admits %.0f%% now\n",
					p.Sessions, p.Users, exact, p.LiveSessions, p.AdmittedShare*100)
				if p.WaitingSessions > 0 {
					fmt.Fprintf(a.stdout, "of those admitted, %d session(s) of %d user(s) wait for the prerequisite (after:)\n", p.WaitingSessions, p.WaitingUsers)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PLATFORM\tVERSION\tSOURCE\tSESSIONS")
				for _, b := range p.Breakdown {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", b.Platform, b.Version, b.Source, b.Sessions)
				}
				return tw.Flush()
			})
		}
	})
	out = withOutput(c)
	return c
}

func campaignTransitionCmd(a *app, verb, short string) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Long: short + `. The change reaches every gate through the policy
feed within a second, and is recorded in the campaign's trail (cordon campaign
show ID). A transition the campaign's state does not allow fails with exit 1.`,
		Example: "  cordon campaign " + verb + " c-0123",
		Args:    oneArg("campaign ID"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", campaignPath(pos[0])+"/"+verb, nil, &raw); err != nil {
				return err
			}
			var c campaignOut
			if err := json.Unmarshal(raw, &c); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "campaign %s is %s\n", c.ID, c.State)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

// trailEntry is one state change of a campaign, as GET …/trail answers.
type trailEntry struct {
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
}

func campaignShowCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "show ID",
		Short: "Show a campaign, its progress and its trail",
		Long: `Show a campaign: its kind, state, cohort, ramp and upgrade, its progress,
and its trail (every state change, when and by which admin token).
--watch shows it again every 2 s until interrupted: redrawn in place on a
terminal, as plain successive blocks when the output is piped or redirected.`,
		Example: "  cordon campaign show c-0123\n  cordon campaign show c-0123 --watch\n  cordon campaign show c-0123 -o json",
		Args:    oneArg("campaign ID"),
	}, func(fs *flag.FlagSet) action {
		watch := fs.Bool("watch", false, "show it again every 2 s until interrupted")
		return func(ctx context.Context, pos []string) error {
			redraw := *watch && isTerminal(a.stdout)
			for {
				if err := showOnce(ctx, a, pos[0], out, redraw); err != nil {
					if *watch && ctx.Err() != nil {
						return nil // interrupted while fetching
					}
					return err
				}
				if !*watch {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(2 * time.Second):
				}
			}
		}
	})
	out = withOutput(c)
	return c
}

// showOnce prints campaign id once: its JSON answer with the trail under
// "trail", or the text form (after clearing the screen when redraw).
func showOnce(ctx context.Context, a *app, id string, out *outputFormat, redraw bool) error {
	c := a.client()
	var raw json.RawMessage
	if err := c.Do(ctx, "GET", campaignPath(id), nil, &raw); err != nil {
		return err
	}
	var trail struct {
		Trail []trailEntry `json:"trail"`
	}
	var rawTrail struct {
		Trail json.RawMessage `json:"trail"`
	}
	if err := c.Do(ctx, "GET", campaignPath(id)+"/trail", nil, &rawTrail); err != nil {
		return err
	}
	if err := json.Unmarshal(rawTrail.Trail, &trail.Trail); err != nil {
		return err
	}
	var co campaignOut
	if err := json.Unmarshal(raw, &co); err != nil {
		return err
	}
	var whole map[string]json.RawMessage
	if err := json.Unmarshal(raw, &whole); err != nil {
		return err
	}
	whole["trail"] = rawTrail.Trail
	return emit(a.stdout, out, whole, func() error {
		if redraw {
			fmt.Fprint(a.stdout, "\033[H\033[2J")
		}
		showCampaign(a.stdout, &co, trail.Trail, time.Now())
		if !redraw && *out == "table" {
			fmt.Fprintln(a.stdout)
		}
		return nil
	})
}

// documentType is the media type of a campaign document: by the file's
// extension, and for stdin (or no known extension) by its first byte, since
// a JSON document is an object and a YAML one almost never starts with {.
func documentType(file string, doc []byte) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		return "application/yaml"
	case ".json":
		return "application/json"
	}
	if t := strings.TrimLeft(strings.TrimPrefix(string(doc), "\ufeff"), " \t\r\n"); strings.HasPrefix(t, "{") {
		return "application/json"
	}
	return "application/yaml"
}

func showCampaign(w io.Writer, c *campaignOut, trail []trailEntry, now time.Time) {
	fmt.Fprintf(w, "%s  %s  %s\n  %s\n", c.ID, c.Kind, c.State, c.Name)
	fmt.Fprintf(w, "  cohort:  %s\n", c.Cohort)
	var r cordon.Ramp
	hasRamp := len(c.Ramp) > 0 && string(c.Ramp) != "null" && json.Unmarshal(c.Ramp, &r) == nil
	if hasRamp && r.Auto() {
		showPace(w, &r, now)
	} else if len(c.Ramp) > 0 && string(c.Ramp) != "null" {
		fmt.Fprintf(w, "  ramp:    %s\n", c.Ramp)
	}
	if p := c.Priority; p != nil {
		var from []string
		if r.Priority != nil && len(r.Priority.Users) > 0 {
			from = append(from, "users")
		}
		if r.Priority != nil && r.Priority.UsersFromReport != "" {
			from = append(from, "report "+r.Priority.UsersFromReport+" (data read)")
		}
		named := ""
		if len(from) > 0 {
			named = fmt.Sprintf("%d user(s) of %s admitted from the ramp's start", p.Named, strings.Join(from, " and "))
		}
		unusual := ""
		if r.Priority != nil && r.Priority.UnusualAddresses {
			unusual = fmt.Sprintf("%d account(s) admitted early, seen from somewhere new", p.UnusualAddress)
			if named != "" {
				unusual = "; " + unusual
			}
		}
		fmt.Fprintf(w, "  first:   %s%s (why one user: cordon campaign admission %s USER)\n", named, unusual, c.ID)
	}
	if len(c.Upgrade) > 0 && string(c.Upgrade) != "null" {
		fmt.Fprintf(w, "  upgrade: %s\n", c.Upgrade)
	}
	if c.After != nil {
		fmt.Fprintf(w, "  after:   %s\n", c.After)
	}
	if c.Verify != "" {
		fmt.Fprintf(w, "  verify:  %s\n", c.Verify)
	}
	if e := c.Email; e != nil {
		fmt.Fprintf(w, "  email:   %d link(s) queued, %d sent, %d failed\n", e.Queued, e.Sent, e.Failed)
	}
	renderProgress(w, c.Progress)
	if len(trail) > 0 {
		fmt.Fprintln(w, "  trail:")
		for _, t := range trail {
			fmt.Fprintf(w, "    %s  %-9s by %s\n", t.At.Format(time.RFC3339), t.Action, t.Actor)
		}
	}
}

// showPace prints an auto ramp: its settings, the share admitted at now,
// the speed and why, and when it reaches 100 % at that speed.
func showPace(w io.Writer, r *cordon.Ramp, now time.Time) {
	fmt.Fprintf(w, "  ramp:    auto from %s, max_duration %s, target %.0f %% of the login tier\n",
		r.Start.UTC().Format(time.RFC3339), cordon.FormatDuration(r.Duration), 100*r.TargetUtilisation)
	sc, err := decision.NewSchedule(r)
	if err != nil {
		fmt.Fprintf(w, "  pace:    unreadable: %v\n", err)
		return
	}
	end := sc.End()
	if !now.Before(end) {
		fmt.Fprintf(w, "  pace:    100 %% admitted since %s\n", end.UTC().Format(time.RFC3339))
		return
	}
	speed := 100 * (sc.ShareAt(now.Add(time.Hour)) - sc.ShareAt(now))
	why := "no pace set yet: along the max_duration line"
	if r.Pace != nil && r.Pace.Why != "" {
		why = r.Pace.Why
	}
	fmt.Fprintf(w, "  pace:    %.1f %% admitted, %.1f %%/h over the next hour; 100 %% by %s at this pace\n",
		100*sc.ShareAt(now), speed, end.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  why:     %s\n", why)
	if r.Pace != nil && !r.Pace.Back95.IsZero() {
		fmt.Fprintf(w, "  back:    95 %% of the cohort's returning installs logged in again by %s (projected from when each was last seen)\n",
			r.Pace.Back95.UTC().Format(time.RFC3339))
	}
}

func campaignAdmissionCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "admission ID USER",
		Short: "Say when and why a campaign admits one user",
		Long: `Say when a campaign admits one user (an account id or username) and why:
priority (named by the ramp's priority, e.g. the users of a report whose data
was read: from the ramp's first instant), unusual_address (seen from
somewhere new, logging in or refreshing a session, while the ramp ran), ramp
(the user's place in the ramp's order, at its pace) or activation. Every gate
decides the same. An admission once made never moves.`,
		Example: "  cordon campaign admission c-0123 alice\n  cordon campaign admission c-0123 a-42 -o json",
		Args:    exactArgs(2, "campaign ID and user"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", campaignPath(pos[0])+"/admission?user="+url.QueryEscape(pos[1]), nil, &raw); err != nil {
				return err
			}
			var ad struct {
				Account  string    `json:"account"`
				InCohort bool      `json:"in_cohort"`
				At       time.Time `json:"admitted_at"`
				Admitted bool      `json:"admitted"`
				Why      string    `json:"why"`
			}
			if err := json.Unmarshal(raw, &ad); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				when := "will be admitted"
				if ad.Admitted {
					when = "admitted"
				}
				fmt.Fprintf(a.stdout, "%s %s at %s: %s\n", ad.Account, when, ad.At.UTC().Format(time.RFC3339), admissionWhy[ad.Why])
				if !ad.InCohort {
					fmt.Fprintln(a.stdout, "not in the campaign's cohort: the admission touches none of this account's sessions")
				}
				return nil
			})
		}
	})
	out = withOutput(c)
	return c
}

// admissionWhy says each reason of an admission in words.
var admissionWhy = map[string]string{
	cordon.AdmitPriority:       "priority (named by the ramp's priority: from its first instant)",
	cordon.AdmitUnusualAddress: "unusual address (seen from somewhere new, logging in or refreshing a session, while the ramp ran)",
	cordon.AdmitRamp:           "the user's place in the ramp's order, at its pace",
	cordon.AdmitActivation:     "the activation",
}

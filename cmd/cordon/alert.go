package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cordon-dev/cordon/internal/alert"
)

type alertOut struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Key      string `json:"key"`
	Summary  string `json:"summary"`
	State    string `json:"state"`
	Evidence struct {
		From         time.Time `json:"from"`
		To           time.Time `json:"to"`
		Attempts     int       `json:"attempts"`
		Failures     int       `json:"failures"`
		Accounts     int       `json:"accounts"`
		Addresses    int       `json:"addresses"`
		TopAddresses []string  `json:"top_addresses"`
		Reached      []string  `json:"reached"`
		ReachedTotal int       `json:"reached_total"`
		Principal    string    `json:"principal"`
		Users        int       `json:"users"`
		Baseline     float64   `json:"baseline"`
		Categories   []string  `json:"categories"`
		Subjects     []string  `json:"subjects"`
		Entries      []uint64  `json:"entries"`
	} `json:"evidence"`
	Report         string     `json:"report"`
	Incident       string     `json:"incident"`
	Campaign       string     `json:"campaign"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Seen           int64      `json:"seen"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by"`
}

func alertCmd(a *app) *cobra.Command {
	return group(&cobra.Command{
		Use:   "alert",
		Short: "List, acknowledge and escalate what detection raised",
		Long: `Detection raises an alert for each attack it sees: credential stuffing,
password spraying and brute force on logins, and anomalous internal access in
the audit log (a principal reading far more users than usual, reading
password_hash or payment, reading outside its usual hours), as the rules of
cordon serve --detect-rules say. While an alert is open, the same attack seen
again updates it. Acknowledge it, or open it as an incident (escalate): when
the attack got into accounts, that drafts a reauth campaign for exactly
those accounts, never activated on its own. Admin token scope: incidents
(escalate also needs campaigns when accounts were reached).`,
		Example: `  cordon alert list --state open
  cordon alert show al-...
  cordon alert ack al-...
  cordon alert escalate al-... --severity critical`,
	}, alertListCmd(a), alertShowCmd(a), alertAckCmd(a), alertEscalateCmd(a))
}

func alertPath(id string, rest ...string) string {
	p := "/admin/v1/alerts/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func alertListCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "list",
		Short:   "List alerts, newest first",
		Long:    "List alerts, newest first, with their kind, state, times seen and summary.",
		Example: "  cordon alert list\n  cordon alert list --state open --limit 20 -o json",
		Args:    noArgs,
	}, func(fs *flag.FlagSet) action {
		state := fs.String("state", "", "open or acknowledged (default: both)")
		limit := fs.Int("limit", 0, "at most this many (1 to 1000; default 1000)")
		return func(ctx context.Context, _ []string) error {
			q := url.Values{}
			if *state != "" {
				q.Set("state", *state)
			}
			if *limit != 0 {
				q.Set("limit", fmt.Sprint(*limit))
			}
			p := "/admin/v1/alerts"
			if len(q) > 0 {
				p += "?" + q.Encode()
			}
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", p, nil, &raw); err != nil {
				return err
			}
			var l struct {
				Alerts []alertOut `json:"alerts"`
			}
			if err := json.Unmarshal(raw, &l); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				if len(l.Alerts) == 0 {
					fmt.Fprintln(a.stdout, "no alerts")
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tSTATE\tRAISED\tSEEN\tSUMMARY")
				for _, x := range l.Alerts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", x.ID, x.Kind, x.State, x.CreatedAt.Format(time.RFC3339), x.Seen, x.Summary)
				}
				return tw.Flush()
			})
		}
	})
	out = withOutput(c)
	return c
}

func showAlert(a *app, x *alertOut) {
	w := a.stdout
	fmt.Fprintf(w, "alert %s: %s\n", x.ID, x.Summary)
	fmt.Fprintf(w, "  kind %s, key %s, %s; raised %s, seen %d times\n", x.Kind, alert.Shown(x.Key), x.State, x.CreatedAt.Format(time.RFC3339), x.Seen)
	e := x.Evidence
	fmt.Fprintf(w, "  window %s to %s\n", e.From.Format(time.RFC3339), e.To.Format(time.RFC3339))
	if e.Attempts > 0 {
		fmt.Fprintf(w, "  %d attempts, %d failed, on %d accounts from %d addresses\n", e.Attempts, e.Failures, e.Accounts, e.Addresses)
	}
	if len(e.TopAddresses) > 0 {
		fmt.Fprintf(w, "  top addresses: %s\n", strings.Join(e.TopAddresses[:min(10, len(e.TopAddresses))], ", "))
	}
	if e.ReachedTotal > 0 {
		var reached []string
		for _, r := range e.Reached[:min(20, len(e.Reached))] {
			reached = append(reached, alert.Shown(r))
		}
		fmt.Fprintf(w, "  reached %d accounts: %s\n", e.ReachedTotal, strings.Join(reached, ", "))
	}
	if e.Principal != "" {
		fmt.Fprintf(w, "  principal %s read %d users", e.Principal, e.Users)
		if e.Baseline > 0 {
			fmt.Fprintf(w, " (baseline %.1f)", e.Baseline)
		}
		if len(e.Categories) > 0 {
			fmt.Fprintf(w, "; categories %s", strings.Join(e.Categories, ", "))
		}
		fmt.Fprintf(w, "; users %s\n", strings.Join(e.Subjects, ", "))
	}
	if x.Report != "" {
		fmt.Fprintf(w, "  report: %s\n", x.Report)
	}
	if x.AcknowledgedAt != nil {
		fmt.Fprintf(w, "  acknowledged %s by %s\n", x.AcknowledgedAt.Format(time.RFC3339), x.AcknowledgedBy)
	}
	if x.Incident != "" {
		fmt.Fprintf(w, "  incident %s\n", x.Incident)
	}
	if x.Campaign != "" {
		fmt.Fprintf(w, "  draft campaign %s\n", x.Campaign)
	}
}

func alertShowCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "show ID",
		Short:   "Show an alert and its evidence",
		Long:    "Show an alert: its evidence (counts, addresses, accounts reached, the window; for access anomalies the principal, users and the report that shows them), its state and links.",
		Example: "  cordon alert show al-...\n  cordon alert show al-... -o json",
		Args:    oneArg("alert ID"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", alertPath(pos[0]), nil, &raw); err != nil {
				return err
			}
			var x alertOut
			if err := json.Unmarshal(raw, &x); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error { showAlert(a, &x); return nil })
		}
	})
	out = withOutput(c)
	return c
}

func alertAckCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "ack ID",
		Short:   "Acknowledge an open alert",
		Long:    "Acknowledge an open alert; the acknowledgement is an audit record. The same attack seen afterwards raises a new alert.",
		Example: "  cordon alert ack al-...",
		Args:    oneArg("alert ID"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", alertPath(pos[0], "ack"), map[string]any{}, &raw); err != nil {
				return err
			}
			var x alertOut
			if err := json.Unmarshal(raw, &x); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				fmt.Fprintf(a.stdout, "acknowledged alert %s (%s)\n", x.ID, x.Kind)
				return nil
			})
		}
	})
	out = withOutput(c)
	return c
}

func alertEscalateCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "escalate ID",
		Short: "Open an alert as an incident",
		Long: `Open an alert as an incident, aware since the alert was raised, with the
alert linked. When the attack got into accounts, a draft reauth campaign whose
cohort is exactly those accounts is created and linked too: review it with
cordon campaign preview, then activate it yourself.`,
		Example: "  cordon alert escalate al-...\n  cordon alert escalate al-... --severity critical -o json",
		Args:    oneArg("alert ID"),
	}, func(fs *flag.FlagSet) action {
		severity := fs.String("severity", "high", "low, medium, high or critical")
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", alertPath(pos[0], "escalate"), map[string]any{"severity": *severity}, &raw); err != nil {
				return err
			}
			var e struct {
				Incident struct {
					ID string `json:"id"`
				} `json:"incident"`
				Campaign *struct {
					ID     string `json:"id"`
					Cohort struct {
						Users []string `json:"users"`
					} `json:"cohort"`
				} `json:"campaign"`
				Unknown []string `json:"unknown_accounts"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				fmt.Fprintf(a.stdout, "alert %s is incident %s\n", pos[0], e.Incident.ID)
				if e.Campaign != nil {
					fmt.Fprintf(a.stdout, "drafted reauth campaign %s for the %d accounts it reached (not active: cordon campaign preview %s, then activate)\n", e.Campaign.ID, len(e.Campaign.Cohort.Users), e.Campaign.ID)
				}
				if len(e.Unknown) > 0 {
					fmt.Fprintf(a.stdout, "left out, no longer accounts: %s\n", strings.Join(e.Unknown, ", "))
				}
				return nil
			})
		}
	})
	out = withOutput(c)
	return c
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func adminCmd(a *app) *cobra.Command {
	return group(&cobra.Command{
		Use:   "admin",
		Short: "Add, list and remove the people who sign in to the web console",
		Long: `Manage the people who run an incident from the web console (/console on the
server): each has a name, a password and a TOTP second factor, and a role
that maps to admin scopes — owner (every scope), responder (incidents,
campaigns, audit:read, sessions) or auditor (audit:read).`,
		Example: `  printf '%s\n' "$PW" | cordon admin create ada --role responder`,
	}, adminCreateCmd(a), adminListCmd(a), adminRemoveCmd(a))
}

func adminListCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "list",
		Short:   "List the console admins",
		Long:    `List the people who sign in to the web console: name, role, id and when each was added.`,
		Example: "  cordon admin list\n  cordon admin list -o json",
		Args:    noArgs,
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, _ []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", "/admin/v1/console/admins", nil, &raw); err != nil {
				return err
			}
			var list struct {
				Admins []struct {
					ID        string    `json:"id"`
					Name      string    `json:"name"`
					Role      string    `json:"role"`
					CreatedAt time.Time `json:"created_at"`
				} `json:"admins"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tID\tCREATED")
				for _, x := range list.Admins {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Name, x.Role, x.ID, x.CreatedAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		}
	})
	out = withOutput(c)
	return c
}

func adminRemoveCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a console admin and end its sessions at once",
		Long: `Remove a person from the web console: the admin is deleted and every one of
its sessions ends at once (its next page or live update is refused). The way
to cut off someone whose laptop or password is lost. The admin token must hold
every scope of the admin's role. An audit record.`,
		Example: "  cordon admin remove ada",
		Args:    oneArg("NAME"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			if err := a.client().Do(ctx, "DELETE", "/admin/v1/console/admins/"+url.PathEscape(pos[0]), nil, nil); err != nil {
				return err
			}
			_, err := fmt.Fprintf(a.stdout, "removed console admin %s; its sessions are ended\n", pos[0])
			return err
		}
	})
}

func adminCreateCmd(a *app) *cobra.Command {
	var out *outputFormat
	var role string
	c := leaf(&cobra.Command{
		Use:   "create NAME",
		Short: "Add a console admin; prints the TOTP otpauth URI once",
		Long: `Add a person who signs in to the web console. The password is read from
standard input (typed twice at a prompt on a terminal, else the first line;
at least 12 characters). The answer holds the otpauth:// URI to load into an
authenticator app (paste it, or make a QR code of it): it is shown this once
and never again. The admin token must hold every scope of the role.`,
		Example: `  cordon admin create ada --role owner             # prompts twice
  printf '%s\n' "$PW" | cordon admin create bo --role responder -o json`,
		Args: oneArg("NAME; the password is read from stdin"),
	}, func(fs *flag.FlagSet) action {
		fs.StringVar(&role, "role", "responder", "owner, responder or auditor")
		return func(ctx context.Context, pos []string) error {
			pw, err := readPassword(a.stdin, a.stderr)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", "/admin/v1/console/admins", map[string]string{"name": pos[0], "role": role, "password": pw}, &raw); err != nil {
				return err
			}
			var got struct {
				ID, Name, Role string
				URI            string `json:"otpauth_uri"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "created console admin %s (%s), role %s\n\nLoad this into an authenticator app now; it is not shown again:\n\n    %s\n\nSign in at %s/console/\n",
					got.Name, got.ID, got.Role, got.URI, a.serverURL())
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type accountOut struct {
	ID                string     `json:"id"`
	Username          string     `json:"username"`
	CreatedAt         time.Time  `json:"created_at"`
	PasswordChangedAt time.Time  `json:"password_changed_at"`
	LockedAt          *time.Time `json:"locked_at"`
	Email             string     `json:"email"`
}

type sessionOut struct {
	ID     string `json:"id"`
	Client struct {
		Platform, Version, Source, Device string
	} `json:"client"`
	AuthTime   time.Time `json:"auth_time"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

func userCmd(a *app) *cobra.Command {
	return group(&cobra.Command{
		Use:   "user",
		Short: "Add, import, inspect, lock and delete user accounts",
		Long: `Manage the accounts of the app's users: add one (password from stdin), import
many from another system, show one and its sessions, end its sessions, lock,
unlock or delete it, and list accounts. USER is an account id or a username.`,
		Example: `  printf '%s\n' "$PW" | cordon user add alice
  cordon user import users.jsonl
  cordon user sessions alice
  cordon user lock alice`,
	},
		userAddCmd(a), userImportCmd(a), userShowCmd(a), userSetEmailCmd(a), userSessionsCmd(a), userRevokeSessionsCmd(a),
		userLifeCmd(a, "lock"), userLifeCmd(a, "unlock"), userLifeCmd(a, "delete"), userListCmd(a),
	)
}

func userAddCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "add USERNAME",
		Short: "Create an account; the password is read from stdin",
		Long: `Create an account named USERNAME. The password is read from standard input,
never from the command line (where it would sit in shell history and the
process list): typed twice at a prompt on a terminal, else the first line.
--email gives the account an email address (unique; it receives
password-reset links).`,
		Example: `  cordon user add alice                         # prompts twice
  printf '%s\n' "$PW" | cordon user add alice --email alice@example.com`,
		Args: oneArg("USERNAME; the password is read from stdin"),
	}, func(fs *flag.FlagSet) action {
		email := fs.String("email", "", "the account's email address (optional)")
		return func(ctx context.Context, pos []string) error {
			pw, err := readPassword(a.stdin, a.stderr)
			if err != nil {
				return err
			}
			body := map[string]string{"username": pos[0], "password": pw}
			if *email != "" {
				body["email"] = *email
			}
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", "/admin/v1/accounts", body, &raw); err != nil {
				return err
			}
			var acc accountOut
			if err := json.Unmarshal(raw, &acc); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "created %s (%s)\n", acc.Username, acc.ID)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

// accountPath is the admin API path of account ref (id or username).
func accountPath(ref string) string { return "/admin/v1/accounts/" + url.PathEscape(ref) }

func userShowCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "show USER",
		Short:   "Show an account",
		Long:    "Show an account: id, username, email address, creation, last password change, and whether it is locked.",
		Example: "  cordon user show alice\n  cordon user show u-0123 -o json",
		Args:    oneArg("USER (account id or username)"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", accountPath(pos[0]), nil, &raw); err != nil {
				return err
			}
			var acc accountOut
			if err := json.Unmarshal(raw, &acc); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				email := acc.Email
				if email == "" {
					email = "-"
				}
				_, err := fmt.Fprintf(a.stdout, "id:                  %s\nusername:            %s\nemail:               %s\ncreated:             %s\npassword changed:    %s\nlocked:              %s\n",
					acc.ID, acc.Username, email, acc.CreatedAt.Format(time.RFC3339), acc.PasswordChangedAt.Format(time.RFC3339), stamp(acc.LockedAt))
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

func userSetEmailCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "set-email USER EMAIL",
		Short: "Set or remove an account's email address",
		Long: `Set the email address of an account (a bare address, unique among accounts;
it receives password-reset links), or remove it with "". The change is
written to the audit log with the admin token that made it.`,
		Example: "  cordon user set-email alice alice@example.com\n  cordon user set-email alice ''",
		Args:    exactArgs(2, "USER (account id or username) and EMAIL (\"\" removes it)"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "PUT", accountPath(pos[0])+"/email", map[string]string{"email": pos[1]}, &raw); err != nil {
				return err
			}
			var r struct {
				Account accountOut `json:"account"`
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				if r.Account.Email == "" {
					_, err := fmt.Fprintf(a.stdout, "%s has no email address now\n", r.Account.Username)
					return err
				}
				_, err := fmt.Fprintf(a.stdout, "%s: email %s\n", r.Account.Username, r.Account.Email)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

func userSessionsCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "sessions USER",
		Short:   "List an account's live sessions",
		Long:    "List an account's live sessions: id, the client's platform, version, source and device, when it logged in and when it was last seen.",
		Example: "  cordon user sessions alice",
		Args:    oneArg("USER (account id or username)"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "GET", accountPath(pos[0])+"/sessions", nil, &raw); err != nil {
				return err
			}
			var list struct {
				Sessions []sessionOut `json:"sessions"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SESSION\tPLATFORM\tVERSION\tSOURCE\tDEVICE\tAUTH TIME\tLAST SEEN")
				for _, s := range list.Sessions {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Client.Platform, s.Client.Version, s.Client.Source, s.Client.Device,
						s.AuthTime.Format(time.RFC3339), s.LastSeenAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		}
	})
	out = withOutput(c)
	return c
}

func userRevokeSessionsCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "revoke-sessions USER",
		Short:   "End every session of an account",
		Long:    "End every session of an account. The gates refuse their access tokens within a second; the account itself stays usable (lock it to stop new logins). A user of a trusted external issuer is named ISSUER#SUB: cordon holds no session of theirs, so a ramp-less reauth campaign naming them is activated (cancel it to undo).",
		Example: "  cordon user revoke-sessions alice\n  cordon user revoke-sessions 'https://id.example.com/realms/app#f47ac10b'",
		Args:    oneArg("USER (account id or username)"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "DELETE", accountPath(pos[0])+"/sessions", nil, &raw); err != nil {
				return err
			}
			var r struct {
				Revoked  []string `json:"revoked"`
				Campaign string   `json:"campaign"` // a trusted issuer's user (ISSUER#SUB)
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				if r.Campaign != "" {
					_, err := fmt.Fprintf(a.stdout, "revoked: reauth campaign %s sends %s back to their provider\n", r.Campaign, pos[0])
					return err
				}
				_, err := fmt.Fprintf(a.stdout, "revoked %d session(s)\n", len(r.Revoked))
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

// readPassword reads the password from stdin: with a prompt and twice
// when stdin is a terminal, else the first line. Never from argv, where
// it would sit in shell history and the process list.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReaderSize(stdin, 8192).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on stdin (pipe it in, e.g. printf '%s\\n' \"$PW\" | cordon user add NAME)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func sessionCmd(a *app) *cobra.Command {
	revoke := leaf(&cobra.Command{
		Use:     "revoke SESSION_ID",
		Short:   "End one session",
		Long:    "End one session (its id is in cordon user sessions USER). The gates refuse its access tokens within a second.",
		Example: "  cordon session revoke s-0123",
		Args:    oneArg("SESSION_ID"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			if err := a.client().Do(ctx, "DELETE", "/admin/v1/sessions/"+url.PathEscape(pos[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "revoked %s\n", pos[0])
			return nil
		}
	})
	return group(&cobra.Command{
		Use:     "session",
		Short:   "Act on one session",
		Long:    "Act on one session of a user.",
		Example: "  cordon session revoke s-0123",
	}, revoke)
}

func keysCmd(a *app) *cobra.Command {
	var out *outputFormat
	rotate := leaf(&cobra.Command{
		Use:   "rotate",
		Short: "Start signing access tokens with a new key",
		Long: `Make a new signing key and sign new access tokens with it. The previous key
stays published (JWKS, the gates' feed) until the tokens it signed expire.`,
		Example: "  cordon keys rotate",
		Args:    noArgs,
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, _ []string) error {
			var raw json.RawMessage
			if err := a.client().Do(ctx, "POST", "/admin/v1/keys/rotate", nil, &raw); err != nil {
				return err
			}
			var k struct {
				KID string `json:"kid"`
			}
			if err := json.Unmarshal(raw, &k); err != nil {
				return err
			}
			return emit(a.stdout, out, raw, func() error {
				_, err := fmt.Fprintf(a.stdout, "new signing key %s; the previous key stays published until its tokens expire\n", k.KID)
				return err
			})
		}
	})
	out = withOutput(rotate)
	return group(&cobra.Command{
		Use:     "keys",
		Short:   "Manage the keys that sign access tokens",
		Long:    "Manage the keys that sign access tokens.",
		Example: "  cordon keys rotate",
	}, rotate)
}

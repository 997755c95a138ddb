package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cordon-dev/cordon/internal/adminclient"
)

// scopeList is a repeatable --scope flag (also comma-separated).
type scopeList []string

func (s *scopeList) String() string { return strings.Join(*s, ",") }
func (s *scopeList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func expiryFlags(fs *flag.FlagSet) *adminclient.Expiry {
	var e adminclient.Expiry
	fs.StringVar(&e.TTL, "ttl", "", "the token ends this long from now (90d, 12h, 1d12h)")
	fs.StringVar(&e.ExpiresAt, "expires", "", "the token ends at this RFC 3339 time")
	return &e
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("token needs a verb: create, list, show, revoke, rotate, expire")
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	switch args[0] {
	case "create":
		var scopes scopeList
		fs.Var(&scopes, "scope", "a scope to grant (repeat, or comma-separate): accounts, sessions, keys, campaigns, audit:write, audit:read, gate, tokens, introspect")
		exp := expiryFlags(fs)
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || len(scopes) == 0 {
			return usageError("token create takes one NAME and at least one --scope")
		}
		out, err := client().CreateToken(ctx, pos[0], scopes, *exp)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "admin token %s with scopes %s%s (shown once, stored only as a hash):\n", out.ID, strings.Join(out.Scopes, ", "), until(out.ExpiresAt))
		fmt.Fprintln(stdout, out.Secret)
		return nil
	case "list":
		if pos, err := parse(fs, args[1:]); err != nil {
			return err
		} else if len(pos) > 0 {
			return usageError("token list takes no arguments")
		}
		list, err := client().Tokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tSTATE\tCREATED\tEXPIRES\tREPLACED BY")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Scopes, ","), t.State,
				t.CreatedAt.Format(time.RFC3339), stamp(t.ExpiresAt), t.ReplacedBy)
		}
		return tw.Flush()
	case "show", "revoke":
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("token %s takes one TOKEN (id or name)", args[0])
		}
		var t *adminclient.Token
		if args[0] == "show" {
			t, err = client().TokenInfo(ctx, pos[0])
		} else {
			t, err = client().RevokeToken(ctx, pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "id:       %s\nname:     %s\nscopes:   %s\nstate:    %s\ncreated:  %s\nexpires:  %s\nrevoked:  %s\n",
			t.ID, t.Name, strings.Join(t.Scopes, ", "), t.State, t.CreatedAt.Format(time.RFC3339), stamp(t.ExpiresAt), stamp(t.RevokedAt))
		return nil
	case "rotate":
		grace := fs.String("grace", "", "how long the old secret keeps working (e.g. 10m); none by default")
		exp := expiryFlags(fs)
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("token rotate takes one TOKEN (id or name)")
		}
		out, err := client().RotateToken(ctx, pos[0], *grace, *exp)
		if err != nil {
			return err
		}
		old := "now"
		if out.Replaced != nil && out.Replaced.ExpiresAt != nil && out.Replaced.RevokedAt == nil {
			old = "at " + out.Replaced.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "admin token %s replaces %s (%s), whose secret stops working %s; the new secret (shown once)%s:\n",
			out.ID, out.Replaced.ID, out.Name, old, until(out.ExpiresAt))
		fmt.Fprintln(stdout, out.Secret)
		return nil
	case "expire":
		exp := expiryFlags(fs)
		never := fs.Bool("never", false, "the token never expires")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || (exp.TTL == "" && exp.ExpiresAt == "") == !*never {
			return usageError("token expire takes one TOKEN and one of --ttl, --expires or --never")
		}
		t, err := client().SetTokenExpiry(ctx, pos[0], *exp)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "admin token %s (%s) expires: %s\n", t.ID, t.Name, stamp(t.ExpiresAt))
		return nil
	}
	return usageError("unknown verb token %s", args[0])
}

// stamp formats an optional time; "-" for none.
func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func until(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ", until " + t.Format(time.RFC3339)
}

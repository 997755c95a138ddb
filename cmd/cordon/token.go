package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

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

func tokenCmd(a *app) *cobra.Command {
	return group(&cobra.Command{
		Use:   "token",
		Short: "Create, list, rotate, expire and revoke admin tokens",
		Long: `Admin tokens authenticate the admin API (this CLI, gates, audit senders).
Each has a unique name (the audit principal), scopes, and an optional expiry.
TOKEN is a token id (t-...) or name. A secret is printed once, to stdout, and
stored only as a hash.`,
		Example: `  cordon token create ci-gate --scope gate --ttl 90d
  cordon token list
  cordon token rotate ci-gate --grace 10m
  cordon token revoke ci-gate`,
	}, tokenCreateCmd(a), tokenListCmd(a), tokenShowCmd(a, "show"), tokenShowCmd(a, "revoke"), tokenRotateCmd(a), tokenExpireCmd(a))
}

const scopesHelp = "a scope to grant (repeat, or comma-separate): accounts, sessions, keys, campaigns, audit:write, audit:read, gate, tokens, introspect"

func tokenCreateCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "create NAME --scope SCOPE...",
		Short: "Create an admin token and print its secret once",
		Long: `Create an admin token named NAME with the scopes given (a token can grant
only scopes it holds itself). The secret is printed once on stdout, the
description on stderr, so NAME=$(cordon token create ...) keeps just the secret.`,
		Example: `  cordon token create ci-gate --scope gate
  cordon token create auditor --scope audit:read,audit:write --ttl 90d
  cordon token create night-shift --scope campaigns --expires 2026-12-31T00:00:00Z`,
		Args: oneArg("NAME (and at least one --scope)"),
	}, func(fs *flag.FlagSet) action {
		var scopes scopeList
		fs.Var(&scopes, "scope", scopesHelp)
		exp := expiryFlags(fs)
		return func(ctx context.Context, pos []string) error {
			if len(scopes) == 0 {
				return usageError("token create takes one NAME and at least one --scope")
			}
			t, err := a.client().CreateToken(ctx, pos[0], scopes, *exp)
			if err != nil {
				return err
			}
			return emit(a.stdout, out, t, func() error {
				fmt.Fprintf(a.stderr, "admin token %s with scopes %s%s (shown once, stored only as a hash):\n", t.ID, strings.Join(t.Scopes, ", "), until(t.ExpiresAt))
				_, err := fmt.Fprintln(a.stdout, t.Secret)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

func tokenListCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "list",
		Short:   "List admin tokens",
		Long:    "List admin tokens: id, name, scopes, state (active, expired, revoked or replaced), creation, expiry, and the token that replaced it.",
		Example: "  cordon token list\n  cordon token list -o json",
		Args:    noArgs,
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, _ []string) error {
			list, err := a.client().Tokens(ctx)
			if err != nil {
				return err
			}
			return emit(a.stdout, out, map[string]any{"tokens": list}, func() error {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tSTATE\tCREATED\tEXPIRES\tREPLACED BY")
				for _, t := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Scopes, ","), t.State,
						t.CreatedAt.Format(time.RFC3339), stamp(t.ExpiresAt), t.ReplacedBy)
				}
				return tw.Flush()
			})
		}
	})
	out = withOutput(c)
	return c
}

// tokenShowCmd is token show or token revoke: both print the token.
func tokenShowCmd(a *app, verb string) *cobra.Command {
	short, long := "Show an admin token", "Show an admin token: id, name, scopes, state, creation, expiry and revocation."
	if verb == "revoke" {
		short, long = "Revoke an admin token", "Revoke an admin token: every node refuses it at its next request, and a gate's feed stream under it closes within a second. Revoking the last usable * token is refused."
	}
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     verb + " TOKEN",
		Short:   short,
		Long:    long + " TOKEN is a token id or name.",
		Example: "  cordon token " + verb + " ci-gate",
		Args:    oneArg("TOKEN (id or name)"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var t *adminclient.Token
			var err error
			if verb == "show" {
				t, err = a.client().TokenInfo(ctx, pos[0])
			} else {
				t, err = a.client().RevokeToken(ctx, pos[0])
			}
			if err != nil {
				return err
			}
			return emit(a.stdout, out, t, func() error {
				_, err := fmt.Fprintf(a.stdout, "id:       %s\nname:     %s\nscopes:   %s\nstate:    %s\ncreated:  %s\nexpires:  %s\nrevoked:  %s\n",
					t.ID, t.Name, strings.Join(t.Scopes, ", "), t.State, t.CreatedAt.Format(time.RFC3339), stamp(t.ExpiresAt), stamp(t.RevokedAt))
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

func tokenRotateCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "rotate TOKEN",
		Short: "Replace an admin token's secret, keeping its name and scopes",
		Long: `Make a new secret for an admin token (same name and scopes) and print it
once. The old secret stops working now, or after --grace.`,
		Example: "  cordon token rotate ci-gate --grace 10m\n  cordon token rotate t-0123 --ttl 90d",
		Args:    oneArg("TOKEN (id or name)"),
	}, func(fs *flag.FlagSet) action {
		grace := fs.String("grace", "", "how long the old secret keeps working (e.g. 10m); none by default")
		exp := expiryFlags(fs)
		return func(ctx context.Context, pos []string) error {
			t, err := a.client().RotateToken(ctx, pos[0], *grace, *exp)
			if err != nil {
				return err
			}
			return emit(a.stdout, out, t, func() error {
				old := "now"
				if t.Replaced != nil && t.Replaced.ExpiresAt != nil && t.Replaced.RevokedAt == nil {
					old = "at " + t.Replaced.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(a.stderr, "admin token %s replaces %s (%s), whose secret stops working %s; the new secret (shown once)%s:\n",
					t.ID, t.Replaced.ID, t.Name, old, until(t.ExpiresAt))
				_, err := fmt.Fprintln(a.stdout, t.Secret)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

func tokenExpireCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     "expire TOKEN (--ttl D | --expires T | --never)",
		Short:   "Set or clear an admin token's expiry",
		Long:    "Set when an admin token ends (--ttl from now, or --expires at a time), or make it never end (--never).",
		Example: "  cordon token expire ci-gate --ttl 30d\n  cordon token expire ci-gate --never",
		Args:    oneArg("TOKEN (id or name)"),
	}, func(fs *flag.FlagSet) action {
		exp := expiryFlags(fs)
		never := fs.Bool("never", false, "the token never expires")
		return func(ctx context.Context, pos []string) error {
			if (exp.TTL == "" && exp.ExpiresAt == "") == !*never {
				return usageError("token expire takes one TOKEN and one of --ttl, --expires or --never")
			}
			t, err := a.client().SetTokenExpiry(ctx, pos[0], *exp)
			if err != nil {
				return err
			}
			return emit(a.stdout, out, t, func() error {
				_, err := fmt.Fprintf(a.stdout, "admin token %s (%s) expires: %s\n", t.ID, t.Name, stamp(t.ExpiresAt))
				return err
			})
		}
	})
	out = withOutput(c)
	return c
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

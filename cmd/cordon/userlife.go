package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cordon-dev/cordon/internal/adminclient"
)

// userLifeHelp is the help of user lock, unlock and delete.
var userLifeHelp = map[string][2]string{
	"lock":   {"Stop an account from logging in and end its sessions", "Lock an account: its login answers 403 account_locked (only to the right password), and every session ends, at every gate within a second."},
	"unlock": {"Let a locked account log in again", "Unlock an account locked by cordon user lock."},
	"delete": {"Delete an account; its username stays reserved", "Delete an account: it loses its credentials, sessions and grants, and keeps its row and username (never reused, since audit reports name users)."},
}

// userLifeCmd is user lock, unlock or delete.
func userLifeCmd(a *app, verb string) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:     verb + " USER",
		Short:   userLifeHelp[verb][0],
		Long:    userLifeHelp[verb][1] + " USER is an account id or a username.",
		Example: "  cordon user " + verb + " alice",
		Args:    oneArg("USER (account id or username)"),
	}, func(*flag.FlagSet) action {
		return func(ctx context.Context, pos []string) error {
			var ids []string
			var err error
			var text string
			switch verb {
			case "lock":
				ids, err = a.client().LockAccount(ctx, pos[0])
				text = fmt.Sprintf("locked %s; ended %d session(s)\n", pos[0], len(ids))
			case "unlock":
				err = a.client().UnlockAccount(ctx, pos[0])
				text = fmt.Sprintf("unlocked %s\n", pos[0])
			case "delete":
				ids, err = a.client().DeleteAccount(ctx, pos[0])
				text = fmt.Sprintf("deleted %s; ended %d session(s); the username stays reserved\n", pos[0], len(ids))
			}
			if err != nil {
				return err
			}
			if ids == nil {
				ids = []string{}
			}
			return emit(a.stdout, out, map[string]any{"account": pos[0], "revoked": ids}, func() error {
				_, err := fmt.Fprint(a.stdout, text)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

func userListCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "list",
		Short: "List accounts, a page at a time",
		Long: `List accounts: id, username, creation and lock time, 100 to a page by
default. After a page it prints the --cursor of the next; --all follows every
page. With -o json or yaml, each page is printed as the API answers it.`,
		Example: `  cordon user list --prefix ali
  cordon user list --locked --all
  cordon user list --limit 50 --cursor CURSOR`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		var f adminclient.AccountFilter
		fs.StringVar(&f.Prefix, "prefix", "", "only usernames that start with this (any case)")
		locked := fs.Bool("locked", false, "only locked accounts")
		unlocked := fs.Bool("unlocked", false, "only accounts that are not locked")
		fs.IntVar(&f.Limit, "limit", 0, "accounts per page (1-1000; default 100)")
		fs.StringVar(&f.Cursor, "cursor", "", "the page after this cursor (printed after a page)")
		all := fs.Bool("all", false, "follow every page")
		return func(ctx context.Context, _ []string) error {
			if (*locked && *unlocked) || (*all && f.Cursor != "") {
				return usageError("user list takes at most one of --locked and --unlocked, and not --all with --cursor")
			}
			switch {
			case *locked:
				f.Locked = "true"
			case *unlocked:
				f.Locked = "false"
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			if *out == "table" {
				fmt.Fprintln(tw, "ID\tUSERNAME\tCREATED\tLOCKED")
			}
			for {
				page, err := a.client().Accounts(ctx, f)
				if err != nil {
					return err
				}
				err = emit(a.stdout, out, page, func() error {
					for _, acc := range page.Accounts {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", acc.ID, acc.Username, acc.CreatedAt.Format(time.RFC3339), stamp(acc.LockedAt))
					}
					return nil
				})
				if err != nil {
					return err
				}
				if page.NextCursor == "" {
					return tw.Flush()
				}
				if !*all {
					tw.Flush()
					if *out == "table" {
						fmt.Fprintf(a.stdout, "more: --cursor %s\n", page.NextCursor)
					}
					return nil
				}
				f.Cursor = page.NextCursor
			}
		}
	})
	out = withOutput(c)
	return c
}

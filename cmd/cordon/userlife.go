package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/cordon-dev/cordon/internal/adminclient"
)

// runUserLife runs user lock, unlock, delete and list.
func runUserLife(ctx context.Context, fs *flag.FlagSet, client func() *adminclient.Client, verb string, args []string, stdout io.Writer) error {
	if verb == "list" {
		return runUserList(ctx, fs, client, args, stdout)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("user %s takes one USER (account id or username)", verb)
	}
	switch verb {
	case "lock":
		ids, err := client().LockAccount(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "locked %s; ended %d session(s)\n", pos[0], len(ids))
	case "unlock":
		if err := client().UnlockAccount(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "unlocked %s\n", pos[0])
	case "delete":
		ids, err := client().DeleteAccount(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s; ended %d session(s); the username stays reserved\n", pos[0], len(ids))
	}
	return nil
}

func runUserList(ctx context.Context, fs *flag.FlagSet, client func() *adminclient.Client, args []string, stdout io.Writer) error {
	var f adminclient.AccountFilter
	fs.StringVar(&f.Prefix, "prefix", "", "only usernames that start with this (any case)")
	locked := fs.Bool("locked", false, "only locked accounts")
	unlocked := fs.Bool("unlocked", false, "only accounts that are not locked")
	fs.IntVar(&f.Limit, "limit", 0, "accounts per page (1-1000; default 100)")
	fs.StringVar(&f.Cursor, "cursor", "", "the page after this cursor (printed after a page)")
	all := fs.Bool("all", false, "follow every page")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || (*locked && *unlocked) || (*all && f.Cursor != "") {
		return usageError("user list takes no arguments, at most one of --locked and --unlocked, and not --all with --cursor")
	}
	switch {
	case *locked:
		f.Locked = "true"
	case *unlocked:
		f.Locked = "false"
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tCREATED\tLOCKED")
	for {
		page, err := client().Accounts(ctx, f)
		if err != nil {
			return err
		}
		for _, a := range page.Accounts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.ID, a.Username, a.CreatedAt.Format(time.RFC3339), stamp(a.LockedAt))
		}
		if page.NextCursor == "" {
			return tw.Flush()
		}
		if !*all {
			tw.Flush()
			fmt.Fprintf(stdout, "more: --cursor %s\n", page.NextCursor)
			return nil
		}
		f.Cursor = page.NextCursor
	}
}

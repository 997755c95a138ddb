package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
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

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError("token needs a verb: create")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	var scopes scopeList
	fs.Var(&scopes, "scope", "a scope to grant (repeat, or comma-separate): accounts, sessions, keys, campaigns, audit:write, audit:read, gate, tokens, introspect")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(scopes) == 0 {
		return usageError("token create takes one NAME and at least one --scope")
	}
	var out struct {
		ID     string   `json:"id"`
		Token  string   `json:"token"`
		Scopes []string `json:"scopes"`
	}
	if err := client().Do(ctx, "POST", "/admin/v1/tokens", map[string]any{"name": pos[0], "scopes": []string(scopes)}, &out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "admin token %s with scopes %s (shown once, stored only as a hash):\n", out.ID, strings.Join(out.Scopes, ", "))
	fmt.Fprintln(stdout, out.Token)
	return nil
}

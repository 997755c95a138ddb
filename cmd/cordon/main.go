// Command cordon is breach response for consumer apps: `cordon serve` runs
// the server; the other verbs talk to a running server over its admin API,
// found by --server or CORDON_SERVER and authenticated by
// CORDON_ADMIN_TOKEN, in the manner of vault and kubectl.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cordon-dev/cordon/internal/adminclient"
)

const usage = `cordon — breach response for consumer apps

Usage:
  cordon serve [--addr 127.0.0.1:8080] [--data ./cordon-data]
  cordon gate --upstream URL [--control URL] [--addr 127.0.0.1:8081]
                                      (token with scope gate in CORDON_GATE_TOKEN)
  cordon user add USERNAME            (password from stdin, never argv)
  cordon user import FILE             (JSONL, JSON array or CSV; bcrypt hashes accepted)
  cordon user show USER               (USER is an account id or a username)
  cordon user sessions USER
  cordon user revoke-sessions USER
  cordon user lock|unlock|delete USER (lock: no login, every session ends)
  cordon user list [--prefix P] [--locked|--unlocked] [--limit N] [--cursor C | --all]
  cordon session revoke SESSION_ID
  cordon keys rotate
  cordon campaign create -f FILE      (JSON or YAML campaign document)
  cordon campaign preview|activate|pause|resume|cancel|complete ID
  cordon campaign list
  cordon campaign show ID [--watch]
  cordon token create NAME --scope SCOPE... [--ttl 90d | --expires T]
                                      (prints a new admin token once)
  cordon token list
  cordon token revoke|show TOKEN      (TOKEN is a token id or name)
  cordon token rotate TOKEN [--grace 10m] [--ttl 90d | --expires T]
  cordon token expire TOKEN (--ttl 90d | --expires T | --never)
  cordon audit send [-f FILE]         (NDJSON events into the audit log; scope audit:write)
  cordon audit report --principal P... [--from T] [--to T] [--format text|json|csv] [--save]
  cordon audit report --subject USER | --category NAME [--principal P...] [--from T] [--to T] [--format F]
                                      (who touched a user, any of its names; who touched a category)
  cordon audit principals [--principal P...] [--from T] [--to T] [--format F]
                                      (the principals the log knows: first/last seen, events by action)
  cordon audit verify [--key VKEY] [--checkpoints FILE]
                                      (recompute the log, check every signed checkpoint)
  cordon audit checkpoints [-o FILE]  (export the signed checkpoints for a second party)
  cordon audit checkpoints --limit N [--after SIZE]  (one page of them, with next_after)
  cordon audit prove INDEX [--key VKEY]
  cordon simulate [--server URL] [--gate http://127.0.0.1:8081] [--installs 500]
                  [--duration 60s] [--concurrency 32] [--seed N] [--speed X]
                  [--password-file FILE | --users-prefix sim-]
                                      (app installs reacting to campaigns, through a gate;
                                       creating accounts needs CORDON_ADMIN_TOKEN)
  cordon doctor [--data DIR | --store URL]
                                      (check a store: integrity, schema, keys, audit log)
  cordon ua classify [-f FILE] --ua-rules FILE | --ua-app NAMES [--json]
                                      (preview user-agent rules over user agents, one per line)
  cordon demo [--speed X] [--installs 300]
                                      (the whole incident, in-process, in about a minute)

Admin verbs take --server URL (or CORDON_SERVER; default http://127.0.0.1:8080)
and read the admin token from CORDON_ADMIN_TOKEN.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cordon:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format+"\n\n"+usage, args...)}
}

// run is main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errors.New("no command given")}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "user":
		return runUser(ctx, args[1:], stdin, stdout, stderr)
	case "session":
		return runSession(ctx, args[1:], stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "campaign":
		return runCampaign(ctx, args[1:], stdin, stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdin, stdout, stderr)
	case "gate":
		return runGate(ctx, args[1:], stderr)
	case "simulate":
		return runSimulate(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], stdout, stderr)
	case "ua":
		return runUA(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError("unknown command %q", args[0])
}

// adminFlags adds --server to fs and returns a function that builds the
// client once flags are parsed.
func adminFlags(fs *flag.FlagSet) func() *adminclient.Client {
	server := fs.String("server", "", "cordon server URL (default $CORDON_SERVER or "+adminclient.DefaultServer+")")
	return func() *adminclient.Client {
		s := *server
		if s == "" {
			s = os.Getenv("CORDON_SERVER")
		}
		return adminclient.New(s, os.Getenv("CORDON_ADMIN_TOKEN"))
	}
}

// parse parses flags that may come before or after positional arguments,
// as kubectl allows, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &exitError{code: 2, err: err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

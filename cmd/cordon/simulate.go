package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/simulate"
	"github.com/spf13/cobra"
)

func simulateCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "simulate --gate URL",
		Short: "Run a fleet of simulated app installs through a gate",
		Long: `Run a fleet of app installs (iOS and Android, several versions and stores)
that log in, call GET --path (default /api/feed) through a gate, and react to campaigns as
people would: reauthenticate, reset a password, update the app after a while,
or give up. The server is --server (or CORDON_SERVER); creating the fleet's
accounts needs an admin token (CORDON_ADMIN_TOKEN), or --password-file names
existing ones. It prints a summary, with the seed that replays the run.`,
		Example: `  cordon simulate --gate http://127.0.0.1:8081 --installs 500 --duration 60s
  cordon simulate --password-file accounts.csv --speed 10 --seed 42`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		var c simulate.Config
		fs.StringVar(&c.Gate, "gate", "http://127.0.0.1:8081", "URL of a cordon gate in front of an API answering GET --path")
		fs.StringVar(&c.Path, "path", "/api/feed", "what the apps GET through the gate: any path the upstream answers with 200")
		fs.IntVar(&c.Installs, "installs", 500, "app installs in the fleet")
		fs.DurationVar(&c.Duration, "duration", time.Minute, "how long the fleet runs once logged in")
		fs.IntVar(&c.Concurrency, "concurrency", 32, "requests in flight at most")
		fs.Float64Var(&c.Speed, "speed", 1, "divides every delay of people and apps (pauses, time to update)")
		fs.DurationVar(&c.Think, "think", time.Second, "mean pause between two requests of one install (before --speed)")
		pwFile := fs.String("password-file", "", "existing accounts to log in as (JSONL, JSON or CSV with username and password)")
		fs.StringVar(&c.UsersPrefix, "users-prefix", "sim-", "prefix of the accounts created when no --password-file is given")
		seed := fs.String("seed", "", "seed of the fleet and its choices (default: from the clock; printed in the summary)")
		return func(ctx context.Context, _ []string) error {
			c.Server, c.AdminToken = a.serverURL(), a.adminToken()
			return runSimulate(ctx, c, *pwFile, *seed, a.stdout, a.stderr)
		}
	})
}

// runSimulate checks simulate's flags and runs the fleet.
func runSimulate(ctx context.Context, c simulate.Config, pwFileFlag, seedFlag string, stdout, stderr io.Writer) error {
	pwFile, seed := &pwFileFlag, &seedFlag
	switch {
	case c.Installs < 1 || c.Installs > 100_000:
		return usageError("--installs must be between 1 and 100000")
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return usageError("--concurrency must be between 1 and 4096")
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return usageError("--duration must be positive and at most 24h")
	case c.Speed <= 0 || c.Speed > 1000 || math.IsNaN(c.Speed):
		return usageError("--speed must be above 0 and at most 1000")
	case c.Think < time.Millisecond || c.Think > time.Hour:
		return usageError("--think must be between 1ms and 1h")
	}
	if *seed == "" {
		c.Seed = uint64(time.Now().UnixNano())
	} else {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return usageError("--seed must be a whole number, got %q", *seed)
		}
		c.Seed = n
	}
	if c.Server == "" {
		c.Server = os.Getenv("CORDON_SERVER")
	}
	if c.Server == "" {
		c.Server = adminclient.DefaultServer
	}
	if *pwFile != "" {
		accts, err := readAccounts(*pwFile)
		if err != nil {
			return err
		}
		c.Accounts = accts
	} else if c.AdminToken == "" {
		return usageError("simulate needs accounts: --password-file FILE, or CORDON_ADMIN_TOKEN to create them")
	}
	c.Progress, c.Terminal = stderr, isTerminal(stderr)
	sim := &simulate.Simulator{Config: c}
	if c.Terminal {
		fmt.Fprintf(stderr, "logging in %d installs…\n", c.Installs)
	}
	sum, err := sim.Run(ctx)
	if err != nil && sum.Installs == 0 {
		return err
	}
	sum.Print(stdout)
	if err != nil {
		return err
	}
	return sum.Failure(c.Path)
}

// isTerminal reports whether w is a terminal, for the redrawn display.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readAccounts reads --password-file: JSONL, a JSON array or CSV, as
// `cordon user import` reads them, with plain passwords.
func readAccounts(path string) ([]simulate.Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var next func() (importRecord, int, error)
	switch {
	case strings.HasSuffix(strings.ToLower(path), ".csv"):
		if next, err = csvReader(f); err != nil {
			return nil, err
		}
	case strings.HasSuffix(strings.ToLower(path), ".json"):
		next = jsonArrayReader(f)
	default:
		next = jsonlReader(f)
	}
	var out []simulate.Account
	for {
		r, line, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if r.Username == "" || r.Password == "" {
			return nil, fmt.Errorf("%s: record %d needs a username and a plain password", path, line)
		}
		out = append(out, simulate.Account{Username: r.Username, Password: r.Password})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no accounts", path)
	}
	return out, nil
}

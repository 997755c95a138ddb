package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/fleetsim"
	"github.com/cordon-dev/cordon/internal/simulate"
	"github.com/spf13/cobra"
)

func simulateCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "simulate --gate URL",
		Short: "Run a fleet of simulated app installs through a gate",
		Long: `Run a fleet of app installs (iOS and Android, several versions and stores)
that log in, call GET --path (default /api/feed) through a gate, and react to campaigns as
people would: reauthenticate, reset a password, update the app after a while,
or give up. The server is --server (or CORDON_SERVER); creating the fleet's
accounts needs an admin token (CORDON_ADMIN_TOKEN), or --password-file names
existing ones. It prints a summary, with the seed that replays the run.`,
		Example: `  cordon simulate --gate http://127.0.0.1:8081 --installs 500 --duration 60s
  cordon simulate --password-file accounts.csv --speed 10 --seed 42
  cordon simulate --virtual --fleet 1000000 --capacity 60 --ramps 30m,1h,2h,4h,auto --plots docs/sim`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		var v virtualFlags
		fs.BoolVar(&v.on, "virtual", false, "simulate in virtual time instead, with no server: --fleet installs meet a reauth campaign decided by the real engine, against a login tier of --capacity logins/s, once per ramp of --ramps")
		fs.IntVar(&v.fleet, "fleet", 1_000_000, "with --virtual: app installs in the fleet")
		fs.Float64Var(&v.capacity, "capacity", 60, "with --virtual: logins per second the login tier hashes, every node together")
		fs.Float64Var(&v.baseline, "baseline", 10, "with --virtual: logins per second the breach has nothing to do with")
		fs.StringVar(&v.ramps, "ramps", "30m,1h,2h,4h,8h,24h,auto", "with --virtual: the ramps to run, fixed lengths and \"auto\", comma-separated")
		fs.DurationVar(&v.maxDuration, "max-duration", 72*time.Hour, "with --virtual: the auto ramp's max_duration")
		fs.Float64Var(&v.target, "target", 0.8, "with --virtual: the auto ramp's target utilisation, in (0, 1]")
		fs.DurationVar(&v.horizon, "horizon", 10*24*time.Hour, "with --virtual: how long each run lasts in virtual time")
		fs.StringVar(&v.plots, "plots", "", "with --virtual: write demand.svg, containment.svg and satisfied.svg to this directory")
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
			if v.on {
				return runVirtual(ctx, v, *seed, out, a.stdout, a.stderr)
			}
			c.Server, c.AdminToken = a.serverURL(), a.adminToken()
			return runSimulate(ctx, c, *pwFile, *seed, a.stdout, a.stderr)
		}
	})
	out = withOutput(c)
	return c
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

// virtualFlags are simulate's --virtual flags.
type virtualFlags struct {
	on                 bool
	fleet              int
	capacity, baseline float64
	ramps              string
	maxDuration        time.Duration
	target             float64
	horizon            time.Duration
	plots              string
}

// runVirtual runs internal/fleetsim: one run per ramp of --ramps on the
// same fleet, a table (or JSON/YAML) of the figures and, with --plots,
// the charts.
func runVirtual(ctx context.Context, v virtualFlags, seedFlag string, out *outputFormat, stdout, stderr io.Writer) error {
	cfg := fleetsim.DefaultConfig()
	cfg.Installs, cfg.Capacity, cfg.Baseline, cfg.Horizon = v.fleet, v.capacity, v.baseline, v.horizon
	switch {
	case v.fleet < 1 || v.fleet > 10_000_000:
		return usageError("--fleet must be between 1 and 10000000")
	case math.IsNaN(v.capacity) || v.capacity <= 0 || v.capacity > 1e6:
		return usageError("--capacity must be above 0 and at most 1000000 logins/s")
	case math.IsNaN(v.baseline) || v.baseline < 0 || v.baseline >= v.capacity:
		return usageError("--baseline must be at least 0 and below --capacity")
	case math.IsNaN(v.target) || v.target <= 0 || v.target > 1:
		return usageError("--target must be above 0 and at most 1")
	case v.maxDuration <= 0 || v.maxDuration > 3650*24*time.Hour:
		return usageError("--max-duration must be positive and at most 3650 days")
	case v.horizon < time.Hour || v.horizon > 60*24*time.Hour:
		return usageError("--horizon must be between 1h and 60 days")
	}
	if seedFlag != "" {
		n, err := strconv.ParseUint(seedFlag, 10, 64)
		if err != nil {
			return usageError("--seed must be a whole number, got %q", seedFlag)
		}
		cfg.Seed = n
	}
	var ramps []fleetsim.Ramp
	for _, f := range strings.Split(v.ramps, ",") {
		f = strings.TrimSpace(f)
		if f == "auto" {
			ramps = append(ramps, fleetsim.Ramp{MaxDuration: v.maxDuration, Target: v.target})
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < time.Minute || d > 60*24*time.Hour {
			return usageError("--ramps: %q is neither \"auto\" nor a duration between 1m and 60 days, such as 2h", f)
		}
		ramps = append(ramps, fleetsim.Ramp{Fixed: d})
	}
	if len(ramps) > 16 {
		return usageError("--ramps lists %d ramps; at most 16", len(ramps))
	}
	if v.plots != "" {
		if err := os.MkdirAll(v.plots, 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "simulating %d installs, %d ramps, %s of virtual time each…\n", cfg.Installs, len(ramps), v.horizon)
	rs, err := fleetsim.Run(cfg, ramps)
	if err != nil {
		return usageError("%v", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if v.plots != "" {
		err := fleetsim.WritePlots(rs, func(name string) (io.WriteCloser, error) {
			return os.Create(filepath.Join(v.plots, name))
		})
		if err != nil {
			return err
		}
	}
	type row struct {
		Ramp             string  `json:"ramp"`
		PeakDemand       float64 `json:"peak_demand_per_s"`
		Capacity         float64 `json:"capacity_per_s"`
		Shed             int64   `json:"logins_shed"`
		GaveUp           int64   `json:"gave_up"`
		ContainedSeconds float64 `json:"contained_seconds"`
		Satisfied95      float64 `json:"satisfied_95_seconds"`
		Disagreements    int64   `json:"gate_disagreements"`
	}
	rows := make([]row, len(rs))
	for i, r := range rs {
		rows[i] = row{r.Ramp.Name(), r.PeakDemand, r.Capacity, r.Shed, r.GaveUp, r.Contained.Seconds(), r.Satisfied95.Seconds(), r.Disagreements}
	}
	return emit(stdout, out, rows, func() error {
		fmt.Fprintf(stdout, "%d installs (%d opened within %s), login tier %g logins/s with %g/s of other logins\n\n",
			rs[0].Installs, rs[0].Active, v.horizon, cfg.Capacity, cfg.Baseline)
		return fleetsim.Table(stdout, rs)
	})
}

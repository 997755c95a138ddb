package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/stored"
	"github.com/spf13/cobra"
)

func doctorCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "doctor [--data DIR | --store URL]",
		Short: "Check a store without changing it",
		Long: `cordon doctor checks a store without changing it: SQLite's full
integrity_check, the schema's migrations, the deployment's identity
(deployment id, issuer), a current signing key, and the audit log's rows
against its recorded size and checkpoints. It opens the store read-only
and applies no migration, so it may run beside cordon serve.

Exit status: 0 when every check passes, 1 when one fails, 2 on bad usage.`,
		Example: `  cordon doctor --data ./cordon-data
  cordon doctor --store postgres://cordon@db/cordon -o json`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		data := fs.String("data", "./cordon-data", "data folder holding cordon.db")
		storeURL := fs.String("store", "", "postgres://… or sqlite:PATH (instead of --data)")
		asJSON := fs.Bool("json", false, "print the findings as JSON (as -o json)")
		return func(ctx context.Context, _ []string) error {
			if *asJSON {
				*out = "json"
			}
			return runDoctor(ctx, *data, *storeURL, out, a.stdout)
		}
	})
	out = withOutput(c)
	return c
}

func runDoctor(ctx context.Context, data, storeURL string, out *outputFormat, stdout io.Writer) error {
	var findings []stored.Finding
	var where string
	switch u := storeURL; {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		db, err := postgres.Inspect(ctx, u)
		if err != nil {
			return err
		}
		defer db.Close()
		where, findings = redactURL(u), db.Diagnose(ctx)
	case u == "" || strings.HasPrefix(u, "sqlite:"):
		path := filepath.Join(data, "cordon.db")
		if u != "" {
			path = strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "//")
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no store at %s: %w", path, err)
		}
		db, err := sqlite.Inspect(ctx, path)
		if err != nil {
			findings = []stored.Finding{{Check: "integrity", Detail: err.Error()}}
		} else {
			defer db.Close()
			findings = db.Diagnose(ctx)
		}
		where = path
	default:
		return usageError("--store must be postgres://…, postgresql://… or sqlite:PATH, got %q", redactURL(u))
	}
	failed := 0
	for _, f := range findings {
		if !f.OK {
			failed++
		}
	}
	emit(stdout, out, map[string]any{"store": where, "ok": failed == 0, "findings": findings}, func() error {
		fmt.Fprintf(stdout, "store %s\n", where)
		for _, f := range findings {
			mark := "ok  "
			if !f.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(stdout, "%s %-13s %s\n", mark, f.Check, f.Detail)
		}
		return nil
	})
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("the store failed %d of %d checks", failed, len(findings))}
	}
	return nil
}

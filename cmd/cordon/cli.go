package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/cordon-dev/cordon/internal/adminclient"
)

// app is one invocation: its streams and the global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	server, token  string // --server, --token
}

// client is the admin API client: --server, else CORDON_SERVER, else the
// default; --token, else CORDON_ADMIN_TOKEN.
func (a *app) client() *adminclient.Client {
	return adminclient.New(a.serverURL(), a.adminToken())
}

func (a *app) serverURL() string {
	if a.server != "" {
		return a.server
	}
	return os.Getenv("CORDON_SERVER")
}

func (a *app) adminToken() string {
	if a.token != "" {
		return a.token
	}
	return os.Getenv("CORDON_ADMIN_TOKEN")
}

const rootLong = `cordon is breach response for consumer apps.

cordon serve runs the server and cordon gate enforces its campaigns in front
of an API. The other commands talk to a running server over its admin API:
they find it by --server (or CORDON_SERVER; default ` + adminclient.DefaultServer + `)
and authenticate with --token (or CORDON_ADMIN_TOKEN). Global flags go before
or after the command.

Every command has --help with its arguments and an example. Commands that print
data take -o table (the default), -o json (the API's answer) or -o yaml.
Exit status: 0 on success, 1 when the work failed, 2 on bad usage.`

// newRoot builds the whole command tree for one invocation.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "cordon",
		Short: "Breach response for consumer apps",
		Long:  rootLong,
		Example: `  cordon serve --data ./cordon-data
  cordon --server http://127.0.0.1:8080 campaign list
  cordon user --help
  source <(cordon completion bash)`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return usageError("unknown command %q%s", args[0], suggest(cmd, args[0]))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return &exitError{code: 2, err: fmt.Errorf("no command given")}
		},
		SilenceErrors:              true,
		SuggestionsMinimumDistance: 2,
		SilenceUsage:               true,
		DisableAutoGenTag:          true,
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	// A command that holds verbs is run only to say it needs one: its usage
	// shows "cordon user [command]", not a bare "cordon user".
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "Usage:{{if .Runnable}}", "Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	root.PersistentFlags().StringVar(&a.server, "server", "", "cordon server URL (default $CORDON_SERVER or "+adminclient.DefaultServer+")")
	root.PersistentFlags().StringVar(&a.token, "token", "", "admin token (default $CORDON_ADMIN_TOKEN; prefer the variable: argv is visible to other users)")
	root.AddCommand(
		serveCmd(a), gateCmd(a),
		userCmd(a), adminCmd(a), sessionCmd(a), keysCmd(a), campaignCmd(a), incidentCmd(a), noticeCmd(a), alertCmd(a), tokenCmd(a), auditCmd(a),
		simulateCmd(a), demoCmd(a), doctorCmd(a), uaCmd(a),
		versionCmd(a), docsCmd(),
	)
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// useLine is how a usage error shows cmd's usage.
func useLine(cmd *cobra.Command) string {
	if cmd.HasAvailableSubCommands() {
		return cmd.CommandPath() + " [command]"
	}
	return cmd.UseLine()
}

// suggest is cobra's "did you mean" for a mistyped command.
func suggest(cmd *cobra.Command, arg string) string {
	if s := cmd.SuggestionsFor(arg); len(s) > 0 {
		return "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return ""
}

// action is a command's work, run with its positional arguments once its
// flags are parsed.
type action func(ctx context.Context, args []string) error

// leaf finishes c, a command that does work: setup defines its flags on a
// Go flag set (the verbs' flag definitions, as they always were) and
// returns the action; cobra parses them, anywhere on the line.
func leaf(c *cobra.Command, setup func(fs *flag.FlagSet) action) *cobra.Command {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	do := setup(fs)
	fs.VisitAll(func(gf *flag.Flag) {
		f := pflag.PFlagFromGoFlag(gf)
		if long, ok := longNames[f.Name]; ok {
			f.Name = long // -f stays; --file is its long form
		}
		c.Flags().AddFlag(f)
	})
	c.RunE = func(cmd *cobra.Command, args []string) error { return do(cmd.Context(), args) }
	return c
}

// longNames are the long forms of the verbs' one-letter flags.
var longNames = map[string]string{"f": "file", "o": "output"}

// group finishes c, a command that only holds verbs: without one, or with
// one it does not know, it is a usage error naming them.
func group(c *cobra.Command, verbs ...*cobra.Command) *cobra.Command {
	c.AddCommand(verbs...)
	c.SuggestionsMinimumDistance = 2
	c.Args = func(cmd *cobra.Command, args []string) error {
		var names []string
		for _, v := range cmd.Commands() {
			if v.IsAvailableCommand() {
				names = append(names, v.Name())
			}
		}
		if len(args) == 0 {
			return usageError("%s needs a verb: %s", cmd.Name(), strings.Join(names, ", "))
		}
		return usageError("unknown verb %s %s%s (verbs: %s)", cmd.Name(), args[0], suggest(cmd, args[0]), strings.Join(names, ", "))
	}
	c.RunE = func(*cobra.Command, []string) error { return nil } // Args refuses every call
	return c
}

// noArgs and oneArg check positional arguments with a message saying what
// the command wants.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("%s takes no arguments, got %q", strings.TrimPrefix(cmd.CommandPath(), "cordon "), args)
	}
	return nil
}

func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError("%s takes one %s, got %d argument(s)", strings.TrimPrefix(cmd.CommandPath(), "cordon "), what, len(args))
		}
		return nil
	}
}

// exactArgs wants n positional arguments, described by what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s takes %s, got %d argument(s)", strings.TrimPrefix(cmd.CommandPath(), "cordon "), what, len(args))
		}
		return nil
	}
}

// outputFormat is -o: table (the text form), json (the API's answer) or
// yaml (the same, as YAML).
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "format" }
func (o *outputFormat) Set(v string) error {
	switch v {
	case "table", "json", "yaml":
		*o = outputFormat(v)
		return nil
	}
	return fmt.Errorf("want table, json or yaml")
}

// withOutput adds -o/--output to c and returns where its value lands.
func withOutput(c *cobra.Command) *outputFormat {
	o := outputFormat("table")
	c.Flags().VarP(&o, "output", "o", "output format: table, json (the API's answer) or yaml")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return &o
}

// emit prints body (the API's answer, raw JSON or a value) as o says;
// table prints the text form.
func emit(w io.Writer, o *outputFormat, body any, table func() error) error {
	if o == nil || *o == "table" {
		return table()
	}
	var js []byte
	if raw, ok := body.(json.RawMessage); ok {
		js = raw
	} else {
		var err error
		if js, err = json.Marshal(body); err != nil {
			return err
		}
	}
	if *o == "yaml" {
		y, err := yaml.JSONToYAML(js)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, js, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// versionInfo is what cordon version prints.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Commit: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func versionCmd(a *app) *cobra.Command {
	var out *outputFormat
	c := leaf(&cobra.Command{
		Use:   "version",
		Short: "Print cordon's version, commit and Go version",
		Long: `Print the version of this binary, the commit it was built from (with
"modified" when the tree had uncommitted changes) and the Go version, as the
binary records them (runtime/debug.ReadBuildInfo).`,
		Example: `  cordon version
  cordon version -o json`,
		Args: noArgs,
	}, func(*flag.FlagSet) action {
		return func(context.Context, []string) error {
			v := buildVersion()
			return emit(a.stdout, out, v, func() error {
				mod := ""
				if v.Modified {
					mod = " (modified)"
				}
				_, err := fmt.Fprintf(a.stdout, "cordon %s\ncommit %s%s\n%s\n", v.Version, v.Commit, mod, v.GoVersion)
				return err
			})
		}
	})
	out = withOutput(c)
	return c
}

// docsCmd writes the man pages; hidden, for packagers (go generate runs it).
func docsCmd() *cobra.Command {
	man := &cobra.Command{
		Use:   "man DIR",
		Short: "Write a man page per command into DIR",
		Long:  "Write a man page (section 1) for every command into DIR, created if needed.",
		Example: `  cordon docs man ./man
  man ./man/cordon-campaign-create.1`,
		Args: oneArg("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			return doc.GenManTree(cmd.Root(), &doc.GenManHeader{Title: "CORDON", Section: "1", Source: "cordon"}, args[0])
		},
	}
	return group(&cobra.Command{
		Use:     "docs",
		Short:   "Generate documentation from the command tree",
		Long:    "Generate documentation from the command tree: man pages.",
		Example: "  cordon docs man ./man",
		Hidden:  true,
	}, man)
}

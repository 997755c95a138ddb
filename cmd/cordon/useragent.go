package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/cordon-dev/cordon/internal/uafacts"
	"github.com/spf13/cobra"
)

// uaFlags registers the user-agent rules' flags on fs (serve and gate take
// the same) and returns what builds the rules once fs is parsed: nil when
// no flag is given, so requests without Cordon-Client stay unknown until
// the operator says which apps are theirs.
func uaFlags(fs *flag.FlagSet) func() (*uafacts.Rules, error) {
	var file, apps, header string
	fs.StringVar(&file, "ua-rules", "", "YAML or JSON file of user-agent rules, for apps that send no Cordon-Client")
	fs.StringVar(&apps, "ua-app", "", "comma-separated product tokens of your apps (e.g. Spotify): the built-in user-agent rules read their version and platform")
	fs.StringVar(&header, "ua-version-header", "", "request header in which apps whose user agent has no version send it (e.g. X-App-Version, for okhttp and Dalvik)")
	return func() (*uafacts.Rules, error) {
		return loadUARules(file, apps, header)
	}
}

func loadUARules(file, apps, header string) (*uafacts.Rules, error) {
	if file == "" && apps == "" && header == "" {
		return nil, nil
	}
	var c uafacts.Config
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, configError("--ua-rules: %v", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, uafacts.MaxFileSize+1))
		if err != nil {
			return nil, configError("--ua-rules: %v", err)
		}
		if c, err = uafacts.ParseConfig(data); err != nil {
			return nil, configError("--ua-rules %s: %v", file, err)
		}
	}
	for _, a := range strings.Split(apps, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Apps = append(c.Apps, uafacts.App{Token: a})
		}
	}
	if header != "" {
		if c.VersionHeader != "" && !strings.EqualFold(c.VersionHeader, header) {
			return nil, usageError("--ua-version-header %s contradicts version_header %s in %s", header, c.VersionHeader, file)
		}
		c.VersionHeader = header
	}
	r, err := uafacts.New(c)
	if err != nil {
		return nil, configError("%s", uaWhere(file, err))
	}
	return r, nil
}

func uaWhere(file string, err error) string {
	if file == "" {
		return fmt.Sprintf("--ua-app/--ua-version-header: %v", err)
	}
	return fmt.Sprintf("--ua-rules %s with --ua-app/--ua-version-header: %v", file, err)
}

// configError is a configuration the operator must fix: exit status 2,
// like a usage error, without the whole usage text after it.
func configError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// maxClassifyInput bounds what `cordon ua classify` reads: a day of
// distinct user agents from an access log fits many times over.
const maxClassifyInput = 256 << 20

// runUA is `cordon ua classify`: the preview of user-agent rules before
// they are deployed. It runs locally, with the rules the flags name (the
// same flags as serve and gate), over user agents one per line (from an
// access log, say), and prints per family how many resolve and to what,
// and how many stay unknown. Nothing is sent anywhere.
func uaCmd(a *app) *cobra.Command {
	var out *outputFormat
	classify := leaf(&cobra.Command{
		Use:   "classify (--ua-rules FILE | --ua-app NAMES) [-f FILE]",
		Short: "Preview what user-agent rules make of user agents, locally",
		Long: `Preview user-agent rules before deploying them: read user agents, one per
line (from an access log, say), and print per family how many resolve and to
what, and how many stay unknown. It runs locally with the rules the flags name
(the same flags as serve and gate); nothing is sent anywhere.`,
		Example: `  cordon ua classify --ua-app MyApp -f useragents.txt
  awk -F'"' '{print $6}' access.log | cordon ua classify --ua-rules rules.yaml -o json`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		file := fs.String("f", "-", "file of user agents, one per line (- for stdin)")
		asJSON := fs.Bool("json", false, "print the report as JSON, as POST /admin/v1/ua/classify answers it (as -o json)")
		userAgents := uaFlags(fs)
		return func(context.Context, []string) error {
			return runUA(*file, *asJSON, out, userAgents, a.stdin, a.stdout)
		}
	})
	out = withOutput(classify)
	return group(&cobra.Command{
		Use:     "ua",
		Short:   "Try user-agent rules",
		Long:    "Try the user-agent rules that give platform and version to apps that send no Cordon-Client.",
		Example: "  cordon ua classify --ua-app MyApp -f useragents.txt",
	}, classify)
}

func runUA(file string, asJSONFlag bool, out *outputFormat, userAgents func() (*uafacts.Rules, error), stdin io.Reader, stdout io.Writer) error {
	asJSON := &asJSONFlag
	rules, err := userAgents()
	if err != nil {
		return err
	}
	if rules == nil {
		return usageError("ua classify needs the rules to try: --ua-rules FILE and/or --ua-app NAMES")
	}
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, maxClassifyInput+1))
	if err != nil {
		return err
	}
	if len(data) > maxClassifyInput {
		return fmt.Errorf("more than %d MiB of user agents; classify a sample", maxClassifyInput>>20)
	}
	var uas []string
	for l := range strings.Lines(string(data)) {
		if l = strings.TrimRight(l, "\r\n"); l != "" {
			uas = append(uas, l)
		}
	}
	rep := rules.Classify(uas)
	if *asJSON && *out == "table" {
		*out = "json"
	}
	if *out != "table" {
		return emit(stdout, out, struct {
			Rules bool `json:"rules"`
			uafacts.Report
		}{true, rep}, nil)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAMILY\tTOTAL\tRESOLVED\tUNKNOWN\tPLATFORMS\tUNKNOWN, E.G.")
	for _, f := range rep.Families {
		var plats []string
		for _, p := range slices.Sorted(maps.Keys(f.Platforms)) {
			plats = append(plats, fmt.Sprintf("%s %d", p, f.Platforms[p]))
		}
		ex := ""
		if len(f.Examples) > 0 {
			ex = f.Examples[0]
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", f.Family, f.Total, f.Resolved, f.Unknown, strings.Join(plats, ", "), ex)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%d user agents: %d resolved, %d unknown\n", rep.Total, rep.Resolved, rep.Unknown)
	return err
}

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cordon-dev/cordon/internal/uafacts"
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

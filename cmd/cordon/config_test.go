package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// serveFlags is serve's command with its flags parsed from args, as cobra
// parses them before the action settles the rest.
func serveFlags(t *testing.T, verb string, args ...string) *cobra.Command {
	t.Helper()
	root := newRoot(&app{stdin: strings.NewReader(""), stdout: new(bytes.Buffer), stderr: new(bytes.Buffer)})
	cmd, _, err := root.Find([]string{verb})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func flagValue(t *testing.T, cmd *cobra.Command, name string) string {
	t.Helper()
	return cmd.Flags().Lookup(name).Value.String()
}

func configFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cordon.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigPrecedence: flags > environment > config file > defaults,
// each level shown winning over the ones below it.
func TestConfigPrecedence(t *testing.T) {
	file := configFile(t, "addr: 10.0.0.1:8080\ndata: /from/file\nmin-password-length: 12\ntrusted-proxies: [10.0.0.0/8, 192.168.0.0/16]\nskip-check: true\n")
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want map[string]string
	}{
		{name: "defaults", want: map[string]string{"addr": "127.0.0.1:8080", "data": "./cordon-data", "min-password-length": "8", "skip-check": "false", "audit-max-lateness": "24h0m0s"}},
		{name: "config file over defaults", args: []string{"--config", file},
			want: map[string]string{"addr": "10.0.0.1:8080", "data": "/from/file", "min-password-length": "12", "trusted-proxies": "10.0.0.0/8,192.168.0.0/16", "skip-check": "true", "store": ""}},
		{name: "CORDON_CONFIG names the file", env: map[string]string{"CORDON_CONFIG": file},
			want: map[string]string{"addr": "10.0.0.1:8080", "data": "/from/file"}},
		{name: "environment over config file", args: []string{"--config", file}, env: map[string]string{"CORDON_ADDR": "10.0.0.2:8080", "CORDON_MIN_PASSWORD_LENGTH": "15"},
			want: map[string]string{"addr": "10.0.0.2:8080", "data": "/from/file", "min-password-length": "15"}},
		{name: "flags over environment and config file", args: []string{"--config", file, "--addr", "10.0.0.3:8080", "--skip-check=false"}, env: map[string]string{"CORDON_ADDR": "10.0.0.2:8080", "CORDON_DATA": "/from/env"},
			want: map[string]string{"addr": "10.0.0.3:8080", "data": "/from/env", "skip-check": "false", "min-password-length": "12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := serveFlags(t, "serve", tt.args...)
			if err := settle(cmd.Flags(), env(tt.env)); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got := flagValue(t, cmd, k); got != want {
					t.Errorf("--%s = %q, want %q", k, got, want)
				}
			}
		})
	}
	// The global flags are not settled from a file or CORDON_TOKEN.
	cmd := serveFlags(t, "gate")
	if err := settle(cmd.Flags(), env(map[string]string{"CORDON_TOKEN": "cat_x", "CORDON_UPSTREAM": "http://api:9000"})); err != nil {
		t.Fatal(err)
	}
	if got := flagValue(t, cmd, "token"); got != "" {
		t.Errorf("--token = %q from CORDON_TOKEN; only CORDON_ADMIN_TOKEN is read, by the client", got)
	}
	if got := flagValue(t, cmd, "upstream"); got != "http://api:9000" {
		t.Errorf("gate --upstream = %q from CORDON_UPSTREAM, want http://api:9000", got)
	}
}

// TestConfigBad: a bad config file or variable is a usage error (exit 2)
// that names the key, before anything starts.
func TestConfigBad(t *testing.T) {
	t.Setenv("CORDON_ADMIN_TOKEN", "")
	tests := []struct {
		name, verb, content string
		env                 map[string]string
		want                []string
	}{
		{name: "unknown key", verb: "serve", content: "addr: 127.0.0.1:0\nadress: 127.0.0.1:9\n", want: []string{`unknown key "adress"`, "line 2", "addr, alert-webhook, audit-categories"}},
		{name: "a global flag", verb: "serve", content: "token: cat_secret\n", want: []string{`unknown key "token"`}},
		{name: "config in config", verb: "gate", content: "config: other.yaml\n", want: []string{`unknown key "config"`}},
		{name: "a key of serve given to gate", verb: "gate", content: "data: /x\n", want: []string{`unknown key "data"`}},
		{name: "not a mapping", verb: "serve", content: "- addr\n", want: []string{"want a mapping"}},
		{name: "not YAML", verb: "serve", content: "addr: [unclosed\n", want: []string{"not YAML"}},
		{name: "nested map", verb: "serve", content: "addr:\n  host: x\n", want: []string{"addr: want a value or a list"}},
		{name: "a key without a value", verb: "serve", content: "store:\n", want: []string{"store has no value"}},
		{name: "an alias", verb: "serve", content: "addr: &a 127.0.0.1:0\ndata: *a\n", want: []string{"data: want a value"}},
		{name: "key twice", verb: "serve", content: "addr: a\naddr: b\n", want: []string{`"addr"`}},
		{name: "a value of the wrong type", verb: "serve", content: "min-password-length: eight\n", want: []string{"min-password-length", `invalid argument "eight"`}},
		{name: "a value the flag refuses", verb: "serve", content: "min-password-length: 3\n", want: []string{"--min-password-length must be between 8 and 64"}},
		{name: "a bad variable", verb: "serve", env: map[string]string{"CORDON_SKIP_CHECK": "maybe"}, want: []string{"CORDON_SKIP_CHECK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := []string{tt.verb, "--data", t.TempDir(), "--addr", "127.0.0.1:0"}
			if tt.verb == "gate" {
				args = []string{tt.verb, "--upstream", "http://127.0.0.1:9", "--addr", "127.0.0.1:0"}
			}
			if tt.content != "" {
				args = append(args, "--config", configFile(t, tt.content))
			}
			r := cli(t, "", args...)
			if r.code != 2 {
				t.Fatalf("cordon %q: %v\nwant exit 2", args, r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("the error lacks %q:\n%v", w, r.err)
				}
			}
		})
	}
	if r := cli(t, "", "serve", "--config", "/nonexistent/cordon.yaml"); r.code != 2 || !strings.Contains(r.err.Error(), "/nonexistent/cordon.yaml") {
		t.Errorf("a missing config file: %v, want exit 2 naming it", r)
	}
	big := configFile(t, "# "+strings.Repeat("x", maxConfigFile)+"\n")
	if r := cli(t, "", "serve", "--config", big); r.code != 2 || !strings.Contains(r.err.Error(), "larger than") {
		t.Errorf("an oversized config file: %v, want exit 2", r)
	}
}

// FuzzParseConfig: no config file content makes the parser panic, and
// whatever it accepts names only flags.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"addr: 1\n", "trusted-proxies: [a, b]\n", "- x\n", "a: {b: c}\n", "addr: &x 1\ndata: *x\n", "", "addr: !!binary aGk=\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd := serveFlags(t, "serve")
		settings, err := parseConfig("fuzz.yaml", data, cmd.Flags())
		if err != nil {
			return
		}
		for _, s := range settings {
			if cmd.Flags().Lookup(s.key) == nil || s.key == "config" {
				t.Errorf("accepted key %q, not one of serve's flags", s.key)
			}
		}
	})
}

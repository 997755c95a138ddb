package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/help/*.golden from the commands' help")

// commandTree lists every command of the CLI, hidden ones included, as
// the paths a user types ("cordon user add").
func commandTree(t *testing.T) []*cobra.Command {
	t.Helper()
	root := newRoot(&app{stdin: strings.NewReader(""), stdout: new(bytes.Buffer), stderr: new(bytes.Buffer)})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return all
}

// goldenName is the golden file of a command path: cordon-user-add.golden.
func goldenName(path string) string { return strings.ReplaceAll(path, " ", "-") + ".golden" }

// TestHelpGolden: every command's --help, word for word, in
// testdata/help (go test -run TestHelpGolden -update rewrites them). A new
// command without a golden file fails, and so does a golden file left from
// a command that is gone.
func TestHelpGolden(t *testing.T) {
	t.Setenv("CORDON_SERVER", "")
	want := map[string]bool{}
	for _, c := range commandTree(t) {
		path := c.CommandPath()
		name := goldenName(path)
		want[name] = true
		t.Run(path, func(t *testing.T) {
			args := append(strings.Fields(path)[1:], "--help")
			r := cli(t, "", args...)
			if r.err != nil || r.stderr != "" {
				t.Fatalf("cordon %s: %v\nwant exit 0 and nothing on stderr", strings.Join(args, " "), r)
			}
			file := filepath.Join("testdata", "help", name)
			if *update {
				if err := os.WriteFile(file, []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			golden, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("no golden help for %q (%v): run go test ./cmd/cordon -run TestHelpGolden -update and review the file", path, err)
			}
			if r.stdout != string(golden) {
				t.Errorf("cordon %s --help differs from %s (rerun with -update and review the diff):\n%s", path, file, r.stdout)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "help", "*.golden"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s names no command: delete it", f)
		}
	}
}

// TestEveryCommandDocumented: each command of ours has a one-line summary,
// a description and an example (cobra's own help and completion commands
// bring their text).
func TestEveryCommandDocumented(t *testing.T) {
	for _, c := range commandTree(t) {
		if c.Name() == "help" || c.Name() == "completion" || (c.HasParent() && c.Parent().Name() == "completion") {
			continue
		}
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s: Short %q, Long %d bytes, Example %q: want all three", c.CommandPath(), c.Short, len(c.Long), c.Example)
		}
		if c.Runnable() && !c.HasSubCommands() && c.Args == nil {
			t.Errorf("%s checks no arguments: give it Args", c.CommandPath())
		}
	}
}

// The bugs of issue 13, each of which failed before cobra.
func TestHelpBugs(t *testing.T) {
	t.Setenv("CORDON_SERVER", "http://"+freeAddr(t)) // nothing may be called
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string // on stdout
		avoid []string // not on stdout
	}{
		{"user --help named its verbs, not unknown verb", []string{"user", "--help"}, []string{"Available Commands:", "add ", "import ", "revoke-sessions"}, nil},
		{"campaign --help, not takes one campaign ID", []string{"campaign", "--help"}, []string{"preview ", "activate ", "show "}, nil},
		{"help exits 0 on stdout", []string{"help"}, []string{"Available Commands:", "campaign"}, nil},
		{"--help exits 0", []string{"--help"}, []string{"Usage:"}, nil},
		{"-h exits 0", []string{"-h"}, []string{"Usage:"}, nil},
		{"help VERB", []string{"help", "user", "lock"}, []string{"cordon user lock USER"}, nil},
		{"a verb's help lists its own flags: create", []string{"campaign", "create", "--help"}, []string{"-f, --file string"}, []string{"--watch"}},
		{"a verb's help lists its own flags: show", []string{"campaign", "show", "--help"}, []string{"--watch"}, []string{"--file"}},
		{"user show --help", []string{"user", "show", "--help"}, []string{"cordon user show USER", "Examples:"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, "", tc.args...)
			if r.err != nil {
				t.Fatalf("cordon %q: %v\nwant exit 0", tc.args, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("cordon %q: stdout lacks %q:\n%s", tc.args, w, r.stdout)
				}
			}
			for _, w := range tc.avoid {
				if strings.Contains(r.stdout, w) {
					t.Errorf("cordon %q: stdout shows %q, another verb's flag:\n%s", tc.args, w, r.stdout)
				}
			}
		})
	}
}

// TestCLIBadInput: unknown commands and flags, missing and extra
// arguments, and a bad -o exit 2 with the error, the usage line and where
// the help is.
func TestCLIBadInput(t *testing.T) {
	t.Setenv("CORDON_SERVER", "http://"+freeAddr(t)) // nothing may be called
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown command with a suggestion", []string{"campain", "list"}, []string{`unknown command "campain"`, "did you mean campaign?"}},
		{"unknown verb", []string{"campaign", "shw", "c-1"}, []string{"unknown verb campaign shw", "did you mean show?"}},
		{"unknown flag", []string{"user", "show", "alice", "--frob"}, []string{"unknown flag: --frob", "cordon user show USER [flags]", "cordon user show --help"}},
		{"unknown shorthand", []string{"campaign", "list", "-z"}, []string{"unknown shorthand flag: 'z'"}},
		{"a flag of another verb", []string{"campaign", "list", "--watch"}, []string{"unknown flag: --watch"}},
		{"missing argument", []string{"campaign", "preview"}, []string{"campaign preview takes one campaign ID, got 0"}},
		{"extra argument", []string{"token", "list", "x"}, []string{"token list takes no arguments"}},
		{"bad -o", []string{"campaign", "list", "-o", "xml"}, []string{`invalid argument "xml" for "-o, --output"`, "want table, json or yaml"}},
		{"bad --output", []string{"version", "--output=csv"}, []string{`invalid argument "csv"`}},
		{"flag without its value", []string{"campaign", "create", "-f"}, []string{"flag needs an argument"}},
		{"no command", nil, []string{"no command given", "cordon [command]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, "", tc.args...)
			if r.code != 2 {
				t.Fatalf("cordon %q: %v\nwant exit 2", tc.args, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("cordon %q: the error lacks %q:\n%v", tc.args, w, r.err)
				}
			}
		})
	}
}

// TestGlobalFlagsAnywhere: --server and --token work before the verb
// (which used to be "unknown command"), between, and after it.
func TestGlobalFlagsAnywhere(t *testing.T) {
	m := testServer(t)
	t.Setenv("CORDON_SERVER", "http://"+freeAddr(t)) // the flag must win
	t.Setenv("CORDON_ADMIN_TOKEN", "")
	for _, args := range [][]string{
		{"--server", m.URL(), "--token", testAdminToken, "campaign", "list"},
		{"--server=" + m.URL(), "campaign", "--token", testAdminToken, "list"},
		{"campaign", "list", "--server", m.URL(), "--token=" + testAdminToken},
	} {
		if r := cli(t, "", args...); r.err != nil || !strings.HasPrefix(r.stdout, "ID") {
			t.Errorf("cordon %q: %v\nwant the campaign table", args, r)
		}
	}
	// Without --token, and with CORDON_ADMIN_TOKEN empty, the server refuses.
	if r := cli(t, "", "--server", m.URL(), "campaign", "list"); r.code != 1 || !strings.Contains(r.err.Error(), "CORDON_ADMIN_TOKEN") {
		t.Errorf("no token: %v, want exit 1 naming CORDON_ADMIN_TOKEN", r)
	}
}

// TestCampaignCreateYAMLOnStdin: create -f - with a YAML document, which
// was once always sent as JSON and refused.
func TestCampaignCreateYAMLOnStdin(t *testing.T) {
	cliServer(t)
	for _, doc := range []string{
		"kind: reauth\nname: yaml on stdin\ncohort:\n  platforms: [ios]\n",
		"# a comment first\n---\nkind: reauth\nname: yaml with a marker\n",
		"\ufeff{\"kind\":\"reauth\",\"name\":\"json with a BOM\"}",
	} {
		r := cli(t, doc, "campaign", "create", "-f", "-")
		if r.err != nil || !strings.HasPrefix(r.stdout, "created reauth campaign c-") {
			t.Errorf("create -f - with %q: %v", doc, r)
		}
	}
}

// TestCampaignPreviewCountsLiveSessions: preview prints the live
// sessions, which it once always printed as 0.
func TestCampaignPreviewCountsLiveSessions(t *testing.T) {
	m := cliServer(t)
	addUser(t, m, "vera", "a long enough password")
	for _, c := range []string{`platform=ios, version="8.4.1", source=appstore`, `platform=android, version="8.4.1", source=play`, `platform=android, version="9.0.0", source=play`} {
		login(t, m, "vera", "a long enough password", c)
	}
	r := cli(t, "kind: reauth\nname: ios\ncohort: {platforms: [ios]}\n", "campaign", "create", "-f", "-")
	if r.err != nil {
		t.Fatal(r)
	}
	id := strings.Fields(r.stdout)[3]
	r = cli(t, "", "campaign", "preview", id)
	if want := "would hit 1 session(s) of 1 user(s) (exact), of 3 live sessions"; r.err != nil || !strings.Contains(r.stdout, want) {
		t.Errorf("preview: %v\nwant %q", r, want)
	}
	r = cli(t, "", "campaign", "preview", id, "-o", "json")
	var p struct {
		LiveSessions int64 `json:"live_sessions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.LiveSessions != 3 {
		t.Errorf("preview -o json: %v, live_sessions %d, want 3\n%s", err, p.LiveSessions, r.stdout)
	}
}

// TestCampaignShowTrailAndOutput: show prints the trail of state changes;
// -o json and -o yaml give the campaign with its trail.
func TestCampaignShowTrailAndOutput(t *testing.T) {
	cliServer(t)
	r := cli(t, "kind: reauth\nname: trail\n", "campaign", "create", "-f", "-")
	if r.err != nil {
		t.Fatal(r)
	}
	id := strings.Fields(r.stdout)[3]
	for _, v := range []string{"activate", "pause"} {
		if r := cli(t, "", "campaign", v, id); r.err != nil {
			t.Fatal(r)
		}
	}
	r = cli(t, "", "campaign", "show", id)
	if r.err != nil || !strings.Contains(r.stdout, "trail:") {
		t.Fatalf("show: %v\nwant a trail", r)
	}
	trail := r.stdout[strings.Index(r.stdout, "trail:"):]
	for i, action := range []string{"create", "activate", "pause"} {
		line := strings.Split(strings.TrimSpace(trail), "\n")
		if len(line) < 4 || !strings.Contains(line[i+1], action) || !strings.Contains(line[i+1], " by t-") {
			t.Errorf("trail line %d: want %q by a token:\n%s", i+1, action, trail)
		}
	}
	r = cli(t, "", "campaign", "show", id, "-o", "json")
	var got struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Trail []struct {
			Action string `json:"action"`
		} `json:"trail"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.ID != id || got.State != "paused" || len(got.Trail) != 3 || got.Trail[2].Action != "pause" {
		t.Errorf("show -o json: %v %+v\n%s", err, got, r.stdout)
	}
	r = cli(t, "", "campaign", "show", id, "-o", "yaml")
	var y map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &y); err != nil || y["id"] != id || y["state"] != "paused" || strings.HasPrefix(r.stdout, "{") {
		t.Errorf("show -o yaml: %v %v\n%s", err, y, r.stdout)
	}
	for _, args := range [][]string{{"campaign", "list"}, {"user", "list"}, {"token", "list"}, {"version"}} {
		r := cli(t, "", append(args, "-o", "json")...)
		if r.err != nil || !json.Valid([]byte(r.stdout)) {
			t.Errorf("cordon %q -o json: %v\nwant JSON", args, r)
		}
	}
}

// TestCampaignWatchPiped: --watch into a pipe prints plain successive
// blocks, never the terminal's clear-screen sequence.
func TestCampaignWatchPiped(t *testing.T) {
	m := cliServer(t)
	r := cli(t, "kind: reauth\nname: watched\n", "campaign", "create", "-f", "-")
	if r.err != nil {
		t.Fatal(r)
	}
	id := strings.Fields(r.stdout)[3]
	ctx, cancel := context.WithTimeout(t.Context(), 4500*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"campaign", "show", id, "--watch", "--server", m.URL()}, nil, &out, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\033[") {
		t.Errorf("--watch into a pipe wrote terminal escapes: %q", out.String())
	}
	if n := strings.Count(out.String(), id+"  reauth"); n < 2 || n > 3 {
		t.Errorf("--watch for 4.5 s printed %d blocks, want 2 or 3 (one every 2 s):\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "\n\n"+id+"  reauth") {
		t.Errorf("--watch into a pipe: blocks not separated by a blank line:\n%s", out.String())
	}
}

// TestVersion: the version, commit and Go version, as text and JSON.
func TestVersion(t *testing.T) {
	r := cli(t, "", "version")
	if r.err != nil || !strings.HasPrefix(r.stdout, "cordon ") || !strings.Contains(r.stdout, "commit ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("version: %v", r)
	}
	r = cli(t, "", "version", "-o", "json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go1.") {
		t.Errorf("version -o json: %v %+v\n%s", err, v, r.stdout)
	}
}

// TestCompletionLoadsInBash: the bash completion script loads in bash and
// registers cordon; zsh's and fish's are generated.
func TestCompletionLoadsInBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("bash is needed to load the completion script")
		}
		t.Skip("no bash")
	}
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := cli(t, "", "completion", shell)
		if r.err != nil || !strings.Contains(r.stdout, "cordon") {
			t.Fatalf("completion %s: %v", shell, r)
		}
		if err := os.WriteFile(filepath.Join(dir, shell), []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bash, "--norc", "--noprofile", "-c", "source "+filepath.Join(dir, "bash")+" && complete -p cordon").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "__start_cordon") || !strings.HasSuffix(strings.TrimSpace(string(out)), " cordon") {
		t.Errorf("bash did not load the completion: %v\n%s", err, out)
	}
	// The completions themselves come from the binary's hidden __complete.
	r := cli(t, "", "__complete", "campaign", "")
	for _, w := range []string{"create", "preview", "show"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("__complete campaign: %v\nwant %q", r, w)
		}
	}
	r = cli(t, "", "__complete", "campaign", "list", "-o", "")
	if !strings.Contains(r.stdout, "json\nyaml") && !strings.Contains(r.stdout, "yaml") {
		t.Errorf("__complete -o: %v\nwant the formats", r)
	}
}

// TestManPages: docs man writes one page per command.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if r := cli(t, "", "docs", "man", dir); r.err != nil {
		t.Fatal(r)
	}
	want := 0
	for _, c := range commandTree(t) {
		if shownInManPages(c) {
			want++
			page := filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
			b, err := os.ReadFile(page)
			if err != nil || !bytes.Contains(b, []byte(".TH")) {
				t.Errorf("%s: no man page at %s (%v)", c.CommandPath(), page, err)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(files) != want {
		t.Errorf("%d man pages, want %d (one per command)", len(files), want)
	}
}

// shownInManPages: the root and every available command below available
// parents (the hidden docs command and its verbs have no page).
func shownInManPages(c *cobra.Command) bool {
	for ; c.HasParent(); c = c.Parent() {
		if !c.IsAvailableCommand() {
			return false
		}
	}
	return true
}

// TestBinaryCompletionAndWatchOnATerminal runs the built binary: its bash
// completion loads in bash as a user would load it, and campaign show
// --watch redraws in place when its output is a terminal (script(1) gives
// it one), where into a pipe it does not (TestCampaignWatchPiped).
func TestBinaryCompletionAndWatchOnATerminal(t *testing.T) {
	bin := cordonBinary(t)
	out, err := exec.Command("bash", "--norc", "--noprofile", "-c", "source <('"+bin+"' completion bash) && complete -p cordon").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-F __start_cordon cordon") {
		t.Errorf("source <(cordon completion bash): %v\n%s", err, out)
	}
	if _, err := exec.LookPath("script"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("script(1) is needed to give --watch a terminal")
		}
		t.Skip("no script(1)")
	}
	m := cliServer(t)
	r := cli(t, "kind: reauth\nname: on a terminal\n", "campaign", "create", "-f", "-")
	if r.err != nil {
		t.Fatal(r)
	}
	id := strings.Fields(r.stdout)[3]
	cmd := exec.Command("script", "-qec", "timeout -s INT 3 '"+bin+"' campaign show "+id+" --watch --server "+m.URL(), "/dev/null")
	cmd.Env = append(os.Environ(), "CORDON_ADMIN_TOKEN="+testAdminToken)
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "\033[H\033[2J") || !strings.Contains(string(out), id+"  reauth") {
		t.Errorf("--watch on a terminal did not redraw in place:\n%q", out)
	}
}

package deploytest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

var deployDir = filepath.Join("..", "..", "deploy")

// tool finds an external tool. Missing, the test skips, except that CI
// names the tools it must have in CORDON_REQUIRE_TOOLS.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if slices.Contains(strings.Fields(os.Getenv("CORDON_REQUIRE_TOOLS")), name) {
			t.Fatalf("%s is required (CORDON_REQUIRE_TOOLS) but not installed", name)
		}
		t.Skipf("%s is not installed; skipping", name)
	}
	return p
}

// unitRoot lays out a filesystem root for systemd-analyze --root: the
// system's own units (the unit's default dependencies live there), the
// unit where it is installed, and an executable at the unit's ExecStart
// path, so verify checks the unit as it will be installed.
func unitRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			if err := os.CopyFS(filepath.Join(root, "usr/lib/systemd/system"), os.DirFS(dir)); err != nil {
				t.Fatalf("copy %s: %v", dir, err)
			}
			break
		}
	}
	unit, err := os.ReadFile(filepath.Join(deployDir, "cordon.service"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=(\S+)`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("cordon.service has no ExecStart")
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"etc/systemd/system/cordon.service", unit, 0o644},
		{strings.TrimPrefix(string(m[1]), "/"), []byte("#!/bin/sh\n"), 0o755},
	} {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestUnitVerifies runs systemd-analyze verify on the unit. verify exits
// 0 on an unknown key or a value it cannot parse (it ignores the line), so
// anything it prints is a failure.
func TestUnitVerifies(t *testing.T) {
	sa := tool(t, "systemd-analyze")
	root := unitRoot(t)
	out, err := exec.Command(sa, "verify", "--man=no", "--root="+root, "/etc/systemd/system/cordon.service").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestUnitHardened: the unit's exposure by systemd-analyze security stays
// at 2.0 or below ("OK"), and it names the settings this file promises.
func TestUnitHardened(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join(deployDir, "cordon.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "StateDirectory=cordon", "SystemCallFilter=@system-service"} {
		if !bytes.Contains(unit, []byte("\n"+want)) {
			t.Errorf("cordon.service lacks %q", strings.TrimSpace(want))
		}
	}
	sa := tool(t, "systemd-analyze")
	root := unitRoot(t)
	out, err := exec.Command(sa, "security", "--offline=yes", "--root="+root, "--threshold=20", "cordon.service").CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v)\n%s", err, out)
	}
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

func dockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	return out
}

// TestDockerfile lints the Dockerfile's structure: a builder stage and a
// final stage on distroless or scratch, a non-root USER in the final
// stage, COPY --from the builder, no ADD of a URL, exec-form ENTRYPOINT.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	var froms []instruction
	lastFrom := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
			lastFrom = i
		}
		if in.cmd == "ADD" && regexp.MustCompile(`(?i)\b(https?|git)://|git@`).MatchString(in.args) {
			t.Errorf("line %d: ADD downloads %s; fetch in a RUN with a checksum, or COPY", in.line, in.args)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d FROM stages; want a builder and a final stage", len(froms))
	}
	if !regexp.MustCompile(`^golang:\S+ AS \w+$`).MatchString(froms[0].args) {
		t.Errorf("the first stage is %q; want a golang builder named with AS", froms[0].args)
	}
	final := strings.Fields(froms[len(froms)-1].args)[0]
	if final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		t.Errorf("the final stage is %s; want distroless/static or scratch", final)
	}
	var user string
	var copyFrom, entry bool
	for _, in := range ins[lastFrom+1:] {
		switch in.cmd {
		case "USER":
			user = in.args
		case "COPY":
			copyFrom = copyFrom || strings.Contains(in.args, "--from=")
		case "ENTRYPOINT":
			entry = strings.HasPrefix(in.args, "[")
		case "RUN":
			if final == "scratch" || strings.HasPrefix(final, "gcr.io/distroless") {
				t.Errorf("line %d: RUN in a final stage that has no shell", in.line)
			}
		}
	}
	name, _, _ := strings.Cut(user, ":")
	switch name {
	case "", "root", "0":
		t.Errorf("the final stage runs as %q; want a non-root USER", user)
	}
	if !copyFrom {
		t.Error("the final stage copies nothing from the builder")
	}
	if !entry {
		t.Error("ENTRYPOINT is missing or in shell form; signals would reach a shell, not cordon")
	}
	if _, err := os.Stat(filepath.Join("..", "..", ".dockerignore")); err != nil {
		t.Errorf("no .dockerignore: the build context would carry .git and data: %v", err)
	}
}

// TestHadolint runs hadolint on the Dockerfile where it is installed.
func TestHadolint(t *testing.T) {
	h := tool(t, "hadolint")
	out, err := exec.Command(h, filepath.Join(deployDir, "Dockerfile")).CombinedOutput()
	if err != nil {
		t.Errorf("hadolint: %v\n%s", err, out)
	}
}

// buildCordon builds the binary once for the flag checks.
func buildCordon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cordon")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/cordon-dev/cordon/cmd/cordon")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// flagsOf reads the flags a subcommand accepts from its --help, in the
// standard flag package's form ("  -addr string") or cobra's
// ("  -a, --addr string").
func flagsOf(t *testing.T, bin, verb string) []string {
	t.Helper()
	out, _ := exec.Command(bin, verb, "--help").CombinedOutput()
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--?([a-z][a-z0-9-]*)`).FindAllSubmatch(out, -1) {
		flags = append(flags, string(m[1]))
	}
	if !slices.Contains(flags, "addr") {
		t.Fatalf("cordon %s --help lists no --addr; the help could not be read:\n%s", verb, out)
	}
	return flags
}

type composeFile struct {
	Services map[string]struct {
		Image   string            `yaml:"image"`
		Build   any               `yaml:"build"`
		Command []string          `yaml:"command"`
		Env     map[string]string `yaml:"environment"`
		Depends map[string]any    `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestCompose: compose.yaml runs PostgreSQL, NATS with JetStream, two
// cordon nodes on both, and a gate; each flag it passes is one the binary
// accepts, so a renamed flag breaks this test, not a deployment.
func TestCompose(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	bin := buildCordon(t)
	known := map[string][]string{"serve": flagsOf(t, bin, "serve"), "gate": flagsOf(t, bin, "gate")}
	var nodes, gates []string
	var postgres, nats bool
	for name, s := range c.Services {
		switch {
		case strings.HasPrefix(s.Image, "postgres:"):
			postgres = true
		case strings.HasPrefix(s.Image, "nats:"):
			nats = true
			if !slices.Contains(s.Command, "--jetstream") && !slices.Contains(s.Command, "-js") {
				t.Errorf("%s: NATS without JetStream; the feed needs it: %v", name, s.Command)
			}
		}
		if len(s.Command) == 0 {
			continue
		}
		verb := s.Command[0]
		flags, ok := known[verb]
		if !ok {
			continue
		}
		if !strings.HasPrefix(s.Image, "cordon") {
			t.Errorf("%s runs cordon %s from image %q", name, verb, s.Image)
		}
		given := map[string]string{}
		for _, arg := range s.Command[1:] {
			if !strings.HasPrefix(arg, "-") {
				t.Errorf("%s: %q is not a --flag=value; write each flag as one item", name, arg)
				continue
			}
			f, v, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
			if !slices.Contains(flags, f) {
				t.Errorf("%s: cordon %s has no flag --%s (it has %v)", name, verb, f, flags)
			}
			given[f] = v
		}
		switch verb {
		case "serve":
			nodes = append(nodes, name)
			if !strings.HasPrefix(given["store"], "postgres://") || !strings.HasPrefix(given["bus"], "nats://") {
				t.Errorf("%s: a node of two must share --store postgres://… and --bus nats://…: %v", name, s.Command)
			}
			if !strings.HasPrefix(given["addr"], "0.0.0.0:") || given["issuer"] == "" {
				t.Errorf("%s: in a container, --addr 0.0.0.0:PORT and an explicit --issuer are needed: %v", name, s.Command)
			}
			if !strings.HasPrefix(s.Env["CORDON_ADMIN_TOKEN"], "${CORDON_ADMIN_TOKEN:?") {
				t.Errorf("%s: CORDON_ADMIN_TOKEN must come from the environment and be required, not %q", name, s.Env["CORDON_ADMIN_TOKEN"])
			}
		case "gate":
			gates = append(gates, name)
			if given["upstream"] == "" || (given["bus"] == "" && given["control"] == "") {
				t.Errorf("%s: a gate needs --upstream and a feed (--bus or --control): %v", name, s.Command)
			}
			if given["bus"] != "" && given["issuer"] == "" {
				t.Errorf("%s: a gate on --bus needs --issuer", name)
			}
		}
	}
	if !postgres || !nats || len(nodes) != 2 || len(gates) != 1 {
		t.Errorf("services: postgres %v, nats %v, nodes %v, gates %v; want PostgreSQL, NATS, two nodes and a gate", postgres, nats, nodes, gates)
	}
}

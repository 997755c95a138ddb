package readmetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// block is one fenced shell example of the README, or a file example
// the shell examples use.
type block struct {
	line int    // of the opening fence, 1-based
	code string // the lines inside the fence
	skip string // why it is not run, from a readme-test comment
	// file is set for a YAML or JSON block whose first line names it
	// ("# may-incident.yaml"): the reader saves it under that name.
	file string
}

// fileName is the first line of a file example.
var fileName = regexp.MustCompile(`^# ([A-Za-z0-9][A-Za-z0-9._-]*\.(?:yaml|yml|json))\s*$`)

const skipMark = "<!-- readme-test: skip"

// shellBlocks returns the ```sh blocks of a Markdown document, with the
// skip reason of each block preceded by a readme-test comment.
func shellBlocks(doc []byte) ([]block, error) {
	var (
		out     []block
		cur     *block
		fence   string
		prev    string
		lineNum int
		opened  int
	)
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		lineNum++
		l := sc.Text()
		trim := strings.TrimSpace(l)
		switch {
		case cur == nil && fence == "" && strings.HasPrefix(trim, "```"):
			lang := strings.TrimSpace(strings.TrimLeft(trim, "`"))
			fence = trim[:len(trim)-len(strings.TrimLeft(trim, "`"))]
			opened = lineNum
			if lang == "sh" || lang == "bash" || lang == "shell" || lang == "yaml" || lang == "json" {
				cur = &block{line: lineNum}
				if lang == "yaml" || lang == "json" {
					cur.file = "?" // known at the first line
				}
				if r, ok := strings.CutPrefix(strings.TrimSpace(prev), skipMark); ok {
					cur.skip = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(r), "-->"))
					if cur.skip == "" {
						return nil, fmt.Errorf("README.md:%d: a readme-test skip comment must say why", lineNum-1)
					}
				}
			}
		case fence != "" && trim == fence:
			if cur != nil && cur.file != "?" {
				out = append(out, *cur)
			}
			cur, fence = nil, ""
		case cur != nil:
			if cur.file == "?" {
				cur.file = ""
				if m := fileName.FindStringSubmatch(l); m != nil {
					cur.file = m[1]
				} else {
					cur = nil // an illustration, not a file an example reads
					break
				}
			}
			cur.code += l + "\n"
		}
		prev = l
	}
	if fence != "" {
		return nil, fmt.Errorf("README.md: the block opened at line %d is never closed", opened)
	}
	return out, sc.Err()
}

// script is the bash program that runs the blocks in order, each line
// traced with its place in the README, and stops every process the
// examples started when it ends.
func script(blocks []block) string {
	var b strings.Builder
	b.WriteString("set -euo pipefail\n")
	b.WriteString("trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT\n")
	b.WriteString("README_LINE=0\nPS4='+ README.md:${README_LINE}: '\nset -x\n")
	for _, bl := range blocks {
		if bl.skip != "" {
			continue
		}
		fmt.Fprintf(&b, "README_LINE=%d\n", bl.line)
		if bl.file != "" {
			// Saved as the reader would save it from the page.
			fmt.Fprintf(&b, "cat > %s <<'README_FILE_END'\n%sREADME_FILE_END\n", bl.file, bl.code)
			continue
		}
		b.WriteString(bl.code)
	}
	return b.String()
}

// workspace is a fresh folder holding a copy of the source, as a clone
// would: what the examples write stays out of the repository.
func workspace(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch rel {
		case ".git", "cordon", "cordon-data", "bench-out":
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, info.Mode().Perm())
		}
		return nil // sockets, links: not source
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadmeExamples runs the README's shell examples as written.
func TestReadmeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cordon and runs the README's examples (not under -short)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := shellBlocks(doc)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, b := range blocks {
		if b.file != "" {
			continue
		}
		if b.skip != "" {
			t.Logf("README.md:%d not run: %s", b.line, b.skip)
		} else {
			ran++
		}
	}
	if ran == 0 {
		t.Fatal("README.md has no shell example to run")
	}
	for _, tool := range []string{"bash", "curl", "jq", "go", "openssl", "psql", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the README's examples need %s (.ci/run installs it)", tool)
			}
			t.Skipf("the README's examples need %s, which is not installed", tool)
		}
	}
	// The examples talk to cordon's default address.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:8080", 200*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("something already listens on 127.0.0.1:8080, the address the README's examples use; stop it and run again")
	}

	dir := workspace(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script(blocks))
	cmd.Dir = dir
	cmd.Env = env(dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	// Whatever the examples left behind goes with the process group.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("the README's examples failed (%v); the last lines ran (+ README.md:LINE is the block's opening fence):\n%s", err, tail(out.String(), 60))
	}
	if testing.Verbose() {
		t.Logf("what the examples printed:\n%s", out.String())
	}
	t.Logf("%d README blocks ran", ran)
}

// env is the environment of a newcomer's shell: no cordon settings of
// this machine's, the Go caches kept so the build is quick.
func env(dir string) []string {
	var e []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CORDON_") || strings.HasPrefix(kv, "PWD=") {
			continue
		}
		e = append(e, kv)
	}
	return append(e, "PWD="+dir)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

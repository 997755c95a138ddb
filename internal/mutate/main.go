// Command mutate breaks cordon's central rules one at a time and checks
// that the test suite notices: each mutation replaces one exact piece of
// source with a wrong version, runs the tests named for it, and expects
// them to fail. A mutation the tests survive is a rule nobody would notice
// breaking. scripts/mutate runs it on a scratch copy of the tree.
//
//	go run ./internal/mutate [-dir TREE] [-run REGEX]
//
// The mutations are named, written out below, and each must match its
// file exactly once, so a refactor that moves a rule makes the run fail
// loudly instead of silently testing nothing.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// mutation is one broken rule.
type mutation struct {
	Name string
	File string // relative to the tree
	From string // must occur exactly once in File
	To   string
	Pkgs []string // packages whose tests must fail
	Run  string   // -run pattern, "" for all
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "the tree to mutate (changed in place, restored after each mutation)")
	only := fs.String("run", "", "only mutations whose name matches this regular expression")
	timeout := fs.Duration("timeout", 10*time.Minute, "time limit of one mutation's test run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var re *regexp.Regexp
	if *only != "" {
		var err error
		if re, err = regexp.Compile(*only); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%-60s %-8s %s\n", "MUTATION", "TIME", "CAUGHT")
	var survived, broken []string
	for _, m := range mutations {
		if re != nil && !re.MatchString(m.Name) {
			continue
		}
		start := time.Now()
		caught, err := try(*dir, m, *timeout)
		verdict := "yes"
		switch {
		case err != nil:
			verdict = "error: " + err.Error()
			broken = append(broken, m.Name)
		case !caught:
			verdict = "NO"
			survived = append(survived, m.Name)
		}
		fmt.Fprintf(stdout, "%-60s %-8s %s\n", m.Name, time.Since(start).Round(100*time.Millisecond), verdict)
	}
	if len(broken) > 0 {
		return fmt.Errorf("%d mutation(s) could not be applied (the rule moved?): %s", len(broken), strings.Join(broken, ", "))
	}
	if len(survived) > 0 {
		return fmt.Errorf("%d mutation(s) survived the tests: %s", len(survived), strings.Join(survived, ", "))
	}
	return nil
}

// try applies m, runs its tests and restores the file. caught reports
// whether the tests failed, as they must.
func try(dir string, m mutation, timeout time.Duration) (caught bool, err error) {
	path := filepath.Join(dir, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if n := bytes.Count(orig, []byte(m.From)); n != 1 {
		return false, fmt.Errorf("%s: the text to replace occurs %d times, want once", m.File, n)
	}
	if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.From), []byte(m.To), 1), 0o644); err != nil {
		return false, err
	}
	defer os.WriteFile(path, orig, 0o644)
	if out, err := command(dir, timeout, "go", "build", "./"+filepath.Dir(m.File)); err != nil {
		return false, fmt.Errorf("the mutant does not build: %s", firstLine(out))
	}
	args := []string{"test", "-count=1", "-failfast"}
	if m.Run != "" {
		args = append(args, "-run", m.Run)
	}
	args = append(args, m.Pkgs...)
	out, err := command(dir, timeout, "go", args...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &exit) && bytes.Contains(out, []byte("--- FAIL")):
		return true, nil
	case errors.As(err, &exit):
		// A build failure of a test file is no catch.
		return false, fmt.Errorf("tests did not run: %s", firstLine(out))
	}
	return false, err
}

// command runs name in dir and returns its combined output.
func command(dir string, timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

package gate_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesOutsideTheModule builds and runs this package's examples in
// a module of its own, as a user of the gate would: code outside the
// module cannot import its internal packages, so an example (or a
// signature) that needs one fails here. The cordon module is replaced by
// this checkout and nothing is downloaded: every module comes from the
// module cache the tests of this module already filled.
func TestExamplesOutsideTheModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gate in a module of its own (seconds); skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := "go 1.24"
	for _, l := range strings.Split(string(mod), "\n") {
		if strings.HasPrefix(l, "go ") {
			goLine = l
		}
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/outside\n\n"+goLine+"\n\nrequire github.com/cordon-dev/cordon v0.0.0\n\nreplace github.com/cordon-dev/cordon => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("outside.go", "// Package outside uses the gate from outside its module.\npackage outside\n")
	examples, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	write("example_test.go", strings.Replace(string(examples), "package gate_test", "package outside_test", 1))

	cmd := exec.Command(gobin, "test", "-count=1", "-run", "^Example", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOSUMDB=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go test of the examples outside the module: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ok") {
		t.Errorf("go test said:\n%s", out.String())
	}
}

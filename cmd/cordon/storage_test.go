package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallDisk mounts a tmpfs of size bytes for the test, or skips (fails
// under CI=true) where mounting is not permitted. It is unmounted after
// everything the test registers later has been cleaned up.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("mounting a %d-byte tmpfs is not permitted here (%v: %s): a full disk cannot be made for real", size, err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return path
		}
	}
}

// TestFullDiskAnswersStorageUnavailable: on a really full file system
// (a small tmpfs, filled), a write answers 503 storage_unavailable with
// Retry-After rather than 500 internal, and /readyz says the store cannot
// take writes; once space is freed, /readyz passes again (its probe
// write succeeds) and writes succeed.
func TestFullDiskAnswersStorageUnavailable(t *testing.T) {
	disk := smallDisk(t, 8<<20)
	m, err := startNodeIn(t, Config{Data: disk})
	if err != nil {
		t.Fatal(err)
	}
	if code := probe(m.URL() + "/readyz"); code != 200 {
		t.Fatalf("readyz before the disk fills: %d", code)
	}
	filler := fill(t, disk)

	var code int
	var hdr map[string][]string
	var body map[string]any
	writes := 0
	for ; writes < 2000; writes++ {
		var h map[string][]string
		code, h, body = call(t, "POST", m.URL()+"/admin/v1/accounts", admin(), fmt.Sprintf(`{"username":"fill-%d","password":"a long enough password"}`, writes))
		hdr = h
		if code != 201 {
			break
		}
	}
	t.Logf("the disk refused a write after %d more accounts", writes)
	if code != 503 || body["error"] != "storage_unavailable" {
		t.Fatalf("a write on a full disk: %d %v, want 503 storage_unavailable", code, body)
	}
	if got := strings.Join(hdr["Retry-After"], ","); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	code, _, body = call(t, "GET", m.URL()+"/readyz", nil, "")
	if code != 503 || body["error"] != "storage_unavailable" {
		t.Errorf("readyz on a full disk: %d %v, want 503 storage_unavailable", code, body)
	}
	// The checkpoints the full disk refused are counted for operators.
	failures := regexp.MustCompile(`(?m)^cordon_store_checkpoint_failures_total ([0-9]+)$`)
	waitFor(t, 5*time.Second, "a refused checkpoint in /metrics", func() bool {
		m := failures.FindSubmatch(send(t, "GET", m.URL()+"/metrics", nil, nil).raw)
		return m != nil && string(m[1]) != "0"
	})

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 5*time.Second, "readyz after space is freed", func() bool { return probe(m.URL()+"/readyz") == 200 })
	t.Logf("ready again %v after space was freed", took)
	if code, _, body := call(t, "POST", m.URL()+"/admin/v1/accounts", admin(), `{"username":"after","password":"a long enough password"}`); code != 201 {
		t.Errorf("a write after space is freed: %d %v", code, body)
	}
}

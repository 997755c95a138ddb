package benchutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestMeter: CPU time grows with work done, and written bytes with a
// write, by at least what was written.
func TestMeter(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/self/io and getrusage are read on Linux")
	}
	before := CPU()
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
	}
	if got := CPU() - before; got < 10*time.Millisecond {
		t.Errorf("30 ms of spinning counted %v of CPU", got)
	}
	w0, ok := Written()
	if !ok {
		t.Fatal("no wchar in /proc/self/io")
	}
	if err := os.WriteFile(filepath.Join(t.TempDir(), "f"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if w1, _ := Written(); w1-w0 < 64<<10 {
		t.Errorf("a 64 KiB write counted %d bytes", w1-w0)
	}
}

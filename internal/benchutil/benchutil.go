// Package benchutil holds what benchmarks measure besides wall time, the
// same way in every package: the process's CPU time and the bytes it
// hands to write calls, each reported per op. On a machine shared with
// other work, wall time per op moves with the neighbours' load far more
// than CPU time or bytes do.
package benchutil

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Meter counts from its start what Report puts per op.
type Meter struct {
	cpu     time.Duration
	written int64
	ok      bool
}

// Start begins counting the process's CPU time and written bytes.
func Start() Meter {
	w, ok := Written()
	return Meter{cpu: CPU(), written: w, ok: ok}
}

// ReportCPU adds the process's CPU time since m started, per op, in unit
// ("cpu-ns/op" or "cpu-µs/op"); nothing where CPU time is not known.
func (m Meter) ReportCPU(b *testing.B, unit string) {
	if b.N <= 0 || m.cpu == 0 && CPU() == 0 {
		return
	}
	d := float64(CPU() - m.cpu)
	if strings.HasPrefix(unit, "cpu-µs") {
		d /= float64(time.Microsecond)
	}
	b.ReportMetric(d/float64(b.N), unit)
}

// ReportWritten adds the bytes written since m started, per op, as
// written-KiB/op; nothing where /proc/self/io is missing.
func (m Meter) ReportWritten(b *testing.B) {
	if w, ok := Written(); ok && m.ok && b.N > 0 {
		b.ReportMetric(float64(w-m.written)/1024/float64(b.N), "written-KiB/op")
	}
}

// Written is the bytes the process has handed to write calls so far
// (/proc/self/io's wchar: for SQLite, its WAL frames and checkpoints).
func Written() (int64, bool) {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

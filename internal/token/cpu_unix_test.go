//go:build unix

package token_test

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the process's CPU time so far (user and system, every
// thread). A benchmark reports it per op as cpu-ns/op: on a machine shared
// with other work, wall time per op moves with the neighbours' load far
// more than CPU time does.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op: the process's CPU time since start over b.N.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

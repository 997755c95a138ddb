//go:build unix

package benchutil

import (
	"syscall"
	"time"
)

// CPU is the process's CPU time so far (user and system, every thread).
func CPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

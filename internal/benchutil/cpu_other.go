//go:build !unix

package benchutil

import "time"

// CPU is zero where the process's CPU time is not known.
func CPU() time.Duration { return 0 }

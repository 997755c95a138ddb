//go:build unix

package main

import "syscall"

// fileLimit is the process's limit on open descriptors (Go raises the
// soft limit to the hard one at start), 0 if unknown.
func fileLimit() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 0
	}
	return uint64(r.Cur)
}

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive lock on path (created if needed) for as long
// as the process runs, or until release. Two cordon serve on one SQLite
// file would each hold their own in-memory state (policy, feed, throttle)
// and a gate following one would never hear of the other's revocations;
// the second must refuse to start instead. flock is released by the
// kernel when the process dies, so a crash leaves no stale lock.
func lockFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf("another cordon serve (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("the store %s is in use by %s (lock file %s): stop it first; several nodes need a shared --store postgres://…", strings.TrimSuffix(path, ".lock"), holder, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The holder's pid, for the message above; the lock, not the file's
	// content, is what keeps a second server out.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

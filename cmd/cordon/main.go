// Command cordon is breach response for consumer apps: `cordon serve` runs
// the server; the other verbs talk to a running server over its admin API,
// found by --server or CORDON_SERVER and authenticated by --token or
// CORDON_ADMIN_TOKEN, in the manner of vault and kubectl. The command
// tree (cli.go) is built with cobra; each verb's file builds its own
// commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the status main exits with: 2 for bad usage (unknown
// command or flag, missing or extra arguments), 1 for any other failure.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// usageError is bad usage: exit status 2, and run adds the command's
// usage line and where to find its help.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// run is main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRoot(&app{stdin: stdin, stdout: stdout, stderr: stderr})
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && exitCode(err) == 2 && cmd != nil {
		return &exitError{code: 2, err: fmt.Errorf("%w\n\nUsage:\n  %s\n\nRun '%s --help' for the flags and examples", err, useLine(cmd), cmd.CommandPath())}
	}
	return err
}

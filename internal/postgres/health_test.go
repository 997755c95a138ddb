package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestUnavailableErrors: the errors that mean PostgreSQL cannot take a
// request map to storage_unavailable (503 with Retry-After), the rest do
// not — a cancelled request is the client's, a constraint is the data's.
func TestUnavailableErrors(t *testing.T) {
	pgErr := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"disk full", pgErr("53100"), true},
		{"out of memory", pgErr("53200"), true},
		{"insufficient resources", pgErr("53000"), true},
		{"too many connections", pgErr("53300"), true},
		{"connection failure", pgErr("08006"), true},
		{"admin shutdown", pgErr("57P01"), true},
		{"cannot connect now", pgErr("57P03"), true},
		{"dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"connection cut", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"unique violation", pgErr("23505"), false},
		{"syntax error", pgErr("42601"), false},
		{"cancelled", context.Canceled, false},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.err)
			var ce *cordon.Error
			is := errors.As(got, &ce) && ce.Code == "storage_unavailable"
			if is != tc.want {
				t.Fatalf("mapErr(%v) = %v; storage_unavailable %t, want %t", tc.err, got, is, tc.want)
			}
			if is && ce.RetryAfter != 5 {
				t.Errorf("RetryAfter = %d, want 5", ce.RetryAfter)
			}
		})
	}
}

package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestMapErr maps the driver's errors to the contract's sentinels, keeps
// the driver's error in the chain, and picks out the retryable ones.
func TestMapErr(t *testing.T) {
	pgErr := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	other := errors.New("connection reset")
	tests := []struct {
		name      string
		err       error
		want      error // errors.Is(mapErr(err), want)
		retryable bool
	}{
		{"nil", nil, nil, false},
		{"no rows", pgx.ErrNoRows, cordon.ErrNotFound, false},
		{"unique violation", pgErr(codeUniqueViolation), cordon.ErrAlreadyExists, false},
		{"foreign key violation", pgErr(codeForeignKeyViolation), cordon.ErrNotFound, false},
		{"serialization failure", pgErr(codeSerializationFailure), nil, true},
		{"deadlock", pgErr(codeDeadlockDetected), nil, true},
		{"cordon error", cordon.ErrRefreshReused, cordon.ErrRefreshReused, false},
		{"other", other, other, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapErr(tt.err)
			switch {
			case tt.want == nil && tt.err == nil && got != nil:
				t.Errorf("mapErr(nil): got %v, want nil", got)
			case tt.want != nil && !errors.Is(got, tt.want):
				t.Errorf("mapErr(%v): got %v, want %v", tt.err, got, tt.want)
			}
			if tt.want != nil && tt.want != pgx.ErrNoRows {
				var pe *pgconn.PgError
				if errors.As(tt.err, &pe) && !errors.As(got, &pe) {
					t.Errorf("mapErr(%v): got %v, which lost the driver's error", tt.err, got)
				}
			}
			if mapErr(got) != got {
				t.Errorf("mapErr(mapErr(%v)): changed %v again", tt.err, got)
			}
			if r := retryable(tt.err); r != tt.retryable {
				t.Errorf("retryable(%v): got %t, want %t", tt.err, r, tt.retryable)
			}
		})
	}
}

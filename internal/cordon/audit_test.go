package cordon

import (
	"context"
	"errors"
	"testing"
)

func TestAudited(t *testing.T) {
	ctx := context.Background()
	e := &AuditEntry{Principal: "cordon:admin/ops"}
	// A write that commits the record: its value comes back.
	v, err := Audited(ctx, e, func(ctx context.Context) (int, error) {
		if got := PendingAudit(ctx); len(got) != 1 || got[0] != e {
			t.Fatalf("the write's context carries %v, want e", got)
		}
		AuditCommitted(ctx, 7)
		return 42, nil
	})
	if err != nil || v != 42 || e.Index != 6 {
		t.Fatalf("Audited = %d, %v (index %d), want 42, nil, index 6", v, err, e.Index)
	}
	// A write that returns without having carried the record is an
	// internal error, not a silent loss.
	_, err = Audited(ctx, &AuditEntry{}, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, ErrUnrecorded) {
		t.Fatalf("a write without its record: %v, want ErrUnrecorded", err)
	}
	// A failed write's error passes as it is.
	boom := errors.New("boom")
	if _, err := Audited(ctx, &AuditEntry{}, func(context.Context) (int, error) { return 0, boom }); err != boom {
		t.Fatalf("a failed write: %v, want boom", err)
	}
	// No entry, no check.
	if v, err := Audited(ctx, nil, func(context.Context) (string, error) { return "x", nil }); v != "x" || err != nil {
		t.Fatalf("nil entry: %q, %v", v, err)
	}
}

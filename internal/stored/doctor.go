package stored

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Finding is one check of `cordon doctor`: what was checked, whether it
// passed, and what was found (for a person).
type Finding struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// DiagnoseSchema compares the migrations a store has applied (applied)
// with the ones this binary knows (known, as embedded paths).
func DiagnoseSchema(known []string, applied func() ([]string, error)) Finding {
	names, err := applied()
	if err != nil {
		return Finding{Check: "schema", Detail: "cannot read schema_migrations: " + err.Error()}
	}
	// Backends record a migration by its embedded path or its file name;
	// compare file names.
	for i, n := range names {
		names[i] = path.Base(n)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var missing, unknown []string
	ours := map[string]bool{}
	for _, k := range known {
		k = path.Base(k)
		ours[k] = true
		if !have[k] {
			missing = append(missing, k)
		}
	}
	for _, n := range names {
		if !ours[n] {
			unknown = append(unknown, n)
		}
	}
	switch {
	case len(unknown) > 0:
		return Finding{Check: "schema", Detail: fmt.Sprintf("%d migrations applied, %d unknown to this binary (%s): written by a newer cordon", len(names), len(unknown), strings.Join(unknown, ", "))}
	case len(missing) > 0:
		return Finding{Check: "schema", OK: true, Detail: fmt.Sprintf("%d of %d migrations applied; the next cordon serve applies %s", len(names), len(known), strings.Join(missing, ", "))}
	}
	return Finding{Check: "schema", OK: true, Detail: fmt.Sprintf("all %d migrations applied (latest %s)", len(names), names[len(names)-1])}
}

// Queries are the reads DiagnoseContent makes, each one query of a
// backend.
type Queries struct {
	Meta                  func(key string) (string, error)
	Keys, AuditKey        func() (int64, error)
	AuditRows, AuditNext  func() (int64, error)
	AuditSize, Checkpoint func() (int64, error)
}

// DiagnoseContent checks what a deployment needs to serve: its identity,
// a signing key, and an audit log whose rows match its recorded size.
func DiagnoseContent(ctx context.Context, q Queries) []Finding {
	var out []Finding
	dep, err1 := q.Meta(cordon.MetaDeployment)
	iss, err2 := q.Meta(cordon.MetaIssuer)
	switch {
	case err1 == nil && err2 == nil:
		out = append(out, Finding{Check: "identity", OK: true, Detail: fmt.Sprintf("deployment %s, issuer %s", dep, iss)})
	case errors.Is(err1, cordon.ErrNotFound) || errors.Is(err2, cordon.ErrNotFound):
		out = append(out, Finding{Check: "identity", OK: true, Detail: "no deployment id or issuer yet: the next cordon serve makes them"})
	default:
		out = append(out, Finding{Check: "identity", Detail: fmt.Sprintf("cannot read: %v", errors.Join(err1, err2))})
	}
	if n, err := q.Keys(); err != nil {
		out = append(out, Finding{Check: "signing keys", Detail: "cannot read: " + err.Error()})
	} else if n == 0 {
		out = append(out, Finding{Check: "signing keys", OK: true, Detail: "no current signing key: the next cordon serve makes one (tokens signed before are refused)"})
	} else {
		out = append(out, Finding{Check: "signing keys", OK: true, Detail: fmt.Sprintf("%d current", n)})
	}
	rows, err1 := q.AuditRows()
	next, err2 := q.AuditNext()
	size, err3 := q.AuditSize()
	cp, err4 := q.Checkpoint()
	keys, err5 := q.AuditKey()
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return append(out, Finding{Check: "audit log", Detail: "cannot read: " + err.Error()})
	}
	switch {
	case rows != size || next != size:
		out = append(out, Finding{Check: "audit log", Detail: fmt.Sprintf("%d entries, indexes up to %d, but the recorded size is %d: entries were deleted or added outside cordon (run cordon audit verify)", rows, next, size)})
	case cp > size:
		out = append(out, Finding{Check: "audit log", Detail: fmt.Sprintf("a checkpoint signs size %d, beyond the %d entries: entries were deleted (run cordon audit verify)", cp, size)})
	case size > 0 && keys == 0:
		out = append(out, Finding{Check: "audit log", Detail: fmt.Sprintf("%d entries but no checkpoint key", size)})
	default:
		out = append(out, Finding{Check: "audit log", OK: true, Detail: fmt.Sprintf("%d entries, %d signed by the latest checkpoint", size, cp)})
	}
	return out
}

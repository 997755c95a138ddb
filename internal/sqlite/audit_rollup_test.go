package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/stored"
)

// A rollup out of step with the entries it sums (a row changed, added or
// removed behind AppendAudit's back) is found by cordon doctor's
// Diagnose, while a rollup kept by appends is found whole.
func TestAuditRollupOutOfStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cordon.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	start := time.Date(2026, 10, 1, 23, 0, 0, 0, time.UTC)
	for b := range 3 {
		var batch []audit.Event
		for i := range 50 {
			batch = append(batch, audit.Event{Time: start.Add(time.Duration(b*50+i) * 17 * time.Minute), Principal: []string{"svc-a", "svc-b"}[i%2],
				Action: []string{"read", "export"}[i%2], Subject: "alice", Categories: [][]string{{"email"}, {"email", "payment"}}[i%3%2]})
		}
		es := make([]*cordon.AuditEntry, len(batch))
		for i, e := range batch {
			es[i] = audit.Entry(e)
		}
		if _, err := db.AppendAudit(t.Context(), es); err != nil {
			t.Fatal(err)
		}
	}
	rollup := func() stored.Finding {
		for _, f := range db.Diagnose(t.Context()) {
			if f.Check == "audit rollup" {
				return f
			}
		}
		t.Fatal("Diagnose has no audit rollup finding")
		return stored.Finding{}
	}
	if f := rollup(); !f.OK {
		t.Fatalf("a rollup kept by appends: %+v", f)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, tamper := range []struct{ do, undo string }{
		{`UPDATE audit_rollup SET count = count + 1 WHERE principal = 'svc-a' AND categories = 'email'`, `UPDATE audit_rollup SET count = count - 1 WHERE principal = 'svc-a' AND categories = 'email'`},
		{`UPDATE audit_rollup SET exports = exports - 1, reads = reads + 1 WHERE principal = 'svc-b' AND categories = 'email payment'`,
			`UPDATE audit_rollup SET exports = exports + 1, reads = reads - 1 WHERE principal = 'svc-b' AND categories = 'email payment'`},
		{`INSERT INTO audit_rollup VALUES ('email', 1, 'svc-ghost', 1, 1, 0, 0, 0, 1, 1)`, `DELETE FROM audit_rollup WHERE principal = 'svc-ghost'`},
		{`UPDATE audit_rollup SET day = day + ` + "40" + ` WHERE principal = 'svc-a' AND categories = 'email'`, `UPDATE audit_rollup SET day = day - 40 WHERE principal = 'svc-a' AND categories = 'email'`},
	} {
		if _, err := raw.Exec(tamper.do); err != nil {
			t.Fatal(err)
		}
		if f := rollup(); f.OK || !strings.Contains(f.Detail, "differ") {
			t.Errorf("after %s: %+v; want the rollup found out of step", tamper.do, f)
		}
		if _, err := raw.Exec(tamper.undo); err != nil {
			t.Fatal(err)
		}
		if f := rollup(); !f.OK {
			t.Fatalf("after undoing %s: %+v", tamper.do, f)
		}
	}
	// A log from before the rollup: the migration sums it.
	for _, q := range []string{`DROP TABLE audit_rollup`, `DROP TABLE audit_rollup_sets`, `DELETE FROM schema_migrations WHERE name = 'migrations/0015_audit.sql'`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if db, err = sqlite.Open(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	if f := rollup(); !f.OK {
		t.Fatalf("a rollup the migration summed: %+v", f)
	}
}

package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/cordon-dev/cordon/internal/stored"
	"github.com/jackc/pgx/v5"
)

// The rollup: cordon doctor finds it whole after appends and out of step
// after a row is changed behind AppendAudit's back; the migration that
// adds it sums a log that predates it.
func TestAuditRollupDoctorAndBackfill(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db := openURL(t, url)
	start := time.Date(2026, 10, 1, 23, 0, 0, 0, time.UTC)
	for b := range 3 {
		var es []*cordon.AuditEntry
		for i := range 50 {
			es = append(es, audit.Entry(audit.Event{Time: start.Add(time.Duration(b*50+i) * 17 * time.Minute), Principal: []string{"svc-a", "svc-b"}[i%2],
				Action: []string{"read", "export"}[i%2], Subject: "alice", Categories: [][]string{{"email"}, {"email", "payment"}}[i%3%2]}))
		}
		if _, err := db.AppendAudit(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	rollup := func(db *postgres.DB) stored.Finding {
		for _, f := range db.Diagnose(ctx) {
			if f.Check == "audit rollup" {
				return f
			}
		}
		t.Fatal("Diagnose has no audit rollup finding")
		return stored.Finding{}
	}
	if f := rollup(db); !f.OK {
		t.Fatalf("a rollup kept by appends: %+v", f)
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	if _, err := raw.Exec(ctx, `UPDATE audit_rollup SET count = count + 1 WHERE principal = 'svc-a' AND categories = 'email'`); err != nil {
		t.Fatal(err)
	}
	if f := rollup(db); f.OK || !strings.Contains(f.Detail, "differ") {
		t.Errorf("after a count changed: %+v; want the rollup found out of step", f)
	}
	f := cordon.AuditFilter{Category: "payment", By: cordon.AuditByPrincipal}
	var want []cordon.AuditAccess
	if err := db.AuditQuery(ctx, f, func(a *cordon.AuditAccess) error { want = append(want, *a); return nil }); err != nil {
		t.Fatal(err)
	}
	// A log from before the rollup: the migration sums it.
	for _, q := range []string{`DROP TABLE audit_rollup, audit_rollup_sets`, `DELETE FROM schema_migrations WHERE name = 'migrations/0010_audit.sql'`} {
		if _, err := raw.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	db = openURL(t, url)
	if f := rollup(db); !f.OK {
		t.Fatalf("a rollup the migration summed: %+v", f)
	}
	var got []cordon.AuditAccess
	if err := db.AuditQuery(ctx, f, func(a *cordon.AuditAccess) error { got = append(got, *a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("by category after the migration: %d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Principal != want[i].Principal || got[i].Count != want[i].Count || !got[i].First.Equal(want[i].First) || !got[i].Last.Equal(want[i].Last) {
			t.Errorf("row %d after the migration: %+v, want %+v", i, got[i], want[i])
		}
	}
}

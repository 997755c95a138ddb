package incident_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// BenchmarkTimeline200k reads an incident's timeline (51 entries: the
// opening and 50 notes) from a SQLite log of 200,000 reporters' entries
// with the incident's spread through it. timeline reads through the
// partial index of cordon's own subjects (AuditEntriesAbout); scan, the
// baseline, is what a timeline without that index would cost: every
// entry read and its subject compared.
func BenchmarkTimeline200k(b *testing.B) {
	const size, batch = 200_000, 4000
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	e := newEnv(b, db)
	v, err := e.svc.Open(b.Context(), ops, incident.Open{Title: "bench", Severity: "low"})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < size; i += batch {
		events := make([]audit.Event, batch)
		for k := range events {
			events[k] = audit.Event{Time: t0.Add(-time.Hour), Principal: fmt.Sprintf("svc-%d", (i+k)%97), Action: audit.ActionRead,
				Subject: fmt.Sprintf("user-%d", (i+k)%50_000), Categories: []string{"profile"}}
		}
		if _, _, err := e.log.Ingest(b.Context(), events); err != nil {
			b.Fatal(err)
		}
		if _, err := e.svc.Note(b.Context(), ops, v.ID, fmt.Sprintf("note %d", i/batch)); err != nil {
			b.Fatal(err)
		}
	}
	const want = 1 + size/batch
	b.Run("timeline", func(b *testing.B) {
		for b.Loop() {
			t, err := e.svc.Timeline(b.Context(), v.ID)
			if err != nil || len(t.Entries) != want {
				b.Fatalf("timeline: %v, %d entries; want %d", err, len(t.Entries), want)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		subject := incident.Subject(v.ID)
		for b.Loop() {
			n := 0
			if err := db.AuditEntries(b.Context(), 0, size+want, func(a *cordon.AuditEntry) error {
				if a.Subject == subject {
					n++
				}
				return nil
			}); err != nil || n != want {
				b.Fatalf("scan: %v, %d entries; want %d", err, n, want)
			}
		}
	})
}

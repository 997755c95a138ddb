package auditlog_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/benchutil"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// BenchmarkAppendAuditWithout is BenchmarkAppendAudit at a batch of
// 1,000 on a store whose audit_entries has lost one secondary index, or
// all four (drop=all: the rows, the rollup and the log size alone): what
// each index the queries need costs a batch in CPU and bytes written, and
// how fast the append could go with none. Not a configuration cordon
// offers: the queries need every index.
func BenchmarkAppendAuditWithout(b *testing.B) {
	all := []string{"audit_entries_object", "audit_entries_at", "audit_entries_user_at", "audit_entries_principal_at"}
	for _, drop := range [][]string{{"audit_entries_object"}, {"audit_entries_at"}, {"audit_entries_user_at"}, {"audit_entries_principal_at"}, all} {
		name := "drop=" + drop[0]
		if len(drop) > 1 {
			name = "drop=all"
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "cordon.db")
			db, err := sqlite.Open(b.Context(), path)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			raw, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range drop {
				if _, err := raw.Exec("DROP INDEX " + d); err != nil {
					b.Fatal(err)
				}
			}
			raw.Close()
			entries := make([]*cordon.AuditEntry, 1000)
			for i, e := range benchEvents(1000, 1000, time.Now()) {
				entries[i] = audit.Entry(e)
			}
			b.ReportAllocs()
			m := benchutil.Start()
			for b.Loop() {
				if _, err := db.AppendAudit(b.Context(), entries); err != nil {
					b.Fatal(err)
				}
			}
			m.ReportCPU(b, "cpu-µs/op")
			m.ReportWritten(b)
			b.ReportMetric(float64(len(entries)*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

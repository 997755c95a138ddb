package auditlog_test

import (
	"database/sql"
	"testing"

	"github.com/cordon-dev/cordon/internal/sqlite"
)

// BenchmarkAppendAuditWithout is BenchmarkAppendAudit at a batch of
// 1,000 on the grown log (grownSize entries) whose audit_entries has lost
// one secondary index, or all four (drop=all: the rows, the rollup and
// the log size alone): what each index the queries need costs a batch in
// CPU and bytes written, and how fast the append could go with none. Not a configuration cordon
// offers: the queries need every index.
func BenchmarkAppendAuditWithout(b *testing.B) {
	all := []string{"audit_entries_object", "audit_entries_at", "audit_entries_user_at", "audit_entries_principal_at"}
	for _, drop := range [][]string{{"audit_entries_object"}, {"audit_entries_at"}, {"audit_entries_user_at"}, {"audit_entries_principal_at"}, all} {
		name := "drop=" + drop[0]
		if len(drop) > 1 {
			name = "drop=all"
		}
		b.Run(name, func(b *testing.B) {
			path := grownCopy(b)
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
			db, err := sqlite.Open(b.Context(), path)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			benchAppend(b, db, grownEntries(), 1000)
		})
	}
}

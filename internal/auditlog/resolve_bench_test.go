package auditlog_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// benchAccounts is how many accounts the resolution benchmarks' store
// holds: one for each subject benchEvents draws ("userN@example.com").
const benchAccounts = 1_000_000

// benchSQLiteAccounts is benchSQLite with benchAccounts accounts, half
// of them named in events by username and half by id: benchEvents'
// subjects are usernames, so every event resolves.
func benchSQLiteAccounts(b *testing.B) *sqlite.DB {
	b.Helper()
	if testing.Short() {
		b.Skip("builds 1M accounts; skipped under -short")
	}
	db := benchSQLite(b)
	now := time.Now()
	as := make([]*cordon.Account, 0, 50_000)
	for i := range benchAccounts {
		u := "user" + strconv.Itoa(i) + "@example.com"
		as = append(as, &cordon.Account{ID: "u-" + strconv.Itoa(i), Username: u, PasswordHash: "x", CreatedAt: now, PasswordChangedAt: now})
		if len(as) == cap(as) || i == benchAccounts-1 {
			if _, err := db.ImportAccounts(context.Background(), as); err != nil {
				b.Fatal(err)
			}
			as = as[:0]
		}
	}
	return db
}

// BenchmarkIngestResolved is BenchmarkIngest at a batch of 1,000 on a
// store of 1M accounts, every subject resolving: the one lookup per batch
// that maps its subjects to accounts. The baseline is
// BenchmarkIngestUnresolved, the same without the lookup (goal ≤ 1.2×).
func BenchmarkIngestResolved(b *testing.B) {
	b.Run("batch=1000", func(b *testing.B) { ingest(b, benchService(b, benchSQLiteAccounts(b)), 0, 1000) })
}

// BenchmarkIngestUnresolved is BenchmarkIngestResolved with resolution
// turned off: subjects are stored as sent, as before they were resolved.
func BenchmarkIngestUnresolved(b *testing.B) {
	b.Run("batch=1000", func(b *testing.B) {
		svc := benchService(b, benchSQLiteAccounts(b))
		auditlog.NoResolve(svc)
		ingest(b, svc, 0, 1000)
	})
}

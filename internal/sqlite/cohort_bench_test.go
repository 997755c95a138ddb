package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// cohortAccounts is how many accounts the cohort benchmarks' store holds,
// and how many a saved report names (users_from_report at its limit).
const cohortAccounts = 1_000_000

var cohortStore struct {
	once sync.Once
	dir  string
	db   *sqlite.DB
	refs []string
	err  error
}

// TestMain removes the cohort benchmarks' store when the process ends.
func TestMain(m *testing.M) {
	code := m.Run()
	if cohortStore.db != nil {
		cohortStore.db.Close()
	}
	if cohortStore.dir != "" {
		os.RemoveAll(cohortStore.dir)
	}
	os.Exit(code)
}

// openCohortStore returns a store of 1M accounts, built once per process,
// and 1M refs naming them as a saved report does: account ids, with one in
// ten by username instead.
func openCohortStore(b *testing.B) (*sqlite.DB, []string) {
	b.Helper()
	if testing.Short() {
		b.Skip("builds 1M accounts; skipped under -short")
	}
	cohortStore.once.Do(func() {
		dir, err := os.MkdirTemp("", "cordon-bench-cohort-")
		if err != nil {
			cohortStore.err = err
			return
		}
		cohortStore.dir = dir
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, "cohort.db"))
		if err != nil {
			cohortStore.err = err
			return
		}
		now := time.Now()
		as := make([]*cordon.Account, 0, 50_000)
		refs := make([]string, 0, cohortAccounts)
		for i := range cohortAccounts {
			a := &cordon.Account{ID: "u-" + strconv.Itoa(i), Username: "user" + strconv.Itoa(i), PasswordHash: "x", CreatedAt: now, PasswordChangedAt: now}
			as = append(as, a)
			if i%10 == 0 {
				refs = append(refs, a.Username)
			} else {
				refs = append(refs, a.ID)
			}
			if len(as) == cap(as) || i == cohortAccounts-1 {
				if _, err := db.ImportAccounts(context.Background(), as); err != nil {
					cohortStore.err = err
					return
				}
				as = as[:0]
			}
		}
		cohortStore.db, cohortStore.refs = db, refs
	})
	if cohortStore.err != nil {
		b.Fatal(cohortStore.err)
	}
	return cohortStore.db, cohortStore.refs
}

// BenchmarkLiveAccountIDs1M resolves a saved report's 1M users to live
// account ids in one statement, as a users_from_report campaign does.
func BenchmarkLiveAccountIDs1M(b *testing.B) {
	db, refs := openCohortStore(b)
	ctx := b.Context()
	var got map[string]string
	for b.Loop() {
		var err error
		if got, err = db.LiveAccountIDs(ctx, refs); err != nil {
			b.Fatal(err)
		}
	}
	if len(got) != cohortAccounts {
		b.Fatalf("%d of %d refs resolved", len(got), cohortAccounts)
	}
}

// BenchmarkAccountByIDEach is one account looked up by id, as
// users_from_report did for each of its users before the set-based
// lookup; 1M of it is the baseline's cost.
func BenchmarkAccountByIDEach(b *testing.B) {
	db, refs := openCohortStore(b)
	ctx := b.Context()
	i := 1
	for b.Loop() {
		if _, err := db.AccountByID(ctx, refs[i]); err != nil {
			b.Fatal(err)
		}
		if i += 7; i%10 == 0 {
			i++
		}
		i %= cohortAccounts
	}
}

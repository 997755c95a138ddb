package sqlite_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/stored"
)

// AuditQuery by subject groups the entries in Go (issue 17); it must
// give exactly the rows SQL's GROUP BY gave before, which this test
// computes from the same file with that statement, over a drawn log
// holding every kind of entry a group can mix: resolved under several
// names, unresolved, logged before resolution, and a legacy subject
// spelled as another user's account id, and over 64 category lists.
func TestAuditBySubjectAsSQL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cordon.db")
	db := openPath(t, path)
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(17, 4))
	// Eight categories: more distinct lists of them than auditBySubject
	// keeps in a group's bit set (64).
	cats := []string{"address", "devices", "email", "health", "location", "payment", "phone", "profile"}
	var entries []*cordon.AuditEntry
	for i := range 4000 {
		n := r.IntN(60)
		e := &cordon.AuditEntry{
			Leaf:      []byte(fmt.Sprintf(`{"i":%d}`, i)),
			LeafHash:  []byte(fmt.Sprintf("hash-%d", i)),
			Time:      start.Add(time.Duration(r.IntN(600)) * time.Minute),
			Principal: []string{"svc-a", "svc-b", "svc-c", "ops:x"}[r.IntN(4)],
			Action:    []string{"read", "write", "export", "delete"}[r.IntN(4)],
			Subject:   fmt.Sprintf("n%d", n),
		}
		if n >= 30 { // the same first 8 bytes, which the sort compares first
			e.Subject = fmt.Sprintf("subject-%d", n)
		}
		for _, c := range cats {
			if r.IntN(3) == 0 {
				e.Categories = append(e.Categories, c)
			}
		}
		if len(e.Categories) == 0 {
			e.Categories = []string{cats[r.IntN(len(cats))]}
		}
		switch {
		case r.IntN(10) == 0: // logged before subjects were resolved
		case n%7 == 0: // names no account
			e.Resolved = true
		default: // three names an account, the account id "n3" a name too
			e.Resolved, e.Account = true, fmt.Sprintf("u-%d", n%20)
			if n%20 == 3 {
				e.Account = "n3"
			}
		}
		entries = append(entries, e)
	}
	for chunk := range slices.Chunk(entries, 500) {
		if _, err := db.AppendAudit(t.Context(), chunk); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var lists int
	if err := raw.QueryRow(`SELECT count(DISTINCT categories) FROM audit_entries`).Scan(&lists); err != nil || lists <= 64 {
		t.Fatalf("the log holds %d distinct category lists (%v); want over 64", lists, err)
	}

	micros := func(m int) int64 { return stored.Micros(start.Add(time.Duration(m) * time.Minute)) }
	for _, c := range []struct {
		name  string
		f     cordon.AuditFilter
		where string // the same selection, for the statement AuditQuery ran before
		args  []any
	}{
		{"report", cordon.AuditFilter{Principals: []string{"svc-a", "svc-b"}, From: start, To: start.Add(600 * time.Minute)},
			`principal IN ('svc-a', 'svc-b') AND at >= ? AND at < ?`, []any{micros(0), micros(600)}},
		{"window", cordon.AuditFilter{Principals: []string{"svc-c"}, From: start.Add(100 * time.Minute), To: start.Add(250 * time.Minute)},
			`principal = 'svc-c' AND at >= ? AND at < ?`, []any{micros(100), micros(250)}},
		{"pattern, no end", cordon.AuditFilter{Principals: []string{"svc-*"}, From: start.Add(300 * time.Minute)},
			`principal GLOB 'svc-*' AND at >= ?`, []any{micros(300)}},
		{"everyone", cordon.AuditFilter{From: start}, `at >= ?`, []any{micros(0)}},
		{"users", cordon.AuditFilter{Users: []string{"u-4", "n3", "n14", "n1"}, From: start},
			`(CASE WHEN account IS NULL OR account = '' THEN subject ELSE account END) IN ('u-4', 'n3', 'n14', 'n1') AND at >= ?`, []any{micros(0)}},
		{"category", cordon.AuditFilter{Category: "payment", Principals: []string{"ops:x"}, From: start},
			`instr(' ' || categories || ' ', ' payment ') > 0 AND principal = 'ops:x' AND at >= ?`, []any{micros(0)}},
		{"nothing", cordon.AuditFilter{Principals: []string{"svc-none"}, From: start}, `principal = 'svc-none' AND at >= ?`, []any{micros(0)}},
	} {
		for _, way := range []struct {
			name   string
			groups int
		}{{"in Go", sqlite.AuditGoGroups}, {"past the groups held, in SQL", 3}} {
			t.Run(c.name+"/"+way.name, func(t *testing.T) {
				sqlite.SetAuditGoGroups(db, way.groups)
				defer sqlite.SetAuditGoGroups(db, sqlite.AuditGoGroups)
				fallbacks := sqlite.AuditSQLFallbacks(db)
				var got []string
				if err := db.AuditQuery(t.Context(), c.f, func(a *cordon.AuditAccess) error {
					got = append(got, reportLine(a))
					return nil
				}); err != nil {
					t.Fatalf("AuditQuery: %v", err)
				}
				want := reportBySQL(t, raw, c.where, c.args)
				if c.name != "nothing" && len(want) < 5 {
					t.Fatalf("the statement gives %d rows; the case selects too little to test", len(want))
				}
				if !slices.Equal(got, want) {
					t.Errorf("AuditQuery gives %d rows, the statement %d:\n got %s\nwant %s", len(got), len(want),
						strings.Join(got, "\n     "), strings.Join(want, "\n     "))
				}
				if fell := sqlite.AuditSQLFallbacks(db) > fallbacks; fell != (len(want) > way.groups) {
					t.Errorf("went to SQL: %v, with %d rows and %d groups held", fell, len(want), way.groups)
				}
			})
		}
	}
	// A group that is both: entries resolved to account "n3" and entries
	// logged, before resolution, about subject "n3". SQL gave its
	// account as '' (min over the entries); so must the new code.
	var mixed *cordon.AuditAccess
	if err := db.AuditQuery(t.Context(), cordon.AuditFilter{Users: []string{"n3"}, From: start}, func(a *cordon.AuditAccess) error {
		if a.Subject == "n3" && !a.Unresolved {
			mixed = a
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if mixed == nil || mixed.Account != "" || len(mixed.Aliases) < 2 {
		t.Errorf("the group of account n3 and legacy subject n3: %+v; want account \"\" and several aliases", mixed)
	}
}

// reportBySQL is AuditQuery by subject as sqlite's was before issue 17:
// one GROUP BY with DISTINCT aggregates, its rows merged.
func reportBySQL(t *testing.T, raw *sql.DB, where string, args []any) []string {
	t.Helper()
	rows, err := raw.QueryContext(t.Context(), `SELECT (CASE WHEN account IS NULL OR account = '' THEN subject ELSE account END) AS k,
		coalesce(account = '', 0) AS u, min(coalesce(account, '')),
		sum(action = 'read'), sum(action = 'write'), sum(action = 'export'), sum(action = 'delete'),
		group_concat(DISTINCT categories), json_group_array(DISTINCT subject), count(*), min(at), max(at)
		FROM audit_entries WHERE `+where+` GROUP BY k, u ORDER BY k, u`, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	merge := &stored.AuditMerger{By: cordon.AuditBySubject, Fn: func(a *cordon.AuditAccess) error {
		out = append(out, reportLine(a))
		return nil
	}}
	for rows.Next() {
		var (
			r                   stored.AuditRow
			categories, aliases string
		)
		if err := rows.Scan(&r.Key, &r.Unresolved, &r.Account, &r.PerAction[0], &r.PerAction[1], &r.PerAction[2], &r.PerAction[3],
			&categories, &aliases, &r.Count, &r.First, &r.Last); err != nil {
			t.Fatal(err)
		}
		r.Categories = stored.SplitCategories(strings.ReplaceAll(categories, ",", " "))
		if err := json.Unmarshal([]byte(aliases), &r.Aliases); err != nil {
			t.Fatal(err)
		}
		if err := merge.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := merge.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

// reportLine is every field of a row.
func reportLine(a *cordon.AuditAccess) string {
	var acts []string
	for _, k := range slices.Sorted(maps.Keys(a.Actions)) {
		acts = append(acts, fmt.Sprintf("%s=%d", k, a.Actions[k]))
	}
	return fmt.Sprintf("%q principal=%q account=%q unresolved=%v aliases=%q n=%d %s cats=%v %d..%d", a.Subject, a.Principal, a.Account, a.Unresolved,
		a.Aliases, a.Count, strings.Join(acts, ","), a.Categories, a.First.UnixMicro(), a.Last.UnixMicro())
}

// TestAuditBySubjectManyAliases: every case of one username resolves to
// its account, so a writer can log one account under thousands of
// subjects; the group keeps each once, in time linear in the entries
// (a search of the list per entry took 1.8 s at 40,000 spellings).
func TestAuditBySubjectManyAliases(t *testing.T) {
	db := openPath(t, filepath.Join(t.TempDir(), "cordon.db"))
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	const n = 20_000
	var entries []*cordon.AuditEntry
	for i := range n {
		// Each subject twice, and 80 category lists, so both long
		// lists take the map.
		subject := fmt.Sprintf("alias-%05d", i%(n/2))
		entries = append(entries, &cordon.AuditEntry{Leaf: []byte(fmt.Sprintf(`{"i":%d}`, i)), LeafHash: []byte(fmt.Sprintf("h%d", i)),
			Time: start.Add(time.Duration(i) * time.Second), Principal: "svc-evil", Action: "read", Subject: subject,
			Categories: []string{fmt.Sprintf("c%02d", i%80)}, Resolved: true, Account: "u-1"})
	}
	for chunk := range slices.Chunk(entries, 1000) {
		if _, err := db.AppendAudit(t.Context(), chunk); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	var got []*cordon.AuditAccess
	if err := db.AuditQuery(t.Context(), cordon.AuditFilter{Principals: []string{"svc-evil"}, From: start, By: cordon.AuditBySubject}, func(a *cordon.AuditAccess) error {
		got = append(got, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Count != n || len(got[0].Aliases) != n/2 || len(got[0].Categories) != 80 {
		t.Fatalf("got %d rows; want one of %d entries, %d aliases each once, 80 categories: %+v", len(got), n, n/2, got)
	}
	seen := map[string]bool{}
	for _, a := range got[0].Aliases {
		if seen[a] {
			t.Fatalf("alias %q twice", a)
		}
		seen[a] = true
	}
}

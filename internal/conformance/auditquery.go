package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// auditQueryTests check subject resolution and the investigator's
// queries (cordon.AuditStore.ResolveSubjects and AuditQuery). They need
// accounts, so they run on a whole store.
func auditQueryTests() []subtest {
	return []subtest{
		{"ResolveSubjects", testResolveSubjects},
		{"AccountColumn", testAuditAccountColumn},
		{"BySubjectCountsAccounts", testAuditQueryBySubject},
		{"PrincipalPatterns", testAuditQueryPatterns},
		{"ByPrincipalFilters", testAuditQueryByPrincipal},
		{"RollupMatchesScan", testAuditRollupMatchesScan},
	}
}

func testResolveSubjects(t *testing.T, s cordon.Store) {
	alice := mustCreateAccount(t, s, "Alice")
	bob := mustCreateAccount(t, s, "bob")
	gone := mustCreateAccount(t, s, "gone")
	if _, err := s.DeleteAccount(t.Context(), gone.ID, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	refs := []string{"alice", "ALICE", alice.ID, bob.ID, "bob", "gone", gone.ID, "nobody", "%", "b_b", ""}
	got, err := s.ResolveSubjects(t.Context(), refs)
	if err != nil {
		t.Fatalf("ResolveSubjects: %v", err)
	}
	want := map[string]string{"alice": alice.ID, "ALICE": alice.ID, alice.ID: alice.ID, bob.ID: bob.ID, "bob": bob.ID, "gone": gone.ID, gone.ID: gone.ID}
	if !maps.Equal(got, want) {
		t.Errorf("ResolveSubjects: got %v, want %v", got, want)
	}
	// A cohort takes live accounts only.
	got, err = s.LiveAccountIDs(t.Context(), refs)
	delete(want, "gone")
	delete(want, gone.ID)
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("LiveAccountIDs: got %v, %v; want %v", got, err, want)
	}
	if got, err := s.ResolveSubjects(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("ResolveSubjects(nil): %v, %v; want an empty map", got, err)
	}
}

// resolvedEntry is an audit entry whose subject resolved to account
// ("" naming none).
func resolvedEntry(tag string, when time.Time, principal, action, subject, account string, categories ...string) *cordon.AuditEntry {
	e := newAuditEntry(tag, when, principal, subject, categories...)
	e.Action, e.Account, e.Resolved = action, account, true
	return e
}

func testAuditAccountColumn(t *testing.T, s cordon.Store) {
	es := []*cordon.AuditEntry{
		resolvedEntry("r", at(0), "svc", "read", "alice", "u-1"),
		resolvedEntry("u", at(0), "svc", "read", "ghost", ""),
		newAuditEntry("l", at(0), "svc", "legacy"),
	}
	want := cloneEntries(es)
	mustAppend(t, s, es, 3)
	for i, e := range readAudit(t, s, 0, 3) {
		if e.Account != want[i].Account || e.Resolved != want[i].Resolved {
			t.Errorf("entry %d: account %q resolved %v, want %q %v", i, e.Account, e.Resolved, want[i].Account, want[i].Resolved)
		}
	}
}

func collectQuery(t *testing.T, s cordon.AuditStore, f cordon.AuditFilter) []cordon.AuditAccess {
	t.Helper()
	var got []cordon.AuditAccess
	if err := s.AuditQuery(t.Context(), f, func(a *cordon.AuditAccess) error { got = append(got, *a); return nil }); err != nil {
		t.Fatalf("AuditQuery(%+v): %v", f, err)
	}
	return got
}

func accessLine(a cordon.AuditAccess) string {
	var acts []string
	for _, k := range slices.Sorted(maps.Keys(a.Actions)) {
		acts = append(acts, fmt.Sprintf("%s=%d", k, a.Actions[k]))
	}
	return fmt.Sprintf("%s%s account=%q unresolved=%v aliases=%v n=%d %s cats=%v %s..%s", a.Principal, a.Subject, a.Account, a.Unresolved,
		a.Aliases, a.Count, strings.Join(acts, ","), a.Categories, a.First.Sub(at(0)), a.Last.Sub(at(0)))
}

func checkRows(t *testing.T, what string, got []cordon.AuditAccess, want []string) {
	t.Helper()
	lines := make([]string, len(got))
	for i, a := range got {
		lines[i] = accessLine(a)
	}
	if !slices.Equal(lines, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(lines, "\n     "), strings.Join(want, "\n     "))
	}
}

// auditQueryLog is a log where alice appears under two names, bob under
// one, two subjects name no account and one entry predates resolution.
func auditQueryLog(t *testing.T, s cordon.Store) {
	m := func(n int) time.Time { return at(time.Duration(n) * time.Minute) }
	mustAppend(t, s, []*cordon.AuditEntry{
		resolvedEntry("1", m(0), "svc-support", "read", "alice", "u-alice", "profile"),
		resolvedEntry("2", m(1), "svc-support", "export", "u-alice", "u-alice", "payment"),
		resolvedEntry("3", m(2), "svc-billing", "read", "ALICE", "u-alice", "email", "payment"),
		resolvedEntry("4", m(3), "svc-billing", "delete", "bob", "u-bob", "password_hash"),
		resolvedEntry("5", m(4), "svc-support", "read", "no-such-user", "", "profile"),
		resolvedEntry("6", m(5), "svc-support", "write", "user-0042", "", "payment"),
		newAuditEntry("7", m(6), "svc-support", "legacy", "profile"),
		resolvedEntry("8", m(7), "ada@corp", "read", "bob", "u-bob", "profile"),
		resolvedEntry("9", m(8), "svc%", "read", "bob", "u-bob", "profile"),
		resolvedEntry("10", m(9), "svc_x", "read", "bob", "u-bob", "profile"),
		resolvedEntry("11", m(10), `svc\y`, "read", "bob", "u-bob", "profile"),
		resolvedEntry("12", m(11), "SVC-upper", "read", "bob", "u-bob", "profile"),
	}, 12)
}

func testAuditQueryBySubject(t *testing.T, s cordon.Store) {
	auditQueryLog(t, s)
	got := collectQuery(t, s, cordon.AuditFilter{Principals: []string{"svc-support", "svc-billing"}, From: at(0), To: at(time.Hour)})
	checkRows(t, "by subject", got, []string{
		`legacy account="" unresolved=false aliases=[legacy] n=1 read=1 cats=[profile] 6m0s..6m0s`,
		`no-such-user account="" unresolved=true aliases=[no-such-user] n=1 read=1 cats=[profile] 4m0s..4m0s`,
		`u-alice account="u-alice" unresolved=false aliases=[ALICE alice u-alice] n=3 export=1,read=2 cats=[email payment profile] 0s..2m0s`,
		`u-bob account="u-bob" unresolved=false aliases=[bob] n=1 delete=1 cats=[password_hash] 3m0s..3m0s`,
		`user-0042 account="" unresolved=true aliases=[user-0042] n=1 write=1 cats=[payment] 5m0s..5m0s`,
	})
	// AuditReport is the same query over exact names.
	rep, err := collectReport(s, []string{"svc-support", "svc-billing"}, at(0), at(time.Hour))
	if err != nil || len(rep) != len(got) {
		t.Errorf("AuditReport: %d rows, %v; want the %d of AuditQuery", len(rep), err, len(got))
	}
	// Who touched alice: her account, and her raw name for entries not
	// resolved; grouped by principal.
	got = collectQuery(t, s, cordon.AuditFilter{Users: []string{"u-alice", "alice"}, By: cordon.AuditByPrincipal})
	checkRows(t, "who touched alice", got, []string{
		`svc-billing account="" unresolved=false aliases=[] n=1 read=1 cats=[email payment] 2m0s..2m0s`,
		`svc-support account="" unresolved=false aliases=[] n=2 export=1,read=1 cats=[payment profile] 0s..1m0s`,
	})
	// An entry logged before resolution counts under its raw subject.
	got = collectQuery(t, s, cordon.AuditFilter{Users: []string{"legacy"}, By: cordon.AuditByPrincipal})
	checkRows(t, "who touched legacy", got, []string{
		`svc-support account="" unresolved=false aliases=[] n=1 read=1 cats=[profile] 6m0s..6m0s`,
	})
	// An unresolved subject by its raw name.
	got = collectQuery(t, s, cordon.AuditFilter{Users: []string{"user-0042"}, By: cordon.AuditByPrincipal})
	checkRows(t, "who touched user-0042", got, []string{
		`svc-support account="" unresolved=false aliases=[] n=1 write=1 cats=[payment] 5m0s..5m0s`,
	})
}

func testAuditQueryPatterns(t *testing.T, s cordon.Store) {
	auditQueryLog(t, s)
	principals := func(ps ...string) []string {
		var out []string
		for _, a := range collectQuery(t, s, cordon.AuditFilter{Principals: ps, By: cordon.AuditByPrincipal}) {
			out = append(out, a.Principal)
		}
		return out
	}
	for _, tt := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{"svc-*"}, []string{"svc-billing", "svc-support"}},
		{[]string{"*"}, []string{"SVC-upper", "ada@corp", "svc%", "svc-billing", "svc-support", `svc\y`, "svc_x"}},
		{[]string{"svc*"}, []string{"svc%", "svc-billing", "svc-support", `svc\y`, "svc_x"}},
		{[]string{"*@corp"}, []string{"ada@corp"}},
		{[]string{"*-*"}, []string{"SVC-upper", "svc-billing", "svc-support"}},
		{[]string{"svc-support", "ada*"}, []string{"ada@corp", "svc-support"}},
		// Case counts, and LIKE's and GLOB's metacharacters are literal.
		{[]string{"SVC-*"}, []string{"SVC-upper"}},
		{[]string{"%"}, nil},
		{[]string{"svc%"}, []string{"svc%"}},
		{[]string{"svc%*"}, []string{"svc%"}},
		{[]string{"svc_*"}, []string{"svc_x"}},
		{[]string{"svc_"}, nil},
		{[]string{"svc?x"}, nil},
		{[]string{"svc?x*"}, nil},
		{[]string{"*?*"}, nil},
		{[]string{"svc[_]x*"}, nil},
		{[]string{"svc[%_]*"}, nil},
		{[]string{`svc\*`}, []string{`svc\y`}},
		{[]string{`svc\y`}, []string{`svc\y`}},
		{[]string{`*\`}, nil},
		{[]string{"**"}, []string{"SVC-upper", "ada@corp", "svc%", "svc-billing", "svc-support", `svc\y`, "svc_x"}},
		{[]string{"svc-support*support"}, nil},
		{[]string{"*port"}, []string{"svc-support"}},
	} {
		if got := principals(tt.patterns...); !slices.Equal(got, tt.want) {
			t.Errorf("principals %q: got %q, want %q", tt.patterns, got, tt.want)
		}
	}
}

func testAuditQueryByPrincipal(t *testing.T, s cordon.Store) {
	auditQueryLog(t, s)
	// Who touched payment in the first six minutes.
	got := collectQuery(t, s, cordon.AuditFilter{Category: "payment", From: at(0), To: at(5 * time.Minute), By: cordon.AuditByPrincipal})
	checkRows(t, "payment", got, []string{
		`svc-billing account="" unresolved=false aliases=[] n=1 read=1 cats=[email payment] 2m0s..2m0s`,
		`svc-support account="" unresolved=false aliases=[] n=1 export=1 cats=[payment] 1m0s..1m0s`,
	})
	// A category is a whole word: "pass" names none.
	if got := collectQuery(t, s, cordon.AuditFilter{Category: "pass", By: cordon.AuditByPrincipal}); len(got) != 0 {
		t.Errorf("category pass: got %d rows, want none", len(got))
	}
	// … read from the entries too: by subject, never from the rollup.
	if got := collectQuery(t, s, cordon.AuditFilter{Category: "pass", By: cordon.AuditBySubject}); len(got) != 0 {
		t.Errorf("category pass by subject: got %d rows, want none", len(got))
	}
	if got := collectQuery(t, s, cordon.AuditFilter{Category: "password_hash", By: cordon.AuditByPrincipal}); len(got) != 1 || got[0].Principal != "svc-billing" {
		t.Errorf("category password_hash: got %+v, want svc-billing", got)
	}
	// Every principal, no window: first and last seen, counts.
	got = collectQuery(t, s, cordon.AuditFilter{Principals: []string{"svc-*", "ada*"}, By: cordon.AuditByPrincipal})
	checkRows(t, "principals", got, []string{
		`ada@corp account="" unresolved=false aliases=[] n=1 read=1 cats=[profile] 7m0s..7m0s`,
		`svc-billing account="" unresolved=false aliases=[] n=2 delete=1,read=1 cats=[email password_hash payment] 2m0s..3m0s`,
		`svc-support account="" unresolved=false aliases=[] n=5 export=1,read=3,write=1 cats=[payment profile] 0s..6m0s`,
	})
	// A From past everything, no To.
	if got := collectQuery(t, s, cordon.AuditFilter{From: at(time.Hour), By: cordon.AuditByPrincipal}); len(got) != 0 {
		t.Errorf("after the last entry: got %d rows, want none", len(got))
	}
}

func testAuditCheckpointPages(t *testing.T, s cordon.AuditStore) {
	for _, size := range []uint64{3, 1, 7, 5, 9} {
		c := &cordon.AuditCheckpoint{Size: size, Root: newHash(), Note: []byte(fmt.Sprintf("note %d", size)), Created: at(time.Duration(size) * time.Second)}
		if err := s.AddAuditCheckpoint(t.Context(), c, nil); err != nil {
			t.Fatalf("AddAuditCheckpoint(%d): %v", size, err)
		}
	}
	sizes := func(after uint64, limit int) []uint64 {
		cs, err := s.AuditCheckpointsAfter(t.Context(), after, limit)
		if err != nil {
			t.Fatalf("AuditCheckpointsAfter(%d, %d): %v", after, limit, err)
		}
		var out []uint64
		for _, c := range cs {
			if string(c.Note) != fmt.Sprintf("note %d", c.Size) {
				t.Errorf("checkpoint %d: note %q", c.Size, c.Note)
			}
			out = append(out, c.Size)
		}
		return out
	}
	for _, tc := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 2, []uint64{1, 3}},
		{3, 2, []uint64{5, 7}},
		{7, 2, []uint64{9}},
		{9, 2, nil},
		{4, 100, []uint64{5, 7, 9}},
		{0, -1, []uint64{1, 3, 5, 7, 9}},
		{2, 0, nil},
		{1 << 63, 10, nil},
	} {
		if got := sizes(tc.after, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("AuditCheckpointsAfter(%d, %d) = %v, want %v", tc.after, tc.limit, got, tc.want)
		}
	}
}

package conformance

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	storedpkg "github.com/cordon-dev/cordon/internal/stored"
)

// testAuditRollupMatchesScan checks that the questions grouped by
// principal (by category, the principals list, with or without principal
// filters) answer exactly what a scan of the entries answers, over
// windows of whole days (a SQL store's rollup), windows cutting days at
// either edge (those days from the entries), windows inside one day and
// open ones, after batches appended concurrently and entries at day
// boundaries.
func testAuditRollupMatchesScan(t *testing.T, s cordon.Store) {
	day := 24 * time.Hour
	// Midnight UTC before at(0), so day edges are known.
	d0 := at(0).UTC().Truncate(day)
	principals := []string{"svc-a", "svc-b", "svc-c", "ada@corp", "svc%"}
	cats := []string{"email", "payment", "profile", "password_hash"}
	actions := storedpkg.AuditActions[:]
	var (
		mu  sync.Mutex
		all []cordon.AuditEntry
		wg  sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for b := range 5 {
				var es []*cordon.AuditEntry
				for i := range 40 {
					when := d0.Add(time.Duration(rng.Int64N(int64(5 * day)))).Truncate(time.Microsecond) // as stored
					switch i {
					case 0:
						when = d0.Add(time.Duration(1+rng.IntN(4)) * day) // a day's first microsecond
					case 1:
						when = d0.Add(time.Duration(1+rng.IntN(4))*day - time.Microsecond) // a day's last
					}
					c := []string{cats[rng.IntN(len(cats))]}
					if rng.IntN(2) == 0 {
						c = append(c, cats[rng.IntN(len(cats))])
					}
					c = slices.Compact(slices.Sorted(slices.Values(c)))
					e := newAuditEntry(fmt.Sprintf("%d/%d/%d", w, b, i), when, principals[rng.IntN(len(principals))], "u", c...)
					e.Action = actions[rng.IntN(len(actions))]
					es = append(es, e)
				}
				if _, err := s.AppendAudit(t.Context(), es); err != nil {
					t.Errorf("AppendAudit: %v", err)
					return
				}
				mu.Lock()
				all = append(all, cloneEntries(es)...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	type window struct {
		name     string
		from, to time.Time
	}
	windows := []window{
		{"whole days", d0.Add(day), d0.Add(4 * day)},
		{"cut at both ends", d0.Add(day + 7*time.Hour), d0.Add(3*day + 5*time.Hour)},
		{"cut at the start", d0.Add(day - time.Microsecond), d0.Add(3 * day)},
		{"cut at the end", d0.Add(day), d0.Add(3*day + time.Microsecond)},
		{"inside one day", d0.Add(2*day + time.Hour), d0.Add(2*day + 20*time.Hour)},
		{"one whole day", d0.Add(2 * day), d0.Add(3 * day)},
		{"no end", d0.Add(2*day + time.Hour), time.Time{}},
		{"no start", time.Time{}, d0.Add(2*day + time.Hour)},
		{"everything", time.Time{}, time.Time{}},
	}
	filters := []cordon.AuditFilter{
		{By: cordon.AuditByPrincipal},
		{By: cordon.AuditByPrincipal, Category: "payment"},
		{By: cordon.AuditByPrincipal, Category: "password_hash", Principals: []string{"svc-*"}},
		{By: cordon.AuditByPrincipal, Principals: []string{"ada@corp", "svc%"}},
	}
	for _, w := range windows {
		for _, f := range filters {
			f.From, f.To = w.from, w.to
			want := scanByPrincipal(all, f)
			checkRows(t, fmt.Sprintf("%s, category %q, principals %v", w.name, f.Category, f.Principals), collectQuery(t, s, f), want)
		}
	}
}

// scanByPrincipal is AuditQuery grouped by principal, by reading every
// entry.
func scanByPrincipal(all []cordon.AuditEntry, f cordon.AuditFilter) []string {
	rows := map[string]*cordon.AuditAccess{}
	for _, e := range all {
		if e.Time.Before(f.From) || (!f.To.IsZero() && !e.Time.Before(f.To)) {
			continue
		}
		if f.Category != "" && !slices.Contains(e.Categories, f.Category) {
			continue
		}
		if len(f.Principals) > 0 && !slices.ContainsFunc(f.Principals, func(p string) bool { return storedpkg.MatchPrincipal(p, e.Principal) }) {
			continue
		}
		a := rows[e.Principal]
		if a == nil {
			a = &cordon.AuditAccess{Principal: e.Principal, Actions: map[string]int64{}, First: e.Time, Last: e.Time}
			rows[e.Principal] = a
		}
		a.Count++
		a.Actions[e.Action]++
		a.Categories = append(a.Categories, e.Categories...)
		if e.Time.Before(a.First) {
			a.First = e.Time
		}
		if e.Time.After(a.Last) {
			a.Last = e.Time
		}
	}
	var lines []string
	for _, p := range slices.Sorted(maps.Keys(rows)) {
		a := rows[p]
		a.Categories = slices.Compact(slices.Sorted(slices.Values(a.Categories)))
		lines = append(lines, accessLine(*a))
	}
	return lines
}

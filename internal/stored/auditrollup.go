package stored

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// The audit rollup: per set of categories, UTC day and principal, how
// many entries, by action, and the first and last time. A SQL store
// keeps it in the transaction that appends the entries, so the two never
// disagree at any snapshot; the questions grouped by principal (by
// category, the principals list) read whole days from it and only the
// days a window cuts from the entries. A set of categories, not one
// category, keys it, so a row still says which categories its entries
// carried together (the answer lists them all).

// DayMicros is one UTC day in microseconds, the rollup's unit.
const DayMicros = int64(24 * time.Hour / time.Microsecond)

// AuditDay is the UTC day of a time in microseconds: days since the
// epoch, rounded down.
func AuditDay(at int64) int64 {
	d := at / DayMicros
	if at%DayMicros < 0 {
		d--
	}
	return d
}

// RollupRow is one row of the rollup as an append adds to it.
type RollupRow struct {
	Categories  string // JoinCategories of the entries' categories
	Day         int64
	Principal   string
	Count       int64
	PerAction   [4]int64 // in the order of AuditActions
	First, Last int64    // microseconds
}

// AuditRollup sums entries into rollup rows, in key order.
func AuditRollup(entries []*cordon.AuditEntry) []RollupRow {
	type key struct {
		cats, principal string
		day             int64
	}
	idx := map[key]int{}
	var rows []RollupRow
	for _, e := range entries {
		at := Micros(e.Time)
		k := key{JoinCategories(e.Categories), e.Principal, AuditDay(at)}
		i, ok := idx[k]
		if !ok {
			i = len(rows)
			idx[k] = i
			rows = append(rows, RollupRow{Categories: k.cats, Day: k.day, Principal: k.principal, First: at, Last: at})
		}
		r := &rows[i]
		r.Count++
		if a := slices.Index(AuditActions[:], e.Action); a >= 0 {
			r.PerAction[a]++
		}
		r.First, r.Last = min(r.First, at), max(r.Last, at)
	}
	slices.SortFunc(rows, func(a, b RollupRow) int {
		return cmp.Or(cmp.Compare(a.Categories, b.Categories), cmp.Compare(a.Day, b.Day), cmp.Compare(a.Principal, b.Principal))
	})
	return rows
}

// RollupWindow splits a window [from, to) in microseconds (to 0: no end)
// into the whole days the rollup answers, [first, last) in days, and the
// edges the entries answer: [from, first day's start) and [last day's
// start, to). ok is false when the window holds no whole day; the
// entries then answer all of it.
func RollupWindow(from, to int64) (first, last int64, ok bool) {
	first = AuditDay(from)
	if first*DayMicros < from {
		first++
	}
	if to == 0 {
		return first, 0, true
	}
	last = AuditDay(to)
	return first, last, first < last
}

// RollupFinding is cordon doctor's finding on the audit rollup: off
// counts the rollup rows that differ from the entries summed afresh
// (either side's rows missing from the other). A rollup out of step
// with its entries (a write that bypassed AppendAudit, a restore of one
// table without the other) would answer the by-category and principals
// questions wrongly while the entries still verify; rebuilding it is
// DELETE FROM audit_rollup and the migration's INSERT … SELECT.
func RollupFinding(off int64, err error) Finding {
	switch {
	case err != nil:
		return Finding{Check: "audit rollup", Detail: "could not compare the rollup with the entries: " + err.Error()}
	case off > 0:
		return Finding{Check: "audit rollup", Detail: fmt.Sprintf("%d rollup rows differ from the entries they sum: by-category and principals answers are wrong until it is rebuilt", off)}
	}
	return Finding{Check: "audit rollup", OK: true, Detail: "the rollup sums exactly the entries"}
}

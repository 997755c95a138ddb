package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// RunAuditTests runs one subtest per behaviour of cordon.AuditStore, each
// on its own store from newStore, which must return an empty store and
// close it with t.Cleanup.
func RunAuditTests(t *testing.T, newStore func(t *testing.T) cordon.AuditStore) {
	t.Helper()
	runAudit(t, newStore, []auditSubtest{
		{"AppendAndRead", testAuditAppendAndRead},
		{"EmptyBatch", testAuditEmptyBatch},
		{"InvalidEntryStoresNothing", testAuditInvalidBatch},
		{"Size", testAuditSize},
		{"EntriesRanges", testAuditRanges},
		{"EntriesStopOnError", testAuditStop},
		{"EntriesLongLog", testAuditLongLog},
		{"Checkpoints", testAuditCheckpoints},
		{"CheckpointPages", testAuditCheckpointPages},
		{"Report", testAuditReport},
		{"ReportNoPrincipals", testAuditReportNoPrincipals},
		{"Nodes", testAuditNodes},
		{"Key", testAuditKey},
		{"SavedReports", testAuditSavedReports},
		{"BatchOnce", testAuditBatchOnce},
		{"BatchForgotten", testAuditBatchForgotten},
		{"BatchInvalid", testAuditBatchInvalid},
	})
}

// RunAuditConcurrencyTests checks that concurrent appends are serialised:
// indexes never repeat and never skip, and each batch's are contiguous.
func RunAuditConcurrencyTests(t *testing.T, newStore func(t *testing.T) cordon.AuditStore) {
	t.Helper()
	runAudit(t, newStore, []auditSubtest{
		{"ManyAppendsAtOnce", testAuditAppendRace},
		{"OneBatchKeyAtOnce", testAuditBatchRace},
	})
}

type auditSubtest struct {
	name string
	run  func(t *testing.T, s cordon.AuditStore)
}

func runAudit(t *testing.T, newStore func(t *testing.T) cordon.AuditStore, tests []auditSubtest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// newAuditEntry returns an entry with a leaf unique to tag, its time given
// in a zone away from UTC.
func newAuditEntry(tag string, when time.Time, principal, subject string, categories ...string) *cordon.AuditEntry {
	if len(categories) == 0 {
		categories = []string{"email", "profile"}
	}
	return &cordon.AuditEntry{
		Leaf:       []byte(`{"tag":"` + tag + `"}`),
		LeafHash:   newHash(),
		Time:       when.In(elsewhere()),
		Principal:  principal,
		Action:     "read",
		Subject:    subject,
		Categories: categories,
	}
}

// newAuditBatch returns n entries tagged prefix-0 … prefix-(n-1).
func newAuditBatch(prefix string, n int) []*cordon.AuditEntry {
	es := make([]*cordon.AuditEntry, n)
	for i := range es {
		es[i] = newAuditEntry(fmt.Sprintf("%s-%d", prefix, i), at(time.Duration(i)*time.Second), "svc-"+prefix, fmt.Sprintf("user-%d", i%7))
	}
	return es
}

// clone copies what the caller handed the store, so a comparison does not
// see the store's own changes to the caller's values (Index).
func cloneEntries(es []*cordon.AuditEntry) []cordon.AuditEntry {
	out := make([]cordon.AuditEntry, len(es))
	for i, e := range es {
		out[i] = *e
		out[i].Leaf = slices.Clone(e.Leaf)
		out[i].LeafHash = slices.Clone(e.LeafHash)
		out[i].Categories = slices.Clone(e.Categories)
	}
	return out
}

func mustAppend(t *testing.T, s cordon.AuditStore, es []*cordon.AuditEntry, wantSize uint64) {
	t.Helper()
	size, err := s.AppendAudit(t.Context(), es)
	if err != nil {
		t.Fatalf("AppendAudit(%d entries): %v", len(es), err)
	}
	if size != wantSize {
		t.Fatalf("AppendAudit(%d entries): got size %d, want %d", len(es), size, wantSize)
	}
}

// readAudit returns entries [from, to).
func readAudit(t *testing.T, s cordon.AuditStore, from, to uint64) []*cordon.AuditEntry {
	t.Helper()
	var got []*cordon.AuditEntry
	if err := s.AuditEntries(t.Context(), from, to, func(e *cordon.AuditEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("AuditEntries(%d, %d): %v", from, to, err)
	}
	return got
}

func checkSize(t *testing.T, s cordon.AuditStore, want uint64) {
	t.Helper()
	if got, err := s.AuditSize(t.Context()); err != nil || got != want {
		t.Errorf("AuditSize: got %d, %v; want %d, nil", got, err, want)
	}
}

func auditEntryDiff(got *cordon.AuditEntry, want cordon.AuditEntry) string {
	var d diff
	if got.Index != want.Index {
		d = append(d, fmt.Sprintf("Index: got %d, want %d", got.Index, want.Index))
	}
	d.bytes("Leaf", got.Leaf, want.Leaf)
	d.bytes("LeafHash", got.LeafHash, want.LeafHash)
	d.time("Time", got.Time, want.Time)
	d.str("Principal", got.Principal, want.Principal)
	d.str("Action", got.Action, want.Action)
	d.str("Subject", got.Subject, want.Subject)
	d.strings("Categories", got.Categories, want.Categories)
	d.str("Account", got.Account, want.Account)
	if got.Resolved != want.Resolved {
		d = append(d, fmt.Sprintf("Resolved: got %v, want %v", got.Resolved, want.Resolved))
	}
	return d.String()
}

func testAuditAppendAndRead(t *testing.T, s cordon.AuditStore) {
	first := []*cordon.AuditEntry{
		newAuditEntry("a", at(0), "svc-billing", "alice", "email", "payment"),
		newAuditEntry("b", at(time.Second), "svc-billing", "bob", "address"),
		newAuditEntry("c", at(2*time.Second), "admin:carol", "alice", "devices", "location", "profile"),
	}
	second := []*cordon.AuditEntry{
		newAuditEntry("d", at(time.Minute), "svc-support", "dave", "phone"),
		newAuditEntry("e", at(time.Hour), "svc-support", "erin", "email", "listening_history"),
	}
	var want []cordon.AuditEntry
	want = append(want, cloneEntries(first)...)
	want = append(want, cloneEntries(second)...)
	for i := range want {
		want[i].Index = uint64(i)
	}

	mustAppend(t, s, first, 3)
	mustAppend(t, s, second, 5)
	for i, e := range append(slices.Clone(first), second...) {
		if e.Index != uint64(i) {
			t.Errorf("entry %d after AppendAudit: got Index %d, want %d", i, e.Index, i)
		}
	}

	got := readAudit(t, s, 0, 5)
	if len(got) != len(want) {
		t.Fatalf("AuditEntries(0, 5): got %d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if d := auditEntryDiff(got[i], want[i]); d != "" {
			t.Errorf("entry %d: %s", i, d)
		}
	}
}

func testAuditEmptyBatch(t *testing.T, s cordon.AuditStore) {
	for _, es := range [][]*cordon.AuditEntry{nil, {}} {
		if size, err := s.AppendAudit(t.Context(), es); err != nil || size != 0 {
			t.Errorf("AppendAudit(%#v) on an empty log: got %d, %v; want 0, nil", es, size, err)
		}
	}
	mustAppend(t, s, newAuditBatch("x", 2), 2)
	if size, err := s.AppendAudit(t.Context(), nil); err != nil || size != 2 {
		t.Errorf("AppendAudit(nil) on a log of 2: got %d, %v; want 2, nil", size, err)
	}
	checkSize(t, s, 2)
	if got := readAudit(t, s, 0, 10); len(got) != 2 {
		t.Errorf("AuditEntries(0, 10): got %d entries, want 2", len(got))
	}
}

func testAuditInvalidBatch(t *testing.T, s cordon.AuditStore) {
	mustAppend(t, s, newAuditBatch("ok", 2), 2)
	invalid := []struct {
		name  string
		spoil func(*cordon.AuditEntry)
	}{
		{"nil leaf", func(e *cordon.AuditEntry) { e.Leaf = nil }},
		{"empty leaf", func(e *cordon.AuditEntry) { e.Leaf = []byte{} }},
		{"nil leaf hash", func(e *cordon.AuditEntry) { e.LeafHash = nil }},
	}
	for _, tc := range invalid {
		batch := newAuditBatch("bad", 3)
		// Last, so a store that inserts as it goes has rows to undo.
		tc.spoil(batch[2])
		if size, err := s.AppendAudit(t.Context(), batch); err == nil {
			t.Errorf("AppendAudit with a %s: got size %d, nil; want an error", tc.name, size)
		}
		checkSize(t, s, 2)
	}
	if got := readAudit(t, s, 0, 10); len(got) != 2 {
		t.Errorf("AuditEntries(0, 10) after refused batches: got %d entries, want 2", len(got))
	}
	// The refused batches took no indexes.
	next := newAuditBatch("next", 1)
	mustAppend(t, s, next, 3)
	if next[0].Index != 2 {
		t.Errorf("entry after refused batches: got Index %d, want 2", next[0].Index)
	}
}

func testAuditSize(t *testing.T, s cordon.AuditStore) {
	checkSize(t, s, 0)
	mustAppend(t, s, newAuditBatch("a", 1), 1)
	checkSize(t, s, 1)
	mustAppend(t, s, newAuditBatch("b", 4), 5)
	checkSize(t, s, 5)
}

func testAuditRanges(t *testing.T, s cordon.AuditStore) {
	const n = 10
	mustAppend(t, s, newAuditBatch("r", n), n)
	tests := []struct {
		name     string
		from, to uint64
		want     []uint64 // first and one past the last index; equal for none
	}{
		{"all", 0, n, []uint64{0, n}},
		{"middle", 3, 7, []uint64{3, 7}},
		{"one", 9, 10, []uint64{9, 10}},
		{"empty range", 5, 5, []uint64{5, 5}},
		{"from after to", 7, 3, []uint64{0, 0}},
		{"to beyond size", 8, 100, []uint64{8, n}},
		{"to at the largest index", 8, ^uint64(0), []uint64{8, n}},
		{"from beyond size", 20, 30, []uint64{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readAudit(t, s, tc.from, tc.to)
			var idx []uint64
			for _, e := range got {
				idx = append(idx, e.Index)
			}
			var want []uint64
			for i := tc.want[0]; i < tc.want[1]; i++ {
				want = append(want, i)
			}
			if !slices.Equal(idx, want) {
				t.Errorf("AuditEntries(%d, %d): got indexes %v, want %v", tc.from, tc.to, idx, want)
			}
			for _, e := range got {
				if tag := fmt.Sprintf(`{"tag":"r-%d"}`, e.Index); string(e.Leaf) != tag {
					t.Errorf("entry %d: got leaf %s, want %s", e.Index, e.Leaf, tag)
				}
			}
		})
	}
}

func testAuditStop(t *testing.T, s cordon.AuditStore) {
	mustAppend(t, s, newAuditBatch("s", 5), 5)
	stop := errors.New("stop")
	calls := 0
	err := s.AuditEntries(t.Context(), 0, 5, func(*cordon.AuditEntry) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("AuditEntries with fn failing: got error %v, want fn's", err)
	}
	if calls != 2 {
		t.Errorf("AuditEntries with fn failing on the 2nd entry: fn called %d times, want 2", calls)
	}
}

// testAuditLongLog reads a log longer than a backend is likely to read in
// one batch: every index once, in order.
func testAuditLongLog(t *testing.T, s cordon.AuditStore) {
	const batches, per = 5, 5_001
	for b := range batches {
		mustAppend(t, s, newAuditBatch(fmt.Sprint(b), per), uint64((b+1)*per))
	}
	var next uint64
	if err := s.AuditEntries(t.Context(), 0, batches*per, func(e *cordon.AuditEntry) error {
		if e.Index != next {
			return fmt.Errorf("got index %d, want %d", e.Index, next)
		}
		if tag := fmt.Sprintf(`{"tag":"%d-%d"}`, next/per, next%per); string(e.Leaf) != tag {
			return fmt.Errorf("entry %d: got leaf %s, want %s", next, e.Leaf, tag)
		}
		next++
		return nil
	}); err != nil {
		t.Fatalf("AuditEntries: %v", err)
	}
	if next != batches*per {
		t.Errorf("AuditEntries(0, %d): got %d entries, want %d", batches*per, next, batches*per)
	}
}

func testAuditCheckpoints(t *testing.T, s cordon.AuditStore) {
	ctx := t.Context()
	if got, err := s.AuditCheckpoints(ctx); err != nil || len(got) != 0 {
		t.Fatalf("AuditCheckpoints on an empty store: got %d, %v; want none, nil", len(got), err)
	}
	if _, err := s.AuditCheckpoint(ctx, 0); !errors.Is(err, cordon.ErrNotFound) {
		t.Fatalf("latest AuditCheckpoint on an empty store: got %v, want ErrNotFound", err)
	}
	checkpoint := func(size uint64, created time.Time) *cordon.AuditCheckpoint {
		return &cordon.AuditCheckpoint{
			Size:    size,
			Root:    newHash(),
			Note:    fmt.Appendf(nil, "cordon.example/audit\n%d\nroot\n\n— cordon sig\n", size),
			Created: created.In(elsewhere()),
		}
	}
	// Added out of order, listed by size.
	cps := []*cordon.AuditCheckpoint{
		checkpoint(5, at(time.Minute)),
		checkpoint(2, at(0)),
		checkpoint(900, at(time.Hour)),
	}
	for _, c := range cps {
		if err := s.AddAuditCheckpoint(ctx, c, nil); err != nil {
			t.Fatalf("AddAuditCheckpoint(size %d): %v", c.Size, err)
		}
	}
	for _, tc := range []struct{ ask, want uint64 }{{0, 900}, {2, 2}, {5, 5}, {900, 900}} {
		c, err := s.AuditCheckpoint(ctx, tc.ask)
		if err != nil || c.Size != tc.want || !bytes.Equal(c.Note, checkpoint(tc.want, at(0)).Note) {
			t.Errorf("AuditCheckpoint(%d): got %+v, %v; want size %d", tc.ask, c, err, tc.want)
		}
	}
	if _, err := s.AuditCheckpoint(ctx, 3); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("AuditCheckpoint of an unsigned size: got %v, want ErrNotFound", err)
	}
	dup := checkpoint(5, at(2*time.Hour))
	checkErr(t, "AddAuditCheckpoint of a size already checkpointed", s.AddAuditCheckpoint(ctx, dup, nil), cordon.ErrAlreadyExists)

	got, err := s.AuditCheckpoints(ctx)
	if err != nil {
		t.Fatalf("AuditCheckpoints: %v", err)
	}
	want := []*cordon.AuditCheckpoint{cps[1], cps[0], cps[2]}
	if len(got) != len(want) {
		t.Fatalf("AuditCheckpoints: got %d, want %d", len(got), len(want))
	}
	for i := range got {
		var d diff
		if got[i].Size != want[i].Size {
			d = append(d, fmt.Sprintf("Size: got %d, want %d", got[i].Size, want[i].Size))
		}
		d.bytes("Root", got[i].Root, want[i].Root)
		d.bytes("Note", got[i].Note, want[i].Note)
		d.time("Created", got[i].Created, want[i].Created)
		if len(d) > 0 {
			t.Errorf("checkpoint %d: %s", i, d)
		}
	}
}

func testAuditReport(t *testing.T, s cordon.AuditStore) {
	from, to := at(time.Hour), at(2*time.Hour)
	mustAppend(t, s, []*cordon.AuditEntry{
		// Before the window, and at its end: not counted.
		newAuditEntry("early", from.Add(-time.Microsecond), "svc-billing", "alice", "password_hash"),
		newAuditEntry("end", to, "svc-billing", "alice", "password_hash"),
		// At its start: counted.
		newAuditEntry("start", from, "svc-billing", "alice", "payment", "email"),
		newAuditEntry("a2", from.Add(30*time.Minute), "svc-support", "alice", "phone"),
		newAuditEntry("a3", to.Add(-time.Microsecond), "svc-billing", "alice", "email"),
		// Another principal: not counted.
		newAuditEntry("other", from.Add(time.Minute), "svc-other", "alice", "location"),
		newAuditEntry("other2", from.Add(time.Minute), "svc-other", "zed", "location"),
	}, 7)
	mustAppend(t, s, []*cordon.AuditEntry{
		newAuditEntry("b1", from.Add(10*time.Minute), "svc-support", "bob", "address", "devices"),
		newAuditEntry("B1", from.Add(5*time.Minute), "svc-support", "Bob", "profile"),
		newAuditEntry("c1", from.Add(20*time.Minute), "svc-billing", "carol", "profile"),
		newAuditEntry("b2", from.Add(15*time.Minute), "svc-billing", "bob", "devices"),
	}, 11)

	got, err := collectReport(s, []string{"svc-billing", "svc-support", "svc-absent"}, from.In(elsewhere()), to.In(elsewhere()))
	if err != nil {
		t.Fatalf("AuditReport: %v", err)
	}
	// By subject in byte order: "Bob" before "alice".
	want := []cordon.AuditAccess{
		{Subject: "Bob", Categories: []string{"profile"}, Count: 1, First: from.Add(5 * time.Minute), Last: from.Add(5 * time.Minute)},
		{Subject: "alice", Categories: []string{"email", "payment", "phone"}, Count: 3, First: from, Last: to.Add(-time.Microsecond)},
		{Subject: "bob", Categories: []string{"address", "devices"}, Count: 2, First: from.Add(10 * time.Minute), Last: from.Add(15 * time.Minute)},
		{Subject: "carol", Categories: []string{"profile"}, Count: 1, First: from.Add(20 * time.Minute), Last: from.Add(20 * time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("AuditReport: got %d rows %+v, want %d", len(got), got, len(want))
	}
	for i := range got {
		var d diff
		d.str("Subject", got[i].Subject, want[i].Subject)
		d.strings("Categories", got[i].Categories, want[i].Categories)
		if got[i].Count != want[i].Count {
			d = append(d, fmt.Sprintf("Count: got %d, want %d", got[i].Count, want[i].Count))
		}
		d.time("First", got[i].First, want[i].First)
		d.time("Last", got[i].Last, want[i].Last)
		if len(d) > 0 {
			t.Errorf("row %d: %s", i, d)
		}
	}

	// One principal alone.
	got, err = collectReport(s, []string{"svc-other"}, from, to)
	if err != nil {
		t.Fatalf("AuditReport(svc-other): %v", err)
	}
	if len(got) != 2 || got[0].Subject != "alice" || got[1].Subject != "zed" || got[0].Count != 1 {
		t.Errorf("AuditReport(svc-other): got %+v, want alice and zed, once each", got)
	}

	// An empty window.
	stop := errors.New("enough")
	seen := 0
	err = s.AuditReport(t.Context(), []string{"svc-billing", "svc-support"}, from, to, func(*cordon.AuditAccess) error {
		seen++
		return stop
	})
	if !errors.Is(err, stop) || seen != 1 {
		t.Errorf("AuditReport whose fn fails: got %v after %d rows, want the error after 1", err, seen)
	}
	if got, err := collectReport(s, []string{"svc-billing"}, from, from); err != nil || len(got) != 0 {
		t.Errorf("AuditReport over [from, from): got %+v, %v; want no rows, nil", got, err)
	}
}

func testAuditReportNoPrincipals(t *testing.T, s cordon.AuditStore) {
	mustAppend(t, s, newAuditBatch("p", 3), 3)
	got, err := collectReport(s, nil, at(-time.Hour), at(time.Hour))
	if err != nil || len(got) != 0 {
		t.Errorf("AuditReport with no principals: got %+v, %v; want no rows, nil", got, err)
	}
}

func testAuditAppendRace(t *testing.T, s cordon.AuditStore) {
	const n, per = 16, 50
	ctx := t.Context()
	batches := make([][]*cordon.AuditEntry, n)
	for i := range batches {
		batches[i] = newAuditBatch(fmt.Sprintf("w%02d", i), per)
	}
	errs := race(n, func(i int) error {
		size, err := s.AppendAudit(ctx, batches[i])
		if err == nil && (size < per || size > n*per) {
			return fmt.Errorf("got size %d, want between %d and %d", size, per, n*per)
		}
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("AppendAudit %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	checkSize(t, s, n*per)

	// Each batch's indexes are contiguous, and the store holds each entry
	// at the index it was given.
	want := map[uint64][]byte{}
	for i, b := range batches {
		for j, e := range b {
			if e.Index != b[0].Index+uint64(j) {
				t.Errorf("batch %d entry %d: got Index %d, want %d", i, j, e.Index, b[0].Index+uint64(j))
			}
			if _, dup := want[e.Index]; dup {
				t.Errorf("batch %d entry %d: Index %d given twice", i, j, e.Index)
			}
			want[e.Index] = e.Leaf
		}
	}
	got := readAudit(t, s, 0, n*per)
	if len(got) != n*per {
		t.Fatalf("AuditEntries(0, %d): got %d entries, want %d", n*per, len(got), n*per)
	}
	for i, e := range got {
		if e.Index != uint64(i) {
			t.Fatalf("entry %d: got Index %d", i, e.Index)
		}
		if string(e.Leaf) != string(want[e.Index]) {
			t.Errorf("entry %d: got leaf %s, want %s", i, e.Leaf, want[e.Index])
		}
	}
}

func testAuditNodes(t *testing.T, s cordon.AuditStore) {
	ctx := t.Context()
	if _, err := s.AuditNodeHash(ctx, 8, 0); !errors.Is(err, cordon.ErrNotFound) {
		t.Fatalf("AuditNodeHash of a node never stored: got %v, want ErrNotFound", err)
	}
	a, b, c := newHash(), newHash(), newHash()
	cp := func(size uint64) *cordon.AuditCheckpoint {
		return &cordon.AuditCheckpoint{Size: size, Root: newHash(), Note: []byte("note"), Created: at(0)}
	}
	if err := s.AddAuditCheckpoint(ctx, cp(512), []cordon.AuditNode{{Level: 8, Index: 0, Hash: a}, {Level: 9, Index: 0, Hash: b}}); err != nil {
		t.Fatalf("AddAuditCheckpoint with nodes: %v", err)
	}
	// A later checkpoint may name a node again; the first hash stays.
	if err := s.AddAuditCheckpoint(ctx, cp(768), []cordon.AuditNode{{Level: 8, Index: 0, Hash: c}, {Level: 8, Index: 2, Hash: c}}); err != nil {
		t.Fatalf("AddAuditCheckpoint naming a stored node: %v", err)
	}
	for _, tc := range []struct {
		level uint
		index uint64
		want  []byte
	}{{8, 0, a}, {9, 0, b}, {8, 2, c}} {
		got, err := s.AuditNodeHash(ctx, tc.level, tc.index)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("AuditNodeHash(%d, %d): got %x, %v; want %x", tc.level, tc.index, got, err, tc.want)
		}
	}
	// A bad node fails the whole checkpoint.
	err := s.AddAuditCheckpoint(ctx, cp(1024), []cordon.AuditNode{{Level: 8, Index: 3, Hash: a}, {Level: 8, Index: 1, Hash: []byte("short")}})
	if err == nil {
		t.Fatal("AddAuditCheckpoint with a short node hash: got nil error")
	}
	if _, err := s.AuditNodeHash(ctx, 8, 3); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("node of a refused checkpoint: got %v, want ErrNotFound", err)
	}
	cps, err := s.AuditCheckpoints(ctx)
	if err != nil || len(cps) != 2 {
		t.Errorf("checkpoints after a refused one: got %d, %v; want 2", len(cps), err)
	}
}

func testAuditKey(t *testing.T, s cordon.AuditStore) {
	ctx := t.Context()
	var wg sync.WaitGroup
	got := make([]*cordon.AuditKey, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Go(func() {
			got[i], errs[i] = s.AuditKey(ctx, &cordon.AuditKey{Signer: fmt.Sprintf("secret-%d", i), Verifier: fmt.Sprintf("public-%d", i), Created: at(0)})
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("AuditKey #%d: %v", i, errs[i])
		}
		if *got[i] != *got[0] {
			t.Fatalf("concurrent first AuditKey calls disagree: %+v vs %+v", got[i], got[0])
		}
	}
	again, err := s.AuditKey(ctx, &cordon.AuditKey{Signer: "other", Verifier: "other", Created: at(time.Hour)})
	if err != nil || again.Signer != got[0].Signer || again.Verifier != got[0].Verifier || !again.Created.Equal(at(0)) {
		t.Errorf("AuditKey after the first: got %+v, %v; want the first key", again, err)
	}
	read, err := s.AuditKey(ctx, nil)
	if err != nil || read.Signer != got[0].Signer {
		t.Errorf("AuditKey(nil): got %+v, %v; want the stored key", read, err)
	}
}

func testAuditSavedReports(t *testing.T, s cordon.AuditStore) {
	ctx := t.Context()
	if _, err := s.SavedAuditReport(ctx, "r-none"); !errors.Is(err, cordon.ErrNotFound) {
		t.Fatalf("SavedAuditReport of an unknown id: got %v, want ErrNotFound", err)
	}
	r := &cordon.SavedAuditReport{ID: "r-1", Principals: []string{"svc-a", "ada@corp"}, From: at(0).In(elsewhere()), To: at(time.Hour),
		Created: at(2 * time.Hour), CreatedBy: "admin:ops", Subjects: []string{"alice", "bob", "zoë"}}
	if err := s.SaveAuditReport(ctx, r); err != nil {
		t.Fatalf("SaveAuditReport: %v", err)
	}
	checkErr(t, "SaveAuditReport of a taken id", s.SaveAuditReport(ctx, r), cordon.ErrAlreadyExists)
	empty := &cordon.SavedAuditReport{ID: "r-2", Principals: []string{"x"}, From: at(0), To: at(time.Second), Created: at(0), CreatedBy: "admin:ops"}
	if err := s.SaveAuditReport(ctx, empty); err != nil {
		t.Fatalf("SaveAuditReport of a report with no subjects: %v", err)
	}
	got, err := s.SavedAuditReport(ctx, "r-1")
	if err != nil {
		t.Fatalf("SavedAuditReport: %v", err)
	}
	if !slices.Equal(got.Principals, r.Principals) || !slices.Equal(got.Subjects, r.Subjects) || !got.From.Equal(r.From) ||
		!got.To.Equal(r.To) || !got.Created.Equal(r.Created) || got.CreatedBy != r.CreatedBy || got.From.Location() != time.UTC {
		t.Errorf("SavedAuditReport: got %+v, want %+v (times in UTC)", got, r)
	}
	got, err = s.SavedAuditReport(ctx, "r-2")
	if err != nil || len(got.Subjects) != 0 {
		t.Errorf("SavedAuditReport of an empty report: got %+v, %v; want no subjects", got, err)
	}
}

// testAuditWithChange checks that a write made with cordon.WithAudit
// appends the entries in its own transaction: both or neither.
func testAuditWithChange(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := newAccount("audited")
	e := newAuditEntry("create-audited", at(0), "admin:ops", "audited", "profile")
	actx := cordon.WithAudit(ctx, e)
	if err := s.CreateAccount(actx, a); err != nil {
		t.Fatalf("CreateAccount with an audit entry: %v", err)
	}
	if size, err := s.AuditSize(ctx); err != nil || size != 1 || e.Index != 0 {
		t.Fatalf("after an audited write: size %d, %v, entry index %d; want 1, nil, 0", size, err, e.Index)
	}
	// The context's entries go with its first write only.
	if err := s.CreateAccount(actx, newAccount("second")); err != nil {
		t.Fatalf("second CreateAccount with the same context: %v", err)
	}
	if size, _ := s.AuditSize(ctx); size != 1 {
		t.Fatalf("a second write with the same context appended again: size %d, want 1", size)
	}
	// A change that fails leaves no record.
	dup := newAuditEntry("create-dup", at(time.Second), "admin:ops", "audited", "profile")
	checkErr(t, "CreateAccount of a taken name with an audit entry", s.CreateAccount(cordon.WithAudit(ctx, dup), newAccount("audited")), cordon.ErrAlreadyExists)
	if size, _ := s.AuditSize(ctx); size != 1 {
		t.Fatalf("a failed write appended its audit entry: size %d, want 1", size)
	}
	// A bad entry fails the change.
	bad := &cordon.AuditEntry{Principal: "admin:ops"}
	if err := s.CreateAccount(cordon.WithAudit(ctx, bad), newAccount("third")); err == nil {
		t.Fatal("CreateAccount with an audit entry lacking its leaf: got nil error")
	}
	if _, err := s.AccountByUsername(ctx, "third"); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("an account whose audit entry was refused was stored: %v", err)
	}
	// Revoking a session carries its record too.
	sess := newSession(a.ID, at(0))
	if err := s.CreateSession(ctx, sess, newRefreshToken(sess.ID, at(0))); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	rev := newAuditEntry("revoke", at(time.Minute), "admin:ops", "audited", "sessions")
	if err := s.RevokeSession(cordon.WithAudit(ctx, rev), sess.ID, cordon.RevokeAdmin, at(time.Minute)); err != nil {
		t.Fatalf("RevokeSession with an audit entry: %v", err)
	}
	if rev.Index != 1 {
		t.Errorf("revocation's entry index: got %d, want 1", rev.Index)
	}
	var leaves []string
	if err := s.AuditEntries(ctx, 0, 10, func(e *cordon.AuditEntry) error { leaves = append(leaves, string(e.Leaf)); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{string(e.Leaf), string(rev.Leaf)}; !slices.Equal(leaves, want) {
		t.Errorf("log after audited writes: got %q, want %q", leaves, want)
	}
}

// collectReport gathers AuditReport's rows.
func collectReport(s cordon.AuditStore, principals []string, from, to time.Time) ([]cordon.AuditAccess, error) {
	var rows []cordon.AuditAccess
	err := s.AuditReport(context.Background(), principals, from, to, func(a *cordon.AuditAccess) error {
		rows = append(rows, *a)
		return nil
	})
	return rows, err
}

func sameBatch(a, b cordon.AuditBatch) bool {
	return a.Key == b.Key && bytes.Equal(a.Digest, b.Digest) && a.First == b.First && a.Count == b.Count && a.Size == b.Size && a.At.Equal(b.At)
}

func batchDigest(tag string) []byte {
	d := sha256.Sum256([]byte(tag))
	return d[:]
}

func testAuditBatchOnce(t *testing.T, s cordon.AuditStore) {
	ctx := t.Context()
	mustAppend(t, s, newAuditBatch("before", 2), 2)
	b := &cordon.AuditBatch{Key: "tok-1/k1", Digest: batchDigest("one"), At: at(0)}
	first := newAuditBatch("one", 3)
	got, appended, err := s.AppendAuditBatch(ctx, b, first, at(-time.Hour))
	if err != nil || !appended {
		t.Fatalf("AppendAuditBatch of a new key: appended %v, %v; want true, nil", appended, err)
	}
	want := cordon.AuditBatch{Key: "tok-1/k1", Digest: batchDigest("one"), First: 2, Count: 3, Size: 5, At: at(0)}
	if !sameBatch(*got, want) {
		t.Fatalf("AppendAuditBatch of a new key: got %+v, want %+v", *got, want)
	}
	for i, e := range first {
		if e.Index != uint64(2+i) {
			t.Errorf("entry %d: Index %d, want %d", i, e.Index, 2+i)
		}
	}
	mustAppend(t, s, newAuditBatch("after", 1), 6)

	// The same key again, even with other entries (a retry whose events
	// got a later time): nothing appended, the first batch returned.
	again := newAuditBatch("retry", 3)
	got, appended, err = s.AppendAuditBatch(ctx, &cordon.AuditBatch{Key: "tok-1/k1", Digest: batchDigest("other"), At: at(time.Minute)}, again, at(-time.Hour))
	if err != nil || appended {
		t.Fatalf("AppendAuditBatch of a known key: appended %v, %v; want false, nil", appended, err)
	}
	if !sameBatch(*got, want) {
		t.Errorf("AppendAuditBatch of a known key: got %+v, want the first batch %+v", *got, want)
	}
	for i, e := range again {
		if e.Index != 0 {
			t.Errorf("entry %d of a replayed batch: Index set to %d, want untouched", i, e.Index)
		}
	}
	checkSize(t, s, 6)

	// Another key appends.
	got, appended, err = s.AppendAuditBatch(ctx, &cordon.AuditBatch{Key: "tok-2/k1", Digest: batchDigest("one"), At: at(time.Minute)}, newAuditBatch("two", 1), at(-time.Hour))
	if err != nil || !appended || got.First != 6 || got.Size != 7 || got.Count != 1 {
		t.Errorf("AppendAuditBatch of another key: got %+v, %v; want first 6, size 7", got, err)
	}
	checkSize(t, s, 7)
}

func testAuditBatchForgotten(t *testing.T, s cordon.AuditStore) {
	ctx := t.Context()
	b := &cordon.AuditBatch{Key: "k", Digest: batchDigest("a"), At: at(0)}
	if _, _, err := s.AppendAuditBatch(ctx, b, newAuditBatch("a", 2), at(-time.Hour)); err != nil {
		t.Fatalf("AppendAuditBatch: %v", err)
	}
	// Remembered while forgetBefore is at or before its time.
	if got, appended, err := s.AppendAuditBatch(ctx, &cordon.AuditBatch{Key: "k", Digest: batchDigest("a"), At: at(time.Hour)}, newAuditBatch("a", 2), at(0)); err != nil || appended || got.Size != 2 {
		t.Fatalf("AppendAuditBatch within the window: got %+v, %v; want the first batch", got, err)
	}
	// Forgotten once forgetBefore passes it: the key appends again.
	got, appended, err := s.AppendAuditBatch(ctx, &cordon.AuditBatch{Key: "k", Digest: batchDigest("a"), At: at(2 * time.Hour)}, newAuditBatch("a", 2), at(time.Microsecond))
	if err != nil || !appended || got.First != 2 || got.Size != 4 || !got.At.Equal(at(2*time.Hour)) {
		t.Errorf("AppendAuditBatch after the window: got %+v, %v; want a new batch at 2", got, err)
	}
	checkSize(t, s, 4)
}

func testAuditBatchInvalid(t *testing.T, s cordon.AuditStore) {
	ctx := t.Context()
	good := func() *cordon.AuditBatch { return &cordon.AuditBatch{Key: "k", Digest: batchDigest("a"), At: at(0)} }
	bad := []struct {
		name    string
		b       *cordon.AuditBatch
		entries []*cordon.AuditEntry
	}{
		{"no batch", nil, newAuditBatch("a", 1)},
		{"no key", &cordon.AuditBatch{Digest: batchDigest("a"), At: at(0)}, newAuditBatch("a", 1)},
		{"short digest", &cordon.AuditBatch{Key: "k", Digest: []byte("x"), At: at(0)}, newAuditBatch("a", 1)},
		{"no time", &cordon.AuditBatch{Key: "k", Digest: batchDigest("a")}, newAuditBatch("a", 1)},
		{"no entries", good(), nil},
		{"entry without leaf", good(), []*cordon.AuditEntry{{Principal: "svc", Subject: "u", Time: at(0)}}},
	}
	for _, tc := range bad {
		if got, _, err := s.AppendAuditBatch(ctx, tc.b, tc.entries, at(-time.Hour)); err == nil {
			t.Errorf("AppendAuditBatch with %s: got %+v, nil; want an error", tc.name, got)
		}
	}
	checkSize(t, s, 0)
	// A refused batch is not remembered: its key still appends.
	if got, appended, err := s.AppendAuditBatch(ctx, good(), newAuditBatch("a", 1), at(-time.Hour)); err != nil || !appended || got.Size != 1 {
		t.Errorf("AppendAuditBatch after refusals: got %+v, %v; want size 1", got, err)
	}
}

func testAuditBatchRace(t *testing.T, s cordon.AuditStore) {
	const n, per = 12, 20
	ctx := t.Context()
	got := make([]*cordon.AuditBatch, n)
	appended := make([]bool, n)
	errs := race(n, func(i int) error {
		b := &cordon.AuditBatch{Key: "same", Digest: batchDigest("same"), At: at(time.Duration(i) * time.Millisecond)}
		var err error
		got[i], appended[i], err = s.AppendAuditBatch(ctx, b, newAuditBatch(fmt.Sprintf("r%02d", i), per), at(-time.Hour))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AppendAuditBatch %d: %v", i, err)
		}
	}
	checkSize(t, s, per)
	if n := len(slices.DeleteFunc(slices.Clone(appended), func(a bool) bool { return !a })); n != 1 {
		t.Errorf("%d of %d concurrent calls with one key say they appended, want 1", n, len(appended))
	}
	for i, b := range got {
		if b.First != 0 || b.Count != per || b.Size != per || !b.At.Equal(got[0].At) {
			t.Errorf("call %d: got %+v; every call answers with the one batch appended (%+v)", i, b, got[0])
		}
	}
}

package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// testLog returns n leaf encodings and a checkpoint signed at each size in
// sizes, as the server would have produced them.
func testLog(t testing.TB, k testKey, n int, sizes []int) ([][]byte, []Checkpoint) {
	t.Helper()
	leaves := make([][]byte, n)
	tr := NewTree()
	var cps []Checkpoint
	sign := func() {
		if slices.Contains(sizes, int(tr.Size())) {
			b, err := SignCheckpoint(testOrigin, tr.Size(), tr.Root(), k.signer)
			if err != nil {
				t.Fatal(err)
			}
			cps = append(cps, Checkpoint{Origin: testOrigin, Note: b})
		}
	}
	for i := range leaves {
		sign()
		e := validEvent()
		e.Time = now.Add(time.Duration(i) * time.Second)
		e.Subject = fmt.Sprintf("user%d", i)
		leaves[i] = Leaf(e)
		tr.Append(LeafHash(leaves[i]))
	}
	sign()
	return leaves, cps
}

func reader(leaves [][]byte) func(uint64) ([]byte, error) {
	return func(i uint64) ([]byte, error) { return leaves[i], nil }
}

func every(from, to, step int) []int {
	var s []int
	for i := from; i <= to; i += step {
		s = append(s, i)
	}
	return s
}

func TestVerifyIntact(t *testing.T) {
	k := newTestKey(t, testOrigin)
	leaves, cps := testLog(t, k, 12, every(0, 12, 1))
	rep, err := Verify(reader(leaves), 12, cps, k.verifiers)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	tr := NewTree()
	for _, l := range leaves {
		tr.Append(LeafHash(l))
	}
	if rep.Entries != 12 || rep.Proven != 12 || rep.Checkpoints != 13 || !bytes.Equal(rep.Root, tr.Root()) {
		t.Errorf("Report: got %+v", rep)
	}
}

func TestVerifyUncheckpointedTail(t *testing.T) {
	k := newTestKey(t, testOrigin)
	leaves, cps := testLog(t, k, 12, []int{4, 8})
	rep, err := Verify(reader(leaves), 12, cps, k.verifiers)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Proven != 8 || rep.Entries != 12 {
		t.Errorf("Report: got %+v, want Proven 8 Entries 12", rep)
	}
}

func TestVerifyEmpty(t *testing.T) {
	k := newTestKey(t, testOrigin)
	if _, err := Verify(reader(nil), 0, nil, k.verifiers); err != nil {
		t.Errorf("empty log, no checkpoints: %v", err)
	}
	leaves, _ := testLog(t, k, 3, nil)
	if _, err := Verify(reader(leaves), 3, nil, k.verifiers); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("entries without checkpoints: got %v, want ErrNoCheckpoint", err)
	}
}

func TestVerifyTampered(t *testing.T) {
	const n = 12
	tests := []struct {
		name       string
		sizes      []int
		tamper     func(l [][]byte) [][]byte
		index, end uint64
	}{
		{"edit", every(0, n, 1), func(l [][]byte) [][]byte {
			l[5] = bytes.Replace(l[5], []byte("user5"), []byte("user9"), 1)
			return l
		}, 5, 6},
		{"edit first", every(0, n, 1), func(l [][]byte) [][]byte { l[0] = append([]byte(nil), l[1]...); return l }, 0, 1},
		{"delete", every(0, n, 1), func(l [][]byte) [][]byte { return slices.Delete(l, 5, 6) }, 5, 6},
		{"reorder", every(0, n, 1), func(l [][]byte) [][]byte { l[5], l[8] = l[8], l[5]; return l }, 5, 6},
		{"truncate", every(0, n, 1), func(l [][]byte) [][]byte { return l[:9] }, 9, 10},
		{"delete last", every(0, n, 1), func(l [][]byte) [][]byte { return l[:n-1] }, n - 1, n},
		{"insert", every(0, n, 1), func(l [][]byte) [][]byte { return slices.Insert(l, 3, l[7]) }, 3, 4},
		{"edit sparse", every(0, n, 4), func(l [][]byte) [][]byte { l[6] = l[7]; return l }, 4, 8},
		{"truncate sparse", every(4, n, 4), func(l [][]byte) [][]byte { return l[:10] }, 10, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newTestKey(t, testOrigin)
			leaves, cps := testLog(t, k, n, tt.sizes)
			// Checkpoints in any order; the error must still name the earliest.
			slices.Reverse(cps)
			bad := tt.tamper(leaves)
			_, err := Verify(reader(bad), uint64(len(bad)), cps, k.verifiers)
			var te *TamperError
			if !errors.As(err, &te) {
				t.Fatalf("Verify: got %v, want *TamperError", err)
			}
			if te.Index != tt.index || te.End != tt.end {
				t.Errorf("Verify: got first bad in [%d, %d), want [%d, %d): %v", te.Index, te.End, tt.index, tt.end, te)
			}
		})
	}
}

func TestVerifyBadCheckpoint(t *testing.T) {
	k := newTestKey(t, testOrigin)
	leaves, cps := testLog(t, k, 5, []int{2, 5})
	forger := newTestKey(t, testOrigin)
	_, forged := testLog(t, forger, 5, []int{5})
	_, err := Verify(reader(leaves), 5, append(cps, forged...), k.verifiers)
	var te *TamperError
	if err == nil || errors.As(err, &te) {
		t.Errorf("forged checkpoint: got %v, want a signature error", err)
	}
	cps[0].Origin = "other"
	if _, err := Verify(reader(leaves), 5, cps, k.verifiers); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("wrong origin: got %v, want ErrBadCheckpoint", err)
	}
}

func TestVerifyReadError(t *testing.T) {
	k := newTestKey(t, testOrigin)
	leaves, cps := testLog(t, k, 5, []int{5})
	boom := errors.New("disk on fire")
	read := func(i uint64) ([]byte, error) {
		if i == 3 {
			return nil, boom
		}
		return leaves[i], nil
	}
	rep, err := Verify(read, 5, cps, k.verifiers)
	if !errors.Is(err, boom) || rep.Entries != 3 {
		t.Errorf("Verify: got %+v %v, want Entries 3 and the read error", rep, err)
	}
}

// stored returns the log as a store would hand it out.
func stored(leaves [][]byte) []StoredEntry {
	es := make([]StoredEntry, len(leaves))
	for i, l := range leaves {
		e, _ := ParseLeaf(l)
		es[i] = StoredEntry{Index: uint64(i), Leaf: l, LeafHash: LeafHash(l),
			Indexed: &Event{Time: e.Time.Truncate(time.Microsecond), Principal: e.Principal, Action: e.Action, Subject: e.Subject, Categories: e.Categories}}
	}
	return es
}

func feed(es []StoredEntry) func() (StoredEntry, error) {
	i := 0
	return func() (StoredEntry, error) {
		if i == len(es) {
			return StoredEntry{}, io.EOF
		}
		i++
		return es[i-1], nil
	}
}

// TestVerifyLog runs VerifyLog over a log long enough for several batches
// of its pipeline, damaged at batch edges and inside them.
func TestVerifyLog(t *testing.T) {
	const n = 10_000
	k := newTestKey(t, testOrigin)
	leaves, cps := testLog(t, k, n, every(0, n, 1000))
	var seen []uint64
	rep, err := VerifyLog(feed(stored(leaves)), n, cps, k.verifiers, func(done uint64) { seen = append(seen, done) })
	if err != nil || rep.Entries != n || rep.Proven != n {
		t.Fatalf("VerifyLog of an intact log: %+v, %v", rep, err)
	}
	if len(seen) == 0 || seen[len(seen)-1] != n {
		t.Errorf("progress: %v, want it to end at %d", seen, n)
	}
	for _, tc := range []struct {
		name   string
		damage func(es []StoredEntry) []StoredEntry
		index  uint64
		proven uint64
		reason string
	}{
		{"missing at a batch edge", func(es []StoredEntry) []StoredEntry { return slices.Delete(es, 4096, 4097) }, 4096, 4000, "entry missing"},
		{"hash edited", func(es []StoredEntry) []StoredEntry { es[8191].LeafHash = LeafHash([]byte("x")); return es }, 8191, 8000, "stored leaf hash"},
		{"columns edited", func(es []StoredEntry) []StoredEntry { es[2].Indexed.Subject = "someone"; return es }, 2, 0, "columns"},
		{"out of order", func(es []StoredEntry) []StoredEntry { es[5000], es[5001] = es[5001], es[5000]; return es }, 5000, 5000, "entry missing"},
		{"repeated", func(es []StoredEntry) []StoredEntry { es[6001] = es[6000]; return es }, 6001, 6000, "out of order"},
		{"truncated", func(es []StoredEntry) []StoredEntry { return es[:9500] }, 9500, 9000, "truncated"},
		{"not canonical", func(es []StoredEntry) []StoredEntry {
			es[7].Leaf = append([]byte(" "), es[7].Leaf...)
			es[7].LeafHash = LeafHash(es[7].Leaf)
			return es
		}, 7, 0, "not a canonical event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyLog(feed(tc.damage(stored(leaves))), n, cps, k.verifiers, nil)
			var te *TamperError
			if !errors.As(err, &te) || te.Index != tc.index || te.Proven != tc.proven || !strings.Contains(te.Reason, tc.reason) {
				t.Fatalf("got %v (%+v), want entry %d, %d proven, %q", err, te, tc.index, tc.proven, tc.reason)
			}
		})
	}
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("connection reset")
		es := stored(leaves)
		i := 0
		_, err := VerifyLog(func() (StoredEntry, error) {
			if i == 6000 {
				return StoredEntry{}, boom
			}
			i++
			return es[i-1], nil
		}, n, cps, k.verifiers, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want the read error", err)
		}
	})
}

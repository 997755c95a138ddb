package audit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
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

package audit

import (
	"encoding/binary"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	leaf := Leaf(validEvent())
	tr := NewTree()
	b.ReportAllocs()
	for b.Loop() {
		tr.Append(LeafHash(leaf))
	}
}

// BenchmarkVerify1M recomputes a 1M-entry log of realistic leaf encodings
// against one checkpoint at its end: what `cordon audit verify` costs per
// million entries, storage reads aside.
func BenchmarkVerify1M(b *testing.B) {
	const n = 1 << 20
	k := newTestKey(b, testOrigin)
	base := Leaf(validEvent())
	leaves := make([][]byte, n)
	tr := NewTree()
	for i := range leaves {
		l := make([]byte, len(base)+8)
		copy(l, base)
		binary.BigEndian.PutUint64(l[len(base):], uint64(i))
		leaves[i] = l
		tr.Append(LeafHash(l))
	}
	cp, err := SignCheckpoint(testOrigin, n, tr.Root(), k.signer)
	if err != nil {
		b.Fatal(err)
	}
	cps := []Checkpoint{{Origin: testOrigin, Note: cp}}
	read := reader(leaves)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(read, n, cps, k.verifiers); err != nil {
			b.Fatal(err)
		}
	}
}

package audit

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
)

// The RFC 6962 test vectors used by Certificate Transparency implementations.
var (
	vectorLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	vectorRoots  = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTreeVectors(t *testing.T) {
	tr := NewTree()
	if got := hex.EncodeToString(tr.Root()); got != vectorRoots[0] {
		t.Fatalf("empty root: got %s, want %s", got, vectorRoots[0])
	}
	for i, l := range vectorLeaves {
		tr.Append(LeafHash(unhex(t, l)))
		if tr.Size() != uint64(i+1) {
			t.Fatalf("Size: got %d, want %d", tr.Size(), i+1)
		}
		if got := hex.EncodeToString(tr.Root()); got != vectorRoots[i+1] {
			t.Errorf("root at size %d: got %s, want %s", i+1, got, vectorRoots[i+1])
		}
	}
}

// naiveRoot is RFC 6962 §2.1's MTH, written straight from the definition.
func naiveRoot(hs [][]byte) []byte {
	h := rfc6962.DefaultHasher
	switch len(hs) {
	case 0:
		return h.EmptyRoot()
	case 1:
		return hs[0]
	}
	k := 1
	for k*2 < len(hs) {
		k *= 2
	}
	return h.HashChildren(naiveRoot(hs[:k]), naiveRoot(hs[k:]))
}

func leafHashes(n int) [][]byte {
	hs := make([][]byte, n)
	for i := range hs {
		hs[i] = LeafHash([]byte{byte(i), byte(i >> 8), 'x'})
	}
	return hs
}

func TestTreeMatchesNaive(t *testing.T) {
	hs := leafHashes(130)
	tr := NewTree()
	for i := 0; i <= len(hs); i++ {
		if want := naiveRoot(hs[:i]); !bytes.Equal(tr.Root(), want) {
			t.Fatalf("root at size %d: got %x, want %x", i, tr.Root(), want)
		}
		if i < len(hs) {
			tr.Append(hs[i])
		}
	}
}

func TestAppendPanicsOnBadHash(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Append of a 3-byte hash did not panic")
		}
	}()
	NewTree().Append([]byte("abc"))
}

func flip(p [][]byte, i int) [][]byte {
	q := make([][]byte, len(p))
	for j := range p {
		q[j] = bytes.Clone(p[j])
	}
	q[i][0] ^= 1
	return q
}

func TestInclusionProofs(t *testing.T) {
	const max = 20
	hs := leafHashes(max)
	get := func(i uint64) []byte { return hs[i] }
	for size := uint64(1); size <= max; size++ {
		root := naiveRoot(hs[:size])
		for index := range size {
			p, err := InclusionProof(get, index, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", index, size, err)
			}
			if err := VerifyInclusion(hs[index], index, size, p, root); err != nil {
				t.Errorf("VerifyInclusion(%d, %d): %v", index, size, err)
			}
			for i := range p {
				if VerifyInclusion(hs[index], index, size, flip(p, i), root) == nil {
					t.Errorf("(%d, %d): proof with element %d flipped verified", index, size, i)
				}
			}
			if len(p) > 0 && VerifyInclusion(hs[index], index, size, p[:len(p)-1], root) == nil {
				t.Errorf("(%d, %d): shortened proof verified", index, size)
			}
			other := hs[(index+1)%size]
			if size > 1 && VerifyInclusion(other, index, size, p, root) == nil {
				t.Errorf("(%d, %d): proof verified another leaf", index, size)
			}
			if VerifyInclusion(hs[index], index, size, p, LeafHash([]byte("root"))) == nil {
				t.Errorf("(%d, %d): proof verified against a wrong root", index, size)
			}
		}
	}
	if _, err := InclusionProof(get, 5, 5); err == nil {
		t.Error("InclusionProof(5, 5): got nil error")
	}
}

func TestConsistencyProofs(t *testing.T) {
	const max = 20
	hs := leafHashes(max)
	get := func(i uint64) []byte { return hs[i] }
	for size2 := uint64(0); size2 <= max; size2++ {
		root2 := naiveRoot(hs[:size2])
		for size1 := uint64(0); size1 <= size2; size1++ {
			root1 := naiveRoot(hs[:size1])
			p, err := ConsistencyProof(get, size1, size2)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", size1, size2, err)
			}
			if err := VerifyConsistency(size1, size2, p, root1, root2); err != nil {
				t.Errorf("VerifyConsistency(%d, %d): %v", size1, size2, err)
			}
			for i := range p {
				if VerifyConsistency(size1, size2, flip(p, i), root1, root2) == nil {
					t.Errorf("(%d, %d): proof with element %d flipped verified", size1, size2, i)
				}
			}
			if size1 > 0 && size1 < size2 {
				if VerifyConsistency(size1, size2, p, naiveRoot(hs[1:size1+1]), root2) == nil {
					t.Errorf("(%d, %d): proof verified a forked old root", size1, size2)
				}
			}
		}
	}
	if _, err := ConsistencyProof(get, 6, 5); err == nil {
		t.Error("ConsistencyProof(6, 5): got nil error")
	}
}

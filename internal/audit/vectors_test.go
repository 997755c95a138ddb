package audit

// The inclusion and consistency vectors and the corruption probes below are
// transparency-dev/merkle's own (proof/verify_test.go, Apache 2.0), run here
// through cordon's path: proofs built by InclusionProof/ConsistencyProof
// from leaf hashes, checked by VerifyInclusion/VerifyConsistency. A good
// proof must verify and every corrupted one must fail.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"
)

func vh(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	tdSomeHash  = vh("abacaba000000000000000000000000000000000000000000060061e00123456")
	tdEmptyRoot = vh("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	tdLeaves    = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	tdRoots     = []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	tdInclusion = []struct {
		leaf, size uint64 // leaf is 1-based, as in the source
		proof      []string
	}{
		{1, 1, nil},
		{1, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
		{6, 8, []string{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
		{3, 3, []string{"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
		{2, 5, []string{"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
	}
	tdConsistency = []struct {
		size1, size2 uint64
		proof        []string
	}{
		{1, 1, nil},
		{1, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
		{6, 8, []string{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
		{2, 5, []string{"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
		{6, 7, []string{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	}
)

func hexes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = vh(s)
	}
	return out
}

func tdLeafHashes() [][]byte {
	out := make([][]byte, len(tdLeaves))
	for i, l := range tdLeaves {
		out[i] = LeafHash(vh(l))
	}
	return out
}

func sameProof(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func withExtra(p [][]byte, front bool, h ...[]byte) [][]byte {
	if front {
		return append(append([][]byte{}, h...), p...)
	}
	return append(append([][]byte{}, p...), h...)
}

func TestTransparencyDevInclusionVectors(t *testing.T) {
	hs := tdLeafHashes()
	for _, v := range tdInclusion {
		t.Run(fmt.Sprintf("leaf%d/size%d", v.leaf, v.size), func(t *testing.T) {
			index, want := v.leaf-1, hexes(v.proof)
			got, err := InclusionProof(func(i uint64) []byte { return hs[i] }, index, v.size)
			if err != nil || !sameProof(got, want) {
				t.Fatalf("InclusionProof: got %x, %v; want the vector's %x", got, err, want)
			}
			root, leaf := vh(tdRoots[v.size-1]), hs[index]
			if err := VerifyInclusion(leaf, index, v.size, want, root); err != nil {
				t.Fatalf("the vector's proof does not verify: %v", err)
			}
			probes := []struct {
				desc        string
				index, size uint64
				leaf, root  []byte
				proof       [][]byte
			}{
				{"index - 1", index - 1, v.size, leaf, root, want},
				{"index + 1", index + 1, v.size, leaf, root, want},
				{"index ^ 2", index ^ 2, v.size, leaf, root, want},
				{"size * 2", index, v.size * 2, leaf, root, want},
				{"size / 2", index, v.size / 2, leaf, root, want},
				{"wrong leaf", index, v.size, []byte("WrongLeaf"), root, want},
				{"empty root", index, v.size, leaf, tdEmptyRoot, want},
				{"random root", index, v.size, leaf, tdSomeHash, want},
				{"trailing garbage", index, v.size, leaf, root, withExtra(want, false, []byte{})},
				{"trailing root", index, v.size, leaf, root, withExtra(want, false, root)},
				{"preceding garbage", index, v.size, leaf, root, withExtra(want, true, []byte{})},
				{"preceding root", index, v.size, leaf, root, withExtra(want, true, root)},
			}
			for i := range want {
				bad := withExtra(want, false)
				bad[i] = append([]byte(nil), bad[i]...)
				bad[i][0] ^= 8
				probes = append(probes, struct {
					desc        string
					index, size uint64
					leaf, root  []byte
					proof       [][]byte
				}{fmt.Sprintf("proof[%d] bit 3 flipped", i), index, v.size, leaf, root, bad})
			}
			if n := len(want); n > 0 {
				probes = append(probes, struct {
					desc        string
					index, size uint64
					leaf, root  []byte
					proof       [][]byte
				}{"removed component", index, v.size, leaf, root, want[:n-1]})
			}
			for _, p := range probes {
				if err := VerifyInclusion(p.leaf, p.index, p.size, p.proof, p.root); err == nil {
					t.Errorf("%s: a corrupted inclusion proof verified", p.desc)
				}
			}
		})
	}
}

func TestTransparencyDevConsistencyVectors(t *testing.T) {
	hs := tdLeafHashes()
	for _, v := range tdConsistency {
		t.Run(fmt.Sprintf("%d-%d", v.size1, v.size2), func(t *testing.T) {
			want := hexes(v.proof)
			got, err := ConsistencyProof(func(i uint64) []byte { return hs[i] }, v.size1, v.size2)
			if err != nil || !sameProof(got, want) {
				t.Fatalf("ConsistencyProof: got %x, %v; want the vector's %x", got, err, want)
			}
			r1, r2 := vh(tdRoots[v.size1-1]), vh(tdRoots[v.size2-1])
			if err := VerifyConsistency(v.size1, v.size2, want, r1, r2); err != nil {
				t.Fatalf("the vector's proof does not verify: %v", err)
			}
			if len(want) == 0 {
				return
			}
			type probe struct {
				desc         string
				size1, size2 uint64
				r1, r2       []byte
				proof        [][]byte
			}
			probes := []probe{
				{"size1 - 1", v.size1 - 1, v.size2, r1, r2, want},
				{"size1 + 1", v.size1 + 1, v.size2, r1, r2, want},
				{"size1 ^ 2", v.size1 ^ 2, v.size2, r1, r2, want},
				{"size2 * 2", v.size1, v.size2 * 2, r1, r2, want},
				{"size2 / 2", v.size1, v.size2 / 2, r1, r2, want},
				{"wrong root1", v.size1, v.size2, []byte("WrongRoot"), r2, want},
				{"wrong root2", v.size1, v.size2, r1, []byte("WrongRoot"), want},
				{"swapped roots", v.size1, v.size2, r2, r1, want},
				{"empty proof", v.size1, v.size2, r1, r2, [][]byte{}},
				{"trailing garbage", v.size1, v.size2, r1, r2, withExtra(want, false, []byte{})},
				{"trailing root1", v.size1, v.size2, r1, r2, withExtra(want, false, r1)},
				{"trailing root2", v.size1, v.size2, r1, r2, withExtra(want, false, r2)},
				{"preceding garbage", v.size1, v.size2, r1, r2, withExtra(want, true, []byte{})},
				{"preceding root1", v.size1, v.size2, r1, r2, withExtra(want, true, r1)},
				{"preceding root2", v.size1, v.size2, r1, r2, withExtra(want, true, r2)},
				{"preceding proof[0]", v.size1, v.size2, r1, r2, withExtra(want, true, want[0])},
				{"truncated proof", v.size1, v.size2, r1, r2, want[:len(want)-1]},
			}
			for i := range want {
				bad := withExtra(want, false)
				bad[i] = append([]byte(nil), bad[i]...)
				bad[i][0] ^= 16
				probes = append(probes, probe{fmt.Sprintf("proof[%d] bit 4 flipped", i), v.size1, v.size2, r1, r2, bad})
			}
			for _, p := range probes {
				if err := VerifyConsistency(p.size1, p.size2, p.proof, p.r1, p.r2); err == nil {
					t.Errorf("%s: a corrupted consistency proof verified", p.desc)
				}
			}
		})
	}
}

// The source's edge cases for sizes that need no proof, and those that
// must never verify.
func TestTransparencyDevConsistencyEdges(t *testing.T) {
	r1, r2 := []byte("don't care 1"), []byte("don't care 2")
	for i, tc := range []struct {
		size1, size2 uint64
		root1, root2 []byte
		proof        [][]byte
		wantErr      bool
	}{
		{0, 0, r1, r2, nil, true},
		{1, 1, r1, r2, nil, true},
		{0, 0, r1, r1, nil, false},
		{0, 1, r1, r2, nil, false},
		{1, 1, r2, r2, nil, false},
		{1, 0, r1, r2, nil, true},
		{2, 1, r1, r2, nil, true},
		{1, 2, r1, r2, nil, true},
		{0, 0, tdEmptyRoot, r2, nil, true},
		{1, 1, tdEmptyRoot, r2, nil, true},
		{0, 0, tdEmptyRoot, tdEmptyRoot, [][]byte{tdEmptyRoot}, true},
		{0, 1, tdEmptyRoot, tdEmptyRoot, [][]byte{tdEmptyRoot}, true},
		{1, 1, tdEmptyRoot, tdEmptyRoot, [][]byte{tdEmptyRoot}, true},
	} {
		err := VerifyConsistency(tc.size1, tc.size2, tc.proof, tc.root1, tc.root2)
		if (err != nil) != tc.wantErr {
			t.Errorf("case %d (%d→%d): got %v, want error %v", i, tc.size1, tc.size2, err, tc.wantErr)
		}
	}
	for _, p := range []struct{ index, size uint64 }{{0, 0}, {0, 1}, {1, 0}, {2, 1}} {
		for _, c := range [][2][]byte{{tdSomeHash, {}}, {{}, tdEmptyRoot}, {tdSomeHash, tdEmptyRoot}} {
			if err := VerifyInclusion(c[0], p.index, p.size, nil, c[1]); err == nil {
				t.Errorf("inclusion %d in %d with leaf %x root %x verified", p.index, p.size, c[0], c[1])
			}
		}
	}
}

// FuzzParseLeaf: any bytes either parse to an event whose canonical leaf is
// exactly those bytes, or are refused.
func FuzzParseLeaf(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-29T10:00:00Z","principal":"svc","action":"read","subject":"alice","categories":["email","profile"],"purpose":"","source":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"time":"2026-11-29T10:00:00.5Z","principal":"a","action":"x","subject":"b","categories":null,"purpose":"","source":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseLeaf(b)
		if err != nil {
			return
		}
		if !bytes.Equal(Leaf(e), b) {
			t.Fatalf("ParseLeaf accepted non-canonical bytes %q", b)
		}
	})
}

package audit

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// hasher is RFC 6962's SHA-256 tree hasher; it is stateless.
var hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// HashSize is the size of leaf, node and root hashes.
const HashSize = 32

// LeafHash returns the RFC 6962 leaf hash of an encoded leaf (see Leaf).
func LeafHash(leaf []byte) []byte { return hasher.HashLeaf(leaf) }

// EmptyRoot is the root of the tree with no leaves: SHA-256 of nothing.
func EmptyRoot() []byte { return hasher.EmptyRoot() }

// Tree is an append-only RFC 6962 Merkle tree that keeps only its compact
// range (at most 64 hashes), enough to append and to give the root; proofs
// need the leaf hashes, which storage keeps. The zero Tree is not usable;
// call NewTree. A Tree is not safe for concurrent use.
type Tree struct {
	r *compact.Range
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	return &Tree{r: rangeFactory.NewEmptyRange(0)}
}

// Append adds a leaf hash (from LeafHash) as the next leaf. It panics when
// leafHash is not HashSize bytes, which is a programming error.
func (t *Tree) Append(leafHash []byte) {
	if len(leafHash) != HashSize {
		panic(fmt.Sprintf("audit: leaf hash of %d bytes", len(leafHash)))
	}
	if err := t.r.Append(leafHash, nil); err != nil {
		panic("audit: appending to compact range: " + err.Error())
	}
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return t.r.End() }

// Root returns the tree's root hash; for the empty tree, EmptyRoot.
func (t *Tree) Root() []byte {
	if t.r.End() == 0 {
		return EmptyRoot()
	}
	root, err := t.r.GetRootHash(nil)
	if err != nil {
		panic("audit: computing root: " + err.Error())
	}
	return root
}

// InclusionProof returns the RFC 6962 proof that leaf index is in the tree of
// the given size. hashes(i) must return the hash of leaf i for every i < size;
// the proof package names the nodes needed and each is recomputed from the
// leaves under it, so the cost is O(size) hashes.
func InclusionProof(hashes func(i uint64) []byte, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("audit: inclusion proof: %w", err)
	}
	return rehash(hashes, nodes)
}

// ConsistencyProof returns the RFC 6962 proof that the tree of size1 is a
// prefix of the tree of size2, with hashes as for InclusionProof (i < size2).
func ConsistencyProof(hashes func(i uint64) []byte, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: %w", err)
	}
	return rehash(hashes, nodes)
}

func rehash(hashes func(i uint64) []byte, nodes proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := nodeHash(hashes, id)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	p, err := nodes.Rehash(hs, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("audit: building proof: %w", err)
	}
	return p, nil
}

// nodeHash computes the hash of a perfect subtree from the leaves it covers.
func nodeHash(hashes func(i uint64) []byte, id compact.NodeID) ([]byte, error) {
	begin, end := id.Coverage()
	r := rangeFactory.NewEmptyRange(begin)
	for i := begin; i < end; i++ {
		h := hashes(i)
		if len(h) != HashSize {
			return nil, fmt.Errorf("audit: leaf %d: hash of %d bytes", i, len(h))
		}
		if err := r.Append(h, nil); err != nil {
			return nil, fmt.Errorf("audit: node %d/%d: %w", id.Level, id.Index, err)
		}
	}
	hs := r.Hashes()
	if len(hs) != 1 {
		return nil, fmt.Errorf("audit: node %d/%d is not a perfect subtree", id.Level, id.Index)
	}
	return hs[0], nil
}

// VerifyInclusion checks an inclusion proof of leafHash at index against the
// root of the tree of the given size.
func VerifyInclusion(leafHash []byte, index, size uint64, p [][]byte, root []byte) error {
	return proof.VerifyInclusion(hasher, index, size, leafHash, p, root)
}

// VerifyConsistency checks a consistency proof between two signed roots.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return proof.VerifyConsistency(hasher, size1, size2, p, root1, root2)
}

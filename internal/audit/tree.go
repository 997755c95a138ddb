package audit

import (
	"fmt"
	"slices"

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
func (t *Tree) Append(leafHash []byte) { t.AppendVisit(leafHash, nil) }

// AppendVisit is Append that also calls visit for every perfect subtree
// the leaf completes (the leaf itself at level 0, then its parents), so a
// caller can keep interior nodes for proofs. visit may be nil.
func (t *Tree) AppendVisit(leafHash []byte, visit func(level uint, index uint64, hash []byte)) {
	if len(leafHash) != HashSize {
		panic(fmt.Sprintf("audit: leaf hash of %d bytes", len(leafHash)))
	}
	var v compact.VisitFn
	if visit != nil {
		v = func(id compact.NodeID, hash []byte) { visit(id.Level, id.Index, hash) }
	}
	if err := t.r.Append(leafHash, v); err != nil {
		panic("audit: appending to compact range: " + err.Error())
	}
}

// NodeFunc returns the hash of the perfect subtree over leaves
// [index<<level, (index+1)<<level).
type NodeFunc func(level uint, index uint64) ([]byte, error)

// TreeAt rebuilds the tree of the given size from the hashes of the
// perfect subtrees it decomposes into (at most 64), so a log can resume
// appending without rereading its leaves.
func TreeAt(size uint64, node NodeFunc) (*Tree, error) {
	ids := compact.RangeNodes(0, size, nil)
	hs := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := node(id.Level, id.Index)
		if err != nil {
			return nil, fmt.Errorf("audit: node %d/%d: %w", id.Level, id.Index, err)
		}
		if len(h) != HashSize {
			return nil, fmt.Errorf("audit: node %d/%d: hash of %d bytes", id.Level, id.Index, len(h))
		}
		hs[i] = h
	}
	r, err := rangeFactory.NewRange(0, size, hs)
	if err != nil {
		return nil, fmt.Errorf("audit: rebuilding tree: %w", err)
	}
	return &Tree{r: r}, nil
}

// HashChildren is RFC 6962's interior node hash.
func HashChildren(left, right []byte) []byte { return hasher.HashChildren(left, right) }

// SubtreeRoot returns the root of a perfect subtree from its leaf hashes,
// whose number must be a power of two.
func SubtreeRoot(leafHashes [][]byte) ([]byte, error) {
	n := uint64(len(leafHashes))
	if n == 0 || n&(n-1) != 0 {
		return nil, fmt.Errorf("audit: %d leaves is not a perfect subtree", n)
	}
	r := rangeFactory.NewEmptyRange(0)
	for i, h := range leafHashes {
		if len(h) != HashSize {
			return nil, fmt.Errorf("audit: leaf %d: hash of %d bytes", i, len(h))
		}
		if err := r.Append(h, nil); err != nil {
			return nil, err
		}
	}
	return r.Hashes()[0], nil
}

// InclusionProofFrom is InclusionProof with node hashes from node, which
// is asked only for perfect subtrees inside the tree of the given size.
func InclusionProofFrom(node NodeFunc, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("audit: inclusion proof: %w", err)
	}
	return rehashFrom(node, nodes)
}

// ConsistencyProofFrom is ConsistencyProof with node hashes from node.
func ConsistencyProofFrom(node NodeFunc, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: %w", err)
	}
	return rehashFrom(node, nodes)
}

func rehashFrom(node NodeFunc, nodes proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := node(id.Level, id.Index)
		if err != nil {
			return nil, fmt.Errorf("audit: node %d/%d: %w", id.Level, id.Index, err)
		}
		hs[i] = h
	}
	p, err := nodes.Rehash(hs, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("audit: building proof: %w", err)
	}
	return p, nil
}

// Clone returns an independent copy of t.
func (t *Tree) Clone() *Tree {
	hs := t.r.Hashes()
	cp := make([][]byte, len(hs))
	for i, h := range hs {
		cp[i] = slices.Clone(h)
	}
	r, err := rangeFactory.NewRange(t.r.Begin(), t.r.End(), cp)
	if err != nil {
		panic("audit: cloning compact range: " + err.Error())
	}
	return &Tree{r: r}
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
// every node is recomputed from the leaves under it, so the cost is O(size)
// hashes. InclusionProofFrom takes stored nodes instead.
func InclusionProof(hashes func(i uint64) []byte, index, size uint64) ([][]byte, error) {
	return InclusionProofFrom(LeafNodes(hashes), index, size)
}

// ConsistencyProof returns the RFC 6962 proof that the tree of size1 is a
// prefix of the tree of size2, with hashes as for InclusionProof (i < size2).
func ConsistencyProof(hashes func(i uint64) []byte, size1, size2 uint64) ([][]byte, error) {
	return ConsistencyProofFrom(LeafNodes(hashes), size1, size2)
}

// LeafNodes returns a NodeFunc that computes each node from the leaf
// hashes under it.
func LeafNodes(hashes func(i uint64) []byte) NodeFunc {
	return func(level uint, index uint64) ([]byte, error) {
		id := compact.NewNodeID(level, index)
		begin, end := id.Coverage()
		hs := make([][]byte, 0, end-begin)
		for i := begin; i < end; i++ {
			hs = append(hs, hashes(i))
		}
		return SubtreeRoot(hs)
	}
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

package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
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

// bigLogSize is the size of the log the 10M verify benchmarks share, and
// bigLogEvery the grain of its checkpoints: the server's default Every.
const (
	bigLogSize  = 10_000_000
	bigLogEvery = 1000
)

// BenchmarkVerify10M recomputes a 10M-entry log of canonical leaves
// against a checkpoint every 1,000 entries (10,000 signed notes, each
// opened and compared): Verify's own cost, with the leaves in memory.
// Goal: a 10M-entry verify under 60 s. The baseline is
// BenchmarkSHA256Leaves10M.
func BenchmarkVerify10M(b *testing.B) {
	l := bigMemLog(b)
	var rep Report
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if rep, err = Verify(l.leaf, bigLogSize, l.cps, l.verifiers); err != nil {
			b.Fatalf("Verify: %v", err)
		}
	}
	l.check(b, rep)
	b.ReportMetric(float64(bigLogSize)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkVerifyLog10M is BenchmarkVerify10M through VerifyLog, as
// `cordon audit verify` runs it: each entry also has its stored leaf hash
// checked and its leaf parsed back into an event (ParseLeaf), which is
// most of the cost. What the CLI adds on top, reading the export over HTTP
// and decoding its JSON, is not measured.
func BenchmarkVerifyLog10M(b *testing.B) {
	l := bigMemLog(b)
	var rep Report
	b.ReportAllocs()
	for b.Loop() {
		var i uint64
		next := func() (StoredEntry, error) {
			if i == bigLogSize {
				return StoredEntry{}, io.EOF
			}
			e := StoredEntry{Index: i, Leaf: l.leafAt(i), LeafHash: l.hashAt(i)}
			i++
			return e, nil
		}
		var err error
		if rep, err = VerifyLog(next, bigLogSize, l.cps, l.verifiers, nil); err != nil {
			b.Fatalf("VerifyLog: %v", err)
		}
	}
	l.check(b, rep)
	b.ReportMetric(float64(bigLogSize)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkSHA256Leaves10M is plain SHA-256 over the same 10M leaves: the
// least any verifier must spend on them. Verify hashes each leaf once
// (with a prefix byte) and then about one interior node per leaf.
func BenchmarkSHA256Leaves10M(b *testing.B) {
	l := bigMemLog(b)
	var sink byte
	b.ReportAllocs()
	for b.Loop() {
		for i := range uint64(bigLogSize) {
			h := sha256.Sum256(l.leafAt(i))
			sink ^= h[0]
		}
	}
	_ = sink
	b.ReportMetric(float64(bigLogSize)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// memLog is a log held in memory: canonical leaves back to back in one
// allocation (ten million small ones would cost the collector more than
// the benchmarks measure), their leaf hashes, and signed checkpoints.
type memLog struct {
	arena     []byte
	ends      []int // leaf i is arena[ends[i-1]:ends[i]]
	hashes    []byte
	root      []byte
	cps       []Checkpoint
	verifiers note.Verifiers
}

func (l *memLog) leafAt(i uint64) []byte {
	start := 0
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.arena[start:l.ends[i]:l.ends[i]]
}

func (l *memLog) hashAt(i uint64) []byte {
	return l.hashes[i*HashSize : (i+1)*HashSize : (i+1)*HashSize]
}

func (l *memLog) leaf(i uint64) ([]byte, error) { return l.leafAt(i), nil }

// check fails b unless rep proves the whole log.
func (l *memLog) check(b *testing.B, rep Report) {
	b.Helper()
	if rep.Entries != bigLogSize || rep.Proven != bigLogSize || rep.Checkpoints != len(l.cps) || !bytes.Equal(rep.Root, l.root) {
		b.Fatalf("report = %d entries, %d proven, %d checkpoints; want all %d entries proven by %d", rep.Entries, rep.Proven, rep.Checkpoints, bigLogSize, len(l.cps))
	}
}

// bigLog is built once per process: about 20 s and 2 GiB, which -count
// would otherwise pay again for each run.
var bigLog struct {
	once sync.Once
	log  *memLog
}

// bigMemLog returns the shared 10M-entry log, building it the first time.
func bigMemLog(b *testing.B) *memLog {
	b.Helper()
	if testing.Short() {
		b.Skipf("builds a log of %d entries; skipped under -short", bigLogSize)
	}
	bigLog.once.Do(func() {
		start := time.Now()
		bigLog.log = buildMemLog(b, bigLogSize, bigLogEvery)
		// Collect the build's garbage now, not in the first timed run.
		runtime.GC()
		b.Logf("built a log of %d entries (%d MiB of leaves) and signed %d checkpoints in %v",
			bigLogSize, len(bigLog.log.arena)>>20, len(bigLog.log.cps), time.Since(start).Round(time.Millisecond))
	})
	if bigLog.log == nil {
		b.Fatal("building the log failed in an earlier benchmark")
	}
	return bigLog.log
}

// buildMemLog makes n canonical leaves of varied events (benchEvent) and
// signs a checkpoint every every entries.
func buildMemLog(b *testing.B, n, every int) *memLog {
	k := newTestKey(b, testOrigin)
	l := &memLog{arena: make([]byte, 0, n*200), ends: make([]int, n), hashes: make([]byte, 0, n*HashSize), verifiers: k.verifiers}
	tr := NewTree()
	for i := range n {
		leaf := Leaf(benchEvent(i, n))
		l.arena = append(l.arena, leaf...)
		l.ends[i] = len(l.arena)
		h := LeafHash(leaf)
		l.hashes = append(l.hashes, h...)
		tr.Append(h)
		if (i+1)%every == 0 || i+1 == n {
			note, err := SignCheckpoint(testOrigin, tr.Size(), tr.Root(), k.signer)
			if err != nil {
				b.Fatal(err)
			}
			l.cps = append(l.cps, Checkpoint{Origin: testOrigin, Note: note})
		}
	}
	l.root = tr.Root()
	return l
}

// benchEvent is the i-th of n events spread over the 30 days before now:
// 1,000 principals, 1M subjects, one to three categories, and the purpose
// and source fields a service fills in, so leaves have their real length
// (about 190 bytes).
func benchEvent(i, n int) Event {
	x := uint64(i)*0x9E3779B97F4A7C15 + 1 // a cheap, fixed shuffle
	x ^= x >> 29
	cats := DefaultCategories()
	c := int(x>>8) % len(cats)
	categories := []string{cats[c]}
	if x&1 == 0 {
		categories = append(categories, cats[(c+3)%len(cats)])
	}
	if x&6 == 0 {
		categories = append(categories, cats[(c+7)%len(cats)])
	}
	const window = 30 * 24 * time.Hour
	return Event{
		Time:       now.Add(-window + time.Duration(int64(window)/int64(n)*int64(i))),
		Principal:  "svc:service-" + strconv.FormatUint(x%1000, 10),
		Action:     [...]string{ActionRead, ActionRead, ActionRead, ActionWrite, ActionExport, ActionDelete}[x>>20%6],
		Subject:    "user" + strconv.FormatUint(x>>24%1_000_000, 10) + "@example.com",
		Categories: categories,
		Purpose:    "TICKET-" + strconv.FormatUint(x>>40%100_000, 10),
		Source:     "host-" + strconv.FormatUint(x>>50%64, 10) + ".eu-west-1",
	}
}

// BenchmarkProofSize reports the size of the longest inclusion proof
// (ceil(log2 n) hashes, for the first entry) and of the longest
// consistency proof (ceil(log2 n)+1, from n/2+1 entries) in logs of 1k to
// 1G entries, as proof-bytes: 32 bytes a hash, before the JSON and base64
// the server wraps them in. The time is a client's check of the proof
// against the roots. The log's leaves are all equal, so any node is one
// hash per level and even a 1G-entry log's proofs and roots are real;
// the values in the hashes change neither their number nor the cost.
func BenchmarkProofSize(b *testing.B) {
	leafHash := LeafHash(Leaf(validEvent()))
	level := [][]byte{leafHash}
	for len(level) < 64 {
		h := level[len(level)-1]
		level = append(level, HashChildren(h, h))
	}
	node := func(l uint, _ uint64) ([]byte, error) { return level[l], nil }
	root := func(b *testing.B, size uint64) []byte {
		t, err := TreeAt(size, node)
		if err != nil {
			b.Fatal(err)
		}
		return t.Root()
	}
	for _, s := range []struct {
		name string
		n    uint64
	}{{"1k", 1_000}, {"1M", 1_000_000}, {"10M", 10_000_000}, {"1G", 1_000_000_000}} {
		b.Run("inclusion/log="+s.name, func(b *testing.B) {
			p, err := InclusionProofFrom(node, 0, s.n)
			if err != nil {
				b.Fatal(err)
			}
			r := root(b, s.n)
			b.ReportAllocs()
			for b.Loop() {
				if err := VerifyInclusion(leafHash, 0, s.n, p, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(HashSize*len(p)), "proof-bytes")
		})
		b.Run("consistency/log="+s.name, func(b *testing.B) {
			from := s.n/2 + 1
			p, err := ConsistencyProofFrom(node, from, s.n)
			if err != nil {
				b.Fatal(err)
			}
			r1, r2 := root(b, from), root(b, s.n)
			b.ReportAllocs()
			for b.Loop() {
				if err := VerifyConsistency(from, s.n, p, r1, r2); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(HashSize*len(p)), "proof-bytes")
		})
	}
}

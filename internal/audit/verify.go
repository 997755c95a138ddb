package audit

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// ErrNoCheckpoint is returned by Verify for a non-empty log with no
// checkpoint: nothing about it can be proven.
var ErrNoCheckpoint = errors.New("audit: no checkpoint to verify against")

// Report is what Verify established.
type Report struct {
	Entries     uint64 // entries read
	Root        []byte // root recomputed over the entries read
	Checkpoints int    // checkpoints whose signature and origin were good
	// Proven is how many leading entries a matching signed checkpoint covers;
	// entries from Proven on were appended after the last checkpoint (or, on
	// failure, are where the trouble lies).
	Proven uint64
}

// TamperError names where a log stops agreeing with a signed checkpoint.
// Entries before Proven are proven intact. For a root mismatch (Proven ==
// Index) the first bad entry is in [Index, End): a single entry when
// checkpoints were signed after every append, otherwise the checkpoint
// grain bounds the precision, since a root cannot say which of its leaves
// changed. For damage the entry itself shows (Checkpoint -1: missing, out
// of order, hash or columns that do not match), entry Index is bad, and
// the entries in [Proven, Index) are unproven.
type TamperError struct {
	Index, End uint64
	// Proven is how many leading entries a matching signed checkpoint
	// covers. It equals Index for a root mismatch; for damage found in an
	// entry itself (Checkpoint -1) it may be less, and the entries between
	// are unproven: they may hold an earlier, undetectable change.
	Proven     uint64
	Checkpoint int    // index into Verify's checkpoints argument; -1 when the entry itself shows the damage
	Reason     string // e.g. "root mismatch", "log truncated"
}

func (e *TamperError) Error() string {
	if e.Checkpoint < 0 {
		return fmt.Sprintf("audit: entry %d: %s", e.Index, e.Reason)
	}
	if e.End == e.Index+1 {
		return fmt.Sprintf("audit: entry %d: %s (checkpoint %d)", e.Index, e.Reason, e.Checkpoint)
	}
	return fmt.Sprintf("audit: first bad entry within %d..%d: %s (checkpoint %d)", e.Index, e.End-1, e.Reason, e.Checkpoint)
}

type opened struct {
	i    int
	size uint64
	root []byte
}

// Verify recomputes the tree over leaves(0) … leaves(n-1) (leaf encodings, as
// from Leaf), checks every checkpoint's signature and origin, and that its
// root equals the recomputed root at its size. Since all checkpoints are
// checked against one recomputed leaf sequence, they are also proven
// consistent with each other.
//
// A bad checkpoint signature or origin fails at once. An edited, deleted or
// reordered entry makes the root differ at every checkpoint size past it,
// and a truncated log lacks entries a checkpoint covers (then the error names
// the first missing entry, n). Either way the error is a *TamperError, found
// in one O(n) pass that stops at the first mismatching checkpoint: roots
// differ at every size past the first bad entry, so the first mismatch is the
// earliest. Entries past the last checkpoint are read too, so Report.Root
// describes the whole log, but they prove nothing. Report is filled as far
// as Verify got.
func Verify(leaves func(i uint64) ([]byte, error), n uint64, checkpoints []Checkpoint, verifiers note.Verifiers) (Report, error) {
	return verifyHashes(func(i uint64) ([]byte, error) {
		b, err := leaves(i)
		if err != nil {
			return nil, err
		}
		return LeafHash(b), nil
	}, n, checkpoints, verifiers)
}

// verifyHashes is Verify over leaf hashes, which hashes(i) returns.
func verifyHashes(hashes func(i uint64) ([]byte, error), n uint64, checkpoints []Checkpoint, verifiers note.Verifiers) (Report, error) {
	var rep Report
	cps := make([]opened, 0, len(checkpoints))
	for i, c := range checkpoints {
		size, root, err := OpenCheckpoint(c.Note, verifiers, c.Origin)
		if err != nil {
			return rep, fmt.Errorf("checkpoint %d: %w", i, err)
		}
		cps = append(cps, opened{i: i, size: size, root: root})
	}
	rep.Checkpoints = len(cps)
	if len(cps) == 0 && n > 0 {
		return rep, ErrNoCheckpoint
	}
	slices.SortStableFunc(cps, func(a, b opened) int { return cmp.Compare(a.size, b.size) })

	t := NewTree()
	next := 0
	// check compares every checkpoint at the tree's current size.
	check := func() error {
		size := t.Size()
		for ; next < len(cps) && cps[next].size == size; next++ {
			if !bytes.Equal(cps[next].root, t.Root()) {
				return &TamperError{Index: rep.Proven, End: size, Proven: rep.Proven, Checkpoint: cps[next].i, Reason: "root mismatch"}
			}
			rep.Proven = size
		}
		return nil
	}
	fail := func(err error) (Report, error) {
		rep.Entries = t.Size()
		rep.Root = t.Root()
		return rep, err
	}
	for i := range n {
		if err := check(); err != nil {
			return fail(err)
		}
		h, err := hashes(i)
		if err != nil {
			var te *TamperError
			if errors.As(err, &te) {
				te.Proven = rep.Proven
				return fail(err)
			}
			return fail(fmt.Errorf("audit: reading entry %d: %w", i, err))
		}
		t.Append(h)
	}
	if err := check(); err != nil {
		return fail(err)
	}
	if next < len(cps) {
		c := cps[next]
		return fail(&TamperError{Index: n, End: c.size, Proven: rep.Proven, Checkpoint: c.i,
			Reason: fmt.Sprintf("log truncated: checkpoint covers %d entries, log has %d", c.size, n)})
	}
	return fail(nil)
}

// StoredEntry is an entry as a store or an export holds it.
type StoredEntry struct {
	Index    uint64
	Leaf     []byte
	LeafHash []byte // the stored hash, checked against Leaf; may be nil
	// Indexed are the fields as the store keeps them beside the leaf for
	// reports (time to the microsecond); checked against Leaf; may be nil.
	Indexed *Event
}

// SameIndexed reports whether indexed, a store's report columns, say what
// the leaf's event e says: a report built from the columns then describes
// the signed log. Times are compared to the microsecond, as stored.
func SameIndexed(e, indexed Event) bool {
	return e.Principal == indexed.Principal && e.Action == indexed.Action && e.Subject == indexed.Subject &&
		e.Resolved == indexed.Resolved && e.Account == indexed.Account &&
		e.Time.Truncate(time.Microsecond).Equal(indexed.Time) &&
		slices.Equal(slices.Compact(slices.Sorted(slices.Values(e.Categories))), slices.Compact(slices.Sorted(slices.Values(indexed.Categories))))
}

// VerifyLog is Verify over entries read in index order by next, which
// returns io.EOF after the last. Beyond Verify's checks it names a single
// entry exactly when the damage shows in the entry itself: a missing
// index (a deleted row), an index out of order, a leaf that is not in
// canonical form, a stored leaf hash or report columns that do not match
// the leaf. progress, when not nil, is called with the number of entries
// read so far, every 65,536 entries and at the end.
func VerifyLog(next func() (StoredEntry, error), n uint64, checkpoints []Checkpoint, verifiers note.Verifiers, progress func(done uint64)) (Report, error) {
	return VerifyLines(func() (StoredEntry, error) { return next() }, func(e StoredEntry) (StoredEntry, error) { return e, nil },
		n, checkpoints, verifiers, progress)
}

// VerifyLines is VerifyLog for entries that come encoded: next reads each
// raw record (a line of an export, say) in order, and decode turns it into
// a StoredEntry. Decoding and the per-entry checks run on every core, a
// few thousand entries at a time and at most a few batches ahead of the
// tree, which takes the results in order; decode must be safe to call
// concurrently.
func VerifyLines[R any](next func() (R, error), decode func(R) (StoredEntry, error), n uint64, checkpoints []Checkpoint, verifiers note.Verifiers, progress func(done uint64)) (Report, error) {
	const batch = 4096
	type checked struct {
		index uint64
		hash  []byte
		err   error // a decode error, or a *TamperError for the entry itself
	}
	type job struct {
		raw  []R
		out  []checked
		done chan struct{}
		err  error // next's error after raw, io.EOF at the end
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan *job, workers)
	ordered := make(chan *job, 2*workers)
	// Read ahead in batches; each batch goes to a worker and, in order, to
	// the tree.
	go func() {
		defer close(jobs)
		defer close(ordered)
		for {
			j := &job{done: make(chan struct{})}
			for len(j.raw) < batch {
				r, err := next()
				if err != nil {
					j.err = err
					break
				}
				j.raw = append(j.raw, r)
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
			select {
			case ordered <- j:
			case <-ctx.Done():
				return
			}
			if j.err != nil {
				return
			}
		}
	}()
	for range workers {
		go func() {
			for j := range jobs {
				j.out = make([]checked, len(j.raw))
				for k, r := range j.raw {
					j.out[k] = checkEntry(decode(r))
				}
				close(j.done)
			}
		}()
	}
	var (
		cur *job
		pos int
	)
	hashes := func(i uint64) ([]byte, error) {
		for cur == nil || pos == len(cur.out) {
			if cur != nil && cur.err != nil {
				if errors.Is(cur.err, io.EOF) {
					return nil, &TamperError{Index: i, End: n, Checkpoint: -1,
						Reason: fmt.Sprintf("log truncated: %d entries announced, %d found", n, i)}
				}
				return nil, cur.err
			}
			j, ok := <-ordered
			if !ok {
				return nil, errors.New("audit: entry reader stopped")
			}
			<-j.done
			cur, pos = j, 0
		}
		c := cur.out[pos]
		pos++
		var te *TamperError
		switch {
		case c.err != nil && !errors.As(c.err, &te):
			return nil, c.err
		case c.index > i:
			return nil, &TamperError{Index: i, End: i + 1, Checkpoint: -1,
				Reason: fmt.Sprintf("entry missing (the next stored entry is %d)", c.index)}
		case c.index < i:
			return nil, &TamperError{Index: i, End: i + 1, Checkpoint: -1,
				Reason: fmt.Sprintf("entry out of order (entry %d found again)", c.index)}
		case te != nil:
			te.Index, te.End = i, i+1
			return nil, te
		}
		if progress != nil && (i+1)%65536 == 0 {
			progress(i + 1)
		}
		return c.hash, nil
	}
	rep, err := verifyHashes(hashes, n, checkpoints, verifiers)
	if progress != nil {
		progress(rep.Entries)
	}
	return rep, err
}

// checkEntry hashes an entry and checks what it can alone: its stored
// hash, its canonical form, its report columns. A *TamperError's Index is
// filled in by the caller, which knows where it stands.
func checkEntry(e StoredEntry, err error) (c struct {
	index uint64
	hash  []byte
	err   error
}) {
	if err != nil {
		c.err = err
		return c
	}
	c.index = e.Index
	c.hash = LeafHash(e.Leaf)
	if e.LeafHash != nil && !bytes.Equal(c.hash, e.LeafHash) {
		c.err = &TamperError{Checkpoint: -1, Reason: "stored leaf hash does not match the entry"}
		return c
	}
	ev, err := ParseLeaf(e.Leaf)
	if err != nil {
		c.err = &TamperError{Checkpoint: -1, Reason: "entry is not a canonical event: " + err.Error()}
		return c
	}
	if e.Indexed != nil && !SameIndexed(ev, *e.Indexed) {
		c.err = &TamperError{Checkpoint: -1, Reason: "the columns reports are built from do not match the entry"}
	}
	return c
}

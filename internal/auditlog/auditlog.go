// Package auditlog runs cordon's data-access audit log: it validates and
// appends ingested events, signs checkpoints every N entries or T seconds,
// serves inclusion and consistency proofs from stored tree nodes, and
// builds blast-radius reports. The Merkle tree, the leaf encoding and the
// checkpoint format are package audit's; storage is cordon.AuditStore.
package auditlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"golang.org/x/mod/sumdb/note"
)

// Defaults for Config.
const (
	DefaultEvery    = 1000
	DefaultInterval = 10 * time.Second
	// MaxBatch is the most events one Ingest call takes.
	MaxBatch = 10_000
	// nodeLevel is the lowest tree level whose nodes are stored: a proof
	// then rehashes at most 2^nodeLevel leaves per node below it, and the
	// store keeps about one node per 2^nodeLevel entries.
	nodeLevel = 8
)

// CordonCategories are the categories cordon's own admin actions use; they
// are always accepted.
func CordonCategories() []string {
	return []string{"sessions", "campaigns", "signing_keys", "admin_tokens", "audit_log", "incidents", "ssf_streams", "notices", "alerts"}
}

// Config is what a Service is built from.
type Config struct {
	Store cordon.AuditStore
	Clock clock.Clock
	Log   *slog.Logger
	// Origin names the log in its checkpoints, e.g. "cordon.example/audit".
	// It is used when the log's key is first made, and named in it; later
	// starts keep the stored key's name.
	Origin string
	// Categories are accepted besides audit.DefaultCategories and
	// CordonCategories.
	Categories []string
	// Every and Interval: a checkpoint is signed once Every entries are
	// unsigned, or Interval after the last when any are.
	Every    uint64
	Interval time.Duration
	// Key, when set, is the note signer key checkpoints are signed with,
	// kept outside the database (cordon serve --audit-key FILE): whoever can
	// rewrite the database then cannot sign a rewrite. The store keeps only
	// its verifier key, so a later start without it, or with another key,
	// is refused rather than silently signing with a new one.
	Key string
	// BatchWindow is how long a batch's idempotency key is remembered
	// (DefaultBatchWindow when zero): a retry later than that appends
	// again.
	BatchWindow time.Duration
	// MaxLateness, when set, refuses events timed more than that before
	// the server's clock (cordon serve --audit-max-lateness): a stolen
	// reporter token could otherwise write reads into a closed breach
	// window and move its report, or a cohort built from it. A backfill
	// of older logs is the operator's decision: raise it for the import.
	MaxLateness time.Duration
}

// DefaultBatchWindow is how long IngestOnce remembers a batch's key: a
// day, as Stripe keeps its idempotency keys, far longer than any
// reporter retries.
const DefaultBatchWindow = 24 * time.Hour

// externalKey marks, in the store's signer column, a log whose signer key
// is kept outside the database; what follows is its verifier key.
const externalKey = "external:"

// Service is the audit log. It is safe for concurrent use.
type Service struct {
	store       cordon.AuditStore
	clock       clock.Clock
	log         *slog.Logger
	origin      string
	categories  []string
	every       uint64
	interval    time.Duration
	batchWindow time.Duration
	maxLate     time.Duration
	signer      note.Signer
	verifiers   note.Verifiers
	vkey        string
	kick        chan struct{}

	mu     sync.Mutex // the checkpointer's state
	tree   *audit.Tree
	broken error // set when the stored log disagrees with a signed root
	// signed is tree.Size(), readable without mu: Appended runs on every
	// ingest and must not wait for a checkpoint being signed.
	signed atomic.Uint64
	// noResolve turns subject resolution off: benchmarks measure its cost.
	noResolve bool
}

// New opens the log: it loads the store's checkpoint key, making one on
// first use, and resumes the tree from the last checkpoint.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Every == 0 {
		c.Every = DefaultEvery
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.BatchWindow <= 0 {
		c.BatchWindow = DefaultBatchWindow
	}
	if c.Origin == "" {
		return nil, errors.New("auditlog: no origin")
	}
	cats := append(audit.DefaultCategories(), CordonCategories()...)
	for _, cat := range c.Categories {
		if !slices.Contains(cats, cat) {
			cats = append(cats, cat)
		}
	}
	s := &Service{store: c.Store, clock: c.Clock, log: c.Log, origin: c.Origin, categories: cats,
		every: c.Every, interval: c.Interval, batchWindow: c.BatchWindow, maxLate: c.MaxLateness, kick: make(chan struct{}, 1)}
	skey, vkey, err := s.checkpointKey(ctx, c)
	if err != nil {
		return nil, err
	}
	if s.signer, err = note.NewSigner(skey); err != nil {
		return nil, fmt.Errorf("auditlog: checkpoint key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("auditlog: checkpoint verifier: %w", err)
	}
	// The origin is fixed when the key is made: the key is named for it,
	// so the log keeps one origin whatever address a later start has.
	s.origin, s.vkey, s.verifiers = v.Name(), vkey, note.VerifierList(v)
	if err := s.resume(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// checkpointKey returns the signer and verifier keys checkpoints are made
// with: the store's (made on first use), or, with Config.Key, the one kept
// outside the database, whose verifier the store records on first use.
func (s *Service) checkpointKey(ctx context.Context, c Config) (skey, vkey string, err error) {
	if c.Key == "" {
		skey, vkey, err := audit.NewCheckpointKey(keyName(c.Origin))
		if err != nil {
			return "", "", err
		}
		k, err := c.Store.AuditKey(ctx, &cordon.AuditKey{Signer: skey, Verifier: vkey, Created: c.Clock.Now()})
		if err != nil {
			return "", "", fmt.Errorf("auditlog: checkpoint key: %w", err)
		}
		if strings.HasPrefix(k.Signer, externalKey) {
			return "", "", fmt.Errorf("auditlog: this log's checkpoints are signed with a key kept outside the database (verifier %s): start with --audit-key FILE", k.Verifier)
		}
		return k.Signer, k.Verifier, nil
	}
	skey = strings.TrimSpace(c.Key)
	if vkey, err = audit.VerifierKeyOf(skey); err != nil {
		return "", "", fmt.Errorf("auditlog: the audit key file: %w", err)
	}
	k, err := c.Store.AuditKey(ctx, &cordon.AuditKey{Signer: externalKey + vkey, Verifier: vkey, Created: c.Clock.Now()})
	if err != nil {
		return "", "", fmt.Errorf("auditlog: checkpoint key: %w", err)
	}
	switch {
	case k.Verifier == vkey:
		return skey, vkey, nil
	case strings.HasPrefix(k.Signer, externalKey):
		return "", "", fmt.Errorf("auditlog: this log's checkpoints are signed with the key whose verifier is %s; the audit key file holds another (%s)", k.Verifier, vkey)
	}
	// The log's earlier checkpoints were signed with the key kept in the
	// database. The file's key takes over under the same name; verifiers
	// need both keys for the older checkpoints, which stay only as strong
	// as the database was.
	old, err := note.NewVerifier(k.Verifier)
	if err != nil {
		return "", "", fmt.Errorf("auditlog: stored checkpoint verifier: %w", err)
	}
	if name := strings.SplitN(vkey, "+", 2)[0]; name != old.Name() {
		return "", "", fmt.Errorf("auditlog: the audit key file's key is named %q but this log's checkpoints are named %q: make the key with cordon audit keygen --origin %s", name, old.Name(), old.Name())
	}
	c.Log.Warn("audit checkpoints are now signed with the key from the audit key file; earlier checkpoints carry the database's key, so verifiers need both keys for them",
		"verifier", vkey, "database_verifier", k.Verifier)
	return skey, vkey, nil
}

// keyName makes a note key name from the origin: names may not hold
// spaces or '+'.
func keyName(origin string) string {
	b := []byte(origin)
	for i, c := range b {
		if c == ' ' || c == '+' || c < 0x21 || c > 0x7e {
			b[i] = '_'
		}
	}
	return string(b)
}

// Origin is the log's checkpoint origin line.
func (s *Service) Origin() string { return s.origin }

// VerifierKey is the public key checkpoints verify with, in the note
// verifier-key form ("name+hash+base64").
func (s *Service) VerifierKey() string { return s.vkey }

// Categories returns the accepted categories.
func (s *Service) Categories() []string { return slices.Clone(s.categories) }

// resume rebuilds the tree at the last checkpoint from stored nodes and
// checks it still has the signed root.
func (s *Service) resume(ctx context.Context) error {
	last, err := s.store.AuditCheckpoint(ctx, 0)
	if errors.Is(err, cordon.ErrNotFound) {
		s.setTree(audit.NewTree())
		return nil
	}
	if err != nil {
		return fmt.Errorf("auditlog: reading the last checkpoint: %w", err)
	}
	t, err := audit.TreeAt(last.Size, s.nodeFunc(ctx))
	if err != nil {
		return fmt.Errorf("auditlog: resuming at checkpoint %d: %w", last.Size, err)
	}
	if !bytes.Equal(t.Root(), last.Root) {
		s.broken = fmt.Errorf("the stored log no longer has the root signed at size %d; run cordon audit verify", last.Size)
		s.log.Error("audit log disagrees with its last checkpoint; no more checkpoints will be signed", "size", last.Size)
	}
	s.setTree(t)
	return nil
}

// Entry validates one event and returns its stored form; i names it in
// the error (events[i].field).
func (s *Service) Entry(e audit.Event, now time.Time, i int) (*cordon.AuditEntry, error) {
	if err := e.Validate(now, s.categories); err != nil {
		var ce *cordon.Error
		if errors.As(err, &ce) && i >= 0 {
			c := *ce
			c.Field = "events[" + strconv.Itoa(i) + "]." + ce.Field
			c.Message = "event " + strconv.Itoa(i) + ": " + ce.Message
			return nil, &c
		}
		return nil, err
	}
	return audit.Entry(e), nil
}

// Ingest validates every event and appends them all in one transaction,
// or none when any is refused (the error names the first bad one). On
// return without error the entries are committed, their Index fields set,
// and size is the log's size after them.
func (s *Service) Ingest(ctx context.Context, events []audit.Event) (entries []*cordon.AuditEntry, size uint64, err error) {
	if entries, err = s.entries(ctx, events); err != nil {
		return nil, 0, err
	}
	size, err = s.store.AppendAudit(ctx, entries)
	if err != nil {
		return nil, 0, err
	}
	s.Appended(size)
	return entries, size, nil
}

// Ingested is what an ingested batch became: its indexes, and whether it
// was appended by an earlier request with the same idempotency key.
type Ingested struct {
	First    uint64
	Count    int
	Size     uint64
	Replayed bool
}

// MaxIdempotencyKey bounds a batch's idempotency key, as the HTTP
// Idempotency-Key draft's examples and Stripe's do.
const MaxIdempotencyKey = 255

// IngestOnce is Ingest with an idempotency key (scoped by the caller, e.g.
// to the reporter's token): within the window (DefaultBatchWindow unless
// configured) a batch sent again with the same key appends nothing and
// gets the first answer again, so a reporter's retry after a lost answer
// stores no event twice. The same key with other events is a conflict.
func (s *Service) IngestOnce(ctx context.Context, key string, events []audit.Event) (*Ingested, error) {
	if key == "" || len(key) > MaxIdempotencyKey {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "idempotency_key", "an idempotency key is 1 to %d characters, not %d", MaxIdempotencyKey, len(key))
	}
	entries, err := s.entries(ctx, events)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	b := &cordon.AuditBatch{Key: key, Digest: digestEvents(events), At: now}
	got, appended, err := s.store.AppendAuditBatch(ctx, b, entries, now.Add(-s.batchWindow))
	if err != nil {
		return nil, err
	}
	if !appended && !bytes.Equal(got.Digest, b.Digest) {
		return nil, cordon.FieldError(cordon.ECodeConflict, "idempotency_key",
			"this idempotency key was used at %s for a batch with other events; send a new batch with a new key", got.At.UTC().Format(time.RFC3339))
	}
	if appended {
		s.Appended(got.Size)
	}
	return &Ingested{First: got.First, Count: got.Count, Size: got.Size, Replayed: !appended}, nil
}

// digestEvents is the SHA-256 of the events as sent, in a fixed encoding.
func digestEvents(events []audit.Event) []byte {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, e := range events {
		e.Time = e.Time.UTC()
		_ = enc.Encode(e) // an Event always encodes; a hash never fails to write
	}
	return h.Sum(nil)
}

// entries validates a batch, resolves its subjects to accounts and
// builds its entries.
func (s *Service) entries(ctx context.Context, events []audit.Event) ([]*cordon.AuditEntry, error) {
	if len(events) == 0 {
		return nil, cordon.Errorf(cordon.ECodeInvalid, "the batch holds no events")
	}
	if len(events) > MaxBatch {
		return nil, cordon.Errorf(cordon.ECodeTooLarge, "the batch holds %d events; send at most %d per request", len(events), MaxBatch)
	}
	now := s.clock.Now()
	for i, e := range events {
		if err := reserved(e, i); err != nil {
			return nil, err
		}
		if s.maxLate > 0 && e.Time.Before(now.Add(-s.maxLate)) {
			return nil, cordon.FieldError(cordon.ECodeUnprocessable, "events["+strconv.Itoa(i)+"].time",
				"event %d: time is more than %s before the server's clock; the server refuses older events (a backfill needs its --audit-max-lateness raised)", i, cordon.FormatDuration(s.maxLate))
		}
		if err := e.Validate(now, s.categories); err != nil {
			_, err = s.Entry(e, now, i) // the same error, named events[i]
			return nil, err
		}
	}
	accounts, err := s.resolve(ctx, events)
	if err != nil {
		return nil, err
	}
	entries := make([]*cordon.AuditEntry, len(events))
	for i, e := range events {
		// The server's, never the reporter's: a reporter cannot say whose
		// account an event was.
		e.Account, e.Resolved = "", false
		if accounts != nil {
			e.Account, e.Resolved = accounts[e.Subject], true
		}
		entries[i] = audit.Entry(e)
	}
	return entries, nil
}

// resolve maps the batch's distinct subjects to accounts in one store
// lookup (nil when resolution is off).
func (s *Service) resolve(ctx context.Context, events []audit.Event) (map[string]string, error) {
	if s.noResolve {
		return nil, nil
	}
	seen := make(map[string]struct{}, len(events))
	subjects := make([]string, 0, len(events))
	for _, e := range events {
		if _, ok := seen[e.Subject]; !ok {
			seen[e.Subject] = struct{}{}
			subjects = append(subjects, e.Subject)
		}
	}
	accounts, err := s.store.ResolveSubjects(ctx, subjects)
	if err != nil {
		return nil, fmt.Errorf("auditlog: resolving subjects: %w", err)
	}
	return accounts, nil
}

// Record appends cordon's own records (built by Entry) on their own, for
// actions that change nothing in the store, such as an admin reading a
// user's data. Unlike Ingest it takes the reserved principal, subjects
// and categories.
func (s *Service) Record(ctx context.Context, entries []*cordon.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	size, err := s.store.AppendAudit(ctx, entries)
	if err != nil {
		return err
	}
	s.Appended(size)
	return nil
}

// reserved refuses an ingested event that would pass for one of cordon's
// own records: the principal and subject prefix and the categories of
// admin actions are cordon's alone.
func reserved(e audit.Event, i int) error {
	field := "events[" + strconv.Itoa(i) + "]."
	if strings.HasPrefix(e.Principal, ObjectPrefix) {
		return cordon.FieldError(cordon.ECodeUnprocessable, field+"principal", "event %d: principals beginning %q are reserved for cordon's own records", i, ObjectPrefix)
	}
	if !IsUser(e.Subject) {
		return cordon.FieldError(cordon.ECodeUnprocessable, field+"subject", "event %d: subjects beginning %q are reserved for cordon's own records", i, ObjectPrefix)
	}
	own := CordonCategories()
	for k, c := range e.Categories {
		if slices.Contains(own, c) {
			return cordon.FieldError(cordon.ECodeUnprocessable, field+"categories["+strconv.Itoa(k)+"]", "event %d: the category %q is reserved for cordon's own records", i, c)
		}
	}
	return nil
}

// Appended tells the checkpointer the log has grown to size, so it signs
// early once Every entries are waiting.
func (s *Service) Appended(size uint64) {
	if size >= s.signed.Load()+s.every {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Run signs checkpoints until ctx ends: every Interval when entries are
// unsigned, and at once when Every are.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		if _, err := s.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("audit checkpoint", "err", err)
		}
	}
}

// Checkpoint signs and stores a checkpoint of the log's current size, if
// it has grown since the last one, and returns it (nil when there was
// nothing new). Before signing it rehashes every new entry's leaf and
// refuses to sign over one whose stored hash does not match.
func (s *Service) Checkpoint(ctx context.Context) (*cordon.AuditCheckpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return nil, s.broken
	}
	size, err := s.store.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	from := s.tree.Size()
	if size < from {
		// Entries were deleted under the log; signing on would bless a
		// log rebuilt over the gap.
		s.broken = fmt.Errorf("the log shrank from %d to %d entries; run cordon audit verify", from, size)
		s.log.Error("audit log shrank; no more checkpoints will be signed", "signed", from, "now", size)
		return nil, s.broken
	}
	if size == from {
		return nil, nil
	}
	// Work on a copy: on any failure the next attempt starts over from
	// the last stored checkpoint.
	work := s.tree.Clone()
	var nodes []cordon.AuditNode
	next := from
	err = s.store.AuditEntries(ctx, from, size, func(e *cordon.AuditEntry) error {
		if e.Index != next {
			return fmt.Errorf("entry %d is missing", next)
		}
		h := audit.LeafHash(e.Leaf)
		if !bytes.Equal(h, e.LeafHash) {
			return fmt.Errorf("entry %d: stored leaf hash does not match its leaf", e.Index)
		}
		// Reports read the columns, not the leaf: sign only a log whose
		// columns say what its leaves say.
		ev, err := audit.ParseLeaf(e.Leaf)
		if err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		if !audit.SameIndexed(ev, indexed(e)) {
			return fmt.Errorf("entry %d: the columns reports read do not match its leaf", e.Index)
		}
		work.AppendVisit(h, func(level uint, index uint64, hash []byte) {
			if level >= nodeLevel {
				nodes = append(nodes, cordon.AuditNode{Level: level, Index: index, Hash: hash})
			}
		})
		next++
		return nil
	})
	if err == nil && next != size {
		err = fmt.Errorf("entry %d is missing", next)
	}
	if err != nil {
		return nil, fmt.Errorf("auditlog: reading entries %d..%d: %w", from, size, err)
	}
	root := work.Root()
	signed, err := audit.SignCheckpoint(s.origin, size, root, s.signer)
	if err != nil {
		return nil, err
	}
	c := &cordon.AuditCheckpoint{Size: size, Root: root, Note: signed, Created: s.clock.Now()}
	err = s.store.AddAuditCheckpoint(ctx, c, nodes)
	if errors.Is(err, cordon.ErrAlreadyExists) {
		// Another node signed this size first; its nodes are stored, and
		// its root must be ours.
		if other, oerr := s.store.AuditCheckpoint(ctx, size); oerr == nil && !bytes.Equal(other.Root, root) {
			s.broken = fmt.Errorf("checkpoint %d was signed with another root", size)
			return nil, s.broken
		}
		s.setTree(work)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auditlog: storing checkpoint %d: %w", size, err)
	}
	s.setTree(work)
	return c, nil
}

// setTree installs the tree of the latest checkpoint; s.mu is held.
func (s *Service) setTree(t *audit.Tree) {
	s.tree = t
	s.signed.Store(t.Size())
}

// nodeFunc returns tree nodes for proofs and resumption: stored ones when
// the checkpointer kept them, otherwise computed from the leaves beneath.
func (s *Service) nodeFunc(ctx context.Context) audit.NodeFunc {
	var node audit.NodeFunc
	node = func(level uint, index uint64) ([]byte, error) {
		if level >= nodeLevel {
			h, err := s.store.AuditNodeHash(ctx, level, index)
			if err == nil {
				return h, nil
			}
			if !errors.Is(err, cordon.ErrNotFound) {
				return nil, err
			}
		}
		if level <= nodeLevel {
			begin, end := index<<level, (index+1)<<level
			hs := make([][]byte, 0, end-begin)
			err := s.store.AuditEntries(ctx, begin, end, func(e *cordon.AuditEntry) error {
				hs = append(hs, audit.LeafHash(e.Leaf))
				return nil
			})
			if err != nil {
				return nil, err
			}
			if uint64(len(hs)) != end-begin {
				return nil, fmt.Errorf("entries %d..%d: %d of %d found", begin, end-1, len(hs), end-begin)
			}
			return audit.SubtreeRoot(hs)
		}
		l, err := node(level-1, 2*index)
		if err != nil {
			return nil, err
		}
		r, err := node(level-1, 2*index+1)
		if err != nil {
			return nil, err
		}
		return audit.HashChildren(l, r), nil
	}
	return node
}

// indexed is the event as an entry's report columns hold it.
func indexed(e *cordon.AuditEntry) audit.Event {
	return audit.Event{Time: e.Time, Principal: e.Principal, Action: e.Action, Subject: e.Subject, Categories: e.Categories,
		Account: e.Account, Resolved: e.Resolved}
}

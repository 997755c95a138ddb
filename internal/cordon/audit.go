package cordon

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// AuditEntry is one entry of the append-only data-access log: an event
// as ingested, its position, and the RFC 6962 leaf hash of its canonical
// encoding (package audit computes both).
type AuditEntry struct {
	// Index is the entry's position in the log, from 0, with no gaps.
	Index uint64
	// Leaf is the canonical encoding the leaf hash is computed over; the
	// store keeps it byte for byte, so a verifier recomputes everything.
	Leaf []byte
	// LeafHash is the RFC 6962 leaf hash of Leaf.
	LeafHash []byte
	// The event's fields, indexed for reports.
	Time       time.Time
	Principal  string
	Action     string
	Subject    string
	Categories []string
	// Account is the account Subject resolved to at ingest ("" when it
	// named none); Resolved says resolution ran. A leaf written before
	// subjects were resolved has Resolved false: reports then take the
	// raw subject for the user, as they always did.
	Account  string
	Resolved bool
}

// AuditCheckpoint is a signed note of the log's size and root.
type AuditCheckpoint struct {
	Size    uint64
	Root    []byte
	Note    []byte // the signed checkpoint, as the C2SP format writes it
	Created time.Time
}

// AuditAccess is one row of a blast-radius report: a subject user whose
// data a principal touched, with the categories and the span.
type AuditAccess struct {
	// Subject is the user: the account id when the entries' subjects
	// resolved to one, else the raw subject as logged.
	Subject    string
	Categories []string
	Count      int64
	First      time.Time
	Last       time.Time
	// Account is the account id the subjects resolved to ("" when none).
	Account string
	// Unresolved: the subject named no account at ingest. Such a row is
	// kept and reported, never counted as a user.
	Unresolved bool
	// Aliases are the raw subjects the row's entries were logged under
	// (alice, her account id …), sorted.
	Aliases []string
	// Principal is set on rows grouped by principal (AuditByPrincipal).
	Principal string
	// Actions counts the row's entries by action (read, write …).
	Actions map[string]int64
}

// AuditGroupBy says what an AuditQuery's rows are per.
type AuditGroupBy int

// The groupings of AuditQuery.
const (
	// AuditBySubject gives one row per user: per account for resolved
	// subjects, per raw subject otherwise.
	AuditBySubject AuditGroupBy = iota
	// AuditByPrincipal gives one row per principal.
	AuditByPrincipal
)

// AuditFilter selects entries for the investigator's questions. Empty
// fields select everything.
type AuditFilter struct {
	// Principals keeps entries by any of them. A name holding '*' is a
	// pattern: '*' matches any run of characters, every other character
	// only itself (%, _, \, ?, [ are literal).
	Principals []string
	// Users keeps entries whose user is one of Users: an entry's user is
	// the account its subject resolved to, else its subject as logged
	// (unresolved, or logged before subjects were resolved).
	Users []string
	// Category keeps entries carrying it.
	Category string
	// From and To bound the entries' time, [From, To); a zero To is no
	// upper bound.
	From, To time.Time
	// By groups the rows.
	By AuditGroupBy
}

// AuditBatch is an ingested batch remembered by its idempotency key, so
// a reporter's retry after a lost answer appends nothing and gets the
// first answer again.
type AuditBatch struct {
	// Key names the batch: the caller scopes it (the admin token's id and
	// the key the reporter sent), so two reporters' keys never meet.
	Key string
	// Digest is the SHA-256 of the batch's events as sent; a key sent
	// again with other events is a conflict, not a replay.
	Digest []byte
	// First is the index of the batch's first entry; Count how many it
	// holds; Size the log's size right after it was appended.
	First uint64
	Count int
	Size  uint64
	// At is when the batch was appended.
	At time.Time
}

// AuditStore keeps the data-access log. It never updates or deletes an
// entry.
type AuditStore interface {
	// AppendAudit stores entries in one transaction, all or none, giving
	// them the next indexes in order (their Index fields are set on
	// return), and returns the log's new size. Concurrent appends are
	// serialised: indexes never repeat and never skip.
	AppendAudit(ctx context.Context, entries []*AuditEntry) (size uint64, err error)
	// AppendAuditBatch appends entries as AppendAudit does unless a batch
	// with b.Key appended at or after forgetBefore is remembered: then it
	// appends nothing and returns the remembered batch with appended
	// false (the caller compares digests). Otherwise it remembers b, with
	// First, Count and Size set, in the same transaction as the entries,
	// and returns it with appended true. Concurrent calls with one key
	// append once. Batches appended before forgetBefore are forgotten.
	AppendAuditBatch(ctx context.Context, b *AuditBatch, entries []*AuditEntry, forgetBefore time.Time) (got *AuditBatch, appended bool, err error)
	// AuditSize returns the number of entries.
	AuditSize(ctx context.Context) (uint64, error)
	// AuditEntries calls fn for entries [from, to) in index order.
	AuditEntries(ctx context.Context, from, to uint64, fn func(*AuditEntry) error) error
	// AuditEntriesAbout calls fn, in index order, for every entry whose
	// subject is one of subjects. Only cordon's own objects are indexed
	// by subject: each subject must begin with ObjectSubjectPrefix, or
	// the call fails with ECodeInvalid before reading. An error from fn
	// stops the scan and is returned.
	AuditEntriesAbout(ctx context.Context, subjects []string, fn func(*AuditEntry) error) error
	// AddAuditCheckpoint stores a checkpoint and, in the same transaction,
	// the tree nodes computed on the way to it (a node already stored is
	// kept as it is); ErrAlreadyExists for a size already checkpointed.
	AddAuditCheckpoint(ctx context.Context, c *AuditCheckpoint, nodes []AuditNode) error
	// AuditNodeHash returns a stored node's hash; ErrNotFound when it was
	// never stored.
	AuditNodeHash(ctx context.Context, level uint, index uint64) ([]byte, error)
	// AuditKey returns the log's checkpoint key. The first call stores k
	// (concurrent first calls agree on one key); later calls ignore k.
	AuditKey(ctx context.Context, k *AuditKey) (*AuditKey, error)
	// SaveAuditReport stores a report's definition and subjects.
	SaveAuditReport(ctx context.Context, r *SavedAuditReport) error
	// SavedAuditReport returns a saved report by id.
	SavedAuditReport(ctx context.Context, id string) (*SavedAuditReport, error)
	// AuditCheckpoints returns every checkpoint, smallest size first.
	AuditCheckpoints(ctx context.Context) ([]*AuditCheckpoint, error)
	// AuditCheckpointsAfter returns up to limit checkpoints whose size is
	// above after, smallest first: a page of the listing (a node signs
	// up to 8,640 a day).
	AuditCheckpointsAfter(ctx context.Context, after uint64, limit int) ([]*AuditCheckpoint, error)
	// AuditCheckpoint returns the checkpoint of the given size, or with
	// size 0 the latest; ErrNotFound when there is none.
	AuditCheckpoint(ctx context.Context, size uint64) (*AuditCheckpoint, error)
	// AuditReport returns, for entries by any of principals with time in
	// [from, to), one row per subject: the union of categories, the count,
	// first and last time. Ordered by subject.
	// fn is called for each row in turn, so a report of millions of users
	// is never held whole; an error from fn stops the scan and is
	// returned.
	AuditReport(ctx context.Context, principals []string, from, to time.Time, fn func(*AuditAccess) error) error
	// AuditQuery calls fn for each row of the entries f selects, grouped
	// by f.By and ordered by the row's Subject (AuditBySubject: rows of
	// resolved subjects are per account, with Account, Aliases and
	// Subject the account id; unresolved ones per raw subject with
	// Unresolved set) or Principal (AuditByPrincipal). Each row carries
	// the union of categories, the count per action, the total, the
	// first and last time. An error from fn stops the scan.
	AuditQuery(ctx context.Context, f AuditFilter, fn func(*AuditAccess) error) error
	// ResolveSubjects maps each subject naming an account (its id, or its
	// username compared case-insensitively; an id wins over a username)
	// to the account id, in one lookup. Deleted accounts resolve too: the
	// log records whose data was touched, whatever became of them.
	// Subjects naming none are absent from the map.
	ResolveSubjects(ctx context.Context, subjects []string) (map[string]string, error)
}

// ObjectSubjectPrefix begins the audit subjects of cordon's own objects
// ("cordon:campaign/c-…", "cordon:incident/i-…"); reporters may not use it.
const ObjectSubjectPrefix = "cordon:"

// AuditNode is the hash of a perfect subtree of the log's Merkle tree:
// leaves [Index<<Level, (Index+1)<<Level). Stored nodes let a proof be
// built from a few lookups instead of rehashing the log; they are not
// trusted, since a proof is checked against a signed root.
type AuditNode struct {
	Level uint
	Index uint64
	Hash  []byte
}

// AuditKey is the log's checkpoint signing key, a signed-note key pair.
type AuditKey struct {
	Signer   string // secret: the note signer key
	Verifier string // public: what a second party verifies checkpoints with
	Created  time.Time
}

// LogValue keeps the secret half out of logs.
func (k AuditKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("verifier", k.Verifier))
}

// SavedAuditReport is a blast-radius report kept under an id, so a campaign
// can name its subjects as a cohort ("users_from_report").
type SavedAuditReport struct {
	ID         string
	Principals []string
	From, To   time.Time
	Created    time.Time
	CreatedBy  string
	// Subjects are the distinct users the report found, sorted.
	Subjects []string
}

// pendingAudit carries audit entries a store must append in the
// transaction of the next write made with the context.
type pendingAudit struct {
	mu      sync.Mutex
	entries []*AuditEntry
	done    bool
}

type pendingAuditKey struct{}

// WithAudit returns a context whose next committed store write also
// appends entries to the audit log, in the same transaction: a change
// made by an admin and its record commit together or not at all. Only
// the first write made with the context carries them.
func WithAudit(ctx context.Context, entries ...*AuditEntry) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, &pendingAudit{entries: entries})
}

// ErrUnrecorded is Audited's answer to a change whose write returned
// without having committed its audit record: a bug, which the server logs
// and answers as an internal error (it is not a *Error, so the client sees
// nothing of it).
var ErrUnrecorded = errors.New("cordon: a write returned without committing its audit record")

// Audited makes a store change and its audit record commit together, in
// one typed call: write runs with a context whose store write appends e
// in its own transaction (WithAudit), and Audited reports an internal
// error when write returned without any committed write having carried
// e — a change path that stopped writing through the store, or wrote
// through a context other than the one it was given, fails its tests
// instead of losing records in production. A nil e runs write alone (a
// server without an audit log).
func Audited[T any](ctx context.Context, e *AuditEntry, write func(context.Context) (T, error)) (T, error) {
	if e == nil {
		return write(ctx)
	}
	actx := WithAudit(ctx, e)
	v, err := write(actx)
	if err != nil {
		return v, err
	}
	if PendingAudit(actx) != nil {
		var zero T
		return zero, ErrUnrecorded
	}
	return v, nil
}

// PendingAudit returns the entries a write made with ctx must append, or
// nil. A store calls it inside its transaction and, once the transaction
// commits, AuditCommitted.
func PendingAudit(ctx context.Context) []*AuditEntry {
	p, _ := ctx.Value(pendingAuditKey{}).(*pendingAudit)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return nil
	}
	return p.entries
}

// AuditCommitted marks ctx's pending entries appended, with the log's size
// after them, and sets their indexes.
func AuditCommitted(ctx context.Context, size uint64) {
	p, _ := ctx.Value(pendingAuditKey{}).(*pendingAudit)
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	first := size - uint64(len(p.entries))
	for i, e := range p.entries {
		e.Index = first + uint64(i)
	}
}

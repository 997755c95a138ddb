package cordon

import (
	"context"
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
	Subject    string
	Categories []string
	Count      int64
	First      time.Time
	Last       time.Time
}

// AuditStore keeps the data-access log. It never updates or deletes an
// entry.
type AuditStore interface {
	// AppendAudit stores entries in one transaction, all or none, giving
	// them the next indexes in order (their Index fields are set on
	// return), and returns the log's new size. Concurrent appends are
	// serialised: indexes never repeat and never skip.
	AppendAudit(ctx context.Context, entries []*AuditEntry) (size uint64, err error)
	// AuditSize returns the number of entries.
	AuditSize(ctx context.Context) (uint64, error)
	// AuditEntries calls fn for entries [from, to) in index order.
	AuditEntries(ctx context.Context, from, to uint64, fn func(*AuditEntry) error) error
	// AddAuditCheckpoint stores a checkpoint; ErrAlreadyExists for a size
	// already checkpointed.
	AddAuditCheckpoint(ctx context.Context, c *AuditCheckpoint) error
	// AuditCheckpoints returns every checkpoint, smallest size first.
	AuditCheckpoints(ctx context.Context) ([]*AuditCheckpoint, error)
	// AuditReport returns, for entries by any of principals with time in
	// [from, to), one row per subject: the union of categories, the count,
	// first and last time. Ordered by subject.
	AuditReport(ctx context.Context, principals []string, from, to time.Time) ([]AuditAccess, error)
}

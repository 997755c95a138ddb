// Package audit is the pure core of cordon's data-access audit log: the event
// that internal services report when they touch user data, its canonical leaf
// encoding, the RFC 6962 Merkle tree the leaves go into, signed checkpoints
// (C2SP checkpoint notes) and the proofs and checks that let anyone holding
// the entries and the checkpoints' public key show the log intact, or name
// the first entry that is not.
//
// The log is tamper-evident rather than tamper-proof: storage can still edit,
// drop or reorder rows, but then a recomputed tree no longer matches a root
// that cordon signed, and Verify says where. Nothing here does I/O or reads a
// clock; storage, HTTP and the CLI wrap it.
//
// Merkle hashing, proofs and note signatures come from
// github.com/transparency-dev/merkle and golang.org/x/mod/sumdb/note: a
// verifier in another language can then check the same bytes with the
// same well-known algorithms.
package audit

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Actions an event may record.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionExport = "export"
	ActionDelete = "delete"
)

// Limits on event fields, in bytes.
const (
	MaxPrincipal = 256
	MaxSubject   = 256
	MaxPurpose   = 512
	MaxSource    = 256
	// MaxFutureSkew is how far ahead of the server's clock an event's time may
	// be; reporters' clocks drift, but an entry dated next week would distort
	// blast-radius reports.
	MaxFutureSkew = 5 * time.Minute
)

// DefaultCategories returns the field categories an operator gets unless the
// configuration adds more. It returns a new slice each call, so callers may
// append to it.
func DefaultCategories() []string {
	return []string{
		"profile", "email", "phone", "address", "password_hash",
		"payment", "playlists", "listening_history", "devices", "location",
	}
}

// Event is one access to one user's data.
type Event struct {
	Time      time.Time
	Principal string // who accessed: a service or admin identity
	Action    string // read, write, export or delete
	Subject   string // whose data: the user's username, account id, or another name of them
	// Account is the account Subject resolved to at ingest, "" when it
	// resolved to none (an unresolved subject: kept, flagged, never
	// counted as a user); Resolved says the lookup ran. Both are set by
	// the server, never taken from a reporter, and signed in the leaf:
	// a leaf carries "account" exactly when Resolved (leaves written
	// before subjects were resolved have none).
	Account    string
	Resolved   bool
	Categories []string // which kinds of field, from the configured set
	Purpose    string   // why: free text or a ticket reference; optional
	Source     string   // where from: host, service instance; optional
}

// Validate reports whether e may enter the log. now is the server's clock and
// known the configured categories. A refusal is a *cordon.Error with code
// cordon.ECodeUnprocessable whose Field names the offending field, e.g.
// "categories[2]".
func (e Event) Validate(now time.Time, known []string) error {
	if e.Time.IsZero() {
		return refuse("time", "time is missing")
	}
	if e.Time.After(now.Add(MaxFutureSkew)) {
		return refuse("time", "time is more than %s in the future", MaxFutureSkew)
	}
	if err := checkName("principal", e.Principal, MaxPrincipal); err != nil {
		return err
	}
	switch e.Action {
	case ActionRead, ActionWrite, ActionExport, ActionDelete:
	default:
		return refuse("action", "action must be read, write, export or delete")
	}
	if err := checkName("subject", e.Subject, MaxSubject); err != nil {
		return err
	}
	if len(e.Categories) == 0 {
		return refuse("categories", "at least one category is required")
	}
	for i, c := range e.Categories {
		field := "categories[" + strconv.Itoa(i) + "]"
		if !slices.Contains(known, c) {
			return refuse(field, "unknown category %q", truncate(c))
		}
		if slices.Contains(e.Categories[:i], c) {
			return refuse(field, "duplicate category %q", c)
		}
	}
	if err := checkText("purpose", e.Purpose, MaxPurpose); err != nil {
		return err
	}
	return checkText("source", e.Source, MaxSource)
}

func refuse(field, format string, args ...any) *cordon.Error {
	return cordon.FieldError(cordon.ECodeUnprocessable, field, format, args...)
}

// CheckName refuses a name an event could not carry in field: empty, longer
// than max bytes, or not printable UTF-8. Reports use it for the
// principals they are asked about, which they print.
func CheckName(field, s string, max int) error { return checkName(field, s, max) }

// checkName requires 1..max bytes of printable UTF-8: identities are shown in
// reports and terminals, where control characters could forge lines.
func checkName(field, s string, max int) error {
	if s == "" {
		return refuse(field, "%s is required", field)
	}
	return checkText(field, s, max)
}

// checkText allows the empty string, but otherwise the same as checkName.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return refuse(field, "%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return refuse(field, "%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return refuse(field, "%s contains a non-printable character", field)
		}
	}
	return nil
}

// truncate keeps error messages short when echoing user input.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Leaf returns the canonical encoding of e: the bytes the log stores and
// hashes (rfc6962 HashLeaf). It is JSON with a fixed field order (time,
// principal, action, subject, categories, purpose, source), the time in
// UTC as RFC 3339 with nanoseconds (trailing zeros dropped) and the
// categories sorted, so the same event always gives the same bytes
// whatever time zone or category order the reporter used. Strings are
// escaped exactly as encoding/json escapes them, so any JSON library can
// read a leaf and Go's can write one. Validate e first: invalid UTF-8
// would be replaced, and two events could then share an encoding.
func Leaf(e Event) []byte {
	return appendLeaf(make([]byte, 0, 160+len(e.Principal)+len(e.Subject)+len(e.Purpose)+len(e.Source)), e)
}

// ParseLeaf decodes a leaf encoding made by Leaf. It refuses bytes that are
// not exactly what Leaf would produce for the decoded event, so a stored
// entry has one reading only.
func ParseLeaf(b []byte) (Event, error) {
	e, err := parseLeaf(b)
	if err != nil {
		return Event{}, fmt.Errorf("audit: parsing leaf: %w", err)
	}
	if !bytes.Equal(appendLeaf(make([]byte, 0, len(b)), e), b) {
		return Event{}, fmt.Errorf("audit: leaf is not in canonical form")
	}
	return e, nil
}

// Entry returns the stored form of a valid event: its canonical leaf, the
// leaf hash and the fields reports index. The store gives it its index.
func Entry(e Event) *cordon.AuditEntry {
	l := Leaf(e)
	return &cordon.AuditEntry{
		Leaf:       l,
		LeafHash:   LeafHash(l),
		Time:       e.Time.UTC(),
		Principal:  e.Principal,
		Action:     e.Action,
		Subject:    e.Subject,
		Categories: slices.Clone(e.Categories),
		Account:    e.Account,
		Resolved:   e.Resolved,
	}
}

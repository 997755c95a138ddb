package cordon

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxEmailBytes bounds an email address (RFC 5321's path limit).
const MaxEmailBytes = 254

// NormalizeEmail returns the stored form of an account's email address:
// a bare addr-spec (no display name, no comments, no angle brackets) as
// net/mail parses it, Unicode NFC, lower-cased. Addresses are unique in
// this form. "" stays "" (no address).
func NormalizeEmail(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > MaxEmailBytes || !utf8.ValidString(s) {
		return "", FieldError(ECodeInvalid, "email", "email must be valid UTF-8 of at most %d bytes", MaxEmailBytes)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
		return "", FieldError(ECodeInvalid, "email", "email must be a bare address such as alice@example.com, without a name or brackets")
	}
	return strings.ToLower(norm.NFC.String(a.Address)), nil
}

// MailState is where a queued email stands.
type MailState string

// Mail states. A message goes queued → sending (claimed under a lease)
// → sent or failed; a temporary failure puts it back to queued with a
// later NextAt, and an expired lease (a worker that died mid-send) makes
// it claimable again.
const (
	MailQueued  MailState = "queued"
	MailSending MailState = "sending"
	MailSent    MailState = "sent"
	MailFailed  MailState = "failed"
)

// mailKey is what an idempotency key may hold: printable ASCII without
// spaces, so a prefix range scan and a Message-ID can be made from it.
var mailKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:._@+-]{0,199}$`)

// CheckMailKey says whether k may be an outbox idempotency key
// ("notice:n-1:u-2", "reset:c-3:u-2").
func CheckMailKey(k string) error {
	if !mailKey.MatchString(k) {
		return FieldError(ECodeInvalid, "key", "an outbox key is 1-200 characters of letters, digits and :._@+- starting with a letter or digit")
	}
	return nil
}

// MailMessage is one email in the durable outbox.
type MailMessage struct {
	// Key is the idempotency key: one message per key, ever. Callers
	// scope it as kind:object:account, so Counts by prefix tells one
	// notice's (or campaign's) progress.
	Key     string
	To      string
	Subject string
	Text    string
	// Language is a BCP 47 tag; optional.
	Language  string
	State     MailState
	Attempts  int
	CreatedAt time.Time
	// NextAt is the earliest time the message may be (re)tried.
	NextAt time.Time
	// Owner and LeaseUntil name the worker holding a sending message and
	// how long its claim lasts.
	Owner      string
	LeaseUntil time.Time
	// SentAt is set when the relay accepted the message.
	SentAt time.Time
	// Reason is the last failure as the relay gave it.
	Reason string
}

// MailCounts is the outbox's progress for a key prefix.
type MailCounts struct {
	// Queued counts messages not yet accepted or given up on (sending
	// ones included).
	Queued int64 `json:"queued"`
	Sent   int64 `json:"sent"`
	Failed int64 `json:"failed"`
}

// MailStore is the durable outbox. Safe for use by several nodes on one
// database: claims never hand one message to two live leases.
type MailStore interface {
	// EnqueueMail stores messages in state queued (State, Attempts, Owner
	// are ignored; NextAt zero means CreatedAt) in one transaction. A
	// message whose key is already stored, in any state, is skipped, not
	// replaced; it returns how many were stored.
	EnqueueMail(ctx context.Context, ms []*MailMessage) (queued int, err error)
	// ClaimMail hands owner up to limit messages that are queued with
	// NextAt <= now, or sending with an expired lease (LeaseUntil <= now),
	// oldest NextAt first, moving each to sending with LeaseUntil = now +
	// lease and Attempts + 1. Concurrent claims, on any node, never
	// return one message to two callers while its lease lasts.
	ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*MailMessage, error)
	// MarkMailSent records that the relay accepted the message, whatever
	// its state (a send that outlived its lease still happened); a sent
	// message stays as it was. ErrNotFound for an unknown key.
	MarkMailSent(ctx context.Context, key string, at time.Time) error
	// RetryMail puts a message owner holds back to queued, to try at
	// next, keeping reason. FailMail gives it up for good. Both do
	// nothing and return ErrNotFound unless the message is sending under
	// owner: a worker whose lease was taken over cannot undo the new
	// holder's outcome.
	RetryMail(ctx context.Context, key, owner string, next time.Time, reason string) error
	FailMail(ctx context.Context, key, owner, reason string) error
	// MailByKey returns a message.
	MailByKey(ctx context.Context, key string) (*MailMessage, error)
	// MailCounts counts the messages whose key starts with prefix ("" for
	// all) by state.
	MailCounts(ctx context.Context, prefix string) (MailCounts, error)
}

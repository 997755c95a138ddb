package auditclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Actions an event may record.
const (
	ActionRead   = audit.ActionRead
	ActionWrite  = audit.ActionWrite
	ActionExport = audit.ActionExport
	ActionDelete = audit.ActionDelete
)

// Limits of the server, kept here so a batch never exceeds them; a test
// holds them equal to the server's.
const (
	// MaxBatch is the most events cordon takes in one request.
	MaxBatch = 10_000
	// maxBody is the largest request body cordon reads.
	maxBody = 8 << 20
	// MaxEventSize bounds one event's JSON encoding. A valid event is a
	// few hundred bytes; the bound keeps one event from filling a batch.
	MaxEventSize = 64 << 10
)

// Event is one access to one user's data, as cordon's audit log records
// it. Its JSON form is the wire form of POST /audit/v1/events.
type Event struct {
	// Time is when the access happened; zero means when Send is called.
	// The server refuses a time more than 5 minutes ahead of its clock.
	Time time.Time `json:"time"`
	// Principal is who accessed: a service ("svc-billing") or an
	// employee's identity. Required.
	Principal string `json:"principal"`
	// Action is ActionRead, ActionWrite, ActionExport or ActionDelete.
	Action string `json:"action"`
	// Subject is whose data: the user's username. Required.
	Subject string `json:"subject"`
	// Categories are the kinds of field touched ("profile", "email", …),
	// from the server's configured set; at least one, no repeats.
	Categories []string `json:"categories"`
	// Purpose is why: a ticket or free text. Optional. It is also the
	// place for an id of the access, which tells two real accesses from
	// one reported twice (see the package documentation).
	Purpose string `json:"purpose,omitempty"`
	// Source is where from: a host or service instance. Optional.
	Source string `json:"source,omitempty"`
}

// encode checks e as far as the client can (everything but the server's
// category set and its clock) and returns its wire encoding.
func (e Event) encode() ([]byte, error) {
	ae := audit.Event{Time: e.Time, Principal: e.Principal, Action: e.Action, Subject: e.Subject,
		Categories: e.Categories, Purpose: e.Purpose, Source: e.Source}
	// The server's own check, with every category taken as known and the
	// event's time as now: the server alone knows its categories and its
	// clock, and everything else is refused here exactly as there.
	if err := ae.Validate(e.Time, e.Categories); err != nil {
		var ce *cordon.Error
		if errors.As(err, &ce) {
			return nil, &Error{Code: ce.Code, Message: ce.Message, Field: ce.Field}
		}
		return nil, err
	}
	for i, c := range e.Categories {
		// No configured category is empty or holds a space: the store
		// keeps categories space-separated.
		if c == "" || strings.Contains(c, " ") {
			return nil, &Error{Code: codeInvalidField, Field: fmt.Sprintf("categories[%d]", i),
				Message: fmt.Sprintf("category %q is empty or contains a space", c)}
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		// Only a time outside years 0-9999 fails to encode.
		return nil, &Error{Code: codeInvalidField, Field: "time", Message: "time cannot be encoded: " + err.Error()}
	}
	if len(b) > MaxEventSize {
		return nil, &Error{Code: codeTooLarge, Field: "categories",
			Message: fmt.Sprintf("the event encodes to %d bytes; at most %d", len(b), MaxEventSize)}
	}
	return b, nil
}

// Codes the client gives its own refusals; they are the server's codes
// for the same faults.
const (
	codeInvalidField = cordon.ECodeUnprocessable
	codeTooLarge     = cordon.ECodeTooLarge
)

// Error is a refusal of an event: by the server, or by Send before the
// event left (Status 0). A refusal is final; retrying the same event
// cannot help.
type Error struct {
	// Status is the HTTP status of the server's answer; 0 when Send
	// refused the event itself.
	Status int
	// Code is the server's error code: invalid_field (a field's value,
	// e.g. an unknown category), invalid_request, payload_too_large,
	// invalid_token or unauthorized (the token), forbidden (a token
	// without the scope audit:write), not_found (no audit API there).
	Code    string
	Message string
	// Field is the event's field at fault, e.g. "categories[0]" or
	// "time"; empty when the whole request was refused (the token, say).
	Field string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("auditclient: ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (%s, HTTP %d)", e.Code, e.Status)
	} else {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	return b.String()
}

// Errors of the client itself.
var (
	// ErrClosed: Send after Close, or an event Close gave up on before
	// it was sent. Such an event is not stored.
	ErrClosed = errors.New("auditclient: client closed")
	// ErrFull: Send's context ended while the buffer was full.
	ErrFull = errors.New("auditclient: buffer full")
	// ErrUnconfirmed: the event's batch was sent but no answer says
	// whether it was committed (Close gave up while it was in flight, or
	// the answer was not cordon's). It may or may not be stored.
	ErrUnconfirmed = errors.New("auditclient: outcome unknown; the event may or may not be stored")
)

// failures counts the events a Flush or Close reports as not committed.
type failures struct {
	n     int
	first error
}

func (f *failures) add(err error) {
	if f.n == 0 {
		f.first = err
	}
	f.n++
}

// merge adds g, whose failures are of later events than f's.
func (f *failures) merge(g failures) {
	if g.n == 0 {
		return
	}
	if f.n == 0 {
		f.first = g.first
	}
	f.n += g.n
}

func (f failures) err() error {
	switch f.n {
	case 0:
		return nil
	case 1:
		return f.first
	}
	return &failedError{n: f.n, first: f.first}
}

// failedError is Flush's and Close's error when several events failed;
// it unwraps to the first one's error.
type failedError struct {
	n     int
	first error
}

func (e *failedError) Error() string {
	return fmt.Sprintf("auditclient: %d events were not committed; the first: %s", e.n,
		strings.TrimPrefix(e.first.Error(), "auditclient: "))
}

func (e *failedError) Unwrap() error { return e.first }

package cordon

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error codes. Each is a wire code (the "error" field of a JSON error body);
// httpapi maps each to one HTTP status. Keep the set small and stable.
const (
	ECodeInvalid            = "invalid_request"       // 400: malformed or missing input
	ECodeInvalidClient      = "invalid_client_header" // 400: malformed Cordon-Client
	ECodeUnprocessable      = "invalid_field"         // 422: well-formed, but a field's value is refused
	ECodeWeakPassword       = "weak_password"         // 422: too short, too long, or common
	ECodeInvalidCredentials = "invalid_credentials"   // 401: unknown user or wrong password
	ECodeInvalidToken       = "invalid_token"         // 401: bad, expired or revoked access token
	ECodeUnauthorized       = "unauthorized"          // 401: no credential
	ECodeForbidden          = "forbidden"             // 403: credential lacks the scope
	ECodeNotFound           = "not_found"             // 404
	ECodeConflict           = "conflict"              // 409: already exists
	ECodeTooLarge           = "payload_too_large"     // 413
	ECodeMediaType          = "unsupported_media_type"
	ECodeMethod             = "method_not_allowed"
	ECodeThrottled          = "too_many_attempts" // 429 with Retry-After
	ECodeOverloaded         = "overloaded"        // 503 with Retry-After
	// ECodeStorageUnavailable: the store cannot take the request now (disk
	// full, I/O error, damaged file, database unreachable): 503 with
	// Retry-After, and /readyz fails until a write succeeds again.
	ECodeStorageUnavailable = "storage_unavailable"
	ECodeInternal           = "internal"         // 500: a bug
	ECodeAccountLocked      = "account_locked"   // 403: the right password of a locked account
	ECodeLastAdmin          = "last_admin_token" // 409: the change would leave no usable "*" admin token
)

// Sentinel errors that storage backends map their driver errors to.
var (
	ErrNotFound      = &Error{Code: ECodeNotFound, Message: "not found"}
	ErrAlreadyExists = &Error{Code: ECodeConflict, Message: "already exists"}
	// ErrRefreshReused is returned when a refresh token that was already
	// exchanged is presented again; the store has revoked its session.
	ErrRefreshReused = &Error{Code: "invalid_grant", Message: "refresh token was already used; the session is revoked"}
)

// Error is cordon's one error type. Message is safe to show a person;
// Err, if any, is the internal cause and is never shown.
type Error struct {
	Code    string
	Message string
	// Field names the input field at fault, when there is one.
	Field string
	// RetryAfter is seconds a client should wait (429 and 503).
	RetryAfter int
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match any *Error of the same code, so a backend or
// service may return a copy of a sentinel with a more precise message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns a 422-class error that names the field at fault.
func FieldError(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or ECodeInternal when err is not (or
// does not wrap) an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ECodeInternal
}

// Short is s cut to 64 bytes (and "…") at a character's start, with
// invalid UTF-8 replaced: a client's or an admin's text as an error
// message or an audit record's purpose quotes it.
func Short(s string) string {
	if len(s) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Printable replaces what an audit field may not hold (control
// characters, invalid UTF-8) with '?' and cuts s to at most max bytes on
// a rune boundary.
func Printable(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/wire"
)

// statuses maps each error code to its one HTTP status. A code not here
// is a bug and answers 500.
var statuses = map[string]int{
	cordon.ECodeInvalid:            http.StatusBadRequest,
	cordon.ECodeInvalidClient:      http.StatusBadRequest,
	cordon.ECodeUnprocessable:      http.StatusUnprocessableEntity,
	cordon.ECodeWeakPassword:       http.StatusUnprocessableEntity,
	cordon.ECodeInvalidCredentials: http.StatusUnauthorized,
	cordon.ECodeInvalidToken:       http.StatusUnauthorized,
	cordon.ECodeUnauthorized:       http.StatusUnauthorized,
	decision.ReasonSessionRevoked:  http.StatusUnauthorized,
	cordon.ECodeForbidden:          http.StatusForbidden,
	cordon.ECodeAccountLocked:      http.StatusForbidden,
	cordon.ECodeLastAdmin:          http.StatusConflict,
	cordon.ECodeNotFound:           http.StatusNotFound,
	cordon.ECodeMethod:             http.StatusMethodNotAllowed,
	cordon.ECodeConflict:           http.StatusConflict,
	cordon.ECodeTooLarge:           http.StatusRequestEntityTooLarge,
	cordon.ECodeMediaType:          http.StatusUnsupportedMediaType,
	cordon.ECodeThrottled:          http.StatusTooManyRequests,
	cordon.ECodeOverloaded:         http.StatusServiceUnavailable,
	cordon.ECodeInternal:           http.StatusInternalServerError,
	cordon.ErrRefreshReused.Code:   http.StatusBadRequest,
	"unsupported_grant_type":       http.StatusBadRequest,
	"store_unavailable":            http.StatusServiceUnavailable,
	cordon.ECodeStorageUnavailable: http.StatusServiceUnavailable,
}

// errorBody is the JSON error of the wire contract.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError answers err as the wire contract's JSON error. Internal
// errors are logged with their cause and shown only as "internal".
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *authn.DeniedError
	if errors.As(err, &de) {
		if n, ok := r.Context().Value(keyNotices).(*notices.Service); ok {
			wire.SetNotice(w, n.Denials(), &de.Decision, r.Header.Get("Accept-Language"))
		}
		wire.WriteDenied(w, &de.Decision)
		return
	}
	var e *cordon.Error
	if !errors.As(err, &e) {
		if l, ok := r.Context().Value(keyLogger).(interface {
			Error(string, ...any)
		}); ok {
			l.Error("internal error", "err", err)
		}
		e = cordon.Errorf(cordon.ECodeInternal, "internal error; the request id is %s", w.Header().Get("X-Request-Id"))
	}
	status, ok := statuses[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	// A wrong password is not a bearer failure: no challenge for it.
	if e.Code != cordon.ECodeInvalidCredentials {
		wire.Challenge(w, status, e.Code, cordon.ECodeUnauthorized, e.Message)
	}
	writeJSON(w, status, errorBody{Error: e.Code, Message: e.Message, Field: e.Field})
}

// writeJSON is wire.WriteJSON, the one JSON writer of server and gate.
var writeJSON = wire.WriteJSON

// maxJSONBody bounds every JSON request body but imports.
const maxJSONBody = 64 << 10

// readJSON decodes exactly one JSON object into v, strictly: the right
// content type, a bounded size, no unknown fields, no member twice, only
// valid UTF-8, nothing after it.
func readJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if err := requireType(r, "application/json"); err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return jsonError(err)
	}
	if p := checkStrict(data); p != nil {
		return cordon.FieldError(cordon.ECodeInvalid, p.field(), "%s", p.msg)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return cordon.Errorf(cordon.ECodeInvalid, "the body must hold exactly one JSON object")
	}
	return nil
}

func requireType(r *http.Request, want string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != want {
		return cordon.Errorf(cordon.ECodeMediaType, "Content-Type must be %s", want)
	}
	return nil
}

// publicMessage is the message of the *cordon.Error err is or wraps, safe
// to show a person; for any other error, only that it is internal.
func publicMessage(err error) string {
	var e *cordon.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// jsonError explains a decoding failure in a person's words.
func jsonError(err error) *cordon.Error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mb  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mb):
		return cordon.Errorf(cordon.ECodeTooLarge, "the body is larger than %d bytes", mb.Limit)
	case errors.Is(err, io.EOF):
		return cordon.Errorf(cordon.ECodeInvalid, "the body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return cordon.Errorf(cordon.ECodeInvalid, "the JSON body ends too soon")
	case errors.As(err, &syn):
		return cordon.Errorf(cordon.ECodeInvalid, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return cordon.FieldError(cordon.ECodeInvalid, typ.Field, "field %q must be a %s", typ.Field, typ.Type.String())
		}
		return cordon.Errorf(cordon.ECodeInvalid, "the body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return cordon.FieldError(cordon.ECodeInvalid, f, "unknown field %q", f)
	}
	return cordon.Errorf(cordon.ECodeInvalid, "the body is not valid JSON")
}

package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
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
		writeDenied(w, de.Decision)
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
	// RFC 6750 §3: a bearer-protected resource says how to authenticate.
	switch {
	case e.Code == cordon.ECodeUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cordon"`)
	case status == http.StatusUnauthorized && e.Code != cordon.ECodeInvalidCredentials:
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="cordon", error="invalid_token", error_description=%q`, e.Message))
	}
	writeJSON(w, status, errorBody{Error: e.Code, Message: e.Message, Field: e.Field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// maxJSONBody bounds every JSON request body but imports.
const maxJSONBody = 64 << 10

// readJSON decodes exactly one JSON object into v, strictly: the right
// content type, a bounded size, no unknown fields, nothing after it.
func readJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if err := requireType(r, "application/json"); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return jsonError(err)
		}
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

// jsonError explains a decoding failure in a person's words.
func jsonError(err error) error {
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

// deniedBody is the wire form of a decision-engine denial.
type deniedBody struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	Campaign   string `json:"campaign,omitempty"`
	MinVersion string `json:"min_version,omitempty"`
	UpdateURL  string `json:"update_url,omitempty"`
	Sideloaded bool   `json:"sideloaded,omitempty"`
}

// writeDenied answers a denial per SPEC: 401 with WWW-Authenticate for
// reauth_required, password_reset_required and session_revoked; 426 with
// the store to upgrade from for upgrade_required.
func writeDenied(w http.ResponseWriter, d decision.Decision) {
	b := deniedBody{Error: d.Reason, Message: d.Message, Campaign: d.Campaign}
	status := http.StatusUnauthorized
	if d.Reason == decision.ReasonUpgradeRequired && d.Upgrade != nil {
		status = http.StatusUpgradeRequired
		b.MinVersion, b.UpdateURL, b.Sideloaded = d.Upgrade.MinVersion, d.Upgrade.URL, d.Upgrade.Sideloaded
	} else {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="cordon", error="invalid_token", error_description=%q`, d.Message))
	}
	writeJSON(w, status, b)
}

// upgradeHeader is the Cordon-Upgrade response header of a flexible
// upgrade prompt (an RFC 8941 dictionary).
func upgradeHeader(u *decision.Upgrade) string {
	return fmt.Sprintf("mode=%s, min=%q, url=%q", u.Mode, u.MinVersion, u.URL)
}

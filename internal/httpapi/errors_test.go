package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// A wrapped *cordon.Error keeps its code, status and message: nothing
// asserts the error's dynamic type, so wrapping one (with %w) never turns a
// 4xx into a panic or a 500.
func TestWrappedErrorKeepsItsCode(t *testing.T) {
	base := cordon.FieldError(cordon.ECodeInvalidClient, "platform", "Cordon-Client is malformed")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
		retryAfter string
	}{
		{"bare", base, http.StatusBadRequest, "invalid_client_header", "Cordon-Client is malformed", ""},
		{"wrapped once", fmt.Errorf("parse header: %w", base), http.StatusBadRequest, "invalid_client_header", "Cordon-Client is malformed", ""},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", base)), http.StatusBadRequest, "invalid_client_header", "Cordon-Client is malformed", ""},
		{"joined", errors.Join(errors.New("other"), cordon.Errorf(cordon.ECodeNotFound, "no such thing")), http.StatusNotFound, "not_found", "no such thing", ""},
		{"wrapped throttle", fmt.Errorf("login: %w", &cordon.Error{Code: cordon.ECodeThrottled, Message: "slow down", RetryAfter: 7}), http.StatusTooManyRequests, "too_many_attempts", "slow down", "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := publicMessage(tt.err); got != tt.wantMsg {
				t.Errorf("publicMessage = %q, want %q", got, tt.wantMsg)
			}
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest("GET", "/", nil), tt.err)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			var body errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body.Error != tt.wantCode || body.Message != tt.wantMsg {
				t.Errorf("body = %+v, want error %q, message %q", body, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// An error that is no *cordon.Error shows nothing of itself.
func TestPublicMessageHidesOtherErrors(t *testing.T) {
	if got := publicMessage(errors.New("pq: password authentication failed for user root")); got != "internal error" {
		t.Errorf("publicMessage = %q, want %q", got, "internal error")
	}
}

// Each code answers its one status, written out here rather than read from
// the table under test; a 401 carries its bearer challenge, a wrong
// password none.
func TestCodeStatus(t *testing.T) {
	tests := []struct {
		code      string
		status    int
		challenge string // "" none; else the WWW-Authenticate header's start
	}{
		{"invalid_request", 400, ""},
		{"invalid_client_header", 400, ""},
		{"invalid_field", 422, ""},
		{"weak_password", 422, ""},
		{"invalid_credentials", 401, ""},
		{"invalid_token", 401, `Bearer realm="cordon", error="invalid_token"`},
		{"unauthorized", 401, `Bearer realm="cordon"`},
		{"session_revoked", 401, `Bearer realm="cordon", error="invalid_token"`},
		{"forbidden", 403, ""},
		{"account_locked", 403, ""},
		{"last_admin_token", 409, ""},
		{"not_found", 404, ""},
		{"method_not_allowed", 405, ""},
		{"conflict", 409, ""},
		{"payload_too_large", 413, ""},
		{"unsupported_media_type", 415, ""},
		{"too_many_attempts", 429, ""},
		{"overloaded", 503, ""},
		{"storage_unavailable", 503, ""},
		{"store_unavailable", 503, ""},
		{"internal", 500, ""},
		{"invalid_grant", 400, ""},
		{"unsupported_grant_type", 400, ""},
		{"no_such_code_is_a_bug", 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest("GET", "/", nil), fmt.Errorf("wrapped: %w", cordon.Errorf(tt.code, "m")))
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			got := w.Header().Get("WWW-Authenticate")
			if (tt.challenge == "") != (got == "") || !strings.HasPrefix(got, tt.challenge) {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
		})
	}
}

// An error that is no *cordon.Error is a 500 that shows only the request
// id, never its text.
func TestInternalErrorHidesItsCause(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("X-Request-Id", "req-42")
	writeError(w, httptest.NewRequest("GET", "/", nil), errors.New("disk I/O error at /var/lib/cordon/cordon.db"))
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != 500 || body.Error != "internal" || body.Message != "internal error; the request id is req-42" {
		t.Errorf("answer = %d %+v, want 500 internal naming only the request id", w.Code, body)
	}
}

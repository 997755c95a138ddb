package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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

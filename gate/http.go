package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// The answers below are byte for byte those of internal/httpapi
// (writeError, writeDenied, upgradeHeader): an app must not be able to
// tell the gate from the server. They are copied, not shared, because
// httpapi brings the whole server with it; gate_test.go pins the bytes.

// errorBody is the JSON error of the wire contract.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
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

// writeError answers an error of Decide. Anything but a *cordon.Error of
// a known code is a bug: a 500 that shows nothing of its cause.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *cordon.Error
	status := 0
	if errors.As(err, &e) {
		switch e.Code {
		case CodeUnauthorized, CodeInvalidToken:
			status = http.StatusUnauthorized
		case CodeInvalidClient:
			status = http.StatusBadRequest
		case CodeNotReady:
			status = http.StatusServiceUnavailable
		}
	}
	if status == 0 {
		log.Error("gate: internal error", "err", err)
		e, status = cordon.Errorf(cordon.ECodeInternal, "internal error"), http.StatusInternalServerError
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	// RFC 6750 §3: a bearer-protected resource says how to authenticate.
	switch {
	case e.Code == CodeUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cordon"`)
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="cordon", error="invalid_token", error_description=%q`, e.Message))
	}
	writeJSON(w, status, errorBody{Error: e.Code, Message: e.Message})
}

// writeDenied answers a denial per SPEC: 401 with WWW-Authenticate for
// reauth_required, password_reset_required and session_revoked; 426 with
// the store to upgrade from for upgrade_required.
func writeDenied(w http.ResponseWriter, d *decision.Decision) {
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

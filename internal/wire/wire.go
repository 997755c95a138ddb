// Package wire writes the responses of SPEC.md's wire contract that both
// the server (internal/httpapi) and the edge (package gate) give: JSON
// bodies, denials (401 with WWW-Authenticate, 426 with the store to
// upgrade from), the Cordon-Upgrade prompt. Sharing them keeps an app from
// telling the gate from the server, byte for byte.
package wire

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// DeniedBody is the wire form of a decision-engine denial.
type DeniedBody struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	Campaign   string `json:"campaign,omitempty"`
	MinVersion string `json:"min_version,omitempty"`
	UpdateURL  string `json:"update_url,omitempty"`
	Sideloaded bool   `json:"sideloaded,omitempty"`
}

// WriteJSON writes v as the JSON body of a status answer.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// Challenge sets RFC 6750 §3's WWW-Authenticate on a bearer-protected
// answer: a bare realm when no credential came (code unauthorized), the
// invalid_token error with its description on any other 401.
func Challenge(w http.ResponseWriter, status int, code, unauthorizedCode, message string) {
	switch {
	case code == unauthorizedCode:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cordon"`)
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="cordon", error="invalid_token", error_description=%q`, message))
	}
}

// WriteDenied answers a denial per SPEC, with the status of the denying
// kind (cordon.KindRules.Denial): 401 with WWW-Authenticate for
// reauth_required, password_reset_required and session_revoked; 426 with
// the store to upgrade from for upgrade_required.
func WriteDenied(w http.ResponseWriter, d *decision.Decision) {
	b := DeniedBody{Error: d.Reason, Message: d.Message, Campaign: d.Campaign}
	status := http.StatusUnauthorized
	if k, ok := cordon.DenialOf(d.Reason); ok {
		status = k.Status
	}
	switch {
	case status == http.StatusUpgradeRequired && d.Upgrade != nil:
		b.MinVersion, b.UpdateURL, b.Sideloaded = d.Upgrade.MinVersion, d.Upgrade.URL, d.Upgrade.Sideloaded
	case status == http.StatusUpgradeRequired: // nowhere to send the client: it must log in again
		status = http.StatusUnauthorized
		fallthrough
	default:
		Challenge(w, status, d.Reason, "", d.Message)
	}
	WriteJSON(w, status, b)
}

// UpgradeHeader is the Cordon-Upgrade response header of a flexible
// upgrade prompt (an RFC 8941 dictionary).
func UpgradeHeader(u *decision.Upgrade) string {
	return fmt.Sprintf("mode=%s, min=%q, url=%q", u.Mode, u.MinVersion, u.URL)
}

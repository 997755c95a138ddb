package httpapi

import (
	"net/http"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/wire"
)

func (s *Server) handleIssueGrant(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	g, exp, err := s.authn.IssueOfflineGrant(r.Context(), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, struct {
		Grant     string    `json:"grant"`
		ExpiresAt time.Time `json:"expires_at"`
	}{g, exp})
}

type grantBody struct {
	Grant string `json:"grant"`
}

// handleCheckGrant is the offline check-in. The grant is the credential,
// so it needs no access token: an install may come back online with an
// expired session and must still learn to download again.
func (s *Server) handleCheckGrant(w http.ResponseWriter, r *http.Request) {
	var body grantBody
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	facts, err := s.clientFacts(r.Header)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.authn.CheckOfflineGrant(r.Context(), body.Grant, facts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if d := res.Decision; d.Outcome == decision.Deny {
		writeJSON(w, cordon.KindOfflineRekey.MustRules().Denial.Status, wire.DeniedBody{Error: d.Reason, Message: d.Message, Campaign: d.Campaign})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Valid     bool      `json:"valid"`
		ExpiresAt time.Time `json:"expires_at"`
	}{true, res.ExpiresAt})
}

package httpapi

import (
	"net/http"
	"strconv"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// maxAlertBody bounds an alert request: a severity at most.
const maxAlertBody = 4 << 10

// alertRoutes are the alert API's routes, of scope incidents (alerts are
// what incidents are opened from).
func (s *Server) alertRoutes(mux *router) {
	in := func(h http.HandlerFunc) http.HandlerFunc { return s.withAdmin(cordon.ScopeIncidents, h) }
	mux.HandleFunc("GET /admin/v1/alerts", in(s.handleListAlerts))
	mux.HandleFunc("GET /admin/v1/alerts/{id}", in(s.handleGetAlert))
	mux.HandleFunc("POST /admin/v1/alerts/{id}/ack", in(s.handleAckAlert))
	mux.HandleFunc("POST /admin/v1/alerts/{id}/escalate", in(s.handleEscalateAlert))
}

func (s *Server) handleListAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > alert.MaxList {
			writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "limit", "limit must be a number from 1 to %d, not %q", alert.MaxList, short(v)))
			return
		}
		limit = n
	}
	as, err := s.alerts.List(r.Context(), q.Get("state"), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": as})
}

func (s *Server) handleGetAlert(w http.ResponseWriter, r *http.Request) {
	a, err := s.alerts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// readOptionalJSON reads a JSON body if one is sent: an acknowledgement
// needs none.
func readOptionalJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if r.ContentLength == 0 {
		return nil
	}
	return readJSON(w, r, v, limit)
}

func (s *Server) handleAckAlert(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if err := readOptionalJSON(w, r, &body, maxAlertBody); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.alerts.Ack(r.Context(), s.incidentActor(r), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("alert acknowledged", "alert", a.ID, "by", actor(r))
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleEscalateAlert(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Severity string `json:"severity"`
	}
	if err := readOptionalJSON(w, r, &body, maxAlertBody); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.alerts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The escalation drafts a campaign when the attack reached accounts:
	// an incidents-only token must not create one.
	at, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken)
	if len(a.Evidence.Reached) > 0 && (at == nil || !at.HasScope(cordon.ScopeCampaigns)) {
		writeError(w, r, cordon.Errorf(cordon.ECodeForbidden, "alert %s reached %d accounts: opening it drafts a campaign for them, which needs the scope %q too", a.ID, len(a.Evidence.Reached), cordon.ScopeCampaigns))
		return
	}
	esc, err := s.alerts.Escalate(r.Context(), s.incidentActor(r), a.ID, body.Severity, at != nil && at.HasScope(cordon.ScopeCampaigns))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("alert opened as an incident", "alert", a.ID, "incident", esc.Incident.ID, "by", actor(r))
	w.Header().Set("Location", "/admin/v1/incidents/"+esc.Incident.ID)
	writeJSON(w, http.StatusCreated, esc)
}

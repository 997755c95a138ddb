package httpapi

import (
	"net"
	"net/http"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
)

// maxIncidentBody bounds an incident request: a title or a note is at
// most a few hundred bytes.
const maxIncidentBody = 16 << 10

// incidentRoutes are the incident API's routes, all of scope incidents.
func (s *Server) incidentRoutes(mux *router) {
	in := func(h http.HandlerFunc) http.HandlerFunc { return s.withAdmin(cordon.ScopeIncidents, h) }
	mux.HandleFunc("POST /admin/v1/incidents", in(s.handleOpenIncident))
	mux.HandleFunc("GET /admin/v1/incidents", in(s.handleListIncidents))
	mux.HandleFunc("GET /admin/v1/incidents/{id}", in(s.handleGetIncident))
	mux.HandleFunc("POST /admin/v1/incidents/{id}/notes", in(s.handleIncidentNote))
	mux.HandleFunc("POST /admin/v1/incidents/{id}/state", in(s.handleIncidentState))
	mux.HandleFunc("POST /admin/v1/incidents/{id}/close", in(s.handleCloseIncident))
	mux.HandleFunc("POST /admin/v1/incidents/{id}/links", in(s.handleLinkIncident))
	mux.HandleFunc("DELETE /admin/v1/incidents/{id}/links/{kind}/{object}", in(s.handleUnlinkIncident))
	mux.HandleFunc("GET /admin/v1/incidents/{id}/timeline", in(s.handleIncidentTimeline))
	mux.HandleFunc("GET /admin/v1/incidents/{id}/summary", in(s.handleIncidentSummary))
}

// incidentActor names the admin making a change as the audit log does
// for every admin action (see adminEntry).
func (s *Server) incidentActor(r *http.Request) incident.Actor {
	a := incident.Actor{Principal: auditlog.ObjectPrefix + "admin"}
	if at, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken); at != nil {
		a.Principal += "/" + at.Name
		a.TokenID = at.ID
	}
	a.Principal = printable(a.Principal, audit.MaxPrincipal)
	source, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		source = r.RemoteAddr
	}
	a.Source = printable(source, audit.MaxSource)
	return a
}

type openIncidentBody struct {
	Title    string     `json:"title"`
	Severity string     `json:"severity"`
	AwareAt  *time.Time `json:"aware_at"`
}

func (s *Server) handleOpenIncident(w http.ResponseWriter, r *http.Request) {
	var body openIncidentBody
	if err := readJSON(w, r, &body, maxIncidentBody); err != nil {
		writeError(w, r, err)
		return
	}
	o := incident.Open{Title: body.Title, Severity: body.Severity}
	if body.AwareAt != nil {
		if body.AwareAt.IsZero() {
			writeError(w, r, cordon.FieldError(cordon.ECodeUnprocessable, "aware_at", "aware_at is a time (RFC 3339); leave it out to mean now"))
			return
		}
		o.AwareAt = *body.AwareAt
	}
	v, err := s.incidents.Open(r.Context(), s.incidentActor(r), o)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("incident opened", "incident", v.ID, "severity", v.Severity, "by", actor(r))
	w.Header().Set("Location", "/admin/v1/incidents/"+v.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) handleListIncidents(w http.ResponseWriter, r *http.Request) {
	vs, err := s.incidents.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": vs})
}

func (s *Server) handleGetIncident(w http.ResponseWriter, r *http.Request) {
	v, err := s.incidents.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleIncidentNote(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	if err := readJSON(w, r, &body, maxIncidentBody); err != nil {
		writeError(w, r, err)
		return
	}
	v, err := s.incidents.Note(r.Context(), s.incidentActor(r), r.PathValue("id"), body.Text)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type stateBody struct {
	State  string `json:"state"`
	Reopen bool   `json:"reopen"`
	// Version, when given, is the version the admin saw: a change made
	// since is a conflict rather than overwritten.
	Version int64 `json:"version"`
}

func (s *Server) handleIncidentState(w http.ResponseWriter, r *http.Request) {
	var body stateBody
	if err := readJSON(w, r, &body, maxIncidentBody); err != nil {
		writeError(w, r, err)
		return
	}
	s.moveIncident(w, r, body)
}

func (s *Server) moveIncident(w http.ResponseWriter, r *http.Request, body stateBody) {
	to, err := incident.ParseState(body.State)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if body.Version < 0 {
		writeError(w, r, cordon.FieldError(cordon.ECodeUnprocessable, "version", "version is the incident's version as read (1 or more), or left out"))
		return
	}
	v, err := s.incidents.Move(r.Context(), s.incidentActor(r), r.PathValue("id"), to, body.Reopen, body.Version)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("incident moved", "incident", v.ID, "state", v.State, "by", actor(r))
	writeJSON(w, http.StatusOK, v)
}

// handleCloseIncident resolves an incident; a body is optional and may
// carry the version seen.
func (s *Server) handleCloseIncident(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Version int64 `json:"version"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &body, maxIncidentBody); err != nil {
			writeError(w, r, err)
			return
		}
	}
	s.moveIncident(w, r, stateBody{State: string(cordon.IncidentResolved), Version: body.Version})
}

func (s *Server) handleLinkIncident(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}
	if err := readJSON(w, r, &body, maxIncidentBody); err != nil {
		writeError(w, r, err)
		return
	}
	kind, err := incident.ParseLinkKind(body.Kind)
	if err != nil {
		writeError(w, r, err)
		return
	}
	v, err := s.incidents.Link(r.Context(), s.incidentActor(r), r.PathValue("id"), kind, body.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleUnlinkIncident(w http.ResponseWriter, r *http.Request) {
	kind, err := incident.ParseLinkKind(r.PathValue("kind"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	v, err := s.incidents.Unlink(r.Context(), s.incidentActor(r), r.PathValue("id"), kind, r.PathValue("object"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// exportFormat reads ?format=json|md (json by default).
func exportFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return "json", nil
	case "md", "markdown":
		return "md", nil
	default:
		return "", cordon.FieldError(cordon.ECodeInvalid, "format", "format must be json or md, not %q", short(f))
	}
}

func writeMarkdown(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(text))
}

func (s *Server) handleIncidentTimeline(w http.ResponseWriter, r *http.Request) {
	format, err := exportFormat(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	t, err := s.incidents.Timeline(r.Context(), r.PathValue("id"))
	if err == nil {
		// Reading the log is evidence too, recorded before the answer.
		err = s.recordLogRead(r, audit.ActionRead, "incident "+t.Incident+" timeline read ("+format+")")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if format == "md" {
		writeMarkdown(w, t.Markdown())
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleIncidentSummary(w http.ResponseWriter, r *http.Request) {
	format, err := exportFormat(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	sum, err := s.incidents.Summary(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.recordLogRead(r, audit.ActionRead, "incident "+sum.Incident.ID+" summary read ("+format+")")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if format == "md" {
		writeMarkdown(w, sum.Markdown())
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

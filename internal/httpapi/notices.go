package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/notice"
	"github.com/cordon-dev/cordon/internal/notices"
)

// maxNoticeBody bounds a notice document: a cohort's list of users and
// fifty languages of a 20 kB body.
const maxNoticeBody = campaigndoc.MaxNoticeSize

// maxPageBody bounds a public page update.
const maxPageBody = notice.MaxLanguages * (notice.MaxBody + notice.MaxTitle + 64)

// noticeRoutes are the notice API's routes: the admin's (scope notices),
// the app's (its access token) and the public page (no credential).
func (s *Server) noticeRoutes(mux *router) {
	in := func(h http.HandlerFunc) http.HandlerFunc { return s.withAdmin(cordon.ScopeNotices, h) }
	mux.HandleFunc("POST /admin/v1/notices", in(s.handleCreateNotice))
	mux.HandleFunc("GET /admin/v1/notices", in(s.handleListNotices))
	mux.HandleFunc("GET /admin/v1/notices/{id}", in(s.handleGetNotice))
	mux.HandleFunc("POST /admin/v1/notices/{id}/publish", in(s.handleMoveNotice(s.notices.Publish)))
	mux.HandleFunc("POST /admin/v1/notices/{id}/withdraw", in(s.handleMoveNotice(s.notices.Withdraw)))
	mux.HandleFunc("GET /v1/notices", s.withNoticeReader(s.handleAppNotices))
	mux.HandleFunc("POST /v1/notices/{id}/ack", s.withNoticeReader(s.handleAckNotice))
	if s.incidents != nil {
		mux.HandleFunc("POST /admin/v1/incidents/{id}/page", s.withAdmin(cordon.ScopeIncidents, s.handlePublishPage))
		mux.HandleFunc("GET /admin/v1/incidents/{id}/page", s.withAdmin(cordon.ScopeIncidents, s.handleGetPage))
	}
	mux.HandleFunc("GET /status/{page}", s.handleStatusPage)
}

func (s *Server) handleCreateNotice(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format := ""
	switch mt {
	case "application/json":
		format = campaigndoc.JSON
	case "application/yaml", "application/x-yaml", "text/yaml":
		format = campaigndoc.YAML
	default:
		writeError(w, r, cordon.Errorf(cordon.ECodeMediaType, "Content-Type must be application/json or application/yaml"))
		return
	}
	doc, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNoticeBody))
	if err != nil {
		writeError(w, r, jsonError(err))
		return
	}
	incidentID := r.URL.Query().Get("incident")
	if incidentID != "" {
		if err := s.canLinkAtCreation(r, incidentID); err != nil {
			writeError(w, r, err)
			return
		}
	}
	by := s.incidentActor(r)
	n, err := s.notices.Create(r.Context(), by, doc, format, incidentID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if incidentID != "" {
		if _, err := s.incidents.Link(r.Context(), by, incidentID, cordon.LinkNotice, n.ID); err != nil {
			writeError(w, r, cordon.FieldError(cordon.ErrorCode(err), "incident", "notice %s was created as a draft but not linked to incident %s (%s); link it with cordon incident link %s notice %s",
				n.ID, short(incidentID), publicMessage(err), short(incidentID), n.ID))
			return
		}
	}
	w.Header().Set("Location", "/admin/v1/notices/"+n.ID)
	writeJSON(w, http.StatusCreated, n)
}

func (s *Server) handleListNotices(w http.ResponseWriter, r *http.Request) {
	ns, err := s.notices.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notices": ns})
}

func (s *Server) handleGetNotice(w http.ResponseWriter, r *http.Request) {
	v, err := s.notices.Show(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type noticeMove func(ctx context.Context, by incident.Actor, id string) (*cordon.Notice, error)

func (s *Server) handleMoveNotice(move noticeMove) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 {
			writeError(w, r, cordon.Errorf(cordon.ECodeInvalid, "this action takes no body"))
			return
		}
		n, err := move(r.Context(), s.incidentActor(r), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		s.logger(r).Info("notice moved", "notice", n.ID, "state", n.State, "by", actor(r))
		writeJSON(w, http.StatusOK, n)
	}
}

// withNoticeReader authenticates an app as withUser does, but lets a
// session a campaign denies through: the notice that explains the denial
// is what it needs to read. Only a campaign's denial: a bad token, a
// revoked session (logged out, locked, stolen and cut off) still fails.
func (s *Server) withNoticeReader(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		var de *authn.DeniedError
		if err != nil && !(errors.As(err, &de) && p != nil && de.Decision.Campaign != "") {
			writeError(w, r, err)
			return
		}
		h(w, r, p)
	}
}

func (s *Server) handleAppNotices(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	ns, err := s.notices.ForSession(r.Context(), p.Session, r.Header.Get("Accept-Language"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept-Language")
	writeJSON(w, http.StatusOK, map[string]any{"notices": ns})
}

func (s *Server) handleAckNotice(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if r.ContentLength > 0 {
		writeError(w, r, cordon.Errorf(cordon.ECodeInvalid, "an acknowledgement takes no body"))
		return
	}
	first, err := s.notices.Ack(r.Context(), p.Session, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notice": r.PathValue("id"), "acknowledged": true, "first": first})
}

type pageBody struct {
	Slug            string                       `json:"slug"`
	DefaultLanguage string                       `json:"default_language"`
	Texts           map[string]cordon.NoticeText `json:"texts"`
}

func (s *Server) handlePublishPage(w http.ResponseWriter, r *http.Request) {
	var body pageBody
	if err := readJSON(w, r, &body, maxPageBody); err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.notices.PublishPage(r.Context(), s.incidentActor(r), r.PathValue("id"), notices.PageUpdate{Slug: body.Slug, DefaultLanguage: body.DefaultLanguage, Texts: body.Texts})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("public page updated", "incident", p.Incident, "slug", p.Slug, "by", actor(r))
	w.Header().Set("Location", "/status/"+p.Slug)
	writeJSON(w, http.StatusCreated, p)
}

func (s *Server) handleGetPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.notices.PageOf(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// handleStatusPage serves a public page: /status/SLUG as HTML,
// /status/SLUG.atom and /status/SLUG.json. What was never published is a
// 404 that says no more than an unknown slug's.
func (s *Server) handleStatusPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("page")
	slug, kind := name, "html"
	for _, ext := range []string{"atom", "json"} {
		if base, ok := strings.CutSuffix(name, "."+ext); ok {
			slug, kind = base, ext
		}
	}
	url := strings.TrimSuffix(s.authn.Config().Issuer, "/") + "/status/" + slug
	page, err := s.notices.Page(r.Context(), slug, url)
	if errors.Is(err, cordon.ErrNotFound) {
		writeError(w, r, cordon.Errorf(cordon.ECodeNotFound, "no public page here"))
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	pref := r.Header.Get("Accept-Language")
	h := w.Header()
	h.Set("Vary", "Accept-Language")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=30")
	h.Set("Content-Security-Policy", notice.PageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	switch kind {
	case "atom":
		b, err := page.Atom(pref)
		if err != nil {
			writeError(w, r, err)
			return
		}
		h.Set("Content-Type", "application/atom+xml; charset=utf-8")
		w.Write(b)
	case "json":
		b, err := page.JSON(pref)
		if err != nil {
			writeError(w, r, err)
			return
		}
		h.Set("Content-Type", "application/json")
		w.Write(b)
	default:
		var b bytes.Buffer
		if err := page.HTMLPage(&b, pref); err != nil {
			writeError(w, r, err)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b.Bytes())
	}
}

package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/ssf"
)

// ssfRoutes serves the OpenID Shared Signals transmitter: its metadata,
// stream management, status, verification and RFC 8936 polling. Every
// route but the metadata needs an admin token of scope ssf, and a token
// sees only the streams it created.
func (s *Server) ssfRoutes(mux *router) {
	mux.HandleFunc("GET /.well-known/ssf-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.ssf.Metadata())
	})
	mux.HandleFunc("POST /ssf/stream", s.withAdmin(cordon.ScopeSSF, s.handleSSFCreate))
	mux.HandleFunc("GET /ssf/stream", s.withAdmin(cordon.ScopeSSF, s.handleSSFGet))
	mux.HandleFunc("PATCH /ssf/stream", s.withAdmin(cordon.ScopeSSF, s.handleSSFUpdate(false)))
	mux.HandleFunc("PUT /ssf/stream", s.withAdmin(cordon.ScopeSSF, s.handleSSFUpdate(true)))
	mux.HandleFunc("DELETE /ssf/stream", s.withAdmin(cordon.ScopeSSF, s.handleSSFDelete))
	mux.HandleFunc("GET /ssf/status", s.withAdmin(cordon.ScopeSSF, s.handleSSFStatus))
	mux.HandleFunc("POST /ssf/status", s.withAdmin(cordon.ScopeSSF, s.handleSSFSetStatus))
	mux.HandleFunc("POST /ssf/verification", s.withAdmin(cordon.ScopeSSF, s.handleSSFVerify))
	mux.HandleFunc("POST /ssf/poll/{id}", s.withAdmin(cordon.ScopeSSF, s.handleSSFPoll))
}

func ssfOwner(r *http.Request) string { return callerToken(r).Name }

// ssfSubject is the audit subject of the records of a change to a receiver's streams: it
// commits in the change's transaction.
const ssfSubject = "cordon:ssf-streams"

// readSSFConfig reads a stream configuration: the right content type, at
// most 64 KiB, no member twice, valid UTF-8, then ssf.ParseRequest.
func (s *Server) readSSFConfig(w http.ResponseWriter, r *http.Request) (*ssf.Request, error) {
	if err := requireType(r, "application/json"); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return nil, jsonError(err)
	}
	if p := checkStrict(data); p != nil {
		return nil, cordon.FieldError(cordon.ECodeInvalid, p.field(), "%s", p.msg)
	}
	return ssf.ParseRequest(data, s.ssf.Policy())
}

func (s *Server) handleSSFCreate(w http.ResponseWriter, r *http.Request) {
	req, err := s.readSSFConfig(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	st, err := change(s, r, func(ctx context.Context) (*cordon.SSFStream, error) { return s.ssf.Create(ctx, ssfOwner(r), req) }, audit.ActionWrite, ssfSubject, fmt.Sprintf("shared signals stream created for %s", short(ssfOwner(r))), "ssf_streams")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.ssf.View(st))
}

func (s *Server) handleSSFGet(w http.ResponseWriter, r *http.Request) {
	if id := r.URL.Query().Get("stream_id"); id != "" {
		st, err := s.ssf.Stream(r.Context(), ssfOwner(r), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s.ssf.View(st))
		return
	}
	sts, err := s.ssf.Streams(r.Context(), ssfOwner(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]ssf.View, 0, len(sts))
	for _, st := range sts {
		out = append(out, s.ssf.View(st))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleSSFUpdate(replace bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := s.readSSFConfig(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		what := "changed"
		if replace {
			what = "replaced"
		}
		st, err := change(s, r, func(ctx context.Context) (*cordon.SSFStream, error) {
			return s.ssf.Update(ctx, ssfOwner(r), req, replace)
		}, audit.ActionWrite, ssfSubject, fmt.Sprintf("shared signals stream %q of %s %s", short(req.StreamID), short(ssfOwner(r)), what), "ssf_streams")
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s.ssf.View(st))
	}
}

func (s *Server) handleSSFDelete(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("stream_id")
	if err := s.changed(r, func(ctx context.Context) error { return s.ssf.Delete(ctx, ssfOwner(r), id) }, audit.ActionDelete, ssfSubject, fmt.Sprintf("shared signals stream %q of %s deleted", short(id), short(ssfOwner(r))), "ssf_streams"); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSSFStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.ssf.Stream(r.Context(), ssfOwner(r), r.URL.Query().Get("stream_id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ssf.StatusOf(st))
}

func (s *Server) handleSSFSetStatus(w http.ResponseWriter, r *http.Request) {
	var req ssf.StatusRequest
	if err := readJSON(w, r, &req, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	st, err := change(s, r, func(ctx context.Context) (*cordon.SSFStream, error) { return s.ssf.SetStatus(ctx, ssfOwner(r), req) }, audit.ActionWrite, ssfSubject, fmt.Sprintf("shared signals stream %q of %s set %q", short(req.StreamID), short(ssfOwner(r)), short(req.Status)), "ssf_streams")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ssf.StatusOf(st))
}

func (s *Server) handleSSFVerify(w http.ResponseWriter, r *http.Request) {
	var req ssf.VerifyRequest
	if err := readJSON(w, r, &req, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.ssf.Verify(r.Context(), ssfOwner(r), req); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSSFPoll(w http.ResponseWriter, r *http.Request) {
	var req ssf.PollRequest
	if err := readJSON(w, r, &req, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := s.ssf.Poll(r.Context(), ssfOwner(r), r.PathValue("id"), req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

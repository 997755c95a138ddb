package httpapi

import (
	"context"
	"errors"
	"fmt"
	"github.com/cordon-dev/cordon/internal/admintokens"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Bounds of the times an admin may give a token. Longer is a typo.
const (
	maxTokenTTL   = admintokens.MaxTTL
	maxTokenGrace = admintokens.MaxGrace
)

// feedRecheck is how often a feed stream checks that its admin token is
// still usable: a revoked gate token loses its stream within this.
const feedRecheck = 250 * time.Millisecond

type adminTokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	State      string     `json:"state"` // active, expired, revoked, replaced, or "replaced, in grace"
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	ReplacedBy string     `json:"replaced_by,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func viewAdminToken(t *cordon.AdminToken, now time.Time) adminTokenView {
	state := "active"
	switch {
	case t.ReplacedBy != "" && t.Usable(now):
		state = "replaced, in grace"
	case t.ReplacedBy != "":
		state = "replaced"
	case !t.RevokedAt.IsZero():
		state = "revoked"
	case !t.Usable(now):
		state = "expired"
	}
	return adminTokenView{ID: t.ID, Name: t.Name, Scopes: t.Scopes, State: state, CreatedAt: t.CreatedAt,
		ExpiresAt: optTime(t.ExpiresAt), RevokedAt: optTime(t.RevokedAt), ReplacedBy: t.ReplacedBy}
}

// expiryBody is how a request gives a token's end: an RFC 3339 time or a
// time to live from now ("90d", "12h"), not both.
type expiryBody struct {
	ExpiresAt string `json:"expires_at"`
	TTL       string `json:"ttl"`
}

// expiry reads an expiryBody; zero when neither is given.
func (b expiryBody) expiry(now time.Time) (time.Time, error) {
	switch {
	case b.ExpiresAt != "" && b.TTL != "":
		return time.Time{}, cordon.FieldError(cordon.ECodeInvalid, "ttl", "give expires_at or ttl, not both")
	case b.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339, b.ExpiresAt)
		if err != nil {
			return time.Time{}, cordon.FieldError(cordon.ECodeInvalid, "expires_at", "expires_at must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
		if !t.After(now) {
			return time.Time{}, cordon.FieldError(cordon.ECodeUnprocessable, "expires_at", "expires_at must be in the future")
		}
		if t.Sub(now) > maxTokenTTL {
			return time.Time{}, cordon.FieldError(cordon.ECodeUnprocessable, "expires_at", "expires_at is more than ten years away")
		}
		return t.UTC(), nil
	case b.TTL != "":
		d, err := ParseTTL(b.TTL)
		if err != nil {
			return time.Time{}, cordon.FieldError(cordon.ECodeInvalid, "ttl", "%v", err)
		}
		if d <= 0 || d > maxTokenTTL {
			return time.Time{}, cordon.FieldError(cordon.ECodeUnprocessable, "ttl", "ttl must be more than zero and at most ten years")
		}
		return now.Add(d).UTC(), nil
	}
	return time.Time{}, nil
}

// ParseTTL reads a duration as operators write one: a Go duration
// ("12h", "90m") or whole days ("90d", "1d12h").
func ParseTTL(s string) (time.Duration, error) {
	if len(s) > 32 {
		return 0, errors.New("the duration is too long")
	}
	days := time.Duration(0)
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 90d, 12h or 1d12h", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 90d, 12h or 1d12h", s)
	}
	return days + d, nil
}

// callerToken is the admin token of the request.
func callerToken(r *http.Request) *cordon.AdminToken {
	at, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken)
	return at
}

// record is the audit record maker of an admin-token change the request
// asks for (nil without an audit log).
func (s *Server) record(r *http.Request) admintokens.Record {
	if s.audit == nil {
		return nil
	}
	return func(purpose string) (*cordon.AuditEntry, error) {
		return s.adminEntry(r, audit.ActionWrite, "cordon:admin-tokens", purpose, "admin_tokens")
	}
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) {
	all, err := s.tokens.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	now := s.clock.Now()
	out := make([]adminTokenView, 0, len(all))
	for _, t := range all {
		out = append(out, viewAdminToken(t, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) handleGetToken(w http.ResponseWriter, r *http.Request) {
	t, err := s.tokens.Find(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAdminToken(t, s.clock.Now()))
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	got, err := s.tokens.Revoke(r.Context(), callerToken(r), r.PathValue("ref"), s.record(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("admin token revoked", "token", got.ID, "by", actor(r))
	writeJSON(w, http.StatusOK, viewAdminToken(got, s.clock.Now()))
}

func (s *Server) handleTokenExpiry(w http.ResponseWriter, r *http.Request) {
	var body struct {
		expiryBody
		Never bool `json:"never"`
	}
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	now := s.clock.Now()
	when, err := body.expiry(now)
	if err == nil && when.IsZero() != body.Never {
		err = cordon.FieldError(cordon.ECodeInvalid, "expires_at", `give one of expires_at, ttl or "never": true`)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	got, err := s.tokens.SetExpiry(r.Context(), callerToken(r), r.PathValue("ref"), when, s.record(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAdminToken(got, now))
}

func (s *Server) handleRotateToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		expiryBody
		// Grace is how long the old secret keeps working ("10m"); none by
		// default.
		Grace string `json:"grace"`
	}
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	now := s.clock.Now().UTC()
	expires, err := body.expiry(now)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var grace time.Duration
	if body.Grace != "" {
		g, err := ParseTTL(body.Grace)
		if err != nil || g > maxTokenGrace {
			writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "grace", "grace must be a duration of at most 7d, such as 10m or 1h"))
			return
		}
		grace = g
	}
	rot, err := s.tokens.Rotate(r.Context(), callerToken(r), r.PathValue("ref"), expires, grace, s.record(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("admin token rotated", "token", rot.Old.ID, "into", rot.Next.ID, "by", actor(r))
	w.Header().Set("Cache-Control", "no-store")
	v := viewAdminToken(rot.Next, now)
	writeJSON(w, http.StatusCreated, map[string]any{"id": v.ID, "name": v.Name, "scopes": v.Scopes, "state": v.State, "created_at": v.CreatedAt,
		"expires_at": v.ExpiresAt, "token": rot.Secret, "replaced": viewAdminToken(rot.Old, now)})
}

// watchToken cancels a long-lived stream once its admin token is revoked
// or expired, checking every feedRecheck: revocation reaches every node
// through the shared store.
func (s *Server) watchToken(ctx context.Context, cancel context.CancelFunc, id string) {
	tick := time.NewTicker(feedRecheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if ok, err := s.tokens.Usable(ctx, id); err == nil && !ok {
			s.log.Info("feed stream closed: its admin token was revoked or expired", "token", id)
			cancel()
			return
		}
	}
}

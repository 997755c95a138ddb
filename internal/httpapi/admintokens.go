package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// Bounds of the times an admin may give a token. Longer is a typo.
const (
	maxTokenTTL   = 10 * 366 * 24 * time.Hour
	maxTokenGrace = 7 * 24 * time.Hour
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

// coversScopes reports whether caller holds every scope of t: acting on a
// token (revoking it, rotating it into a new secret) needs at least the
// power of that token, or a narrow token could mint a "*" secret.
func coversScopes(caller, t *cordon.AdminToken) bool {
	if caller == nil {
		return false
	}
	for _, sc := range t.Scopes {
		if sc == cordon.ScopeAll && !caller.HasScope(cordon.ScopeAll) || !caller.HasScope(sc) {
			return false
		}
	}
	return true
}

// findAdminToken resolves {ref}: a token id, or the name of a token that
// has not been replaced by a rotation.
func (s *Server) findAdminToken(r *http.Request) (*cordon.AdminToken, error) {
	ref := r.PathValue("ref")
	if strings.HasPrefix(ref, "t-") {
		t, err := s.store.AdminTokenByID(r.Context(), ref)
		if err == nil || !errors.Is(err, cordon.ErrNotFound) {
			return t, err
		}
	}
	all, err := s.store.AdminTokens(r.Context())
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.Name == ref && t.ReplacedBy == "" {
			return t, nil
		}
	}
	return nil, cordon.Errorf(cordon.ECodeNotFound, "no admin token %q", short(ref))
}

// targetToken finds {ref} and checks the caller may act on it.
func (s *Server) targetToken(r *http.Request) (*cordon.AdminToken, error) {
	t, err := s.findAdminToken(r)
	if err != nil {
		return nil, err
	}
	if !coversScopes(callerToken(r), t) {
		return nil, cordon.Errorf(cordon.ECodeForbidden, "acting on admin token %q needs every scope it holds (%s)", t.Name, strings.Join(t.Scopes, " "))
	}
	return t, nil
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) {
	all, err := s.store.AdminTokens(r.Context())
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
	t, err := s.findAdminToken(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAdminToken(t, s.clock.Now()))
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	t, err := s.targetToken(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, err := s.audited(r, audit.ActionWrite, "cordon:admin-tokens", fmt.Sprintf("admin token %s (%s) revoked", t.ID, short(t.Name)), "admin_tokens")
	if err != nil {
		writeError(w, r, err)
		return
	}
	now := s.clock.Now()
	got, err := s.store.RevokeAdminToken(ctx, t.ID, now)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("admin token revoked", "token", t.ID, "by", actor(r))
	writeJSON(w, http.StatusOK, viewAdminToken(got, now))
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
	t, err := s.targetToken(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	what := "never expires"
	if !when.IsZero() {
		what = "expires at " + when.Format(time.RFC3339)
	}
	ctx, err := s.audited(r, audit.ActionWrite, "cordon:admin-tokens", fmt.Sprintf("admin token %s (%s) %s", t.ID, short(t.Name), what), "admin_tokens")
	if err != nil {
		writeError(w, r, err)
		return
	}
	got, err := s.store.SetAdminTokenExpiry(ctx, t.ID, when, now)
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
	var until time.Time
	if body.Grace != "" {
		g, err := ParseTTL(body.Grace)
		if err != nil || g > maxTokenGrace {
			writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "grace", "grace must be a duration of at most 7d, such as 10m or 1h"))
			return
		}
		if g > 0 {
			until = now.Add(g)
		}
	}
	t, err := s.targetToken(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	plain, hash := token.NewSecret("cat_")
	next := &cordon.AdminToken{ID: cordon.NewID("t"), Hash: hash, CreatedAt: now, ExpiresAt: expires}
	ctx, err := s.audited(r, audit.ActionWrite, "cordon:admin-tokens", fmt.Sprintf("admin token %s (%s) rotated into %s", t.ID, short(t.Name), next.ID), "admin_tokens")
	if err != nil {
		writeError(w, r, err)
		return
	}
	old, err := s.store.RotateAdminToken(ctx, t.ID, next, until)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("admin token rotated", "token", t.ID, "into", next.ID, "by", actor(r))
	w.Header().Set("Cache-Control", "no-store")
	v := viewAdminToken(next, now)
	writeJSON(w, http.StatusCreated, map[string]any{"id": v.ID, "name": v.Name, "scopes": v.Scopes, "state": v.State, "created_at": v.CreatedAt,
		"expires_at": v.ExpiresAt, "token": plain, "replaced": viewAdminToken(old, now)})
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
		t, err := s.store.AdminTokenByID(ctx, id)
		if errors.Is(err, cordon.ErrNotFound) || (err == nil && !t.Usable(s.clock.Now())) {
			s.log.Info("feed stream closed: its admin token was revoked or expired", "token", id)
			cancel()
			return
		}
	}
}

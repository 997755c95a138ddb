package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/throttle"
	"github.com/cordon-dev/cordon/internal/wire"
)

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var body loginBody
	err := readJSON(w, r, &body, maxJSONBody)
	var facts cordon.ClientFacts
	if err == nil {
		facts, err = s.clientFacts(r.Header)
	}
	var tok *authn.Tokens
	if err == nil {
		tok, err = s.authn.Login(r.Context(), authn.LoginRequest{Username: body.Username, Password: body.Password, Client: facts, Address: throttle.AddressKey(s.proxies.Addr(r))})
	}
	var rr *authn.ResetRequiredError
	if errors.As(err, &rr) {
		s.logins.WithLabelValues(rr.Decision.Reason).Inc()
		if s.notices != nil {
			wire.SetNotice(w, s.notices.Denials(), &rr.Decision, r.Header.Get("Accept-Language"))
		}
		writeResetRequired(w, rr)
		return
	}
	if err != nil {
		s.logins.WithLabelValues(cordon.ErrorCode(err)).Inc()
		writeError(w, r, err)
		return
	}
	s.logins.WithLabelValues("ok").Inc()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tok)
}

// oauthError is the RFC 6749 §5.2 error body, with cordon's reason and
// message beside the standard fields.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Message     string `json:"message"`
	Reason      string `json:"reason,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, reason, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, oauthError{Error: code, Description: msg, Message: msg, Reason: reason})
}

// maxFormBody bounds the token endpoint's form.
const maxFormBody = 8 << 10

// handleToken is the RFC 6749 token endpoint, refresh grant only: a
// first-party app logs in at /v1/login (RFC 9700 forbids the password
// grant) and refreshes here like any OAuth client.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := requireType(r, "application/x-www-form-urlencoded"); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "", publicMessage(err))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "", "the form is too large")
			return
		}
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "", "the form is malformed")
		return
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			// RFC 6749 §3.2: parameters must not be repeated.
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "", "parameter "+k+" is repeated")
			return
		}
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "refresh_token":
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "", "grant_type is required")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "", "only grant_type=refresh_token is supported here; log in at POST /v1/login")
		return
	}
	rt := r.PostForm.Get("refresh_token")
	if rt == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "", "refresh_token is required")
		return
	}
	facts, err := s.clientFacts(r.Header)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", cordon.ECodeInvalidClient, publicMessage(err))
		return
	}
	tok, err := s.authn.Refresh(r.Context(), rt, facts, throttle.AddressKey(s.proxies.Addr(r)))
	var re *authn.RefreshError
	switch {
	case errors.As(err, &re):
		s.refresh.WithLabelValues(re.Reason).Inc()
		w.Header().Set("Cache-Control", "no-store")
		body := struct {
			oauthError
			Campaign   string `json:"campaign,omitempty"`
			MinVersion string `json:"min_version,omitempty"`
			UpdateURL  string `json:"update_url,omitempty"`
			Sideloaded bool   `json:"sideloaded,omitempty"`
		}{oauthError: oauthError{Error: "invalid_grant", Description: re.Message, Message: re.Message, Reason: re.Reason}, Campaign: re.Decision.Campaign}
		if u := re.Decision.Upgrade; u != nil {
			body.MinVersion, body.UpdateURL, body.Sideloaded = u.MinVersion, u.URL, u.Sideloaded
		}
		if s.notices != nil {
			wire.SetNotice(w, s.notices.Denials(), &re.Decision, r.Header.Get("Accept-Language"))
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	case err != nil:
		s.refresh.WithLabelValues(cordon.ErrorCode(err)).Inc()
		writeError(w, r, err)
		return
	}
	s.refresh.WithLabelValues("ok").Inc()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tok)
}

// withUser authenticates the bearer access token and the session behind
// it before calling h.
func (s *Server) withUser(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if u := p.Decision.Upgrade; u != nil && p.Decision.Outcome == decision.Allow {
			w.Header().Set("Cordon-Upgrade", wire.UpgradeHeader(u))
		}
		h(w, r, p)
	}
}

// principal authenticates the request's bearer token and the session
// behind it, judged on the request's client facts. On a campaign's denial
// it returns the principal too, beside the *authn.DeniedError.
func (s *Server) principal(r *http.Request) (*authn.Principal, error) {
	tok, err := bearer(r)
	if err != nil {
		return nil, err
	}
	facts, err := s.clientFacts(r.Header)
	if err != nil {
		return nil, err
	}
	return s.authn.Authenticate(r.Context(), tok, facts)
}

// maxBearer bounds an Authorization header before any parsing.
const maxBearer = 8 << 10

func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", cordon.Errorf(cordon.ECodeUnauthorized, "an Authorization: Bearer access token is required")
	}
	if len(h) > maxBearer {
		return "", cordon.Errorf(cordon.ECodeInvalidToken, "the access token is too long")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", cordon.Errorf(cordon.ECodeInvalidToken, "the Authorization header must be: Bearer <access token>")
	}
	return strings.TrimSpace(tok), nil
}

// sessionView is a session as the API shows it.
type sessionView struct {
	ID         string             `json:"id"`
	AccountID  string             `json:"account_id"`
	Client     cordon.ClientFacts `json:"client"`
	AuthTime   time.Time          `json:"auth_time"`
	CreatedAt  time.Time          `json:"created_at"`
	LastSeenAt time.Time          `json:"last_seen_at"`
	RevokedAt  *time.Time         `json:"revoked_at,omitempty"`
	Reason     string             `json:"revoke_reason,omitempty"`
	Current    bool               `json:"current,omitempty"`
}

func viewSession(s *cordon.Session) sessionView {
	v := sessionView{ID: s.ID, AccountID: s.AccountID, Client: s.Facts, AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, Reason: s.RevokeReason}
	if !s.RevokedAt.IsZero() {
		t := s.RevokedAt
		v.RevokedAt = &t
	}
	return v
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	writeJSON(w, http.StatusOK, struct {
		AccountID string            `json:"account_id"`
		Session   sessionView       `json:"session"`
		Decision  decision.Decision `json:"decision"`
		ExpiresAt time.Time         `json:"token_expires_at"`
	}{p.Session.AccountID, viewSession(p.Session), p.Decision, p.Claims.Expiry})
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	list, err := s.authn.Sessions(r.Context(), p.Session.AccountID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]sessionView, 0, len(list))
	for _, x := range list {
		v := viewSession(x)
		v.Current = x.ID == p.Session.ID
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (s *Server) handleRevokeOwn(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := s.authn.RevokeOwnSession(r.Context(), p, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := s.authn.Logout(r.Context(), p); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type passwordBody struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var body passwordBody
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.authn.ChangePassword(r.Context(), p, body.Current, body.New, throttle.AddressKey(s.proxies.Addr(r))); err != nil {
		writeError(w, r, renameField(err, "password", "new_password"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(s.authn.JWKS())
}

// handleDecide is the decision API for backends that are neither Go nor
// behind the gate: the caller forwards the app's Authorization and
// Cordon-Client headers and gets the decision as JSON, 200 whatever it is
// (a bad token is still a 401).
func (s *Server) handleDecide(w http.ResponseWriter, r *http.Request) {
	tok, err := bearer(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	facts, err := s.clientFacts(r.Header)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.authn.Decide(r.Context(), tok, facts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		AccountID string            `json:"account_id"`
		SessionID string            `json:"session_id"`
		Decision  decision.Decision `json:"decision"`
	}{p.Session.AccountID, p.Session.ID, p.Decision})
}

// writeResetRequired answers a login that must set a new password first:
// 401 password_reset_required with a single-use reset token.
func writeResetRequired(w http.ResponseWriter, rr *authn.ResetRequiredError) {
	d := rr.Decision
	msg := d.Message
	body := struct {
		Error      string `json:"error"`
		Message    string `json:"message"`
		Campaign   string `json:"campaign"`
		ResetToken string `json:"reset_token,omitempty"`
		ExpiresIn  int    `json:"reset_expires_in,omitempty"`
		// ResetByEmail: no token here; the campaign sent a link to the
		// account's email address (verify: email).
		ResetByEmail bool   `json:"reset_by_email,omitempty"`
		Problem      string `json:"problem,omitempty"`
		Field        string `json:"field,omitempty"`
	}{Error: d.Reason, Message: msg, Campaign: d.Campaign, ResetToken: rr.ResetToken, ExpiresIn: rr.ExpiresIn, ResetByEmail: rr.ByEmail}
	if rr.Problem != nil {
		var e *cordon.Error
		if errors.As(rr.Problem, &e) {
			body.Problem, body.Field = e.Message, e.Field
		} else {
			body.Problem = rr.Problem.Error()
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	wire.Challenge(w, http.StatusUnauthorized, d.Reason, "", msg)
	writeJSON(w, http.StatusUnauthorized, body)
}

type resetBody struct {
	ResetToken  string `json:"reset_token"`
	NewPassword string `json:"new_password"`
}

// handleReset sets a new password with the reset token a login answered
// password_reset_required with, and logs in.
func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	var body resetBody
	err := readJSON(w, r, &body, maxJSONBody)
	var facts cordon.ClientFacts
	if err == nil {
		facts, err = s.clientFacts(r.Header)
	}
	var tok *authn.Tokens
	if err == nil {
		tok, err = s.authn.ResetPassword(r.Context(), body.ResetToken, body.NewPassword, facts)
		err = renameField(err, "password", "new_password")
	}
	var rr *authn.ResetRequiredError
	if errors.As(err, &rr) {
		writeResetRequired(w, rr)
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tok)
}

// renameField gives a *cordon.Error about field from the field the
// request body calls it: the password policy speaks of "password", a
// password change's body of "new_password".
func renameField(err error, from, to string) error {
	var ce *cordon.Error
	if errors.As(err, &ce) && ce.Field == from {
		c := *ce
		c.Field = to
		return &c
	}
	return err
}

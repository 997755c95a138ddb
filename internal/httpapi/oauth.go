package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// The standards every OAuth and OIDC library speaks: server metadata
// (OpenID Connect Discovery 1.0 and RFC 8414), RFC 7009 revocation and
// RFC 7662 introspection.

// serverMetadata is the one metadata document, served at both well-known
// paths (RFC 8414 §5: OIDC discovery documents are RFC 8414 metadata).
// Every member is true of cordon: it has no authorization endpoint (a
// first-party app logs in at /v1/login), so it lists no response types,
// and it issues no ID tokens; id_token_signing_alg_values_supported,
// which OIDC Discovery requires, names the one algorithm every JWT cordon
// signs uses, and is what go-oidc's verifier takes its algorithms from.
type serverMetadata struct {
	Issuer                                    string   `json:"issuer"`
	JWKSURI                                   string   `json:"jwks_uri"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	ResponseTypesSupported                    []string `json:"response_types_supported"`
	SubjectTypesSupported                     []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported          []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	ClaimsSupported                           []string `json:"claims_supported"`
}

// metadata builds the document from the configured issuer, never from the
// request's Host header, which whoever sends the request controls.
func (s *Server) metadata() serverMetadata {
	iss := s.authn.Config().Issuer
	base := strings.TrimRight(iss, "/")
	return serverMetadata{
		Issuer:                                 iss,
		JWKSURI:                                base + "/.well-known/jwks.json",
		TokenEndpoint:                          base + "/oauth2/token",
		RevocationEndpoint:                     base + "/oauth2/revoke",
		IntrospectionEndpoint:                  base + "/oauth2/introspect",
		GrantTypesSupported:                    []string{"refresh_token"},
		ResponseTypesSupported:                 []string{},
		SubjectTypesSupported:                  []string{"public"},
		IDTokenSigningAlgValuesSupported:       []string{"EdDSA"},
		TokenEndpointAuthMethodsSupported:      []string{"none"},
		RevocationEndpointAuthMethodsSupported: []string{"none"},
		// A backend authenticates with an admin token holding the scope
		// introspect, as the password of HTTP Basic (what OAuth
		// libraries send) or as a Bearer token.
		IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_basic"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "sid", "auth_time", "platform", "ver", "src"},
	}
}

// handleMetadata serves the metadata. RFC 8414 §3 puts the metadata of an
// issuer with a path (https://host/p) at
// /.well-known/oauth-authorization-server/p; that path answers only for
// the configured issuer's own path.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	if _, suffixed := strings.CutPrefix(r.URL.Path, "/.well-known/oauth-authorization-server/"); suffixed {
		var own string
		if u, err := url.Parse(s.authn.Config().Issuer); err == nil {
			own = strings.Trim(u.Path, "/")
		}
		if own == "" || strings.Trim(r.PathValue("path"), "/") != own {
			writeError(w, r, cordon.Errorf(cordon.ECodeNotFound, "no metadata for that issuer here"))
			return
		}
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, s.metadata())
}

// formError is a refused OAuth form, as RFC 6749 §5.2 says it.
type formError struct {
	status int
	code   string
	msg    string
}

// readOAuthForm reads the form-encoded body of an RFC 7009 or RFC 7662
// request: the right content type, at most maxFormBody bytes, no
// parameter twice (RFC 6749 §3.2), and no token in the query string, where
// it would end up in access logs.
func readOAuthForm(w http.ResponseWriter, r *http.Request) (url.Values, *formError) {
	if err := requireType(r, "application/x-www-form-urlencoded"); err != nil {
		return nil, &formError{http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"}
	}
	if r.URL.Query().Has("token") {
		return nil, &formError{http.StatusBadRequest, "invalid_request", "send the token in the form body, never in the URL"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &formError{http.StatusRequestEntityTooLarge, "invalid_request", "the form is too large"}
		}
		return nil, &formError{http.StatusBadRequest, "invalid_request", "the form is malformed"}
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, &formError{http.StatusBadRequest, "invalid_request", "parameter " + truncate(k, 64) + " is repeated"}
		}
	}
	if r.PostForm.Get("token") == "" {
		return nil, &formError{http.StatusBadRequest, "invalid_request", "token is required"}
	}
	return r.PostForm, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// handleRevoke is RFC 7009 token revocation. cordon's one client is
// public (it has no secret), so the token itself is the credential, as it
// is for POST /v1/logout; a client_id, when sent, must be cordon's. Every
// token, known or not, answers 200 (§2.2).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, fe := readOAuthForm(w, r)
	if fe != nil {
		writeOAuthError(w, fe.status, fe.code, "", fe.msg)
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		id, secret = user, pass
	}
	if (id != "" && id != s.authn.Config().ClientID) || secret != "" {
		if _, _, ok := r.BasicAuth(); ok {
			// RFC 6749 §5.2: a refused Basic client gets a Basic challenge.
			w.Header().Set("WWW-Authenticate", `Basic realm="cordon"`)
		}
	}
	if id != "" && id != s.authn.Config().ClientID {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "", "unknown client "+truncate(id, 64))
		return
	}
	if secret != "" {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "", "the client is public: it has no secret, so send none")
		return
	}
	if err := s.authn.Revoke(r.Context(), form.Get("token")); err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// withIntrospector admits a caller whose admin token holds the scope
// introspect, sent as a Bearer token or as the password of HTTP Basic
// (RFC 6749 §2.3.1, the form OAuth libraries' resource servers use; the
// user name is free, e.g. the backend's name). Anyone else gets 401 or
// 403, so nobody can probe tokens anonymously.
func (s *Server) withIntrospector(h http.HandlerFunc) http.HandlerFunc {
	inner := s.withAdmin(cordon.ScopeIntrospect, h)
	return func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); ok {
			// RFC 6749 §2.3.1 form-encodes the secret before Basic.
			if p, err := url.QueryUnescape(pass); err == nil {
				pass = p
			}
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+pass)
		}
		inner(w, r)
	}
}

// introspection is the RFC 7662 answer. An inactive token gets active
// alone, except that a session a campaign denies also carries the
// decision, so the backend can answer the app as the wire contract says
// (401 reauth_required, 426 upgrade_required) — only an authenticated
// backend sees it.
type introspection struct {
	Active    bool               `json:"active"`
	TokenType string             `json:"token_type,omitempty"`
	ClientID  string             `json:"client_id,omitempty"`
	Subject   string             `json:"sub,omitempty"`
	Audience  []string           `json:"aud,omitempty"`
	Issuer    string             `json:"iss,omitempty"`
	ID        string             `json:"jti,omitempty"`
	Expiry    int64              `json:"exp,omitempty"`
	IssuedAt  int64              `json:"iat,omitempty"`
	NotBefore int64              `json:"nbf,omitempty"`
	SessionID string             `json:"sid,omitempty"`
	AuthTime  int64              `json:"auth_time,omitempty"`
	Platform  string             `json:"platform,omitempty"`
	Version   string             `json:"ver,omitempty"`
	Source    string             `json:"src,omitempty"`
	Decision  *decision.Decision `json:"cordon_decision,omitempty"`
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// handleIntrospect is RFC 7662 introspection of access tokens. The
// backend may forward the app's Cordon-Client header, which an upgrade
// campaign judges as it does at the gate.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, fe := readOAuthForm(w, r)
	if fe != nil {
		writeOAuthError(w, fe.status, fe.code, "", fe.msg)
		return
	}
	facts, err := clientfacts.FromHeader(r.Header)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", cordon.ECodeInvalidClient, publicMessage(err))
		return
	}
	in, err := s.authn.Introspect(r.Context(), form.Get("token"), facts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := introspection{Active: in.Active}
	if d := in.Decision; in.Session != nil && (in.Active || d.Campaign != "") {
		out.Decision = &d
	}
	if c := in.Claims; in.Active {
		out.TokenType = "Bearer"
		out.ClientID, out.Subject, out.Audience, out.Issuer, out.ID = c.ClientID, c.Subject, c.Audience, c.Issuer, c.ID
		out.Expiry, out.IssuedAt, out.NotBefore, out.AuthTime = unix(c.Expiry), unix(c.IssuedAt), unix(c.NotBefore), unix(c.AuthTime)
		out.SessionID, out.Platform, out.Version, out.Source = c.SessionID, c.Platform, c.Version, c.Source
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// Package issuertest is a small OpenID provider for tests: its own keys
// (RS256, ES256 or EdDSA, rotated on demand), OIDC discovery, a JWKS
// endpoint that counts its fetches, a password login and a refresh grant
// that keeps auth_time, as a real provider's does. It stands for the
// company's identity provider in front of which cordon enforces
// campaigns.
package issuertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Provider is a running test OpenID provider.
type Provider struct {
	srv *httptest.Server
	// Clock tells the provider's time (iat, auth_time, exp).
	Clock func() time.Time
	// Audience is the aud of the tokens it issues.
	Audience string
	// TTL is its tokens' lifetime.
	TTL time.Duration

	JWKSFetches      atomic.Int64
	DiscoveryFetches atomic.Int64
	// Down makes every endpoint answer 503.
	Down atomic.Bool

	mu        sync.Mutex
	keys      []*key // the last signs
	published map[string]bool
	users     map[string]string
	grants    map[string]grant
	n         int
}

type key struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

type grant struct {
	sub  string
	auth time.Time
	sid  string
}

// Tokens are a login's or a refresh's answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

// New starts a provider signing with alg, on loopback http, closed with
// the test.
func New(t testing.TB, alg jose.SignatureAlgorithm) *Provider {
	t.Helper()
	p := &Provider{Clock: time.Now, Audience: "api", TTL: 15 * time.Minute,
		published: map[string]bool{}, users: map[string]string{}, grants: map[string]grant{}}
	p.Rotate(alg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("POST /login", p.login)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.srv.URL }

// Close stops the provider (it is unreachable afterwards).
func (p *Provider) Close() { p.srv.Close() }

// AddUser lets username log in with password.
func (p *Provider) AddUser(username, password string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[username] = password
}

// Rotate makes a new key of alg the signing key and publishes it beside
// the old ones; it returns its kid.
func (p *Provider) Rotate(alg jose.SignatureAlgorithm) string {
	var priv crypto.Signer
	var err error
	switch { // the three algorithms cordon verifies; no other
	case alg == jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case alg == jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case alg == jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("issuertest: unsupported alg " + string(alg))
	}
	if err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	k := &key{kid: fmt.Sprintf("k%d", p.n), alg: alg, priv: priv}
	p.keys = append(p.keys, k)
	p.published[k.kid] = true
	return k.kid
}

// Retire stops publishing kid.
func (p *Provider) Retire(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.published, kid)
}

// Public returns the public key of the signing key (for hostile tokens
// that abuse it as an HMAC secret).
func (p *Provider) Public() crypto.PublicKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1].priv.Public()
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	p.DiscoveryFetches.Add(1)
	iss := p.Issuer()
	writeJSON(w, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.JWKSFetches.Add(1)
	p.mu.Lock()
	var set jose.JSONWebKeySet
	for _, k := range p.keys {
		if p.published[k.kid] {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/jwk-set+json")
	writeJSON(w, set)
}

func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	user, pass := r.PostFormValue("username"), r.PostFormValue("password")
	p.mu.Lock()
	want, ok := p.users[user]
	p.mu.Unlock()
	if !ok || want != pass {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	now := p.Clock()
	p.issue(w, grant{sub: user, auth: now, sid: randomString()})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("grant_type") != "refresh_token" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	rt := r.PostFormValue("refresh_token")
	p.mu.Lock()
	g, ok := p.grants[rt]
	delete(p.grants, rt)
	p.mu.Unlock()
	if !ok {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	p.issue(w, g) // a refresh keeps the grant's auth_time
}

func (p *Provider) issue(w http.ResponseWriter, g grant) {
	now := p.Clock()
	claims := map[string]any{
		"iss": p.Issuer(), "sub": g.sub, "aud": p.Audience, "iat": now.Unix(), "exp": now.Add(p.TTL).Unix(),
		"auth_time": g.auth.Unix(), "sid": g.sid,
	}
	rt := randomString()
	p.mu.Lock()
	p.grants[rt] = g
	p.mu.Unlock()
	at := map[string]any{"jti": randomString(), "client_id": "app"}
	for k, v := range claims {
		at[k] = v
	}
	writeJSON(w, Tokens{
		AccessToken:  p.Sign(at, map[string]any{"typ": "at+jwt"}),
		IDToken:      p.Sign(claims, nil),
		RefreshToken: rt,
	})
}

// Sign signs claims with the current key, the header holding extra
// fields beside alg and kid ("kid": "" leaves it out).
func (p *Provider) Sign(claims map[string]any, extra map[string]any) string {
	p.mu.Lock()
	k := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	opts := (&jose.SignerOptions{}).WithHeader("kid", k.kid)
	for h, v := range extra {
		opts = opts.WithHeader(jose.HeaderKey(h), v)
	}
	if kid, ok := extra["kid"]; ok && kid == "" {
		delete(opts.ExtraHeaders, "kid")
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// Claims are a well-formed token's claims for sub, authenticated at auth
// and issued now.
func (p *Provider) Claims(sub string, auth time.Time) map[string]any {
	now := p.Clock()
	return map[string]any{"iss": p.Issuer(), "sub": sub, "aud": p.Audience, "iat": now.Unix(),
		"exp": now.Add(p.TTL).Unix(), "auth_time": auth.Unix()}
}

// Login logs username in over HTTP.
func (p *Provider) Login(t testing.TB, username, password string) Tokens {
	t.Helper()
	return p.post(t, "/login", url.Values{"username": {username}, "password": {password}})
}

// Refresh redeems a refresh token over HTTP: new tokens, the same
// auth_time.
func (p *Provider) Refresh(t testing.TB, refresh string) Tokens {
	t.Helper()
	return p.post(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
}

func (p *Provider) post(t testing.TB, path string, form url.Values) Tokens {
	t.Helper()
	resp, err := http.Post(p.Issuer()+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("provider %s: %s", path, resp.Status)
	}
	var out Tokens
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

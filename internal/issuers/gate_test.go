package issuers_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/gate"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/issuers/issuertest"
	"github.com/cordon-dev/cordon/internal/token"
	jose "github.com/go-jose/go-jose/v4"
)

// edge is a cordon gate (gate.Proxy) in front of an upstream, trusting
// one external provider, on a clock the test moves.
type edge struct {
	t       *testing.T
	c       *clock
	st      *gate.State
	g       *gate.Gate
	proxy   http.Handler
	set     *issuers.Set
	reached atomic.Int64
	seen    atomic.Pointer[http.Header]
	seq     uint64
	jwks    []byte
}

func newEdge(t *testing.T, c *clock, cfgs ...issuers.Config) *edge {
	t.Helper()
	e := &edge{t: t, c: c}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.reached.Add(1)
		h := r.Header.Clone()
		e.seen.Store(&h)
		w.Write([]byte("upstream"))
	}))
	t.Cleanup(up.Close)
	e.set = newSet(t, c, cfgs...)
	k, err := token.NewSigningKey(t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := token.NewKeySet([]*cordon.SigningKey{k}, 15*time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	e.jwks = ks.JWKS()
	e.st = gate.NewState("https://cordon.example.com", "api")
	e.apply(feed.Event{Kind: feed.KindSnapshot, Policy: feed.WirePolicy(1, nil), JWKS: e.jwks})
	e.g = gate.New(e.st, gate.Options{Clock: c.now, External: e.set})
	p, err := gate.NewProxy(gate.ProxyConfig{Upstream: up.URL, Gate: e.g})
	if err != nil {
		t.Fatal(err)
	}
	e.proxy = p
	return e
}

func (e *edge) apply(ev feed.Event) {
	e.t.Helper()
	e.seq++
	ev.Epoch, ev.Seq = "e1", e.seq
	data, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	pe, err := gate.ParseEvent(data)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.Apply(pe); err != nil {
		e.t.Fatal(err)
	}
}

type answer struct {
	code int
	body struct {
		Error    string `json:"error"`
		Message  string `json:"message"`
		Campaign string `json:"campaign"`
	}
	challenge string
}

// get sends a request with tok as the bearer token and an iOS
// Cordon-Client claim.
func (e *edge) get(tok string) answer {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://gate.example/v1/playlists", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Cordon-Client", `platform=android, version="9.9.9", source=play`)
	w := httptest.NewRecorder()
	e.proxy.ServeHTTP(w, r)
	a := answer{code: w.Code, challenge: w.Header().Get("WWW-Authenticate")}
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &a.body); err != nil {
			e.t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body.String())
		}
	}
	return a
}

// TestGateEnforcesRampedReauthOnExternalTokens is issue 12's must-show: a
// gate in front of an upstream enforces a ramped reauth campaign on
// tokens of a separate OpenID provider (its own keys, discovery and
// login), lets a user through once the provider re-authenticated them,
// keeps refusing a refreshed token (same auth_time), and picks up the
// provider's key rotation.
func TestGateEnforcesRampedReauthOnExternalTokens(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.RS256)
	p.Clock = c.now
	p.AddUser("alice", "correct horse")
	e := newEdge(t, c, cfg(p, "RS256", "ES256"))

	// Logged in at the provider before the incident.
	alice := p.Login(t, "alice", "correct horse")
	if a := e.get(alice.AccessToken); a.code != http.StatusOK {
		t.Fatalf("before any campaign: %d %+v", a.code, a.body)
	}
	seen := *e.seen.Load()
	if got, want := seen.Get("X-Cordon-Account"), p.Issuer()+"#alice"; got != want {
		t.Errorf("X-Cordon-Account %q, want %q", got, want)
	}
	if got := seen.Get("X-Cordon-Issuer"); got != p.Issuer() {
		t.Errorf("X-Cordon-Issuer %q, want %q", got, p.Issuer())
	}
	if got := seen.Get("X-Cordon-Platform"); got != "" {
		t.Errorf("X-Cordon-Platform %q: a claim passed on as a fact", got)
	}
	if got, want := seen.Get("X-Cordon-Auth-Time"), "1779868800"; got != want { // t0
		t.Errorf("X-Cordon-Auth-Time %q, want %q", got, want)
	}
	// The ID token is accepted as well (aud is the client id here).
	if a := e.get(alice.IDToken); a.code != http.StatusOK {
		t.Fatalf("ID token: %d %+v", a.code, a.body)
	}

	// The seed's cohort: desktop, iOS and Windows Phone. An external
	// token proves no platform, and this one claims android: it is in.
	c.add(time.Hour)
	start := c.now()
	campaign := &cordon.Campaign{ID: "c-may", Kind: cordon.KindReauth, Name: "May incident", State: cordon.StateActive,
		Cohort:    cordon.Cohort{Platforms: []string{cordon.PlatformDesktop, cordon.PlatformIOS, cordon.PlatformWinPhone}},
		Ramp:      &cordon.Ramp{Start: start, Duration: 2 * time.Hour},
		Activated: start}
	e.apply(feed.Event{Kind: feed.KindPolicy, Policy: feed.WirePolicy(2, []*cordon.Campaign{campaign})})
	alice = p.Refresh(t, alice.RefreshToken) // an hour on: a fresh access token, the same login
	if a := e.get(alice.AccessToken); a.code != http.StatusOK {
		t.Fatalf("at the ramp's start (nobody admitted yet): %d %+v", a.code, a.body)
	}

	// The ramp has admitted everyone.
	c.add(2*time.Hour + time.Second)
	alice = p.Refresh(t, alice.RefreshToken)
	a := e.get(alice.AccessToken)
	if a.code != http.StatusUnauthorized || a.body.Error != "reauth_required" || a.body.Campaign != "c-may" {
		t.Fatalf("admitted, refreshed token: %d %+v, want 401 reauth_required of c-may", a.code, a.body)
	}
	if !strings.Contains(a.challenge, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q", a.challenge)
	}
	if a := e.get(alice.IDToken); a.code != http.StatusUnauthorized || a.body.Error != "reauth_required" {
		t.Fatalf("refreshed ID token: %d %+v", a.code, a.body)
	}
	reached := e.reached.Load()

	// The provider rotates its key mid-incident; the gate picks it up.
	c.add(time.Minute)
	p.Rotate(jose.ES256)
	fetches := p.JWKSFetches.Load()

	// The provider really re-authenticates alice: a new auth_time.
	alice = p.Login(t, "alice", "correct horse")
	if a := e.get(alice.AccessToken); a.code != http.StatusOK {
		t.Fatalf("after re-authenticating at the provider (new key): %d %+v", a.code, a.body)
	}
	if got := p.JWKSFetches.Load() - fetches; got != 1 {
		t.Errorf("the new kid cost %d key fetches, want 1", got)
	}
	if e.reached.Load() != reached+1 {
		t.Errorf("upstream reached %d times, want %d", e.reached.Load(), reached+1)
	}
	// Refreshing the new login keeps it good.
	c.add(10 * time.Minute)
	alice = p.Refresh(t, alice.RefreshToken)
	if a := e.get(alice.AccessToken); a.code != http.StatusOK {
		t.Fatalf("refresh of the new login: %d %+v", a.code, a.body)
	}

	// The provider retires the key: a token it signed, cached as
	// verified, is refused once the gate has seen the new key set.
	old := p.Sign(p.Claims("alice", alice2AuthTime(c)), nil)
	if a := e.get(old); a.code != http.StatusOK {
		t.Fatalf("token of k2: %d %+v", a.code, a.body)
	}
	p.Retire("k2")
	c.add(time.Minute)
	p.Rotate(jose.ES256)
	if a := e.get(p.Sign(p.Claims("alice", alice2AuthTime(c)), nil)); a.code != http.StatusOK {
		t.Fatalf("token of k3: %d %+v", a.code, a.body)
	}
	if a := e.get(old); a.code != http.StatusUnauthorized || a.body.Message != "token signed with an unknown key" {
		t.Fatalf("cached token of the retired key: %d %+v", a.code, a.body)
	}
}

// alice2AuthTime is a login time after the campaign admitted everyone.
func alice2AuthTime(c *clock) time.Time { return c.now().Add(-time.Minute) }

// TestGateRefusesHostileExternalTokens: what an attacker sends to a gate
// that trusts an external provider, each refused with invalid_token and
// a message that says why, none reaching the upstream; a flood of forged
// kids does not hammer the provider.
func TestGateRefusesHostileExternalTokens(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.RS256)
	p.Clock = c.now
	stranger := issuertest.New(t, jose.RS256)
	stranger.Clock = c.now
	e := newEdge(t, c, cfg(p, "RS256"))
	good := p.Claims("alice", t0)
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	enc := func(v any) string { return base64.RawURLEncoding.EncodeToString(mustJSON(t, v)) }
	pemKey := pemOf(t, p)
	tests := []struct{ name, tok, want string }{
		{"wrong issuer", stranger.Sign(stranger.Claims("alice", t0), nil), "token was issued by someone else"},
		{"another provider's signature under our iss", stranger.Sign(with("iss", p.Issuer()), map[string]any{"kid": "k1"}), "token signature is invalid"},
		{"alg none", enc(map[string]any{"alg": "none", "kid": "k1"}) + "." + enc(good) + ".", "token signed with an algorithm this issuer is not trusted for"},
		{"HS256 with the public key as secret", hs256(t, map[string]any{"alg": "HS256", "kid": "k1"}, good, pemKey), "token signed with an algorithm this issuer is not trusted for"},
		{"expired", p.Sign(with("exp", t0.Add(-2*time.Minute).Unix()), nil), "token expired"},
		{"wrong audience", p.Sign(with("aud", "billing"), nil), "token is not meant for this service"},
		{"iss differing by a trailing slash", p.Sign(with("iss", p.Issuer()+"/"), nil), "token was issued by someone else"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.get(tc.tok)
			if a.code != http.StatusUnauthorized || a.body.Error != "invalid_token" || a.body.Message != tc.want {
				t.Errorf("%d %+v, want 401 invalid_token %q", a.code, a.body, tc.want)
			}
		})
	}
	if n := e.reached.Load(); n != 0 {
		t.Errorf("hostile tokens reached the upstream %d times", n)
	}
	t.Run("unknown kid flood", func(t *testing.T) {
		before := p.JWKSFetches.Load()
		c.add(time.Minute)
		for i := range 300 {
			tok := p.Sign(good, map[string]any{"kid": "forged-" + strings.Repeat("x", i%40)})
			if a := e.get(tok); a.code != http.StatusUnauthorized || a.body.Message != "token signed with an unknown key" {
				t.Fatalf("forged kid %d: %d %+v", i, a.code, a.body)
			}
		}
		if got := p.JWKSFetches.Load() - before; got > 1 {
			t.Errorf("300 forged kids made %d key fetches, want at most 1", got)
		}
		if err := e.g.Ready(); err != nil {
			t.Errorf("forged external kids made the gate unready: %v", err)
		}
	})
}

func pemOf(t *testing.T, p *issuertest.Provider) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(p.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestExternalVerificationNeedsNoContextValues: VerifyExternal works with a
// bare context (a gate passes the request's).
func TestExternalVerificationNeedsNoContextValues(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.EdDSA)
	p.Clock = c.now
	s := newSet(t, c, cfg(p, "EdDSA"))
	x, err := s.VerifyExternal(context.Background(), p.Sign(p.Claims("alice", t0.Add(-time.Minute)), nil), c.now())
	if err != nil {
		t.Fatal(err)
	}
	if x.AccountID != p.Issuer()+"#alice" || x.SessionID != p.Issuer()+"#alice@1779868740" || !x.KeyPublished() {
		t.Errorf("got %+v", x)
	}
}

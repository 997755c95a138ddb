package issuers_test

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/issuers/issuertest"
	jose "github.com/go-jose/go-jose/v4"
)

var t0 = time.Date(2026, 5, 27, 8, 0, 0, 0, time.UTC)

type clock struct{ ns atomic.Int64 }

func newClock() *clock               { c := &clock{}; c.ns.Store(t0.UnixNano()); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func cfg(p *issuertest.Provider, algs ...string) issuers.Config {
	return issuers.Config{Issuer: p.Issuer(), Audience: "api", Algorithms: algs}
}

func newSet(t *testing.T, c *clock, cfgs ...issuers.Config) *issuers.Set {
	t.Helper()
	s, err := issuers.New(cfgs, issuers.Options{Clock: c.now, MinRefetch: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func refusal(t *testing.T, err error) string {
	t.Helper()
	var e *cordon.Error
	if !errors.As(err, &e) || e.Code != cordon.ECodeInvalidToken {
		t.Fatalf("err = %v, want invalid_token", err)
	}
	return e.Message
}

func TestVerifyEachAlgorithm(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			c := newClock()
			p := issuertest.New(t, alg)
			p.Clock = c.now
			s := newSet(t, c, cfg(p, string(alg)))
			tok := p.Sign(p.Claims("alice", t0.Add(-time.Hour)), nil)
			if !s.Trusts(tok) {
				t.Fatal("Trusts = false for the provider's token")
			}
			got, err := s.Verify(context.Background(), tok, c.now())
			if err != nil {
				t.Fatal(err)
			}
			if got.Issuer != p.Issuer() || got.Subject != "alice" || !got.AuthTime.Equal(t0.Add(-time.Hour)) {
				t.Errorf("got %+v", got)
			}
			if id := issuers.SubjectID(got.Issuer, got.Subject); id != p.Issuer()+"#alice" {
				t.Errorf("SubjectID = %q", id)
			}
		})
	}
}

func TestAuthTimeFallsBackToIat(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.RS256)
	p.Clock = c.now
	s := newSet(t, c, cfg(p))
	cl := p.Claims("bob", t0)
	delete(cl, "auth_time")
	cl["iat"] = t0.Add(-5 * time.Minute).Unix()
	got, err := s.Verify(context.Background(), p.Sign(cl, nil), c.now())
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(-5 * time.Minute); !got.AuthTime.Equal(want) {
		t.Errorf("AuthTime = %v, want iat %v", got.AuthTime, want)
	}
	delete(cl, "iat")
	if msg := refusal(t, verr(s, p.Sign(cl, nil), c.now())); !strings.Contains(msg, "auth_time") {
		t.Errorf("no auth_time nor iat: %q", msg)
	}
}

func verr(s *issuers.Set, tok string, now time.Time) error {
	_, err := s.Verify(context.Background(), tok, now)
	return err
}

// hs256 signs claims with HMAC-SHA256 keyed by secret, the way an
// attacker abuses a provider's public key.
func hs256(t *testing.T, header, claims map[string]any, secret []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestHostileTokens(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.RS256)
	p.Clock = c.now
	other := issuertest.New(t, jose.RS256)
	other.Clock = c.now
	s := newSet(t, c, cfg(p, "RS256"))
	good := p.Claims("alice", t0.Add(-time.Hour))
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	der, _ := x509.MarshalPKIXPublicKey(p.Public())
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(mustJSON(t, good)) + "."
	pub := p.Public().(*rsa.PublicKey)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: pub})

	tests := []struct {
		name, tok, want string
	}{
		{"alg none", none, "algorithm this issuer is not trusted for"},
		{"HS256 with the public key (PEM) as secret", hs256(t, map[string]any{"alg": "HS256", "kid": "k1"}, good, pemKey), "algorithm this issuer is not trusted for"},
		{"HS256 with the public key (DER) as secret", hs256(t, map[string]any{"alg": "HS256", "kid": "k1"}, good, der), "algorithm this issuer is not trusted for"},
		{"another provider's key, our iss", other.Sign(with("iss", p.Issuer()), map[string]any{"kid": "k1"}), "signature is invalid"},
		{"expired", p.Sign(with("exp", t0.Add(-2*time.Minute).Unix()), nil), "token expired"},
		{"not yet valid", p.Sign(with("nbf", t0.Add(5*time.Minute).Unix()), nil), "not valid yet"},
		{"wrong audience", p.Sign(with("aud", "another-app"), nil), "not meant for this service"},
		{"no subject", p.Sign(with("sub", nil), nil), "lacks a subject"},
		{"no expiry", p.Sign(with("exp", nil), nil), "lacks an expiry"},
		{"auth_time in the future", p.Sign(with("auth_time", t0.Add(time.Hour).Unix()), nil), "authenticated in the future"},
		{"embedded jwk", p.Sign(good, map[string]any{"jwk": json.RawMessage(jwk)}), "names its own key"},
		{"jku", p.Sign(good, map[string]any{"jku": "https://evil.example/jwks"}), "names its own key"},
		{"crit", p.Sign(good, map[string]any{"crit": []string{"exp"}, "exp": 1}), "names its own key"},
		{"logout token type", p.Sign(good, map[string]any{"typ": "logout+jwt"}), "type must be"},
		{"unknown kid", p.Sign(good, map[string]any{"kid": "nope"}), "unknown key"},
		{"long subject", p.Sign(with("sub", strings.Repeat("a", 256)), nil), "longer than 255"},
		{"subject with a line break", p.Sign(with("sub", "alice\r\nX-Cordon-Account: bob"), nil), "visible ASCII"},
		{"two dots and junk", "a.b.c.d", "malformed token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if msg := refusal(t, verr(s, tc.tok, c.now())); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q, want it to say %q", msg, tc.want)
			}
		})
	}
	t.Run("wrong issuer is not trusted", func(t *testing.T) {
		tok := other.Sign(other.Claims("alice", t0), nil)
		if s.Trusts(tok) {
			t.Error("Trusts = true for an unconfigured issuer")
		}
		if msg := refusal(t, verr(s, tok, c.now())); msg != "token was issued by someone else" {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("iss with a trailing slash", func(t *testing.T) {
		tok := p.Sign(with("iss", p.Issuer()+"/"), nil)
		if s.Trusts(tok) {
			t.Error("Trusts = true for an issuer that differs by a slash")
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAlgorithmAllowListIsPerIssuer: an ES256 token from an issuer
// allowed only RS256 is refused, even though another issuer may use ES256.
func TestAlgorithmAllowListIsPerIssuer(t *testing.T) {
	c := newClock()
	rs := issuertest.New(t, jose.ES256)
	rs.Clock = c.now
	es := issuertest.New(t, jose.ES256)
	es.Clock = c.now
	s := newSet(t, c, cfg(rs, "RS256"), cfg(es, "ES256"))
	if _, err := s.Verify(context.Background(), es.Sign(es.Claims("a", t0), nil), c.now()); err != nil {
		t.Fatalf("ES256 issuer: %v", err)
	}
	if msg := refusal(t, verr(s, rs.Sign(rs.Claims("a", t0), nil), c.now())); !strings.Contains(msg, "not trusted for") {
		t.Errorf("message %q", msg)
	}
}

func TestKeyRotationIsPickedUp(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.RS256)
	p.Clock = c.now
	s := newSet(t, c, cfg(p, "RS256", "ES256"))
	old := p.Sign(p.Claims("alice", t0), nil)
	if _, err := s.Verify(context.Background(), old, c.now()); err != nil {
		t.Fatal(err)
	}
	before := p.JWKSFetches.Load()
	p.Rotate(jose.ES256)
	c.add(31 * time.Second)
	fresh := p.Sign(p.Claims("alice", c.now()), nil)
	if _, err := s.Verify(context.Background(), fresh, c.now()); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
	if got := p.JWKSFetches.Load() - before; got != 1 {
		t.Errorf("%d fetches for the new kid, want 1", got)
	}
	// The old key is still published: its tokens still verify.
	if _, err := s.Verify(context.Background(), old, c.now()); err != nil {
		t.Fatalf("old key while published: %v", err)
	}
	p.Retire("k1")
	c.add(11 * time.Minute)
	runOnce(t, s, c)
	if msg := refusal(t, verr(s, p.Sign(p.Claims("x", c.now()), map[string]any{"kid": "k1"}), c.now())); !strings.Contains(msg, "unknown key") && !strings.Contains(msg, "algorithm") {
		t.Errorf("retired kid: %q", msg)
	}
}

// runOnce lets Run do one round of refreshes.
func runOnce(t *testing.T, s *issuers.Set, c *clock) {
	t.Helper()
	before := s.Status()[0].Fetches
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for s.Status()[0].Fetches == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestUnknownKidFloodIsBounded: thousands of forged kids, from many
// goroutines at once and over time, cause at most one fetch per
// MinRefetch.
func TestUnknownKidFloodIsBounded(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.RS256)
	p.Clock = c.now
	s := newSet(t, c, cfg(p))
	start := p.JWKSFetches.Load()
	c.add(time.Minute) // the start's fetch is old enough: one refetch is allowed
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				tok := p.Sign(p.Claims("mallory", t0), map[string]any{"kid": "forged-" + string(rune('a'+g)) + string(rune('a'+i%26))})
				if msg := refusal(t, verr(s, tok, c.now())); msg != "token signed with an unknown key" {
					t.Errorf("message %q", msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := p.JWKSFetches.Load() - start; got != 1 {
		t.Errorf("400 forged kids made %d fetches, want 1", got)
	}
	c.add(10 * time.Second)
	_ = verr(s, p.Sign(p.Claims("m", t0), map[string]any{"kid": "again"}), c.now())
	if got := p.JWKSFetches.Load() - start; got != 1 {
		t.Errorf("within MinRefetch: %d fetches, want 1", got)
	}
	c.add(30 * time.Second)
	_ = verr(s, p.Sign(p.Claims("m", t0), map[string]any{"kid": "again"}), c.now())
	if got := p.JWKSFetches.Load() - start; got != 2 {
		t.Errorf("after MinRefetch: %d fetches, want 2", got)
	}
}

func TestUnreachableIssuer(t *testing.T) {
	c := newClock()
	p := issuertest.New(t, jose.RS256)
	p.Clock = c.now
	p.Down.Store(true)
	s, err := issuers.New([]issuers.Config{cfg(p)}, issuers.Options{Clock: c.now})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "trusted issuer "+p.Issuer()+" unreachable") {
		t.Fatalf("Start = %v, want it to name the unreachable issuer", err)
	}
	if st := s.Status(); len(st) != 1 || st[0].Error == "" || st[0].Keys != 0 {
		t.Errorf("Status = %+v", st)
	}
	tok := p.Sign(p.Claims("alice", t0), nil)
	if msg := refusal(t, verr(s, tok, c.now())); !strings.Contains(msg, "cannot be reached") {
		t.Errorf("message %q", msg)
	}
	// Back up: the next fetch (after MinRefetch) loads the keys.
	p.Down.Store(false)
	c.add(time.Minute)
	if _, err := s.Verify(context.Background(), tok, c.now()); err != nil {
		t.Fatalf("after the provider came back: %v", err)
	}
	// Down again: the keys held keep verifying (fail static).
	p.Down.Store(true)
	c.add(time.Hour)
	runOnce(t, s, c)
	if st := s.Status(); st[0].Error == "" || st[0].Keys != 1 {
		t.Errorf("Status after a failed refresh = %+v, want an error and the key kept", st)
	}
	tok = p.Sign(p.Claims("alice", c.now()), nil)
	if _, err := s.Verify(context.Background(), tok, c.now()); err != nil {
		t.Fatalf("with the provider down, held keys: %v", err)
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "https://id.example.com/realms/app;aud=api", want: "https://id.example.com/realms/app;aud=api;alg=RS256"},
		{in: "https://id.example.com;aud=api;alg=ES256;alg=EdDSA", want: "https://id.example.com;aud=api;alg=ES256;alg=EdDSA"},
		{in: "http://127.0.0.1:9000;aud=api", want: "http://127.0.0.1:9000;aud=api;alg=RS256"},
		{in: "https://id.example.com", err: "needs aud="},
		{in: "http://id.example.com;aud=a", err: "must be https"},
		{in: "https://id.example.com;aud=a;alg=HS256", err: "not one cordon verifies"},
		{in: "https://id.example.com;aud=a;alg=none", err: "not one cordon verifies"},
		{in: "https://id.example.com?x=1;aud=a", err: "no query or fragment"},
		{in: "https://id.example.com#x;aud=a", err: "no query or fragment"},
		{in: "https://id.example.com;aud=a;aud=b", err: "aud given twice"},
		{in: "https://id.example.com;aud=a;foo=b", err: "unknown setting"},
		{in: "https://id.example.com;aud", err: "not key=value"},
		{in: "id.example.com;aud=a", err: "absolute URL"},
		{in: ";aud=a", err: "needs its issuer URL"},
	}
	for _, tc := range tests {
		c, err := issuers.ParseSpec(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSpec(%q) = %v, want error with %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("ParseSpec(%q): %v", tc.in, err)
		case c.String() != tc.want:
			t.Errorf("ParseSpec(%q) = %q, want %q", tc.in, c.String(), tc.want)
		}
	}
	if _, err := issuers.New([]issuers.Config{{Issuer: "https://a.example", Audience: "x"}, {Issuer: "https://a.example", Audience: "y"}}, issuers.Options{}); err == nil {
		t.Error("New took an issuer twice")
	}
}

func TestSplitSubjectID(t *testing.T) {
	iss, sub, ok := issuers.SplitSubjectID("https://id.example.com/realms/app#a#b")
	if !ok || iss != "https://id.example.com/realms/app" || sub != "a#b" {
		t.Errorf("got %q %q %v", iss, sub, ok)
	}
	if _, _, ok := issuers.SplitSubjectID("u-123"); ok {
		t.Error("an account id read as an external subject")
	}
}

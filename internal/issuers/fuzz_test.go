package issuers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/issuers/issuertest"
	jose "github.com/go-jose/go-jose/v4"
)

// FuzzVerify: whatever a client sends as a token, Verify answers without
// panicking, refuses with invalid_token, and accepts only a token whose
// issuer, subject and audience are the configured ones.
func FuzzVerify(f *testing.F) {
	c := &clock{}
	c.ns.Store(t0.UnixNano())
	p := issuertest.New(f, jose.ES256)
	p.Clock = c.now
	s, err := issuers.New([]issuers.Config{{Issuer: p.Issuer(), Audience: "api", Algorithms: []string{"ES256", "RS256"}}},
		issuers.Options{Clock: c.now, MinRefetch: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	good := p.Claims("alice", t0)
	f.Add(p.Sign(good, nil))
	f.Add(p.Sign(good, map[string]any{"typ": "at+jwt"}))
	f.Add(p.Sign(good, map[string]any{"kid": "nope"}))
	f.Add(p.Sign(map[string]any{"iss": p.Issuer(), "sub": "a\x00b", "aud": []string{"x", "api"}, "exp": 1e12, "auth_time": -1}, nil))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := s.Verify(context.Background(), tok, c.now())
		if err != nil {
			var e *cordon.Error
			if !errors.As(err, &e) || e.Code != cordon.ECodeInvalidToken || e.Message == "" {
				t.Fatalf("refusal %v is not invalid_token with a message", err)
			}
			return
		}
		if got.Issuer != p.Issuer() || got.Subject == "" || got.AuthTime.IsZero() || !got.Key.Published() {
			t.Fatalf("accepted %+v", got)
		}
		aud := false
		for _, a := range got.Audience {
			aud = aud || a == "api"
		}
		if !aud {
			t.Fatalf("accepted a token for %v", got.Audience)
		}
	})
}

// FuzzParseSpec: any --trusted-issuer value parses or is refused, and what
// parses reads back the same.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"https://id.example.com;aud=api", "https://id.example.com/r;aud=a;alg=ES256;alg=EdDSA", "http://127.0.0.1:1;aud=x", ";", "https://x#y;aud=a", "https://x;aud=a;alg=HS256"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := issuers.ParseSpec(spec)
		if err != nil {
			return
		}
		again, err := issuers.ParseSpec(c.String())
		if err != nil || again.String() != c.String() {
			t.Fatalf("%q parsed as %q, which reads back as %q (%v)", spec, c.String(), again.String(), err)
		}
	})
}

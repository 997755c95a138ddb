package token_test

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// swappable is a key source a test can change between two Verify calls.
type swappable struct{ keys token.Keys }

func (s *swappable) PublicKey(kid string) (crypto.PublicKey, bool) { return s.keys.PublicKey(kid) }

// The cache keeps a signature's verdict, never a verdict that depends on
// the time or the keys: each case verifies a token once (cached), changes
// what a holder of that token cannot, and expects the refusal an uncached
// verifier gives.
func TestCacheAppliesTimeAndKeysAgain(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(t, fullClaims())
	other := newFixture(t)
	for _, tc := range []struct {
		name string
		at   time.Time
		keys token.Keys // nil: the fixture's
		want string
	}{
		{"expired since", epoch().Add(ttl + token.Leeway + time.Second), nil, "token expired"},
		{"before its not-before", epoch().Add(-token.Leeway - time.Second), nil, "token is not valid yet"},
		{"its key no longer published", epoch(), other.ks, "token signed with an unknown key"},
		{"another key under its kid", epoch(), token.KeysFunc(func() token.Keys { return sameKID{f.key.ID, other.ks} }), "token signature is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &swappable{keys: f.signer}
			v := token.NewVerifier(src, issuer, audience).WithCache(16)
			if _, err := v.Verify(tok, epoch()); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			if tc.keys != nil {
				src.keys = tc.keys
			}
			_, err := v.Verify(tok, tc.at)
			e, ok := err.(*cordon.Error)
			if !ok || e.Code != cordon.ECodeInvalidToken || e.Message != tc.want {
				t.Fatalf("cached Verify = %v, want invalid_token %q", err, tc.want)
			}
		})
	}
}

// sameKID publishes another set's active key under kid.
type sameKID struct {
	kid string
	ks  *token.KeySet
}

func (s sameKID) PublicKey(kid string) (crypto.PublicKey, bool) {
	if kid != s.kid {
		return nil, false
	}
	return s.ks.PublicKey(s.ks.ActiveKID())
}

// A hit answers the very bytes verified: a token differing in one
// character of its signature is verified, and refused, in full.
func TestCacheNeedsTheSameBytes(t *testing.T) {
	f := newFixture(t)
	v := token.NewVerifier(f.signer, issuer, audience).WithCache(16)
	tok := f.sign(t, fullClaims())
	if _, err := v.Verify(tok, epoch()); err != nil {
		t.Fatal(err)
	}
	last := tok[len(tok)-2]
	flip := byte('A')
	if last == 'A' {
		flip = 'B'
	}
	bad := tok[:len(tok)-2] + string(flip) + tok[len(tok)-1:]
	if _, err := v.Verify(bad, epoch()); err == nil {
		t.Fatal("a token with another signature was accepted from the cache")
	}
}

// What a caller does to the claims it gets does not reach the next caller.
func TestCacheClaimsAreCopies(t *testing.T) {
	f := newFixture(t)
	v := token.NewVerifier(f.signer, issuer, audience).WithCache(16)
	tok := f.sign(t, fullClaims())
	for i := range 3 {
		c, err := v.Verify(tok, epoch())
		if err != nil {
			t.Fatal(err)
		}
		if c.SessionID != "s-1" || c.Subject != "u-alice" {
			t.Fatalf("call %d: claims %+v", i, c)
		}
		c.SessionID, c.Subject = "s-other", "u-mallory"
	}
}

// A cache of one set holds at most 8 tokens and still answers every token
// right once full.
func TestCacheEvicts(t *testing.T) {
	f := newFixture(t)
	v := token.NewVerifier(f.signer, issuer, audience).WithCache(1)
	for i := range 50 {
		c := fullClaims()
		c.SessionID = "s-" + strings.Repeat("x", i+1)
		tok := f.sign(t, c)
		for range 2 {
			got, err := v.Verify(tok, epoch())
			if err != nil || got.SessionID != c.SessionID {
				t.Fatalf("token %d: %v, %+v", i, err, got)
			}
		}
	}
}

// OwnKeyID, the parser-free reading of cordon's own header, answers only
// for exactly that header: anything else goes through go-jose.
func TestOwnKeyID(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(t, fullClaims())
	_, rest, _ := strings.Cut(tok, ".")
	with := func(header string) string { return b64([]byte(header)) + "." + rest }
	for _, tc := range []struct {
		name, tok, want string
	}{
		{"the signer's header", tok, f.key.ID},
		{"members in another order", with(`{"kid":"k-1","alg":"EdDSA","typ":"at+jwt"}`), ""},
		{"an extra member", with(`{"alg":"EdDSA","kid":"k-1","typ":"at+jwt","jku":"https://evil.example/jwks"}`), ""},
		{"a member smuggled into the kid", with(`{"alg":"EdDSA","kid":"k-1","jwk":{},"x":"","typ":"at+jwt"}`), ""},
		{"an escaped kid", with(`{"alg":"EdDSA","kid":"k\u002d1","typ":"at+jwt"}`), ""},
		{"an empty kid", with(`{"alg":"EdDSA","kid":"","typ":"at+jwt"}`), ""},
		{"another algorithm", with(`{"alg":"ES256","kid":"k-1","typ":"at+jwt"}`), ""},
		{"another type", with(`{"alg":"EdDSA","kid":"k-1","typ":"JWT"}`), ""},
		{"not base64", "!!!." + rest, ""},
	} {
		if got := token.OwnKeyID(tc.tok); got != tc.want {
			t.Errorf("%s: OwnKeyID = %q, want %q", tc.name, got, tc.want)
		}
	}
}

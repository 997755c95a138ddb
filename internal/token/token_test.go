package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/benchutil"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
	jose "github.com/go-jose/go-jose/v4"
)

const (
	issuer   = "https://id.example.com"
	audience = "https://api.example.com"
	clientID = "cordon-app"
	ttl      = 15 * time.Minute
)

// epoch is the instant tests start at; whole seconds, as JWT times are.
func epoch() time.Time { return time.Date(2014, 5, 27, 8, 0, 0, 0, time.UTC) }

// fixture is a key set with one active key, a signer and a verifier on it.
type fixture struct {
	key      *cordon.SigningKey
	priv     ed25519.PrivateKey
	ks       *token.KeySet
	signer   *token.Signer
	verifier *token.Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	k, err := token.NewSigningKey(epoch())
	if err != nil {
		t.Fatalf("NewSigningKey: %v", err)
	}
	ks, err := token.NewKeySet([]*cordon.SigningKey{k}, ttl, epoch())
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	s := token.NewSigner(ks, issuer, []string{audience}, clientID, ttl)
	return &fixture{
		key:      k,
		priv:     privateKey(t, k),
		ks:       ks,
		signer:   s,
		verifier: token.NewVerifier(s, issuer, audience),
	}
}

func privateKey(t testing.TB, k *cordon.SigningKey) ed25519.PrivateKey {
	t.Helper()
	p, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
	if err != nil {
		t.Fatalf("ParsePKCS8PrivateKey: %v", err)
	}
	return p.(ed25519.PrivateKey)
}

func fullClaims() token.Claims {
	now := epoch()
	return token.Claims{
		Subject:   "u-alice",
		SessionID: "s-1",
		IssuedAt:  now,
		NotBefore: now,
		AuthTime:  now.Add(-time.Hour),
		Platform:  cordon.PlatformAndroid,
		Version:   "8.4.1",
		Source:    cordon.SourcePlay,
	}
}

func (f *fixture) sign(t testing.TB, c token.Claims) string {
	t.Helper()
	tok, err := f.signer.Sign(c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// validHeader and validClaims are the JSON of a token the fixture accepts;
// hostile cases change one thing.
func (f *fixture) validHeader() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": f.key.ID}
}

func validClaims() map[string]any {
	now := epoch().Unix()
	return map[string]any{
		"iss": issuer, "sub": "u-alice", "aud": []string{audience}, "client_id": clientID,
		"sid": "s-1", "jti": "j-1", "iat": now, "nbf": now, "exp": now + int64(ttl/time.Second),
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// forge builds a compact JWS by hand, so a test controls every byte a
// hostile client could.
func forge(t testing.TB, header, claims any, sign func(input []byte) []byte) string {
	t.Helper()
	input := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, claims))
	return input + "." + b64(sign([]byte(input)))
}

func edSign(priv ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(priv, in) }
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestSignVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	in := fullClaims()
	tok := f.sign(t, in)

	got, err := f.verifier.Verify(tok, epoch().Add(time.Minute))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := in
	want.Issuer = issuer
	want.Audience = []string{audience}
	want.ClientID = clientID
	want.Expiry = in.IssuedAt.Add(ttl)
	want.ID = got.ID
	if len(got.ID) != 22 {
		t.Errorf("jti = %q, want 22 base64url characters (128 bits)", got.ID)
	}
	if !equalClaims(got, &want) {
		t.Errorf("claims:\n got %+v\nwant %+v", *got, want)
	}

	header := decodeSegment(t, tok, 0)
	for k, v := range map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": f.key.ID} {
		if header[k] != v {
			t.Errorf("header %s = %v, want %v", k, header[k], v)
		}
	}
}

func TestSignOmitsEmptyOptionalClaims(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(t, token.Claims{Subject: "u-bob", SessionID: "s-2", IssuedAt: epoch(), ID: "fixed"})
	claims := decodeSegment(t, tok, 1)
	for _, k := range []string{"ver", "nbf", "auth_time", "platform", "src"} {
		if _, ok := claims[k]; ok {
			t.Errorf("claim %q present, want omitted: %v", k, claims)
		}
	}
	got, err := f.verifier.Verify(tok, epoch())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.ID != "fixed" || !got.AuthTime.IsZero() || !got.NotBefore.IsZero() {
		t.Errorf("got %+v, want jti fixed and zero auth_time, nbf", *got)
	}
}

func TestSignRefuses(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		mutate func(*token.Claims)
	}{
		{"no subject", func(c *token.Claims) { c.Subject = "" }},
		{"no session", func(c *token.Claims) { c.SessionID = "" }},
		{"no issue time", func(c *token.Claims) { c.IssuedAt = time.Time{} }},
		{"lifetime beyond the key set's", func(c *token.Claims) { c.Expiry = c.IssuedAt.Add(ttl + time.Second) }},
		{"expires before issued", func(c *token.Claims) { c.Expiry = c.IssuedAt.Add(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullClaims()
			tt.mutate(&c)
			_, err := f.signer.Sign(c)
			if got := cordon.ErrorCode(err); got != cordon.ECodeInternal {
				t.Errorf("Sign error = %v (code %q), want code %q", err, got, cordon.ECodeInternal)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	now := epoch().Add(time.Minute)
	good := f.validHeader()
	claims := validClaims()
	pub := f.priv.Public().(ed25519.PublicKey)

	otherPub, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := selfSigned(t, f.priv)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: otherPub, KeyID: "attacker"})

	hmacSign := func(in []byte) []byte {
		m := hmac.New(sha256.New, pub)
		m.Write(in)
		return m.Sum(nil)
	}
	valid := forge(t, good, claims, edSign(f.priv))
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		now   time.Time // zero: now
		want  string    // the Message
	}{
		{"alg none", forge(t, with(good, "alg", "none"), claims, func([]byte) []byte { return nil }), now, "token signed with an unsupported algorithm"},
		{"alg none without signature segment", b64(mustJSON(t, with(good, "alg", "none"))) + "." + b64(mustJSON(t, claims)) + ".", now, "token signed with an unsupported algorithm"},
		{"HS256 keyed with the public key", forge(t, with(good, "alg", "HS256"), claims, hmacSign), now, "token signed with an unsupported algorithm"},
		{"RS256", forge(t, with(good, "alg", "RS256"), claims, edSign(f.priv)), now, "token signed with an unsupported algorithm"},
		{"ES256 header on an Ed25519 key", forge(t, with(good, "alg", "ES256"), claims, func(in []byte) []byte {
			h := sha256.Sum256(in)
			r, s, _ := ecdsa.Sign(rand.Reader, ecPriv, h[:])
			return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}), now, "token algorithm does not match its key"},
		{"unknown kid", forge(t, with(good, "kid", "k-nobody"), claims, edSign(f.priv)), now, "token signed with an unknown key"},
		{"missing kid", forge(t, with(good, "kid", nil), claims, edSign(f.priv)), now, "token has no key id"},
		{"known kid, foreign key", forge(t, good, claims, edSign(otherPriv)), now, "token signature is invalid"},
		{"payload swapped after signing", parts[0] + "." + b64(mustJSON(t, with(claims, "sub", "u-mallory"))) + "." + parts[2], now, "token signature is invalid"},
		{"signature truncated", valid[:len(valid)-4], now, "token signature is invalid"},
		{"expired beyond leeway", valid, epoch().Add(ttl + token.Leeway + time.Second), "token expired"},
		{"not valid yet", forge(t, good, with(claims, "nbf", now.Add(2*time.Minute).Unix()), edSign(f.priv)), now, "token is not valid yet"},
		{"issued in the future", forge(t, good, with(claims, "iat", now.Add(2*time.Minute).Unix(), "nbf", nil), edSign(f.priv)), now, "token issued in the future"},
		{"typ JWT", forge(t, with(good, "typ", "JWT"), claims, edSign(f.priv)), now, "token type must be at+jwt"},
		{"typ missing", forge(t, with(good, "typ", nil), claims, edSign(f.priv)), now, "token type must be at+jwt"},
		{"typ not a string", forge(t, with(good, "typ", 7), claims, edSign(f.priv)), now, "token type must be at+jwt"},
		{"wrong iss", forge(t, good, with(claims, "iss", "https://evil.example"), edSign(f.priv)), now, "token was issued by someone else"},
		{"wrong aud", forge(t, good, with(claims, "aud", "https://other.example"), edSign(f.priv)), now, "token is not meant for this service"},
		{"jku header", forge(t, with(good, "jku", "https://evil.example/jwks"), claims, edSign(f.priv)), now, "token header names its own key or critical extensions"},
		{"jwk header", forge(t, with(good, "jwk", json.RawMessage(jwk)), claims, edSign(f.priv)), now, "token header names its own key or critical extensions"},
		{"x5u header", forge(t, with(good, "x5u", "https://evil.example/cert"), claims, edSign(f.priv)), now, "token header names its own key or critical extensions"},
		{"x5c header", forge(t, with(good, "x5c", []string{base64.StdEncoding.EncodeToString(cert)}), claims, edSign(f.priv)), now, "token header names its own key or critical extensions"},
		{"crit header", forge(t, with(good, "crit", []string{"exp"}, "exp", 1), claims, edSign(f.priv)), now, "token header names its own key or critical extensions"},
		{"crit b64 unencoded payload", forge(t, with(good, "crit", []string{"b64"}, "b64", false), claims, edSign(f.priv)), now, "token header names its own key or critical extensions"},
		{"no sub", forge(t, good, with(claims, "sub", nil), edSign(f.priv)), now, "token lacks a subject"},
		{"no sid", forge(t, good, with(claims, "sid", nil), edSign(f.priv)), now, "token lacks a session id"},
		{"no jti", forge(t, good, with(claims, "jti", nil), edSign(f.priv)), now, "token lacks a token id"},
		{"no client_id", forge(t, good, with(claims, "client_id", nil), edSign(f.priv)), now, "token lacks a client id"},
		{"no exp", forge(t, good, with(claims, "exp", nil), edSign(f.priv)), now, "token lacks an expiry time"},
		{"no iat", forge(t, good, with(claims, "iat", nil), edSign(f.priv)), now, "token lacks an issue time"},
		{"no iss", forge(t, good, with(claims, "iss", nil), edSign(f.priv)), now, "token lacks an issuer"},
		{"no aud", forge(t, good, with(claims, "aud", nil), edSign(f.priv)), now, "token lacks an audience"},
		{"exp a string", forge(t, good, with(claims, "exp", "soon"), edSign(f.priv)), now, "malformed token claims"},
		{"exp beyond int64", forge(t, good, with(claims, "exp", 1e300), edSign(f.priv)), now, "malformed token claims"},
		{"claims not an object", forge(t, good, []int{1, 2}, edSign(f.priv)), now, "malformed token claims"},
		{"1 MB of dots", strings.Repeat(".", 1<<20), now, "token is too long"},
		{"9 KiB", parts[0] + "." + b64(make([]byte, 9<<10)) + "." + parts[2], now, "token is too long"},
		{"empty", "", now, "missing token"},
		{"two parts", parts[0] + "." + parts[1], now, "malformed token"},
		{"four parts", valid + "." + parts[2], now, "malformed token"},
		{"garbage base64", "!!!." + parts[1] + "." + parts[2], now, "malformed token"},
		{"one base64 character too many", parts[0] + "A." + parts[1] + "." + parts[2], now, "malformed token"},
		{"line break inside", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], now, "malformed token"},
		{"padded base64", parts[0] + "." + parts[1] + "." + parts[2] + "==", now, "malformed token"},
		{"leading space", " " + valid, now, "malformed token"},
		{"header not JSON", b64([]byte("{not json")) + "." + parts[1] + "." + parts[2], now, "malformed token"},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, now, "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.verifier.Verify(tt.token, tt.now)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", *got)
			}
			var e *cordon.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error is %T (%v), want *cordon.Error", err, err)
			}
			if e.Code != cordon.ECodeInvalidToken || e.Message != tt.want {
				t.Errorf("Verify error = %q %q, want %q %q", e.Code, e.Message, cordon.ECodeInvalidToken, tt.want)
			}
			if strings.Contains(e.Message, "go-jose") {
				t.Errorf("Message leaks library text: %q", e.Message)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	good := f.validHeader()
	claims := validClaims()
	exp := epoch().Add(ttl)
	tests := []struct {
		name  string
		token string
		now   time.Time
	}{
		{"expired within leeway", forge(t, good, claims, edSign(f.priv)), exp.Add(token.Leeway - time.Second)},
		{"nbf within leeway", forge(t, good, claims, edSign(f.priv)), epoch().Add(-token.Leeway + time.Second)},
		{"typ application/at+jwt", forge(t, with(good, "typ", "application/at+jwt"), claims, edSign(f.priv)), epoch()},
		{"typ upper case", forge(t, with(good, "typ", "AT+JWT"), claims, edSign(f.priv)), epoch()},
		{"aud a string", forge(t, good, with(claims, "aud", audience), edSign(f.priv)), epoch()},
		{"aud among others", forge(t, good, with(claims, "aud", []string{"x", audience}), edSign(f.priv)), epoch()},
		{"no nbf", forge(t, good, with(claims, "nbf", nil), edSign(f.priv)), epoch()},
		{"unknown claims", forge(t, good, with(claims, "scope", "everything"), edSign(f.priv)), epoch()},
		{"exactly 8 KiB", padTo(t, good, claims, f.priv, token.MaxTokenSize), epoch()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.verifier.Verify(tt.token, tt.now); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// padTo returns a valid token exactly size bytes long, padded by a claim
// and, since base64 cannot hit every length, an unknown header member.
func padTo(t *testing.T, header, claims map[string]any, priv ed25519.PrivateKey, size int) string {
	t.Helper()
	base := len(forge(t, header, with(claims, "pad", ""), edSign(priv)))
	guess := (size - base) * 3 / 4
	for m := range 4 {
		h := header
		if m > 0 {
			h = with(header, "p", strings.Repeat("b", m))
		}
		for n := guess - 6; n <= guess+6; n++ {
			tok := forge(t, h, with(claims, "pad", strings.Repeat("a", n)), edSign(priv))
			if len(tok) == size {
				return tok
			}
		}
	}
	t.Fatalf("could not pad a token to %d bytes", size)
	return ""
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	old := f.key
	// A token the old key signs at the last instant it signs: the
	// longest-lived token that key can have made.
	retireAt := epoch().Add(5 * time.Minute)
	c := fullClaims()
	c.IssuedAt, c.NotBefore = retireAt, retireAt
	oldTok := f.sign(t, c)

	next, err := token.NewSigningKey(retireAt)
	if err != nil {
		t.Fatalf("NewSigningKey: %v", err)
	}
	old.RetiredAt = retireAt
	keys := []*cordon.SigningKey{old, next}
	rebuild := func(now time.Time) *token.KeySet {
		t.Helper()
		ks, err := token.NewKeySet(keys, ttl, now)
		if err != nil {
			t.Fatalf("NewKeySet: %v", err)
		}
		f.signer.SetKeySet(ks)
		return ks
	}

	ks := rebuild(retireAt)
	if ks.ActiveKID() != next.ID {
		t.Errorf("ActiveKID = %q, want the new key %q", ks.ActiveKID(), next.ID)
	}
	if got := jwksKIDs(t, ks.JWKS()); strings.Join(got, ",") != next.ID+","+old.ID {
		t.Errorf("JWKS kids = %v, want [%s %s]", got, next.ID, old.ID)
	}
	newTok := f.sign(t, c)
	if kid := decodeSegment(t, newTok, 0)["kid"]; kid != next.ID {
		t.Errorf("new token kid = %v, want %s", kid, next.ID)
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := f.verifier.Verify(tok, retireAt); err != nil {
			t.Errorf("%s token right after rotation: %v", name, err)
		}
	}

	lastMoment := retireAt.Add(ttl + token.Leeway - time.Second)
	rebuild(lastMoment)
	if _, err := f.verifier.Verify(oldTok, lastMoment); err != nil {
		t.Errorf("old token at RetiredAt+ttl+leeway-1s: %v", err)
	}

	gone := retireAt.Add(ttl + token.Leeway)
	ks = rebuild(gone)
	_, err = f.verifier.Verify(oldTok, gone)
	if e, ok := errors.AsType[*cordon.Error](err); !ok || e.Message != "token signed with an unknown key" {
		t.Errorf("old token at RetiredAt+ttl+leeway: err = %v, want unknown key", err)
	}
	if got := jwksKIDs(t, ks.JWKS()); len(got) != 1 || got[0] != next.ID {
		t.Errorf("JWKS kids = %v, want only %s", got, next.ID)
	}
	if _, ok := ks.PublicKey(old.ID); ok {
		t.Errorf("PublicKey(%s) found a key that is no longer published", old.ID)
	}
}

func TestNewKeySet(t *testing.T) {
	now := epoch()
	mk := func(created time.Time) *cordon.SigningKey {
		k, err := token.NewSigningKey(created)
		if err != nil {
			t.Fatalf("NewSigningKey: %v", err)
		}
		return k
	}
	a, b := mk(now.Add(-time.Hour)), mk(now)
	retired := mk(now.Add(-2 * time.Hour))
	retired.RetiredAt = now.Add(-time.Hour)
	notEd := mk(now)
	notEd.Algorithm = "RS256"
	junk := mk(now)
	junk.PrivateKey = []byte("junk")
	dupe := *b
	tests := []struct {
		name    string
		keys    []*cordon.SigningKey
		ttl     time.Duration
		wantKID string // empty: want an error
	}{
		{"newest unretired key signs", []*cordon.SigningKey{a, b}, ttl, b.ID},
		{"order does not matter", []*cordon.SigningKey{b, a}, ttl, b.ID},
		{"long-retired keys are ignored", []*cordon.SigningKey{retired, a}, ttl, a.ID},
		{"no keys", nil, ttl, ""},
		{"only retired keys", []*cordon.SigningKey{retired}, 2 * time.Hour, ""},
		{"unsupported algorithm", []*cordon.SigningKey{notEd}, ttl, ""},
		{"unreadable key", []*cordon.SigningKey{junk}, ttl, ""},
		{"duplicate kid", []*cordon.SigningKey{a, b, &dupe}, ttl, ""},
		{"zero lifetime", []*cordon.SigningKey{a}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := token.NewKeySet(tt.keys, tt.ttl, now)
			if tt.wantKID == "" {
				if err == nil {
					t.Fatalf("NewKeySet accepted %v", tt.keys)
				}
				if code := cordon.ErrorCode(err); code != cordon.ECodeInternal {
					t.Errorf("error code = %q, want %q", code, cordon.ECodeInternal)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewKeySet: %v", err)
			}
			if got := ks.ActiveKID(); got != tt.wantKID {
				t.Errorf("ActiveKID = %q, want %q", got, tt.wantKID)
			}
		})
	}
}

func TestJWKSHasOnlyPublicMembers(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(f.ks.JWKS(), &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(doc.Keys))
	}
	want := map[string]any{
		"kid": f.key.ID, "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
		"x": b64(f.priv.Public().(ed25519.PublicKey)),
	}
	for k, v := range want {
		if doc.Keys[0][k] != v {
			t.Errorf("JWK %s = %v, want %v", k, doc.Keys[0][k], v)
		}
	}
	if len(doc.Keys[0]) != len(want) {
		t.Errorf("JWK has members %v, want exactly %v", doc.Keys[0], want)
	}
	// A caller scribbling on one copy must not change what others serve.
	j := f.ks.JWKS()
	j[0] = 'X'
	if f.ks.JWKS()[0] != '{' {
		t.Error("JWKS returned the shared buffer")
	}
}

func TestParseJWKS(t *testing.T) {
	f := newFixture(t)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	jwkJSON := func(k jose.JSONWebKey) string {
		b, err := k.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		return string(b)
	}
	set := func(keys ...string) []byte { return []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`) }
	ed := jwkJSON(jose.JSONWebKey{Key: f.priv.Public(), KeyID: "ed", Use: "sig"})
	ec := jwkJSON(jose.JSONWebKey{Key: &ecPriv.PublicKey, KeyID: "ec", Use: "sig", Algorithm: "ES256"})

	tests := []struct {
		name     string
		data     []byte
		wantKIDs []string // nil: want an error
	}{
		{"our own JWKS", f.ks.JWKS(), []string{f.key.ID}},
		{"Ed25519 and P-256", set(ed, ec), []string{"ed", "ec"}},
		{"skips an encryption key", set(ed, jwkJSON(jose.JSONWebKey{Key: &ecPriv.PublicKey, KeyID: "enc", Use: "enc"})), []string{"ed"}},
		{"skips a key without use", set(ed, jwkJSON(jose.JSONWebKey{Key: &ecPriv.PublicKey, KeyID: "nouse"})), []string{"ed"}},
		{"skips P-384", set(ed, jwkJSON(jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "p384", Use: "sig"})), []string{"ed"}},
		{"skips a key whose alg disagrees", set(ed, jwkJSON(jose.JSONWebKey{Key: &ecPriv.PublicKey, KeyID: "hs", Use: "sig", Algorithm: "HS256"})), []string{"ed"}},
		{"skips an unknown kty", set(ed, `{"kty":"ML-DSA","kid":"pq","use":"sig","pub":"AAAA"}`), []string{"ed"}},
		{"private Ed25519 key", set(jwkJSON(jose.JSONWebKey{Key: f.priv, KeyID: "ed", Use: "sig"})), nil},
		{"private EC key among public ones", set(ed, jwkJSON(jose.JSONWebKey{Key: ecPriv, KeyID: "ec", Use: "sig"})), nil},
		{"symmetric key", set(ed, `{"kty":"oct","kid":"h","use":"sig","k":"c2VjcmV0"}`), nil},
		{"duplicate kid", set(ed, ed), nil},
		{"bad x", set(`{"kty":"OKP","crv":"Ed25519","kid":"bad","use":"sig","x":"AAAA"}`), nil},
		{"no usable key", set(jwkJSON(jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "p384", Use: "sig"})), nil},
		{"empty set", []byte(`{"keys":[]}`), nil},
		{"no keys member", []byte(`{}`), nil},
		{"garbage", []byte("<html>503</html>"), nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk, err := token.ParseJWKS(tt.data)
			if tt.wantKIDs == nil {
				if err == nil {
					t.Fatalf("ParseJWKS accepted %s", tt.data)
				}
				if code := cordon.ErrorCode(err); code != cordon.ECodeInvalid {
					t.Errorf("error code = %q, want %q", code, cordon.ECodeInvalid)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseJWKS: %v", err)
			}
			if pk.Len() != len(tt.wantKIDs) {
				t.Errorf("Len = %d, want %d", pk.Len(), len(tt.wantKIDs))
			}
			for _, kid := range tt.wantKIDs {
				if _, ok := pk.PublicKey(kid); !ok {
					t.Errorf("PublicKey(%q) not found", kid)
				}
			}
		})
	}
}

// TestParseJWKSVerifies checks the edge gate's path end to end: a JWKS
// fetched from the server verifies the server's tokens, and an ES256 key
// from a JWKS verifies ES256 tokens.
func TestParseJWKSVerifies(t *testing.T) {
	f := newFixture(t)
	pk, err := token.ParseJWKS(f.ks.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	got, ok := pk.PublicKey(f.key.ID)
	if want := f.priv.Public().(ed25519.PublicKey); !ok || !want.Equal(got) {
		t.Errorf("PublicKey(%s) = %v, %v; want %v", f.key.ID, got, ok, want)
	}
	v := token.NewVerifier(pk, issuer, audience)
	if _, err := v.Verify(f.sign(t, fullClaims()), epoch()); err != nil {
		t.Errorf("Verify with the parsed JWKS: %v", err)
	}

	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecSet, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ecPriv.PublicKey, KeyID: "ec", Use: "sig"}}})
	ecKeys, err := token.ParseJWKS(ecSet)
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: ecPriv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "ec"))
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	jws, err := signer.Sign(mustJSON(t, validClaims()))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	ecTok, _ := jws.CompactSerialize()
	if _, err := token.NewVerifier(ecKeys, issuer, audience).Verify(ecTok, epoch()); err != nil {
		t.Errorf("Verify ES256: %v", err)
	}
	// The Ed25519 verifier knows no "ec" kid.
	if _, err := f.verifier.Verify(ecTok, epoch()); err == nil {
		t.Error("Ed25519 key set accepted an ES256 token")
	}
}

func TestKeysFunc(t *testing.T) {
	f := newFixture(t)
	var current token.Keys
	v := token.NewVerifier(token.KeysFunc(func() token.Keys { return current }), issuer, audience)
	tok := f.sign(t, fullClaims())
	if _, err := v.Verify(tok, epoch()); err == nil {
		t.Error("Verify with no keys accepted a token")
	}
	current = f.ks
	if _, err := v.Verify(tok, epoch()); err != nil {
		t.Errorf("Verify after keys appeared: %v", err)
	}
}

// TestRotationUnderLoad swaps key sets while tokens are signed and
// verified; run with -race it checks the swap is safe.
func TestRotationUnderLoad(t *testing.T) {
	f := newFixture(t)
	keys := []*cordon.SigningKey{f.key}
	sets := []*token.KeySet{f.ks}
	for i := range 4 {
		at := epoch().Add(time.Duration(i+1) * time.Second)
		k, err := token.NewSigningKey(at)
		if err != nil {
			t.Fatalf("NewSigningKey: %v", err)
		}
		keys[len(keys)-1].RetiredAt = at
		keys = append(keys, k)
		ks, err := token.NewKeySet(keys, ttl, at)
		if err != nil {
			t.Fatalf("NewKeySet: %v", err)
		}
		sets = append(sets, ks)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			f.signer.SetKeySet(sets[i%len(sets)])
		}
	}()
	// The last set publishes every key, whichever set signed.
	v := token.NewVerifier(sets[len(sets)-1], issuer, audience)
	for range 200 {
		tok := f.sign(t, fullClaims())
		if _, err := v.Verify(tok, epoch()); err != nil {
			t.Fatalf("Verify during rotation: %v", err)
		}
	}
	<-done
}

func TestConstructorsRefuseWiringMistakes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		fn   func()
	}{
		{"signer without keys", func() { token.NewSigner(nil, issuer, nil, clientID, ttl) }},
		{"signer with zero lifetime", func() { token.NewSigner(f.ks, issuer, nil, clientID, 0) }},
		{"signer outliving its keys", func() { token.NewSigner(f.ks, issuer, nil, clientID, ttl+time.Second) }},
		{"verifier without keys", func() { token.NewVerifier(nil, issuer, audience) }},
		{"verifier without issuer", func() { token.NewVerifier(f.ks, "", audience) }},
		{"verifier without audience", func() { token.NewVerifier(f.ks, issuer, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.fn()
		})
	}
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	valid := fx.sign(f, fullClaims())
	parts := strings.Split(valid, ".")
	for _, s := range []string{
		valid, "", ".", "..", "...", parts[0] + ".." + parts[2], parts[0] + "." + parts[1] + ".",
		b64([]byte(`{"alg":"none","typ":"at+jwt","kid":"x"}`)) + "." + parts[1] + ".",
		b64([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"`+fx.key.ID+`","crit":["b64"],"b64":false}`)) + ".{}." + parts[2],
		b64([]byte(`{"alg":"EdDSA","x5c":["AAAA"]}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAA"}}`)) + "." + parts[1] + "." + parts[2],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := fx.verifier.Verify(s, epoch())
		if err != nil {
			if code := cordon.ErrorCode(err); code != cordon.ECodeInvalidToken {
				t.Fatalf("Verify(%q) error code %q, want %q: %v", s, code, cordon.ECodeInvalidToken, err)
			}
			return
		}
		if c == nil || c.Subject == "" || c.SessionID == "" || c.ID == "" {
			t.Fatalf("Verify(%q) accepted incomplete claims %+v", s, c)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	f := newFixture(b)
	c := fullClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.signer.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tok := f.sign(b, fullClaims())
	now := epoch()
	b.ReportAllocs()
	cpu := benchutil.Start()
	for b.Loop() {
		if _, err := f.verifier.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
	cpu.ReportCPU(b, "cpu-ns/op")
}

// BenchmarkEd25519Verify is the floor for BenchmarkVerify: the signature
// check alone, over a signing input of the same size.
func BenchmarkEd25519Verify(b *testing.B) {
	f := newFixture(b)
	tok := f.sign(b, fullClaims())
	msg := []byte(tok[:strings.LastIndexByte(tok, '.')])
	pub := f.priv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(f.priv, msg)
	b.ReportAllocs()
	cpu := benchutil.Start()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("signature did not verify")
		}
	}
	cpu.ReportCPU(b, "cpu-ns/op")
}

// BenchmarkVerifyParallel and BenchmarkEd25519VerifyParallel are the same
// pair from every core (RunParallel), as gate's cold path and its
// BareEd25519Verify run: per-op figures to compare with the gate's.
func BenchmarkVerifyParallel(b *testing.B) {
	f := newFixture(b)
	tok := f.sign(b, fullClaims())
	now := epoch()
	b.ReportAllocs()
	cpu := benchutil.Start()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.verifier.Verify(tok, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu.ReportCPU(b, "cpu-ns/op")
}

func BenchmarkEd25519VerifyParallel(b *testing.B) {
	f := newFixture(b)
	tok := f.sign(b, fullClaims())
	msg := []byte(tok[:strings.LastIndexByte(tok, '.')])
	pub := f.priv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(f.priv, msg)
	b.ReportAllocs()
	cpu := benchutil.Start()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Error("signature did not verify")
				return
			}
		}
	})
	cpu.ReportCPU(b, "cpu-ns/op")
}

// BenchmarkVerifyCached is Verify answered from a verifier's cache: the
// time rules and the key's publication checked again, no signature.
func BenchmarkVerifyCached(b *testing.B) {
	f := newFixture(b)
	v := token.NewVerifier(f.signer, issuer, audience).WithCache(0)
	tok := f.sign(b, fullClaims())
	now := epoch()
	b.ReportAllocs()
	cpu := benchutil.Start()
	for b.Loop() {
		if _, err := v.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
	cpu.ReportCPU(b, "cpu-ns/op")
}

func equalClaims(a, b *token.Claims) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject &&
		strings.Join(a.Audience, " ") == strings.Join(b.Audience, " ") &&
		a.ClientID == b.ClientID && a.SessionID == b.SessionID &&
		a.IssuedAt.Equal(b.IssuedAt) && a.NotBefore.Equal(b.NotBefore) &&
		a.Expiry.Equal(b.Expiry) && a.AuthTime.Equal(b.AuthTime) &&
		a.ID == b.ID && a.Platform == b.Platform && a.Version == b.Version && a.Source == b.Source
}

// decodeSegment returns the JSON object in segment i of a compact JWS.
func decodeSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return m
}

func jwksKIDs(t *testing.T, jwks []byte) []string {
	t.Helper()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func selfSigned(t *testing.T, priv ed25519.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    epoch().Add(-time.Hour),
		NotAfter:     epoch().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	return der
}

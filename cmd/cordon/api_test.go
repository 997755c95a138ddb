package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/token"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
)

// apiServer runs a whole cordon in-process on port 0, like testServer,
// with the config changed by opts first (a fake clock, default hashing).
func apiServer(t *testing.T, opts ...func(*Config)) *Main {
	t.Helper()
	c := Config{Addr: "127.0.0.1:0", Data: t.TempDir(), AdminToken: testAdminToken,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32},
		Log:  slog.New(slog.DiscardHandler), Out: io.Discard}
	for _, o := range opts {
		o(&c)
	}
	m := &Main{Config: c}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

func withClock(c clock.Clock) func(*Config) { return func(cfg *Config) { cfg.Clock = c } }

// fakeNow is where fake clocks start: a whole second, so token times are
// exact.
var fakeNow = time.Date(2026, 5, 27, 8, 0, 0, 0, time.UTC)

// apiResp is one answer, raw and (when it is JSON) decoded.
type apiResp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
	// jsonErr says why a JSON answer did not decode as an object.
	jsonErr error
}

func (r apiResp) String() string {
	raw := r.raw
	if len(raw) > 300 {
		raw = append(raw[:300:300], "…"...)
	}
	return fmt.Sprintf("%d %s %q", r.status, r.header.Get("Content-Type"), raw)
}

// do sends one request. It returns transport errors rather than failing
// the test, so goroutines may call it.
func do(method, u string, hdr map[string]string, body []byte) (apiResp, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return apiResp{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResp{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResp{}, err
	}
	r := apiResp{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && len(bytes.TrimSpace(raw)) > 0 {
		r.jsonErr = json.Unmarshal(raw, &r.body)
	}
	return r, nil
}

// send is do for the test's own goroutine.
func send(t *testing.T, method, u string, hdr map[string]string, body []byte) apiResp {
	t.Helper()
	r, err := do(method, u, hdr, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return r
}

// hdr builds a header map from key, value pairs, skipping empty values.
func hdr(kv ...string) map[string]string {
	h := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			h[kv[i]] = kv[i+1]
		}
	}
	return h
}

// wantError checks r is the wire contract's error: the status, a JSON
// body with the code and a message for a person.
func wantError(t *testing.T, r apiResp, status int, code string) {
	t.Helper()
	if r.status >= 500 && r.status != status {
		t.Errorf("got a %d, want %d %s (a 5xx is a bug): %v", r.status, status, code, r)
		return
	}
	if r.status != status {
		t.Errorf("status = %d, want %d: %v", r.status, status, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json: %v", ct, r)
		return
	}
	if r.jsonErr != nil || r.body == nil {
		t.Errorf("body is not a JSON object (%v): %v", r.jsonErr, r)
		return
	}
	if got := r.body["error"]; got != code {
		t.Errorf("error = %v, want %q: %v", got, code, r)
	}
	if msg, _ := r.body["message"].(string); strings.TrimSpace(msg) == "" {
		t.Errorf("message is %v, want a non-empty string: %v", r.body["message"], r)
	}
}

// loginBodyJSON is a /v1/login body.
func loginBodyJSON(name, pw string) []byte {
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	return b
}

// mustLogin logs in and returns the answer's fields.
func mustLogin(t *testing.T, m *Main, name, pw, client string) map[string]any {
	t.Helper()
	code, tok := login(t, m, name, pw, client)
	if code != http.StatusOK {
		t.Fatalf("login %s: %d %v", name, code, tok)
	}
	return tok
}

func accessToken(t *testing.T, tok map[string]any) string {
	t.Helper()
	at, ok := tok["access_token"].(string)
	if !ok || at == "" {
		t.Fatalf("no access_token in %v", tok)
	}
	return at
}

// jwtHeader decodes the protected header of a compact JWS.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h
}

func b64JSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwks fetches the server's JWK Set.
func jwks(t *testing.T, m *Main) []map[string]any {
	t.Helper()
	r := send(t, "GET", m.URL()+"/.well-known/jwks.json", nil, nil)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.raw, &set) != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v", r)
	}
	return set.Keys
}

func kids(keys []map[string]any) []string {
	var out []string
	for _, k := range keys {
		s, _ := k["kid"].(string)
		out = append(out, s)
	}
	return out
}

// wantBearerChallenge checks an RFC 6750 challenge naming invalid_token.
func wantBearerChallenge(t *testing.T, r apiResp) {
	t.Helper()
	wa := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_token"`) {
		t.Errorf(`WWW-Authenticate = %q, want Bearer ... error="invalid_token"`, wa)
	}
}

func TestLoginBadInput(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "erin", "a long enough password")
	good := string(loginBodyJSON("erin", "a long enough password"))
	huge := []byte(`{"username":"erin","password":"` + strings.Repeat("a", 2<<20) + `"}`)
	const goodClient = `platform=android, version="8.4.1", source=play, device="d-1"`

	tests := []struct {
		name   string
		ctype  string
		client string
		body   []byte
		status int
		code   string
	}{
		{"malformed JSON", "application/json", "", []byte(`{"username": erin}`), 400, "invalid_request"},
		{"truncated JSON", "application/json", "", []byte(`{"username":"erin","pass`), 400, "invalid_request"},
		{"text/plain", "text/plain", "", []byte(good), 415, "unsupported_media_type"},
		{"no content type", "", "", []byte(good), 415, "unsupported_media_type"},
		{"unknown field", "application/json", "", []byte(`{"username":"erin","password":"a long enough password","otp":"1"}`), 400, "invalid_request"},
		{"empty body", "application/json", "", []byte{}, 400, "invalid_request"},
		{"2 MiB body", "application/json", "", huge, 413, "payload_too_large"},
		{"missing username", "application/json", "", []byte(`{"password":"a long enough password"}`), 400, "invalid_request"},
		{"missing password", "application/json", "", []byte(`{"username":"erin"}`), 400, "invalid_request"},
		{"JSON array", "application/json", "", []byte(`[` + good + `]`), 400, "invalid_request"},
		{"two objects", "application/json", "", []byte(good + good), 400, "invalid_request"},
		{"JSON null", "application/json", "", []byte(`null`), 400, "invalid_request"},
		{"username is a number", "application/json", "", []byte(`{"username":5,"password":"a long enough password"}`), 400, "invalid_request"},
		{"username of 300 bytes", "application/json", "", loginBodyJSON(strings.Repeat("e", 300), "a long enough password"), 400, "invalid_request"},
		{"password of 5000 bytes", "application/json", "", loginBodyJSON("erin", strings.Repeat("p", 5000)), 400, "invalid_request"},
		{"username with NUL", "application/json", "", loginBodyJSON("er\x00in", "a long enough password"), 401, "invalid_credentials"},
		{"unknown platform", "application/json", `platform=blackberry, version="8.4.1"`, []byte(good), 400, "invalid_client_header"},
		{"upper-case platform", "application/json", `platform=Android`, []byte(good), 400, "invalid_client_header"},
		{"integer version", "application/json", `platform=ios, version=8`, []byte(good), 400, "invalid_client_header"},
		{"unterminated string", "application/json", `platform=ios, version="8.4.1`, []byte(good), 400, "invalid_client_header"},
		{"2 KiB header", "application/json", `platform=ios, device="` + strings.Repeat("d", 2048) + `"`, []byte(good), 400, "invalid_client_header"},
		{"unknown source", "application/json", `platform=android, source=apkmirror`, []byte(good), 400, "invalid_client_header"},
		{"trailing comma", "application/json", goodClient + ",", []byte(good), 400, "invalid_client_header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := do("POST", m.URL()+"/v1/login", hdr("Content-Type", tc.ctype, "Cordon-Client", tc.client), tc.body)
			if err != nil {
				t.Fatalf("POST /v1/login: %v (want a %d answer, not a dropped connection)", err, tc.status)
			}
			wantError(t, r, tc.status, tc.code)
		})
	}

	t.Run("no Cordon-Client is an unknown client", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/v1/login", hdr("Content-Type", "application/json; charset=utf-8"), []byte(good))
		if r.status != http.StatusOK {
			t.Fatalf("login without Cordon-Client: %v, want 200", r)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("login Cache-Control = %q, want no-store", cc)
		}
		s := send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, r.body)), nil)
		if s.status != http.StatusOK {
			t.Fatalf("session: %v", s)
		}
		sess, _ := s.body["session"].(map[string]any)
		client, _ := sess["client"].(map[string]any)
		if client["platform"] != "unknown" || client["source"] != "unknown" {
			t.Errorf("client facts = %v, want platform and source unknown", client)
		}
	})
}

func TestHostileAccessTokens(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "gina", "a long enough password")
	realTok := accessToken(t, mustLogin(t, m, "gina", "a long enough password", `platform=ios, version="8.4.1", source=appstore`))
	parts := strings.Split(realTok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a compact JWS", realTok)
	}
	payload := parts[1]
	claims, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}

	keys := jwks(t, m)
	kid, _ := keys[0]["kid"].(string)
	x, _ := keys[0]["x"].(string)
	xBytes, err := base64.RawURLEncoding.DecodeString(x)
	if err != nil || kid == "" {
		t.Fatalf("jwks key: kid %q x %q: %v", kid, x, err)
	}

	// The server's own private key, to change one thing at a time.
	stored, err := m.store.SigningKeys(context.Background())
	if err != nil || len(stored) != 1 {
		t.Fatalf("signing keys: %d %v", len(stored), err)
	}
	pk, err := x509.ParsePKCS8PrivateKey(stored[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	serverKey := pk.(ed25519.PrivateKey)

	edSign := func(key ed25519.PrivateKey, header map[string]any) string {
		in := b64JSON(header) + "." + payload
		return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(in)))
	}
	hsSign := func(secret []byte) string {
		in := b64JSON(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}) + "." + payload
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	// joseSign signs the real claims with a fresh key through go-jose,
	// under the given kid.
	joseSign := func(kid string) string {
		k, err := token.NewSigningKey(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		if kid == "" {
			kid = k.ID
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		out, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// The control: re-signed exactly as the server signs, it is accepted,
	// so each refusal below is for the one thing changed.
	t.Run("control: re-signed with the server's key", func(t *testing.T) {
		tok := edSign(serverKey, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid})
		if r := send(t, "GET", m.URL()+"/v1/session", bearerH(tok), nil); r.status != http.StatusOK {
			t.Fatalf("control token: %v, want 200", r)
		}
	})

	other := apiServer(t)
	addUser(t, other, "gina", "a long enough password")
	foreign := accessToken(t, mustLogin(t, other, "gina", "a long enough password", ""))

	tampered := parts[0] + "." + b64JSON(map[string]any{"sub": "u-someone-else"}) + "." + parts[2]

	tests := []struct {
		name  string
		authz string
	}{
		{"alg none", "Bearer " + b64JSON(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + payload + "."},
		{"alg none without kid", "Bearer " + b64JSON(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + payload + "."},
		{"HS256 keyed with the public key bytes", "Bearer " + hsSign(xBytes)},
		{"HS256 keyed with the JWKS x string", "Bearer " + hsSign([]byte(x))},
		{"unknown kid", "Bearer " + joseSign("")},
		{"known kid, another key", "Bearer " + joseSign(kid)},
		{"typ JWT", "Bearer " + edSign(serverKey, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid})},
		{"no typ", "Bearer " + edSign(serverKey, map[string]any{"alg": "EdDSA", "kid": kid})},
		{"jku in header", "Bearer " + edSign(serverKey, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jku": "https://evil.example/jwks"})},
		{"payload swapped", "Bearer " + tampered},
		{"60 KiB of dots", "Bearer " + strings.Repeat(".", 60<<10)},
		// Past Server.MaxHeaderBytes (64 KiB), net/http itself answers a
		// text/plain 431 before any handler runs: not the wire contract.
		{"1 MB of dots", "Bearer " + strings.Repeat(".", 1<<20)},
		{"Bearer with empty token", "Bearer "},
		{"Bearer with spaces only", "Bearer    "},
		{"Basic scheme", "Basic xyz"},
		{"token from another cordon", "Bearer " + foreign},
		{"refresh token as access token", "Bearer crt_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := do("GET", m.URL()+"/v1/session", hdr("Authorization", tc.authz), nil)
			if err != nil {
				t.Fatalf("GET /v1/session: %v (want a 401 answer, not a dropped connection)", err)
			}
			wantError(t, r, http.StatusUnauthorized, "invalid_token")
			wantBearerChallenge(t, r)
		})
	}

	t.Run("no Authorization", func(t *testing.T) {
		r := send(t, "GET", m.URL()+"/v1/session", nil, nil)
		wantError(t, r, http.StatusUnauthorized, "unauthorized")
		if wa := r.header.Get("WWW-Authenticate"); wa != `Bearer realm="cordon"` {
			t.Errorf(`WWW-Authenticate = %q, want Bearer realm="cordon"`, wa)
		}
	})
}

func TestExpiredAccessToken(t *testing.T) {
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk))
	addUser(t, m, "hugo", "a long enough password")
	tok := mustLogin(t, m, "hugo", "a long enough password", "")
	at := accessToken(t, tok)

	clk.Advance(14 * time.Minute)
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(at), nil); r.status != http.StatusOK {
		t.Fatalf("after 14 min: %v, want 200", r)
	}
	// 15 min lifetime plus token.Leeway (60 s), and one second more.
	clk.Advance(2*time.Minute + time.Second)
	r := send(t, "GET", m.URL()+"/v1/session", bearerH(at), nil)
	wantError(t, r, http.StatusUnauthorized, "invalid_token")
	wantBearerChallenge(t, r)

	// The session outlives its access token: a refresh gives a new one.
	code, next := refresh(t, m, tok["refresh_token"].(string))
	if code != http.StatusOK {
		t.Fatalf("refresh after the access token expired: %d %v", code, next)
	}
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, next)), nil); r.status != http.StatusOK {
		t.Errorf("refreshed token: %v, want 200", r)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "ida", "a long enough password")
	rt, _ := mustLogin(t, m, "ida", "a long enough password", "")["refresh_token"].(string)
	const form = "application/x-www-form-urlencoded"

	tests := []struct {
		name   string
		ctype  string
		client string
		body   string
		status int
		code   string
	}{
		{"JSON content type", "application/json", "", `{"grant_type":"refresh_token","refresh_token":"x"}`, 400, "invalid_request"},
		{"no content type", "", "", "grant_type=refresh_token&refresh_token=x", 400, "invalid_request"},
		{"missing grant_type", form, "", "refresh_token=x", 400, "invalid_request"},
		{"password grant", form, "", "grant_type=password&username=ida&password=a+long+enough+password", 400, "unsupported_grant_type"},
		{"client_credentials grant", form, "", "grant_type=client_credentials", 400, "unsupported_grant_type"},
		{"missing refresh_token", form, "", "grant_type=refresh_token", 400, "invalid_request"},
		{"repeated grant_type", form, "", "grant_type=refresh_token&grant_type=refresh_token&refresh_token=x", 400, "invalid_request"},
		{"repeated refresh_token", form, "", "grant_type=refresh_token&refresh_token=x&refresh_token=y", 400, "invalid_request"},
		{"malformed form", form, "", "grant_type=refresh_token&refresh_token=%zz", 400, "invalid_request"},
		{"garbage token", form, "", "grant_type=refresh_token&refresh_token=garbage", 400, "invalid_grant"},
		{"600-byte token", form, "", "grant_type=refresh_token&refresh_token=crt_" + strings.Repeat("A", 600), 400, "invalid_grant"},
		{"bad Cordon-Client", form, "platform=blackberry", "grant_type=refresh_token&refresh_token=x", 400, "invalid_request"},
		{"10 KiB form", form, "", "grant_type=refresh_token&refresh_token=x&pad=" + strings.Repeat("p", 10<<10), 413, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := do("POST", m.URL()+"/oauth2/token", hdr("Content-Type", tc.ctype, "Cordon-Client", tc.client), []byte(tc.body))
			if err != nil {
				t.Fatalf("POST /oauth2/token: %v", err)
			}
			wantError(t, r, tc.status, tc.code)
			if d, _ := r.body["error_description"].(string); d == "" {
				t.Errorf("error_description is %v, want a non-empty string: %v", r.body["error_description"], r)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}

	t.Run("success", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/oauth2/token", hdr("Content-Type", form),
			[]byte(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
		if r.status != http.StatusOK || r.body["access_token"] == nil || r.body["token_type"] != "Bearer" {
			t.Fatalf("refresh: %v", r)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
	})
}

func TestAdminAuth(t *testing.T) {
	m := apiServer(t)
	body := loginBodyJSON("jack", "a long enough password")
	t.Run("no token", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/admin/v1/accounts", jsonCT, body)
		wantError(t, r, http.StatusUnauthorized, "unauthorized")
	})
	for _, tc := range []struct{ name, authz string }{
		{"wrong token", "Bearer cat_not-the-admin-token-0123456789"},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+testAdminToken))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+"/admin/v1/accounts", hdr("Content-Type", "application/json", "Authorization", tc.authz), body)
			wantError(t, r, http.StatusUnauthorized, "invalid_token")
			wantBearerChallenge(t, r)
		})
	}
	t.Run("an access token is no admin token", func(t *testing.T) {
		addUser(t, m, "kate", "a long enough password")
		at := accessToken(t, mustLogin(t, m, "kate", "a long enough password", ""))
		r := send(t, "GET", m.URL()+"/admin/v1/accounts/kate", bearerH(at), nil)
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
	})
}

func TestAdminCreateAccountBadInput(t *testing.T) {
	m := apiServer(t)
	r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), loginBodyJSON("frank", "a long enough password"))
	if r.status != http.StatusCreated || r.body["id"] == nil || r.body["username"] != "frank" {
		t.Fatalf("create frank: %v", r)
	}
	if loc := r.header.Get("Location"); loc != "/admin/v1/accounts/"+r.body["id"].(string) {
		t.Errorf("Location = %q, want /admin/v1/accounts/%v", loc, r.body["id"])
	}

	tests := []struct {
		name   string
		ctype  string
		body   []byte
		status int
		code   string
		field  string
	}{
		{"common password", "application/json", loginBodyJSON("gail", "password123"), 422, "weak_password", "password"},
		{"7 characters", "application/json", loginBodyJSON("gail", "abcdefg"), 422, "weak_password", "password"},
		{"password of 5000 bytes", "application/json", loginBodyJSON("gail", strings.Repeat("x", 5000)), 422, "weak_password", "password"},
		{"password is the username", "application/json", loginBodyJSON("gail-the-great", "Gail-The-Great"), 422, "weak_password", "password"},
		{"duplicate username", "application/json", loginBodyJSON("frank", "another long password"), 409, "conflict", "username"},
		{"duplicate in other case", "application/json", loginBodyJSON("FRANK", "another long password"), 409, "conflict", "username"},
		{"duplicate in full width", "application/json", loginBodyJSON("ｆｒａｎｋ", "another long password"), 409, "conflict", "username"},
		{"control characters", "application/json", loginBodyJSON("fr\x07ank\n", "another long password"), 422, "invalid_field", "username"},
		{"leading space", "application/json", loginBodyJSON(" gail", "another long password"), 422, "invalid_field", "username"},
		{"empty username", "application/json", loginBodyJSON("", "another long password"), 422, "invalid_field", "username"},
		{"username of 300 bytes", "application/json", loginBodyJSON(strings.Repeat("g", 300), "another long password"), 422, "invalid_field", "username"},
		{"username like an account id", "application/json", loginBodyJSON("u-abcdefghijklmnopqrstuvwxyz", "another long password"), 422, "invalid_field", "username"},
		{"unknown field", "application/json", []byte(`{"username":"gail","password":"another long password","admin":true}`), 400, "invalid_request", ""},
		{"malformed JSON", "application/json", []byte(`{"username":"gail",`), 400, "invalid_request", ""},
		{"text/plain", "text/plain", loginBodyJSON("gail", "another long password"), 415, "unsupported_media_type", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+"/admin/v1/accounts", hdr("Content-Type", tc.ctype, "Authorization", "Bearer "+testAdminToken), tc.body)
			wantError(t, r, tc.status, tc.code)
			if tc.field != "" && r.body["field"] != tc.field {
				t.Errorf("field = %v, want %q: %v", r.body["field"], tc.field, r)
			}
		})
	}
}

func TestAdminAccountsAndSessions(t *testing.T) {
	m := apiServer(t)
	id := addUser(t, m, "lena", "a long enough password")

	for _, ref := range []string{id, "lena", "LENA"} {
		r := send(t, "GET", m.URL()+"/admin/v1/accounts/"+url.PathEscape(ref), admin(), nil)
		if r.status != http.StatusOK || r.body["id"] != id || r.body["username"] != "lena" {
			t.Errorf("GET account %q: %v, want id %s", ref, r, id)
		}
		if _, leaked := r.body["password_hash"]; leaked {
			t.Errorf("GET account %q shows the password hash: %v", ref, r)
		}
	}
	for _, ref := range []string{"u-aaaaaaaaaaaaaaaaaaaaaaaaaa", "nobody", "%E2%80%8B"} {
		wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts/"+ref, admin(), nil), http.StatusNotFound, "not_found")
	}
	wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts/nobody/sessions", admin(), nil), http.StatusNotFound, "not_found")

	a := mustLogin(t, m, "lena", "a long enough password", `platform=ios, version="8.4.1", source=appstore, device="d-a"`)
	b := mustLogin(t, m, "lena", "a long enough password", `platform=android, version="8.4.1", source=play, device="d-b"`)
	c := mustLogin(t, m, "lena", "a long enough password", "")

	r := send(t, "GET", m.URL()+"/admin/v1/accounts/lena/sessions", admin(), nil)
	sessions, _ := r.body["sessions"].([]any)
	if r.status != http.StatusOK || len(sessions) != 3 {
		t.Fatalf("admin sessions: %v, want 3 sessions", r)
	}

	// Revoke one: its token stops working at once, the others do not.
	r = send(t, "DELETE", m.URL()+"/admin/v1/sessions/"+a["session_id"].(string), admin(), nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("revoke session: %v, want 204", r)
	}
	r = send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, a)), nil)
	wantError(t, r, http.StatusUnauthorized, "session_revoked")
	wantBearerChallenge(t, r)
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, b)), nil); r.status != http.StatusOK {
		t.Errorf("another session after revoking one: %v, want 200", r)
	}
	if code, out := refresh(t, m, a["refresh_token"].(string)); code != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh of a revoked session: %d %v, want 400 invalid_grant", code, out)
	}
	wantError(t, send(t, "DELETE", m.URL()+"/admin/v1/sessions/s-nope", admin(), nil), http.StatusNotFound, "not_found")

	// Revoke all.
	r = send(t, "DELETE", m.URL()+"/admin/v1/accounts/"+id+"/sessions", admin(), nil)
	revoked, _ := r.body["revoked"].([]any)
	if r.status != http.StatusOK || len(revoked) != 2 {
		t.Fatalf("revoke all: %v, want the 2 live sessions", r)
	}
	for _, tok := range []map[string]any{b, c} {
		wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, tok)), nil), http.StatusUnauthorized, "session_revoked")
	}
	r = send(t, "GET", m.URL()+"/admin/v1/accounts/lena/sessions", admin(), nil)
	if sessions, _ := r.body["sessions"].([]any); r.status != http.StatusOK || len(sessions) != 0 {
		t.Errorf("admin sessions after revoke all: %v, want none", r)
	}
	r = send(t, "DELETE", m.URL()+"/admin/v1/accounts/lena/sessions", admin(), nil)
	if revoked, ok := r.body["revoked"].([]any); r.status != http.StatusOK || !ok || len(revoked) != 0 {
		t.Errorf("revoke all again: %v, want 200 with an empty list", r)
	}
}

func TestAdminKeyRotation(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "mia", "a long enough password")
	before := mustLogin(t, m, "mia", "a long enough password", "")
	oldKID, _ := jwtHeader(t, accessToken(t, before))["kid"].(string)

	wantError(t, send(t, "POST", m.URL()+"/admin/v1/keys/rotate", nil, nil), http.StatusUnauthorized, "unauthorized")
	r := send(t, "POST", m.URL()+"/admin/v1/keys/rotate", admin(), nil)
	newKID, _ := r.body["kid"].(string)
	if r.status != http.StatusOK || newKID == "" || newKID == oldKID {
		t.Fatalf("rotate: %v, want a new kid (old %s)", r, oldKID)
	}

	got := kids(jwks(t, m))
	if len(got) != 2 || got[0] != newKID || got[1] != oldKID {
		t.Errorf("JWKS kids = %v, want [%s %s] (the active key first)", got, newKID, oldKID)
	}
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, before)), nil); r.status != http.StatusOK {
		t.Errorf("token signed before rotation: %v, want 200", r)
	}
	after := mustLogin(t, m, "mia", "a long enough password", "")
	if kid := jwtHeader(t, accessToken(t, after))["kid"]; kid != newKID {
		t.Errorf("token signed after rotation has kid %v, want %s", kid, newKID)
	}
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, after)), nil); r.status != http.StatusOK {
		t.Errorf("token signed after rotation: %v, want 200", r)
	}
	code, next := refresh(t, m, before["refresh_token"].(string))
	if code != http.StatusOK {
		t.Fatalf("refresh after rotation: %d %v", code, next)
	}
	if kid := jwtHeader(t, accessToken(t, next))["kid"]; kid != newKID {
		t.Errorf("refreshed token has kid %v, want %s", kid, newKID)
	}
}

// ndjson encodes records one a line.
func ndjson(recs ...map[string]string) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func importHdr(ctype string) map[string]string {
	return hdr("Content-Type", ctype, "Authorization", "Bearer "+testAdminToken)
}

func TestAdminImport(t *testing.T) {
	m := apiServer(t)
	ctx := context.Background()
	addUser(t, m, "existing-user", "a long enough password")
	bc, err := bcrypt.GenerateFromPassword([]byte("imported password one"), 4)
	if err != nil {
		t.Fatal(err)
	}

	body := ndjson(
		map[string]string{"username": "from-bcrypt", "password_hash": string(bc)},
		map[string]string{"username": "from-plain", "password": "imported password two"},
		map[string]string{"username": "EXISTING-user", "password_hash": string(bc)},
		map[string]string{"username": "bad-hash", "password_hash": "$2b$04$tooshort"},
		map[string]string{"username": "both", "password": "imported password three", "password_hash": string(bc)},
	)
	r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"), body)
	if r.status != http.StatusOK {
		t.Fatalf("import: %v", r)
	}
	for k, want := range map[string]float64{"created": 2, "existing": 1, "invalid": 2} {
		if r.body[k] != want {
			t.Errorf("import %s = %v, want %v: %v", k, r.body[k], want, r)
		}
	}
	problems, _ := r.body["problems"].([]any)
	var idx []float64
	for _, p := range problems {
		pm, _ := p.(map[string]any)
		i, _ := pm["index"].(float64)
		idx = append(idx, i)
		if e, _ := pm["error"].(string); e == "" {
			t.Errorf("problem %v has no error text", pm)
		}
	}
	if fmt.Sprint(idx) != "[3 4]" {
		t.Errorf("problem indexes = %v, want [3 4]: %v", idx, r)
	}

	// The bcrypt hash logs in, and is replaced by argon2id on the way.
	mustLogin(t, m, "from-bcrypt", "imported password one", "")
	acct, err := m.store.AccountByUsername(ctx, "from-bcrypt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(acct.PasswordHash, "$argon2id$") {
		t.Errorf("stored hash after login = %.10q…, want $argon2id$", acct.PasswordHash)
	}
	mustLogin(t, m, "from-bcrypt", "imported password one", "")
	if code, out := login(t, m, "from-bcrypt", "not the password", ""); code != http.StatusUnauthorized {
		t.Errorf("wrong password after rehash: %d %v, want 401", code, out)
	}
	mustLogin(t, m, "from-plain", "imported password two", "")
	// The existing account was left as it was.
	mustLogin(t, m, "existing-user", "a long enough password", "")

	t.Run("JSON array", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/json"),
			[]byte(`[{"username":"from-array","password_hash":"`+string(bc)+`"}]`))
		if r.status != http.StatusOK || r.body["created"] != float64(1) {
			t.Errorf("array import: %v, want created 1", r)
		}
	})

	bad := []struct {
		name   string
		ctype  string
		body   []byte
		status int
		code   string
		// mention is a text the message must hold, such as the line.
		mention string
	}{
		{"text/csv", "text/csv", []byte("username,password\nx,y\n"), 415, "unsupported_media_type", ""},
		{"no content type", "", ndjson(map[string]string{"username": "nct", "password_hash": string(bc)}), 415, "unsupported_media_type", ""},
		{"malformed line", "application/x-ndjson", []byte(`{"username":"ok-1","password_hash":"` + string(bc) + `"}` + "\n\n" + `{"username": "broken"` + "\n"), 400, "invalid_request", "line 3"},
		{"unknown field on a line", "application/x-ndjson", []byte(`{"username":"ok-2","password_hash":"` + string(bc) + `"}` + "\n" + `{"username":"x","salt":"y"}` + "\n"), 400, "invalid_request", "line 2"},
		// Two records on one line: the second must not vanish unreported.
		{"two objects on one line", "application/x-ndjson", []byte(`{"username":"ok-3","password_hash":"` + string(bc) + `"} {"username":"lost","password_hash":"` + string(bc) + `"}` + "\n"), 400, "invalid_request", "line 1"},
		{"array with unknown field", "application/json", []byte(`[{"username":"x","pw":"y"}]`), 400, "invalid_request", ""},
		// A second array would be a second batch dropped unreported.
		{"two arrays", "application/json", []byte(`[{"username":"ok-4","password_hash":"` + string(bc) + `"}][{"username":"lost-too","password_hash":"` + string(bc) + `"}]`), 400, "invalid_request", ""},
		{"line of 70 KiB", "application/x-ndjson", []byte(`{"username":"` + strings.Repeat("l", 70<<10) + `"}` + "\n"), 400, "invalid_request", "line 1"},
		{"10,001 records", "application/x-ndjson", bytes.Repeat(ndjson(map[string]string{"username": "many", "password_hash": string(bc)}), 10001), 413, "payload_too_large", ""},
		{"17 MiB body", "application/x-ndjson", bytes.Repeat([]byte(strings.Repeat(" ", 32<<10)+"\n"), 17<<5), 413, "payload_too_large", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr(tc.ctype), tc.body)
			wantError(t, r, tc.status, tc.code)
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, tc.mention) {
				t.Errorf("message %q does not mention %q", msg, tc.mention)
			}
		})
	}

	// Hashes that import accepts must be hashes login can check: a hash
	// the verifier refuses makes every login of that user a 500.
	t.Run("hashes the verifier refuses", func(t *testing.T) {
		salt := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
		key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
		hostile := []struct{ name, hash string }{
			{"bcrypt cost 17", strings.Replace(string(bc), "$04$", "$17$", 1)},
			{"bcrypt bad alphabet", string(bc[:7]) + strings.Repeat("!", 53)},
			{"argon2id 4-byte salt", "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(make([]byte, 4)) + "$" + key},
			{"argon2id 2 GiB", "$argon2id$v=19$m=2097152,t=1,p=1$" + salt + "$" + key},
			{"argon2id zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		}
		var recs []map[string]string
		for i, h := range hostile {
			recs = append(recs, map[string]string{"username": "hostile-" + strconv.Itoa(i), "password_hash": h.hash})
		}
		r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"), ndjson(recs...))
		if r.status != http.StatusOK {
			t.Fatalf("import: %v", r)
		}
		reported := map[float64]bool{}
		problems, _ := r.body["problems"].([]any)
		for _, p := range problems {
			pm, _ := p.(map[string]any)
			i, _ := pm["index"].(float64)
			reported[i] = true
		}
		for i, h := range hostile {
			if !reported[float64(i)] {
				t.Errorf("import of %s (%s) was accepted, want it reported as a problem", h.name, h.hash)
			}
			code, out := login(t, m, "hostile-"+strconv.Itoa(i), "any password at all", "")
			if code >= 500 {
				t.Errorf("login of a user imported with %s: %d %v, want a 4xx", h.name, code, out)
			}
		}
	})
}

func TestOwnSessions(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "nora", "old long password")
	addUser(t, m, "otto", "a long enough password")
	a := mustLogin(t, m, "nora", "old long password", `platform=ios, version="8.4.1", source=appstore, device="d-a"`)
	b := mustLogin(t, m, "nora", "old long password", `platform=android, version="8.4.1", source=play, device="d-b"`)
	o := mustLogin(t, m, "otto", "a long enough password", "")
	atA, atB := accessToken(t, a), accessToken(t, b)

	r := send(t, "GET", m.URL()+"/v1/sessions", bearerH(atA), nil)
	list, _ := r.body["sessions"].([]any)
	if r.status != http.StatusOK || len(list) != 2 {
		t.Fatalf("own sessions: %v, want 2", r)
	}
	for _, s := range list {
		sm, _ := s.(map[string]any)
		current, _ := sm["current"].(bool)
		if want := sm["id"] == a["session_id"]; current != want {
			t.Errorf("session %v: current = %v, want %v", sm["id"], current, want)
		}
	}

	// Another user cannot end nora's session, nor tell it exists.
	r = send(t, "DELETE", m.URL()+"/v1/sessions/"+a["session_id"].(string), bearerH(accessToken(t, o)), nil)
	wantError(t, r, http.StatusNotFound, "not_found")
	wantError(t, send(t, "DELETE", m.URL()+"/v1/sessions/s-nope", bearerH(accessToken(t, o)), nil), http.StatusNotFound, "not_found")
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(atA), nil); r.status != http.StatusOK {
		t.Fatalf("session after another user's DELETE: %v, want 200", r)
	}

	pw := func(body string) apiResp {
		t.Helper()
		h := bearerH(atA)
		h["Content-Type"] = "application/json"
		return send(t, "POST", m.URL()+"/v1/password", h, []byte(body))
	}
	r = pw(`{"current_password":"not the password","new_password":"new long password"}`)
	wantError(t, r, http.StatusForbidden, "forbidden")
	r = pw(`{"current_password":"old long password","new_password":"password123"}`)
	wantError(t, r, http.StatusUnprocessableEntity, "weak_password")
	wantError(t, pw(`{"current_password":"old long password"}`), http.StatusBadRequest, "invalid_request")
	wantError(t, pw(`{"current_password":"old long password","new_password":"new long password","x":1}`), http.StatusBadRequest, "invalid_request")

	if r := pw(`{"current_password":"old long password","new_password":"new long password"}`); r.status != http.StatusNoContent {
		t.Fatalf("password change: %v, want 204", r)
	}
	wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(atB), nil), http.StatusUnauthorized, "session_revoked")
	if code, out := refresh(t, m, b["refresh_token"].(string)); code != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh of the other session: %d %v, want 400 invalid_grant", code, out)
	}
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(atA), nil); r.status != http.StatusOK {
		t.Errorf("the caller's session after the change: %v, want 200", r)
	}
	if r := send(t, "GET", m.URL()+"/v1/session", bearerH(accessToken(t, o)), nil); r.status != http.StatusOK {
		t.Errorf("another user's session after the change: %v, want 200", r)
	}
	mustLogin(t, m, "nora", "new long password", "")
	if code, out := login(t, m, "nora", "old long password", ""); code != http.StatusUnauthorized || out["error"] != "invalid_credentials" {
		t.Errorf("login with the old password: %d %v, want 401 invalid_credentials", code, out)
	}
}

func TestLoginThrottling(t *testing.T) {
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk))
	addUser(t, m, "pia", "a long enough password")

	var r apiResp
	tries := 0
	for tries = 1; tries <= 50; tries++ {
		r = send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("pia", "wrong password "+strconv.Itoa(tries)))
		if r.status != http.StatusUnauthorized {
			break
		}
	}
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds >= 1", r.header.Get("Retry-After"))
	}
	t.Logf("throttled after %d attempts, Retry-After %d", tries, secs)

	// The right password does not skip the wait of a stranger's attempt.
	r = send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("pia", "a long enough password"))
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")

	clk.Advance(time.Duration(secs) * time.Second)
	mustLogin(t, m, "pia", "a long enough password", "")
}

func TestConcurrentLoginsDefaultParams(t *testing.T) {
	const n = 64
	m := apiServer(t, func(c *Config) { c.Hash = password.Params{} })
	if m.Config.Hash != password.DefaultParams() {
		t.Fatalf("server hash params = %+v, want the defaults", m.Config.Hash)
	}
	// One hash at the server's own parameters serves every user, so
	// setup costs one argon2id hash and no rehash follows.
	h, err := password.NewHasher(m.Config.Hash, password.Limits{}).Hash(context.Background(), "concurrent login password")
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]map[string]string, n)
	for i := range recs {
		recs[i] = map[string]string{"username": fmt.Sprintf("user-%02d", i), "password_hash": h}
	}
	r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"), ndjson(recs...))
	if r.status != http.StatusOK || r.body["created"] != float64(n) {
		t.Fatalf("import: %v", r)
	}

	type result struct {
		r   apiResp
		err error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := do("POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON(fmt.Sprintf("user-%02d", i), "concurrent login password"))
			results[i] = result{res, err}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d concurrent logins took %v", n, time.Since(began))

	ok, busy := 0, 0
	for i, res := range results {
		if res.err != nil {
			t.Errorf("login %d: %v", i, res.err)
			continue
		}
		if bytes.Contains(bytes.ToLower(res.r.raw), []byte("database is locked")) {
			t.Errorf("login %d mentions a locked database: %v", i, res.r)
		}
		switch res.r.status {
		case http.StatusOK:
			ok++
			at, _ := res.r.body["access_token"].(string)
			if s := send(t, "GET", m.URL()+"/v1/session", bearerH(at), nil); s.status != http.StatusOK {
				t.Errorf("session of login %d: %v", i, s)
			}
		case http.StatusServiceUnavailable:
			busy++
			wantError(t, res.r, http.StatusServiceUnavailable, "overloaded")
			if ra, err := strconv.Atoi(res.r.header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("login %d: 503 with Retry-After %q, want >= 1", i, res.r.header.Get("Retry-After"))
			}
		default:
			t.Errorf("login %d: %v, want 200, or 503 overloaded", i, res.r)
		}
	}
	t.Logf("%d logins succeeded, %d were refused as overloaded", ok, busy)
	if ok == 0 {
		t.Errorf("no login of %d succeeded", n)
	}
}

func TestOperations(t *testing.T) {
	m := apiServer(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		r := send(t, "GET", m.URL()+p, nil, nil)
		if r.status != http.StatusOK || r.jsonErr != nil || r.body == nil {
			t.Errorf("GET %s: %v, want 200 JSON", p, r)
		}
	}
	// One login each way, so the login counter has samples to show.
	addUser(t, m, "quinn", "a long enough password")
	mustLogin(t, m, "quinn", "a long enough password", "")
	login(t, m, "quinn", "wrong password", "")

	r := send(t, "GET", m.URL()+"/metrics", nil, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics: %d %q, want 200 text/plain", r.status, r.header.Get("Content-Type"))
	}
	for _, name := range []string{"cordon_http_requests_total", "cordon_logins_total", `cordon_logins_total{outcome="ok"} 1`, `cordon_logins_total{outcome="invalid_credentials"} 1`} {
		if !bytes.Contains(r.raw, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	for _, tc := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"POST", "/v1/nope"},
		{"GET", "/admin/v1/nope"},
		{"GET", "/v1/session/extra"},
	} {
		wantError(t, send(t, tc.method, m.URL()+tc.path, nil, nil), http.StatusNotFound, "not_found")
	}

	t.Run("wrong method", func(t *testing.T) {
		for _, tc := range []struct{ method, path string }{
			{"GET", "/v1/login"},
			{"PUT", "/oauth2/token"},
			{"DELETE", "/v1/session"},
			{"PATCH", "/admin/v1/accounts"},
		} {
			r := send(t, tc.method, m.URL()+tc.path, nil, nil)
			switch r.status {
			case http.StatusMethodNotAllowed:
				wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
			default:
				wantError(t, r, http.StatusNotFound, "not_found")
			}
			t.Logf("%s %s answers %d %v", tc.method, tc.path, r.status, r.body["error"])
		}
	})

	t.Run("X-Request-Id", func(t *testing.T) {
		sane := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
		tests := []struct {
			name, id string
			echoed   bool
		}{
			{"sane", "req-42.abc_DEF", true},
			{"64 characters", strings.Repeat("r", 64), true},
			{"200 characters", strings.Repeat("r", 200), false},
			{"tab", "req\t42", false},
			{"space", "req 42", false},
			{"line separator", "req\u2028Injected: yes", false},
			{"next line", "req\u0085x", false},
			{"quote and semicolon", `req";x=1`, false},
			{"non-ASCII", "réq", false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := send(t, "GET", m.URL()+"/healthz", hdr("X-Request-Id", tc.id), nil)
				got := r.header.Get("X-Request-Id")
				switch {
				case tc.echoed && got != tc.id:
					t.Errorf("X-Request-Id = %q, want %q echoed", got, tc.id)
				case !tc.echoed && (got == tc.id || !sane.MatchString(got)):
					t.Errorf("X-Request-Id = %q, want a fresh sane id in place of %q", got, tc.id)
				}
			})
		}
		r := send(t, "GET", m.URL()+"/healthz", nil, nil)
		if got := r.header.Get("X-Request-Id"); !sane.MatchString(got) {
			t.Errorf("X-Request-Id without one sent = %q, want a generated id", got)
		}
	})
}

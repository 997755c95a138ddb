package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/client/rs"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
)

// End-to-end tests of the standards OAuth and OIDC libraries speak:
// discovery (with go-oidc and zitadel/oidc as real clients), RFC 7009
// revocation and RFC 7662 introspection, each against a whole server.

const formType = "application/x-www-form-urlencoded"

// mintAdminToken creates an admin token with the given scopes and returns
// its secret.
func mintAdminToken(t *testing.T, m *Main, name string, scopes ...string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "scopes": scopes})
	r := send(t, "POST", m.URL()+"/admin/v1/tokens", admin(), b)
	tok, _ := r.body["token"].(string)
	if r.status != http.StatusCreated || tok == "" {
		t.Fatalf("create admin token: %v", r)
	}
	return tok
}

// form encodes key, value pairs as a form body.
func form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

func revokeToken(t *testing.T, m *Main, body []byte) apiResp {
	t.Helper()
	return send(t, "POST", m.URL()+"/oauth2/revoke", hdr("Content-Type", formType), body)
}

// introspectAs posts an introspection with the admin token as Bearer.
func introspectAs(t *testing.T, m *Main, adminTok string, body []byte, extra ...string) apiResp {
	t.Helper()
	h := hdr(append([]string{"Content-Type", formType, "Authorization", "Bearer " + adminTok}, extra...)...)
	return send(t, "POST", m.URL()+"/oauth2/introspect", h, body)
}

// wantInactive checks an introspection answered exactly {"active":false}.
func wantInactive(t *testing.T, r apiResp) {
	t.Helper()
	if r.status != http.StatusOK || strings.TrimSpace(string(r.raw)) != `{"active":false}` {
		t.Errorf("introspection: %v, want 200 {\"active\":false}", r)
	}
}

func TestDiscoveryDocument(t *testing.T) {
	m := apiServer(t, func(c *Config) { c.Issuer = "https://id.example.com" })
	want := `{"issuer":"https://id.example.com",` +
		`"jwks_uri":"https://id.example.com/.well-known/jwks.json",` +
		`"token_endpoint":"https://id.example.com/oauth2/token",` +
		`"revocation_endpoint":"https://id.example.com/oauth2/revoke",` +
		`"introspection_endpoint":"https://id.example.com/oauth2/introspect",` +
		`"grant_types_supported":["refresh_token"],` +
		`"response_types_supported":[],` +
		`"subject_types_supported":["public"],` +
		`"id_token_signing_alg_values_supported":["EdDSA"],` +
		`"token_endpoint_auth_methods_supported":["none"],` +
		`"revocation_endpoint_auth_methods_supported":["none"],` +
		`"introspection_endpoint_auth_methods_supported":["client_secret_basic"],` +
		`"claims_supported":["iss","sub","aud","exp","iat","nbf","jti","client_id","sid","auth_time","platform","ver","src"]}`
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			// The issuer is the configured one, whatever Host the request
			// names: an attacker controls Host.
			req, _ := http.NewRequest("GET", m.URL()+path, nil)
			req.Host = "evil.example"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got, exp any
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(want), &exp)
			gb, _ := json.Marshal(got)
			eb, _ := json.Marshal(exp)
			if resp.StatusCode != http.StatusOK || string(gb) != string(eb) {
				t.Errorf("%s: %d\n got %s\nwant %s", path, resp.StatusCode, gb, eb)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
	if r := send(t, "POST", m.URL()+"/.well-known/openid-configuration", nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST discovery: %v, want 405", r)
	}
}

func TestDiscoveryIssuerWithPath(t *testing.T) {
	m := apiServer(t, func(c *Config) { c.Issuer = "https://example.com/id/" })
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/.well-known/oauth-authorization-server/id", 200},  // RFC 8414 §3
		{"/.well-known/oauth-authorization-server/id/", 200}, // the issuer's own trailing slash
		{"/.well-known/openid-configuration", 200},           // behind a proxy that strips /id
		{"/.well-known/oauth-authorization-server/other", 404},
		{"/.well-known/oauth-authorization-server/id/x", 404},
	} {
		r := send(t, "GET", m.URL()+tc.path, nil, nil)
		if r.status != tc.status {
			t.Errorf("GET %s: %v, want %d", tc.path, r, tc.status)
		}
		// The stored issuer is kept without its trailing slash.
		if tc.status == 200 && (r.body["issuer"] != "https://example.com/id" || r.body["token_endpoint"] != "https://example.com/id/oauth2/token") {
			t.Errorf("GET %s: issuer %v, token_endpoint %v", tc.path, r.body["issuer"], r.body["token_endpoint"])
		}
	}
	// Without a path in the issuer, no suffixed path answers.
	plain := apiServer(t)
	wantError(t, send(t, "GET", plain.URL()+"/.well-known/oauth-authorization-server/x", nil, nil), http.StatusNotFound, "not_found")
}

// TestDiscoveryIsTruthful follows each endpoint the metadata names to the
// server and checks it is there and behaves as advertised.
func TestDiscoveryIsTruthful(t *testing.T) {
	m := apiServer(t)
	md := send(t, "GET", m.URL()+"/.well-known/openid-configuration", nil, nil).body
	if md["issuer"] != m.URL() {
		t.Fatalf("issuer = %v, want %s (the default issuer is the listen address)", md["issuer"], m.URL())
	}
	if r := send(t, "GET", md["jwks_uri"].(string), nil, nil); r.status != http.StatusOK || r.header.Get("Content-Type") != "application/jwk-set+json" {
		t.Errorf("jwks_uri: %v", r)
	}
	for _, k := range jwks(t, m) {
		if k["alg"] != "EdDSA" {
			t.Errorf("published key %v, want alg EdDSA as id_token_signing_alg_values_supported says", k)
		}
	}
	// The token endpoint takes the one grant type listed and refuses
	// others as unsupported.
	tokenURL := md["token_endpoint"].(string)
	wantError(t, send(t, "POST", tokenURL, hdr("Content-Type", formType), form("grant_type", "refresh_token", "refresh_token", "crt_x")), http.StatusBadRequest, "invalid_grant")
	for _, gt := range []string{"authorization_code", "password", "client_credentials"} {
		wantError(t, send(t, "POST", tokenURL, hdr("Content-Type", formType), form("grant_type", gt)), http.StatusBadRequest, "unsupported_grant_type")
	}
	if r := send(t, "POST", md["revocation_endpoint"].(string), hdr("Content-Type", formType), form("token", "x")); r.status != http.StatusOK {
		t.Errorf("revocation_endpoint: %v, want 200", r)
	}
	wantError(t, send(t, "POST", md["introspection_endpoint"].(string), hdr("Content-Type", formType), form("token", "x")), http.StatusUnauthorized, "unauthorized")
	// Nothing else is advertised: no authorization, userinfo or device
	// endpoint that does not exist.
	for _, k := range []string{"authorization_endpoint", "userinfo_endpoint", "device_authorization_endpoint", "end_session_endpoint", "registration_endpoint", "scopes_supported", "code_challenge_methods_supported"} {
		if v, ok := md[k]; ok {
			t.Errorf("metadata advertises %s = %v, which cordon does not have", k, v)
		}
	}
}

func TestGoOIDCProviderVerifiesAccessTokens(t *testing.T) {
	m := apiServer(t)
	ctx := context.Background()
	id := addUser(t, m, "gina", userPassword)
	tok := mustLogin(t, m, "gina", userPassword, `platform=ios, version="8.4.1", source=appstore`)
	access := accessToken(t, tok)

	p, err := oidc.NewProvider(ctx, m.URL())
	if err != nil {
		t.Fatalf("go-oidc NewProvider: %v", err)
	}
	if got, want := p.Endpoint().TokenURL, m.URL()+"/oauth2/token"; got != want {
		t.Errorf("token URL = %q, want %q", got, want)
	}
	var extra struct {
		Revocation    string `json:"revocation_endpoint"`
		Introspection string `json:"introspection_endpoint"`
	}
	if err := p.Claims(&extra); err != nil || extra.Revocation != m.URL()+"/oauth2/revoke" || extra.Introspection != m.URL()+"/oauth2/introspect" {
		t.Errorf("provider claims: %+v %v", extra, err)
	}

	// What a resource server configures: the audience of cordon's access
	// tokens as ClientID ("cordon" unless configured), and EdDSA.
	v := p.Verifier(&oidc.Config{ClientID: "cordon", SupportedSigningAlgs: []string{oidc.EdDSA}})
	it, err := v.Verify(ctx, access)
	if err != nil {
		t.Fatalf("go-oidc verify: %v", err)
	}
	if it.Subject != id || it.Issuer != m.URL() {
		t.Errorf("verified token: sub %q iss %q, want %q %q", it.Subject, it.Issuer, id, m.URL())
	}
	var claims struct {
		SessionID string `json:"sid"`
		ClientID  string `json:"client_id"`
	}
	if err := it.Claims(&claims); err != nil || claims.SessionID != tok["session_id"] || claims.ClientID != "cordon-app" {
		t.Errorf("claims: %+v %v, want sid %v and client_id cordon-app", claims, err, tok["session_id"])
	}

	// The algorithms discovery advertises are enough on their own.
	if _, err := p.Verifier(&oidc.Config{ClientID: "cordon"}).Verify(ctx, access); err != nil {
		t.Errorf("verify with the advertised algorithms: %v", err)
	}
	// The client id is not the audience: a relying party that sets it is
	// refused, as it should be.
	if _, err := p.Verifier(&oidc.Config{ClientID: "cordon-app"}).Verify(ctx, access); err == nil {
		t.Error("a verifier expecting audience cordon-app accepted a token for cordon")
	}
	// An RS256-only verifier (go-oidc's default) refuses EdDSA.
	if _, err := p.Verifier(&oidc.Config{ClientID: "cordon", SupportedSigningAlgs: []string{oidc.RS256}}).Verify(ctx, access); err == nil {
		t.Error("an RS256-only verifier accepted an EdDSA token")
	}
	// A token with one signature byte changed fails.
	bad := access[:len(access)-2] + flip(access[len(access)-2:])
	if _, err := v.Verify(ctx, bad); err == nil {
		t.Error("go-oidc accepted a token with a changed signature")
	}
}

// flip changes the first character of a base64url string.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestZitadelRelyingPartyAndResourceServer(t *testing.T) {
	m := apiServer(t)
	ctx := context.Background()
	id := addUser(t, m, "zed", userPassword)
	tok := mustLogin(t, m, "zed", userPassword, `platform=android, version="8.4.1", source=play`)
	access := accessToken(t, tok)
	refreshTok, _ := tok["refresh_token"].(string)

	party, err := rp.NewRelyingPartyOIDC(ctx, m.URL(), "cordon-app", "", "http://127.0.0.1/callback", nil)
	if err != nil {
		t.Fatalf("zitadel NewRelyingPartyOIDC: %v", err)
	}

	// The resource server introspects with an admin token of scope
	// introspect as its client secret (HTTP Basic).
	secret := mintAdminToken(t, m, "billing backend", "introspect")
	server, err := rs.NewResourceServerClientCredentials(ctx, m.URL(), "billing", secret)
	if err != nil {
		t.Fatalf("zitadel NewResourceServerClientCredentials: %v", err)
	}
	in, err := rs.Introspect[*zoidc.IntrospectionResponse](ctx, server, access)
	if err != nil {
		t.Fatalf("zitadel introspect: %v", err)
	}
	if !in.Active || in.Subject != id || in.ClientID != "cordon-app" || in.Issuer != m.URL() || in.TokenType != "Bearer" || in.Claims["sid"] != tok["session_id"] {
		t.Errorf("introspection = %+v, want active, sub %s, client_id cordon-app, iss %s, token_type Bearer, sid %v", in, id, m.URL(), tok["session_id"])
	}
	wrong, err := rs.NewResourceServerClientCredentials(ctx, m.URL(), "billing", "cat_not-a-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Introspect[*zoidc.IntrospectionResponse](ctx, wrong, access); err == nil {
		t.Error("introspection with an unknown admin token succeeded")
	}

	// The relying party refreshes, then revokes the new refresh token.
	next, err := rp.RefreshTokens[*zoidc.IDTokenClaims](ctx, party, refreshTok, "", "")
	if err != nil {
		t.Fatalf("zitadel refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == refreshTok || next.AccessToken == "" {
		t.Fatalf("refreshed tokens: %+v", next.Token)
	}
	if err := rp.RevokeToken(ctx, party, next.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("zitadel revoke: %v", err)
	}
	wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(next.AccessToken), nil), http.StatusUnauthorized, "session_revoked")
	in, err = rs.Introspect[*zoidc.IntrospectionResponse](ctx, server, next.AccessToken)
	if err != nil || in.Active {
		t.Errorf("introspection after revocation: %+v %v, want inactive", in, err)
	}
}

func TestRevokeEndsTheSession(t *testing.T) {
	m := testServer(t)
	up := echoUpstream(t)
	g := startGate(t, m.URL(), up.URL)
	addUser(t, m, "rita", userPassword)
	const client = `platform=ios, version="8.4.1", source=appstore, device="d-1"`

	for _, tc := range []struct {
		name  string
		which string // the token revoked: access_token or refresh_token
		extra []string
	}{
		{"refresh token", "refresh_token", nil},
		{"refresh token with its hint and client_id", "refresh_token", []string{"token_type_hint", "refresh_token", "client_id", "cordon-app"}},
		{"access token", "access_token", nil},
		{"access token with the wrong hint", "access_token", []string{"token_type_hint", "refresh_token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustLogin(t, m, "rita", userPassword, client)
			access, rt := accessToken(t, tok), tok["refresh_token"].(string)
			if code, body := gateGet(t, g, access, nil); code != http.StatusOK {
				t.Fatalf("gate before revocation: %d %v", code, body)
			}
			r := revokeToken(t, m, form(append([]string{"token", tok[tc.which].(string)}, tc.extra...)...))
			if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("revoke: %v, want 200 with Cache-Control: no-store", r)
			}
			wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(access), nil), http.StatusUnauthorized, "session_revoked")
			if code, out := refresh(t, m, rt); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
				t.Errorf("refresh after revocation: %d %v, want 400 invalid_grant", code, out)
			}
			waitFor(t, time.Second, "revocation at the gate", func() bool { code, _ := gateGet(t, g, access, nil); return code == http.StatusUnauthorized })
			if _, body := gateGet(t, g, access, nil); body["error"] != "session_revoked" {
				t.Errorf("gate after revocation: %v, want session_revoked", body)
			}
			// Revoking again changes nothing and still answers 200.
			if r := revokeToken(t, m, form("token", tok[tc.which].(string))); r.status != http.StatusOK {
				t.Errorf("second revocation: %v, want 200", r)
			}
		})
	}

}

func TestRevokeCampaignDeniedSession(t *testing.T) {
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk))
	addUser(t, m, "rita", userPassword)
	tok := mustLogin(t, m, "rita", userPassword, `platform=ios, version="8.4.1", source=appstore`)
	access := accessToken(t, tok)
	clk.Advance(time.Minute)
	cid := postCampaign(t, m, `{"kind":"reauth","name":"revoke test","cohort":{"platforms":["ios"]}}`)
	mustAct(t, m, cid, "activate")
	wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(access), nil), http.StatusUnauthorized, "reauth_required")
	// Logout needs an allowed session; revocation does not, so a user a
	// campaign holds can still end the session.
	if r := revokeToken(t, m, form("token", access)); r.status != http.StatusOK {
		t.Fatalf("revoke: %v", r)
	}
	mustAct(t, m, cid, "cancel")
	wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(access), nil), http.StatusUnauthorized, "session_revoked")
}

func TestRevokeLeavesOtherTokensAlone(t *testing.T) {
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk))
	other := apiServer(t)
	addUser(t, m, "sam", userPassword)
	addUser(t, other, "sam", userPassword)
	foreign := accessToken(t, mustLogin(t, other, "sam", userPassword, ""))

	tok := mustLogin(t, m, "sam", userPassword, "")
	rt := tok["refresh_token"].(string)
	for _, tc := range []struct{ name, token string }{
		{"garbage", "not-a-token"},
		{"garbage JWT shape", "a.b.c"},
		{"another issuer's access token", foreign},
		{"a refresh token with one character changed", rt[:len(rt)-1] + flip(rt[len(rt)-1:])},
		{"a long string", strings.Repeat("x", 8000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := revokeToken(t, m, form("token", tc.token)); r.status != http.StatusOK {
				t.Errorf("revoke: %v, want 200 (RFC 7009 §2.2)", r)
			}
		})
	}

	// A spent refresh token revokes nothing: the session goes on with the
	// token that replaced it.
	code, next := refresh(t, m, rt)
	if code != http.StatusOK {
		t.Fatalf("refresh: %d %v", code, next)
	}
	if r := revokeToken(t, m, form("token", rt)); r.status != http.StatusOK {
		t.Errorf("revoke a spent token: %v, want 200", r)
	}
	// An expired access token ends nothing either.
	clk.Advance(15*time.Minute + 61*time.Second) // past exp and the leeway
	if r := revokeToken(t, m, form("token", accessToken(t, tok))); r.status != http.StatusOK {
		t.Errorf("revoke an expired access token: %v, want 200", r)
	}
	if code, out := refresh(t, m, next["refresh_token"].(string)); code != http.StatusOK {
		t.Errorf("refresh after revoking other tokens: %d %v, want 200: the session must still be live", code, out)
	}
	// The other server's session is untouched.
	if r := send(t, "GET", other.URL()+"/v1/session", bearerH(foreign), nil); r.status != http.StatusOK {
		t.Errorf("other issuer's session: %v, want 200", r)
	}
}

func TestRevokeBadInput(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "bo", userPassword)
	tok := mustLogin(t, m, "bo", userPassword, "")
	rt := tok["refresh_token"].(string)
	basic := func(id, secret string) string {
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth(id, secret)
		return req.Header.Get("Authorization")
	}
	for _, tc := range []struct {
		name   string
		h      map[string]string
		path   string
		body   []byte
		status int
		code   string
	}{
		{"missing token", hdr("Content-Type", formType), "", form("token_type_hint", "refresh_token"), 400, "invalid_request"},
		{"empty body", hdr("Content-Type", formType), "", nil, 400, "invalid_request"},
		{"JSON body", hdr("Content-Type", "application/json"), "", []byte(`{"token":"` + rt + `"}`), 400, "invalid_request"},
		{"no content type", nil, "", form("token", rt), 400, "invalid_request"},
		{"oversized", hdr("Content-Type", formType), "", form("token", strings.Repeat("x", 9<<10)), 413, "invalid_request"},
		{"repeated token", hdr("Content-Type", formType), "", []byte("token=a&token=" + rt), 400, "invalid_request"},
		{"token in the URL", hdr("Content-Type", formType), "?token=" + rt, form("token", rt), 400, "invalid_request"},
		{"malformed form", hdr("Content-Type", formType), "", []byte("token=%zz"), 400, "invalid_request"},
		{"another client", hdr("Content-Type", formType), "", form("token", rt, "client_id", "evil-app"), 401, "invalid_client"},
		{"a client secret", hdr("Content-Type", formType), "", form("token", rt, "client_id", "cordon-app", "client_secret", "s3cret"), 401, "invalid_client"},
		{"Basic with a secret", hdr("Content-Type", formType, "Authorization", basic("cordon-app", "s3cret")), "", form("token", rt), 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+"/oauth2/revoke"+tc.path, tc.h, tc.body)
			wantError(t, r, tc.status, tc.code)
			if d, _ := r.body["error_description"].(string); d == "" {
				t.Errorf("no error_description: %v", r)
			}
			if wa := r.header.Get("WWW-Authenticate"); strings.HasPrefix(tc.h["Authorization"], "Basic ") && wa != `Basic realm="cordon"` {
				t.Errorf(`WWW-Authenticate = %q, want Basic realm="cordon"`, wa)
			}
		})
	}
	// None of it revoked anything.
	if code, out := refresh(t, m, rt); code != http.StatusOK {
		t.Errorf("refresh after refused revocations: %d %v, want 200", code, out)
	}
	if r := send(t, "GET", m.URL()+"/oauth2/revoke", nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /oauth2/revoke: %v, want 405", r)
	}
}

func TestIntrospection(t *testing.T) {
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk))
	other := apiServer(t)
	id := addUser(t, m, "ida", userPassword)
	addUser(t, other, "ida", userPassword)
	const ios = `platform=ios, version="8.4.1", source=appstore, device="d-1"`
	intro := mintAdminToken(t, m, "orders backend", "introspect")

	t.Run("valid", func(t *testing.T) {
		tok := mustLogin(t, m, "ida", userPassword, ios)
		r := introspectAs(t, m, intro, form("token", accessToken(t, tok)))
		want := map[string]any{
			"active": true, "token_type": "Bearer", "client_id": "cordon-app", "sub": id, "aud": []any{"cordon"},
			"iss": m.URL(), "exp": float64(fakeNow.Add(15 * time.Minute).Unix()), "iat": float64(fakeNow.Unix()),
			"nbf": float64(fakeNow.Unix()), "auth_time": float64(fakeNow.Unix()), "sid": tok["session_id"],
			"platform": "ios", "ver": "8.4.1", "src": "appstore",
			"cordon_decision": map[string]any{"outcome": "allow"},
		}
		jti, _ := r.body["jti"].(string)
		delete(r.body, "jti")
		gb, _ := json.Marshal(r.body)
		wb, _ := json.Marshal(want)
		if r.status != http.StatusOK || string(gb) != string(wb) || jti == "" {
			t.Errorf("introspection: %v\n got %s\nwant %s (and a jti)", r, gb, wb)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
		}
	})

	t.Run("expired", func(t *testing.T) {
		tok := mustLogin(t, m, "ida", userPassword, ios)
		clk.Advance(15*time.Minute + 61*time.Second) // past exp and the leeway
		wantInactive(t, introspectAs(t, m, intro, form("token", accessToken(t, tok))))
	})

	t.Run("logged out", func(t *testing.T) {
		tok := mustLogin(t, m, "ida", userPassword, ios)
		access := accessToken(t, tok)
		if r := send(t, "POST", m.URL()+"/v1/logout", bearerH(access), nil); r.status != http.StatusNoContent {
			t.Fatalf("logout: %v", r)
		}
		wantInactive(t, introspectAs(t, m, intro, form("token", access)))
	})

	t.Run("revoked", func(t *testing.T) {
		tok := mustLogin(t, m, "ida", userPassword, ios)
		revokeToken(t, m, form("token", tok["refresh_token"].(string)))
		wantInactive(t, introspectAs(t, m, intro, form("token", accessToken(t, tok))))
	})

	t.Run("garbage", func(t *testing.T) {
		for _, g := range []string{"x", "a.b.c", "crt_" + strings.Repeat("A", 43), strings.Repeat("e", 8<<10-10)} {
			wantInactive(t, introspectAs(t, m, intro, form("token", g)))
		}
	})

	t.Run("another issuer's token", func(t *testing.T) {
		foreign := accessToken(t, mustLogin(t, other, "ida", userPassword, ios))
		wantInactive(t, introspectAs(t, m, intro, form("token", foreign)))
	})

	t.Run("a refresh token", func(t *testing.T) {
		tok := mustLogin(t, m, "ida", userPassword, ios)
		wantInactive(t, introspectAs(t, m, intro, form("token", tok["refresh_token"].(string))))
		// Introspecting did not spend it.
		if code, out := refresh(t, m, tok["refresh_token"].(string)); code != http.StatusOK {
			t.Errorf("refresh after introspection: %d %v", code, out)
		}
	})

	t.Run("campaign-denied", func(t *testing.T) {
		tok := mustLogin(t, m, "ida", userPassword, ios)
		access := accessToken(t, tok)
		clk.Advance(time.Minute)
		cid := postCampaign(t, m, `{"kind":"reauth","name":"introspection","cohort":{"platforms":["ios"]}}`)
		mustAct(t, m, cid, "activate")
		want := `{"active":false,"cordon_decision":{"outcome":"deny","reason":"reauth_required","message":"For your security, please log in again.","campaign":"` + cid + `"}}`
		// A claim from the app cannot move the session out of the cohort.
		for _, claim := range []string{"", `platform=android, version="9.0.0", source=play`} {
			r := introspectAs(t, m, intro, form("token", access), "Cordon-Client", claim)
			var got, exp any
			json.Unmarshal(r.raw, &got)
			json.Unmarshal([]byte(want), &exp)
			gb, _ := json.Marshal(got)
			eb, _ := json.Marshal(exp)
			if r.status != http.StatusOK || string(gb) != string(eb) {
				t.Errorf("claiming %q: %v\n got %s\nwant %s", claim, r, gb, eb)
			}
		}
		// A fresh login satisfies the campaign.
		clk.Advance(time.Second)
		fresh := mustLogin(t, m, "ida", userPassword, ios)
		if r := introspectAs(t, m, intro, form("token", accessToken(t, fresh))); r.body["active"] != true {
			t.Errorf("after re-login: %v, want active", r)
		}
		mustAct(t, m, cid, "cancel")
		if r := introspectAs(t, m, intro, form("token", access)); r.body["active"] != true {
			t.Errorf("after cancel: %v, want active", r)
		}
	})

	t.Run("upgrade judged on the forwarded Cordon-Client", func(t *testing.T) {
		tok := mustLogin(t, m, "ida", userPassword, `platform=android, version="8.4.1", source=play, device="d-2"`)
		access := accessToken(t, tok)
		cid := postCampaign(t, m, upgradeDoc("immediate"))
		mustAct(t, m, cid, "activate")
		defer mustAct(t, m, cid, "cancel")
		r := introspectAs(t, m, intro, form("token", access))
		d, _ := r.body["cordon_decision"].(map[string]any)
		up, _ := d["upgrade"].(map[string]any)
		if r.body["active"] != false || d["reason"] != "upgrade_required" || d["campaign"] != cid || up["min_version"] != "8.5.0" || up["update_url"] != "https://play.example/app" {
			t.Errorf("below min: %v, want inactive with upgrade_required, min_version 8.5.0, the Play URL", r)
		}
		r = introspectAs(t, m, intro, form("token", access), "Cordon-Client", `platform=android, version="8.5.0", source=play, device="d-2"`)
		if r.body["active"] != true {
			t.Errorf("the app reports 8.5.0: %v, want active", r)
		}
	})
}

func TestIntrospectionAuthAndBadInput(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "al", userPassword)
	access := accessToken(t, mustLogin(t, m, "al", userPassword, ""))
	intro := mintAdminToken(t, m, "introspector", "introspect")
	sessions := mintAdminToken(t, m, "sessions only", "sessions")
	gate := mintAdminToken(t, m, "a gate", "gate")
	basic := func(id, secret string) string {
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return req.Header.Get("Authorization")
	}
	body := form("token", access)
	// The scope introspect opens nothing else.
	wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts/al", bearerH(intro), nil), http.StatusForbidden, "forbidden")
	for _, tc := range []struct {
		name   string
		h      map[string]string
		path   string
		body   []byte
		status int
		code   string // "" for a 200 introspection
	}{
		{"Bearer with scope introspect", hdr("Content-Type", formType, "Authorization", "Bearer "+intro), "", body, 200, ""},
		{"Basic with scope introspect", hdr("Content-Type", formType, "Authorization", basic("billing", intro)), "", body, 200, ""},
		{"the all-scopes admin token", hdr("Content-Type", formType, "Authorization", "Bearer "+testAdminToken), "", body, 200, ""},
		{"anonymous", hdr("Content-Type", formType), "", body, 401, "unauthorized"},
		{"anonymous with a bad body", hdr("Content-Type", "text/plain"), "", []byte("junk"), 401, "unauthorized"},
		{"the access token itself", hdr("Content-Type", formType, "Authorization", "Bearer "+access), "", body, 401, "invalid_token"},
		{"an unknown admin token", hdr("Content-Type", formType, "Authorization", "Bearer cat_unknown"), "", body, 401, "invalid_token"},
		{"Basic with an unknown secret", hdr("Content-Type", formType, "Authorization", basic("billing", "cat_unknown")), "", body, 401, "invalid_token"},
		{"wrong scope", hdr("Content-Type", formType, "Authorization", "Bearer "+sessions), "", body, 403, "forbidden"},
		{"gate scope is not introspect", hdr("Content-Type", formType, "Authorization", "Bearer "+gate), "", body, 403, "forbidden"},
		{"missing token", hdr("Content-Type", formType, "Authorization", "Bearer "+intro), "", form("token_type_hint", "access_token"), 400, "invalid_request"},
		{"JSON body", hdr("Content-Type", "application/json", "Authorization", "Bearer "+intro), "", []byte(`{"token":"x"}`), 400, "invalid_request"},
		{"oversized", hdr("Content-Type", formType, "Authorization", "Bearer "+intro), "", form("token", strings.Repeat("x", 9<<10)), 413, "invalid_request"},
		{"repeated token", hdr("Content-Type", formType, "Authorization", "Bearer "+intro), "", []byte("token=x&token=y"), 400, "invalid_request"},
		{"token in the URL", hdr("Content-Type", formType, "Authorization", "Bearer "+intro), "?token=" + access, body, 400, "invalid_request"},
		{"malformed Cordon-Client", hdr("Content-Type", formType, "Authorization", "Bearer "+intro, "Cordon-Client", "platform=("), "", body, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+"/oauth2/introspect"+tc.path, tc.h, tc.body)
			if tc.code == "" {
				if r.status != http.StatusOK || r.body["active"] != true {
					t.Errorf("introspection: %v, want 200 active", r)
				}
				return
			}
			wantError(t, r, tc.status, tc.code)
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate: %v", r)
			}
		})
	}
}

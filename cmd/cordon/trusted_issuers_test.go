package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/issuers/issuertest"
	jose "github.com/go-jose/go-jose/v4"
)

func trusting(p *issuertest.Provider) func(*Config) {
	return func(c *Config) {
		c.TrustedIssuers = []issuers.Config{{Issuer: p.Issuer(), Audience: "api", Algorithms: []string{"RS256"}}}
	}
}

func decideAs(t *testing.T, m *Main, tok string) apiResp {
	t.Helper()
	return send(t, "POST", m.URL()+"/v1/decide", hdr("Authorization", "Bearer "+tok, "Cordon-Client", `platform=android, version="9.0.0", source=play`), nil)
}

func decisionOf(r apiResp) (outcome, reason string) {
	d, _ := r.body["decision"].(map[string]any)
	o, _ := d["outcome"].(string)
	re, _ := d["reason"].(string)
	return o, re
}

// TestServeTrustsExternalIssuer: with --trusted-issuer, POST /v1/decide and
// introspection answer for the provider's users; a campaign names them by
// cohort.subjects; a refresh (same auth_time) stays denied and a new login at the provider
// satisfies the reauth.
func TestServeTrustsExternalIssuer(t *testing.T) {
	clk := clock.NewFake(auditNow)
	p := issuertest.New(t, jose.RS256)
	p.Clock = clk.Now
	p.AddUser("alice", "pw-a")
	p.AddUser("bob", "pw-b")
	p.AddUser("carol", "pw-c")
	m := apiServer(t, withClock(clk), trusting(p))
	iss := p.Issuer()
	intro := mintAdminToken(t, m, "orders backend", "introspect")

	alice, bob, carol := p.Login(t, "alice", "pw-a"), p.Login(t, "bob", "pw-b"), p.Login(t, "carol", "pw-c")
	r := decideAs(t, m, alice.AccessToken)
	if o, _ := decisionOf(r); r.status != http.StatusOK || o != "allow" || r.body["account_id"] != iss+"#alice" {
		t.Fatalf("decide before any campaign: %v", r)
	}

	// The audit log takes their subject id as an event's subject.
	if r := ingest(t, m, "application/x-ndjson", evJSON(0, "rogue@corp", iss+"#carol", "profile")); r.status != http.StatusOK {
		t.Fatalf("ingest: %v", r)
	}

	clk.Advance(time.Minute)
	byName := postCampaign(t, m, `{"kind":"reauth","name":"idp users","cohort":{"subjects":[{"issuer":"`+iss+`","sub":"alice"}]}}`)
	mustAct(t, m, byName, "activate")
	byCarol := postCampaign(t, m, `{"kind":"reauth","name":"carol","cohort":{"subjects":[{"issuer":"`+iss+`","sub":"carol"}]}}`)
	mustAct(t, m, byCarol, "activate")
	clk.Advance(time.Minute)

	for _, tc := range []struct {
		name, tok, reason string
	}{
		{"alice, named", alice.AccessToken, "reauth_required"},
		{"alice's ID token", alice.IDToken, "reauth_required"},
		{"carol, named in another", carol.AccessToken, "reauth_required"},
		{"bob, named nowhere", bob.AccessToken, ""},
	} {
		r := decideAs(t, m, tc.tok)
		if _, reason := decisionOf(r); r.status != http.StatusOK || reason != tc.reason {
			t.Errorf("%s: %v, want reason %q", tc.name, r, tc.reason)
		}
	}
	// Introspection: inactive, with the decision for the backend.
	r = introspectAs(t, m, intro, form("token", alice.AccessToken))
	if d, _ := r.body["cordon_decision"].(map[string]any); r.status != http.StatusOK || r.body["active"] != false || d["reason"] != "reauth_required" || d["campaign"] != byName {
		t.Errorf("introspection of a denied external token: %v", r)
	}
	// A refresh keeps auth_time: still denied.
	refreshed := p.Refresh(t, alice.RefreshToken)
	if _, reason := decisionOf(decideAs(t, m, refreshed.AccessToken)); reason != "reauth_required" {
		t.Errorf("refreshed token: reason %q, want reauth_required", reason)
	}
	// The provider re-authenticates alice: allowed.
	clk.Advance(2 * time.Second)
	alice = p.Login(t, "alice", "pw-a")
	if o, _ := decisionOf(decideAs(t, m, alice.AccessToken)); o != "allow" {
		t.Errorf("after re-authenticating at the provider: %s", o)
	}
	r = introspectAs(t, m, intro, form("token", alice.AccessToken))
	if r.body["active"] != true || r.body["iss"] != iss || r.body["sub"] != "alice" || r.body["aud"] == nil ||
		r.body["auth_time"] != float64(clk.Now().Unix()) {
		t.Errorf("introspection of an allowed external token: %v", r)
	}
	// Revoking all of bob's sessions: cordon holds none, so a ramp-less
	// reauth campaign names him; a new login at the provider passes.
	r = send(t, "DELETE", m.URL()+"/admin/v1/accounts/"+url.PathEscape(iss+"#bob")+"/sessions", admin(), nil)
	if r.status != http.StatusOK || r.body["campaign"] == nil {
		t.Fatalf("revoke an external user's sessions: %v", r)
	}
	if _, reason := decisionOf(decideAs(t, m, bob.AccessToken)); reason != "reauth_required" {
		t.Errorf("bob after the revocation: reason %q, want reauth_required", reason)
	}
	clk.Advance(2 * time.Second)
	if o, _ := decisionOf(decideAs(t, m, p.Login(t, "bob", "pw-b").AccessToken)); o != "allow" {
		t.Errorf("bob after a new login at the provider: %s", o)
	}
	wantError(t, send(t, "DELETE", m.URL()+"/admin/v1/accounts/"+url.PathEscape("nobody")+"/sessions", admin(), nil), http.StatusNotFound, "not_found")
	// The campaign counted the denials: one login at the provider (its
	// access, ID and refreshed tokens share the session), one user.
	r = send(t, "GET", m.URL()+"/admin/v1/campaigns/"+byName, admin(), nil)
	if !strings.Contains(string(r.raw), `"blocked":{"sessions":1,"users":1}`) {
		t.Errorf("progress of the external campaign: %s", r.raw)
	}
}

// TestServeExternalHostile: what a holder of another provider's or a
// forged token sends to /v1/decide and introspection.
func TestServeExternalHostile(t *testing.T) {
	clk := clock.NewFake(auditNow)
	p := issuertest.New(t, jose.RS256)
	p.Clock = clk.Now
	stranger := issuertest.New(t, jose.RS256)
	stranger.Clock = clk.Now
	m := apiServer(t, withClock(clk), trusting(p))
	intro := mintAdminToken(t, m, "orders backend", "introspect")
	good := p.Claims("alice", clk.Now())
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	for _, tc := range []struct{ name, tok, msg string }{
		{"another provider", stranger.Sign(stranger.Claims("alice", clk.Now()), nil), "token was issued by someone else"},
		{"another provider's key under our iss", stranger.Sign(with("iss", p.Issuer()), map[string]any{"kid": "k1"}), "token signature is invalid"},
		{"wrong audience", p.Sign(with("aud", "billing"), nil), "token is not meant for this service"},
		{"expired", p.Sign(with("exp", clk.Now().Add(-2*time.Minute).Unix()), nil), "token expired"},
		{"forged kid", p.Sign(good, map[string]any{"kid": "forged"}), "token signed with an unknown key"},
	} {
		r := decideAs(t, m, tc.tok)
		if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
			t.Errorf("%s: decide %v, want 401 invalid_token", tc.name, r)
		}
		if tc.name != "another provider" && r.body["message"] != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.name, r.body["message"], tc.msg)
		}
		wantInactive(t, introspectAs(t, m, intro, form("token", tc.tok)))
	}
}

func TestTrustedIssuerFlag(t *testing.T) {
	var s issuerSpecs
	if err := s.Set("https://a.example.com;aud=api, https://b.example.com/realms/x;aud=app;alg=ES256"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("https://c.example.com;aud=x;alg=EdDSA"); err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "https://a.example.com;aud=api;alg=RS256,https://b.example.com/realms/x;aud=app;alg=ES256,https://c.example.com;aud=x;alg=EdDSA"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, bad := range []string{"https://a.example.com", "https://a.example.com;aud=x;alg=HS256", "http://a.example.com;aud=x"} {
		if err := (&issuerSpecs{}).Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// TestGateConfigTrustedIssuers: the config file's list and the environment
// reach --trusted-issuer as the flag would, for serve and gate alike; a
// bad spec is refused naming the key.
func TestGateConfigTrustedIssuers(t *testing.T) {
	file := configFile(t, "trusted-issuer:\n  - https://id.example.com/realms/app;aud=api;alg=ES256\n  - https://login.example.org;aud=web\n")
	for _, verb := range []string{"serve", "gate"} {
		cmd := serveFlags(t, verb, "--config", file)
		if err := settle(cmd.Flags(), func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if got, want := flagValue(t, cmd, "trusted-issuer"), "https://id.example.com/realms/app;aud=api;alg=ES256,https://login.example.org;aud=web;alg=RS256"; got != want {
			t.Errorf("%s --trusted-issuer from the file = %q, want %q", verb, got, want)
		}
	}
	cmd := serveFlags(t, "gate")
	env := map[string]string{"CORDON_TRUSTED_ISSUER": "https://id.example.com;aud=api;alg=none"}
	if err := settle(cmd.Flags(), func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "CORDON_TRUSTED_ISSUER") {
		t.Errorf("a bad spec in the environment: %v", err)
	}
}

// TestGateTrustsExternalIssuer: a running cordon gate with --trusted-issuer
// lets the provider's users through with X-Cordon-Issuer and reports the
// issuer's health in /metrics.
func TestGateTrustsExternalIssuer(t *testing.T) {
	m := apiServer(t)
	p := issuertest.New(t, jose.ES256)
	p.AddUser("alice", "pw")
	var reached atomic.Int64
	up := countingUpstream(t, &reached)
	g := startGateWith(t, m.URL(), up.URL, func(c *GateConfig) {
		c.TrustedIssuers = []issuers.Config{{Issuer: p.Issuer(), Audience: "api", Algorithms: []string{"ES256"}}}
	})
	tok := p.Login(t, "alice", "pw")
	code, _, body := call(t, "GET", "http://"+g.Addr()+"/v1/x", map[string]string{"Authorization": "Bearer " + tok.AccessToken}, "")
	if code != http.StatusOK {
		t.Fatalf("external token through cordon gate: %d %v", code, body)
	}
	h, _ := body["headers"].(map[string]any)
	if got, _ := h["X-Cordon-Issuer"].([]any); len(got) != 1 || got[0] != p.Issuer() {
		t.Errorf("X-Cordon-Issuer = %v", h["X-Cordon-Issuer"])
	}
	resp, err := http.Get("http://" + g.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if want := `cordon_trusted_issuer_up{issuer="` + p.Issuer() + `"} 1`; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

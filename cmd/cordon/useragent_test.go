package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/uafacts"
)

const (
	uaIOS     = "MyApp/8.4.1 (iPhone; iOS 17.4; Scale/3.00)"
	uaAndroid = "MyApp/8.4.1 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)"
)

func myAppRules(t *testing.T) *uafacts.Rules {
	t.Helper()
	r, err := uafacts.New(uafacts.Config{Apps: []uafacts.App{{Token: "MyApp"}}, VersionHeader: "X-App-Version"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func withUserAgents(r *uafacts.Rules) func(*Config) { return func(c *Config) { c.UserAgents = r } }

// loginAs logs in with the given request headers (a User-Agent, a
// Cordon-Client, both or neither) and returns the status and answer.
func loginUA(t *testing.T, m *Main, name, pw string, h map[string]string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	h["Content-Type"] = "application/json"
	code, _, out := call(t, "POST", m.URL()+"/v1/login", h, string(b))
	return code, out
}

// sessionClient returns the client facts GET /v1/session shows for an
// access token.
func sessionClient(t *testing.T, m *Main, access string, h map[string]string) (int, map[string]any) {
	t.Helper()
	h["Authorization"] = "Bearer " + access
	code, _, out := call(t, "GET", m.URL()+"/v1/session", h, "")
	if code != 200 {
		return code, out
	}
	return code, out["session"].(map[string]any)["client"].(map[string]any)
}

// TestUserAgentFacts: an app that sends only a User-Agent gets the facts
// the rules infer, recorded with its session; Cordon-Client, when sent,
// is taken over the user agent, and a malformed one is still refused;
// and a reauth campaign for iOS reaches a session that only a user agent
// placed, whatever the user agent claims after login.
func TestUserAgentFacts(t *testing.T) {
	m := apiServer(t, withUserAgents(myAppRules(t)))
	addUser(t, m, "ua-ios", "a long enough password")
	addUser(t, m, "ua-android", "a long enough password")
	addUser(t, m, "ua-both", "a long enough password")

	code, ios := loginUA(t, m, "ua-ios", "a long enough password", map[string]string{"User-Agent": uaIOS})
	if code != 200 {
		t.Fatalf("login with a user agent only: %d %v", code, ios)
	}
	_, client := sessionClient(t, m, ios["access_token"].(string), map[string]string{"User-Agent": uaIOS})
	if client["platform"] != "ios" || client["version"] != "8.4.1" || client["source"] != "unknown" || client["device"] != nil {
		t.Errorf("session facts from the user agent = %v, want ios 8.4.1 unknown, no device", client)
	}

	_, android := loginUA(t, m, "ua-android", "a long enough password", map[string]string{"User-Agent": uaAndroid})
	_, both := loginUA(t, m, "ua-both", "a long enough password", map[string]string{"User-Agent": uaIOS,
		"Cordon-Client": `platform=desktop, version="9.0.0", source=official`})
	_, client = sessionClient(t, m, both["access_token"].(string), map[string]string{})
	if client["platform"] != "desktop" || client["version"] != "9.0.0" || client["source"] != "official" {
		t.Errorf("session facts with Cordon-Client and a user agent = %v, want Cordon-Client's desktop 9.0.0 official", client)
	}

	code, out := loginUA(t, m, "ua-ios", "a long enough password", map[string]string{"User-Agent": uaIOS, "Cordon-Client": "platform=iphone"})
	if code != 400 || out["error"] != "invalid_client_header" {
		t.Errorf("malformed Cordon-Client beside a good user agent: %d %v, want 400 invalid_client_header", code, out)
	}

	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"old iOS apps","cohort":{"platforms":["ios"]}}`)
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/activate", "")
	for _, ua := range []string{uaIOS, uaAndroid, "MyApp/8.4.1 (Windows NT 10.0; Win64; x64)"} {
		code, out := sessionClient(t, m, ios["access_token"].(string), map[string]string{"User-Agent": ua})
		if code != 401 || out["error"] != "reauth_required" {
			t.Errorf("iOS session (by user agent) presenting %q: %d %v, want 401 reauth_required", ua, code, out)
		}
	}
	if code, out := sessionClient(t, m, android["access_token"].(string), map[string]string{"User-Agent": uaAndroid}); code != 200 {
		t.Errorf("Android session (by user agent): %d %v, want 200", code, out)
	}
}

// TestUserAgentOffByDefault: without --ua-rules or --ua-app, a request
// without Cordon-Client is unknown, as before.
func TestUserAgentOffByDefault(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "ua-off", "a long enough password")
	_, tok := loginUA(t, m, "ua-off", "a long enough password", map[string]string{"User-Agent": uaIOS})
	_, client := sessionClient(t, m, tok["access_token"].(string), map[string]string{"User-Agent": uaIOS})
	if client["platform"] != "unknown" || client["version"] != nil {
		t.Errorf("session facts without rules = %v, want unknown", client)
	}
}

func TestClassifyEndpoint(t *testing.T) {
	m := apiServer(t, withUserAgents(myAppRules(t)))
	u := m.URL() + "/admin/v1/ua/classify"
	body, _ := json.Marshal([]string{uaIOS, uaAndroid, "MyApp/1234 CFNetwork/1490.0.4 Darwin/23.2.0", "okhttp/4.12.0", "okhttp/4.11.0", "", "NotMyApp/1.0 (iPhone; iOS 17.4)"})
	code, _, out := call(t, "POST", u, admin(), string(body))
	if code != 200 {
		t.Fatalf("classify: %d %v", code, out)
	}
	if out["rules"] != true || out["total"] != 7.0 || out["resolved"] != 3.0 || out["unknown"] != 4.0 {
		t.Errorf("totals = %v, want rules true, 7 total, 3 resolved, 4 unknown", out)
	}
	fams := out["families"].([]any)
	first := fams[0].(map[string]any)
	if first["family"] != "okhttp" || first["unknown"] != 2.0 {
		t.Errorf("first family = %v, want okhttp with 2 unknown (no version header in a preview)", first)
	}
	var myapp map[string]any
	for _, f := range fams {
		if f.(map[string]any)["family"] == "MyApp" {
			myapp = f.(map[string]any)
		}
	}
	if myapp == nil || myapp["resolved"] != 3.0 || myapp["with_version"] != 2.0 ||
		myapp["platforms"].(map[string]any)["ios"] != 2.0 || myapp["platforms"].(map[string]any)["android"] != 1.0 {
		t.Errorf("MyApp family = %v, want 3 resolved (2 ios, 1 android), 2 with a version", myapp)
	}

	text := map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": "text/plain; charset=utf-8"}
	code, _, out = call(t, "POST", u, text, uaIOS+"\r\n"+uaAndroid+"\n\n")
	if code != 200 || out["total"] != 2.0 || out["resolved"] != 2.0 {
		t.Errorf("classify text lines: %d %v, want 2 resolved", code, out)
	}

	bad := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		code   string
	}{
		{"no token", map[string]string{"Content-Type": "application/json"}, `["a"]`, 401, "unauthorized"},
		{"form", map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": "application/x-www-form-urlencoded"}, "a=b", 415, "unsupported_media_type"},
		{"object", admin(), `{"user_agents": ["a"]}`, 400, "invalid_request"},
		{"numbers", admin(), `[1, 2]`, 400, "invalid_request"},
		{"trailing data", admin(), `["a"] ["b"]`, 400, "invalid_request"},
		{"empty array", admin(), `[]`, 400, "invalid_request"},
		{"empty text", text, "\n\n", 400, "invalid_request"},
		{"too many", text, strings.Repeat("a\n", 10_001), 413, "payload_too_large"},
		{"too large", text, strings.Repeat("a", 1<<20+1), 413, "payload_too_large"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, "POST", u, tt.hdr, []byte(tt.body))
			wantError(t, r, tt.status, tt.code)
		})
	}
}

func TestClassifyWithoutRules(t *testing.T) {
	m := apiServer(t)
	code, _, out := call(t, "POST", m.URL()+"/admin/v1/ua/classify", admin(), `["`+uaIOS+`"]`)
	if code != 200 || out["rules"] != false || out["unknown"] != 1.0 {
		t.Errorf("classify without rules: %d %v, want 200, rules false, 1 unknown", code, out)
	}
}

// TestGateUserAgent: a gate with the same rules reads an old app's
// version from its user agent, so an in-place update satisfies an
// upgrade campaign at the gate, as Cordon-Client's version would.
func TestGateUserAgent(t *testing.T) {
	rules := myAppRules(t)
	m := apiServer(t, withUserAgents(rules))
	up := echoUpstream(t)
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: up.URL, Control: m.URL(), Token: testAdminToken,
		Log: slog.New(slog.DiscardHandler), UserAgents: rules}}
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	waitFor(t, 5*time.Second, "gate ready", func() bool { return g.State.Ready() })

	addUser(t, m, "ua-gate", "a long enough password")
	_, tok := loginUA(t, m, "ua-gate", "a long enough password", map[string]string{"User-Agent": uaIOS})
	access := tok["access_token"].(string)
	c := campaignCall(t, m, "POST", "", `{"kind":"upgrade","name":"iOS 8.5","cohort":{"platforms":["ios"]},
		"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://example.com/get"}}}`)
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/activate", "")

	get := func(ua string) (int, map[string]any) {
		code, _, body := call(t, "GET", "http://"+g.Addr()+"/api/things", map[string]string{"Authorization": "Bearer " + access, "User-Agent": ua}, "")
		return code, body
	}
	waitFor(t, 2*time.Second, "campaign at the gate", func() bool { code, _ := get(uaIOS); return code == 426 })
	if code, body := get(uaIOS); code != 426 || body["error"] != "upgrade_required" || body["sideloaded"] != true {
		t.Errorf("old version by user agent: %d %v, want 426 upgrade_required, sideloaded", code, body)
	}
	code, body := get("MyApp/8.5.0 (iPhone; iOS 17.4; Scale/3.00)")
	if code != 200 {
		t.Fatalf("updated in place, by user agent: %d %v, want 200", code, body)
	}
	if v := body["headers"].(map[string]any)["X-Cordon-Version"].([]any); v[0] != "8.5.0" {
		t.Errorf("X-Cordon-Version = %v, want 8.5.0", v)
	}
	// Cordon-Client, when sent, is taken over the user agent.
	code, _, body = call(t, "GET", "http://"+g.Addr()+"/api/things", map[string]string{"Authorization": "Bearer " + access,
		"User-Agent": "MyApp/8.5.0 (iPhone; iOS 17.4)", "Cordon-Client": `platform=ios, version="8.4.1"`}, "")
	if code != 426 {
		t.Errorf("Cordon-Client 8.4.1 beside a user agent of 8.5.0: %d %v, want 426", code, body)
	}
	// An Android user agent cannot lend its version to an iOS session.
	if code, _ := get("MyApp/8.5.0 (Linux; U; Android 14; Pixel 8)"); code != 426 {
		t.Errorf("iOS session presenting an Android user agent of 8.5.0: %d, want 426", code)
	}
}

func TestUARulesFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	os.WriteFile(file, []byte("apps: [{token: Spotify}]\nversion_header: X-App-Version\n"), 0o644)
	badFile := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badFile, []byte("rules: [{name: a, match: x, platform: iphone}]\n"), 0o644)

	if r, err := loadUARules("", "", ""); r != nil || err != nil {
		t.Errorf("no flags: %v, %v; want no rules", r, err)
	}
	r, err := loadUARules(file, "MyApp, Other", "x-app-version")
	if err != nil {
		t.Fatal(err)
	}
	for ua, want := range map[string]string{"Spotify/8.9.10 iOS/17.2 (iPhone15,2)": "ios", uaAndroid: "android", "Other/1.0 (Windows NT 10.0)": "desktop"} {
		if got := r.Match(ua, nil).Facts.Platform; got != want {
			t.Errorf("with --ua-rules and --ua-app, %q = %q, want %q", ua, got, want)
		}
	}
	for _, tt := range []struct{ file, apps, header, want string }{
		{file, "", "X-Build", "contradicts version_header"},
		{badFile, "", "", `platform "iphone" is not one of`},
		{filepath.Join(dir, "missing.yaml"), "", "", "no such file"},
		{"", "My/App", "", "not a product token"},
	} {
		_, err := loadUARules(tt.file, tt.apps, tt.header)
		if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
			t.Errorf("loadUARules(%q, %q, %q) = %v (exit %d), want exit 2 and %q", tt.file, tt.apps, tt.header, err, exitCode(err), tt.want)
		}
	}
}

// TestUAClassifyCommand: `cordon ua classify` previews rules locally over
// user agents read one per line.
func TestUAClassifyCommand(t *testing.T) {
	in := "Spotify/8.9.10 iOS/17.2 (iPhone15,2)\r\nSpotify/8.8.96 Android/34 (SM-S911B)\nokhttp/4.12.0\n\nSpotify/8.9.10 watchOS/10.2 (Watch6,2)\n"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ua", "classify", "--ua-app", "Spotify"}, strings.NewReader(in), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := `FAMILY   TOTAL  RESOLVED  UNKNOWN  PLATFORMS         UNKNOWN, E.G.
Spotify  3      2         1        android 1, ios 1  Spotify/8.9.10 watchOS/10.2 (Watch6,2)
okhttp   1      0         1                          okhttp/4.12.0
4 user agents: 2 resolved, 2 unknown
`
	if out.String() != want {
		t.Errorf("ua classify printed\n%s\nwant\n%s", out.String(), want)
	}
	for _, args := range [][]string{{"ua"}, {"ua", "list"}, {"ua", "classify"}, {"ua", "classify", "extra", "--ua-app", "A"}} {
		if err := run(context.Background(), args, strings.NewReader(in), io.Discard, io.Discard); exitCode(err) != 2 {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/console"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
)

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

const adminPassword = "correct horse battery staple"

type env struct {
	store  *memstore.Store
	clk    *clock.Fake
	hasher *password.Hasher
	audit  *auditlog.Service
	inc    *incident.Service
	camps  *campaign.Service
	notes  *notices.Service
	alerts *alert.Service
	srv    *httptest.Server
	// secrets are the admins' TOTP secrets, by name.
	secrets map[string]string
}

func newEnv(t testing.TB, fourEyes bool) *env {
	t.Helper()
	ctx := t.Context()
	e := &env{store: memstore.New(), clk: clock.NewFake(t0), secrets: map[string]string{}}
	e.hasher = password.NewHasher(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{})
	var err error
	if e.camps, err = campaign.New(ctx, e.store, e.clk, nil); err != nil {
		t.Fatal(err)
	}
	if e.audit, err = auditlog.New(ctx, auditlog.Config{Store: e.store, Clock: e.clk, Origin: "test.example/audit", Categories: []string{"tickets", "payments"}}); err != nil {
		t.Fatal(err)
	}
	if e.inc, err = incident.New(incident.Config{Store: e.store, Audit: e.audit, Campaigns: e.camps, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	if e.notes, err = notices.New(notices.Config{Store: e.store, Audit: e.audit, Campaigns: e.camps, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	if e.alerts, err = alert.New(alert.Config{Store: e.store, Audit: e.audit, Incidents: e.inc, Campaigns: e.camps, Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Config{Log: slog.New(slog.DiscardHandler), Store: e.store, Campaigns: e.camps, Incidents: e.inc, Audit: e.audit, Hasher: e.hasher, Clock: e.clk,
		Notices: e.notes, Alerts: e.alerts,
		FourEyes: fourEyes, Throttle: throttle.New(throttle.DefaultConfig(), e.clk), LiveEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(con)
	t.Cleanup(e.srv.Close)
	for _, a := range []struct{ name, role string }{{"ada", cordon.RoleOwner}, {"bo", cordon.RoleResponder}, {"cy", cordon.RoleAuditor}} {
		e.addAdmin(t, a.name, a.role)
	}
	return e
}

func (e *env) addAdmin(t testing.TB, name, role string) {
	t.Helper()
	hash, err := e.hasher.Hash(t.Context(), adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	secret, uri, err := console.NewTOTP("cordon", name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/cordon:"+name+"?") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("otpauth URI %q does not name the account and carry the secret", uri)
	}
	if err := e.store.CreateConsoleAdmin(t.Context(), &cordon.ConsoleAdmin{ID: cordon.NewID("ca"), Name: name, Role: role, PasswordHash: hash, TOTPSecret: secret, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	e.secrets[name] = secret
}

// code is the admin's TOTP code at the fake clock's now.
func (e *env) code(t testing.TB, name string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(e.secrets[name], e.clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client does requests as one browser: the session cookie it was given,
// sent back by hand (the cookie is Secure and the test server is plain
// http), and same-origin fetch metadata unless a test says otherwise.
type client struct {
	e      *env
	cookie string
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (c *client) do(t testing.TB, method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequestWithContext(t.Context(), method, c.e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Origin", c.e.srv.URL)
	}
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: console.CookieName, Value: c.cookie})
	}
	resp, err := (&http.Client{CheckRedirect: noRedirect}).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == console.CookieName {
			c.cookie = ck.Value
		}
	}
	return resp, string(b)
}

func (e *env) signIn(t testing.TB, name string) *client {
	t.Helper()
	e.clk.Advance(30 * time.Second) // a fresh TOTP step: a code is good once
	c := &client{e: e}
	resp, body := c.do(t, "POST", "/console/login", url.Values{"name": {name}, "password": {adminPassword}, "code": {e.code(t, name)}}, nil)
	if resp.StatusCode != http.StatusSeeOther || c.cookie == "" {
		t.Fatalf("sign-in of %s: %d, cookie %q\n%s", name, resp.StatusCode, c.cookie, body)
	}
	return c
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, false)
	c := &client{e: e}
	// Signed out, a page sends you to the sign-in form.
	resp, _ := c.do(t, "GET", "/console/", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("signed out GET /console/: %d to %q, want 303 to /console/login", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, tc := range []struct {
		name           string
		user, pw, code string
	}{
		{"wrong password", "ada", "not the password", e.code(t, "ada")},
		{"wrong code", "ada", adminPassword, "000000"},
		{"unknown name", "eve", adminPassword, "123456"},
		{"another's code", "ada", adminPassword, e.code(t, "bo")},
	} {
		resp, body := c.do(t, "POST", "/console/login", url.Values{"name": {tc.user}, "password": {tc.pw}, "code": {tc.code}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The name, password or code is wrong.") || c.cookie != "" {
			t.Errorf("%s: %d, cookie %q, want 401 with one message for every failure", tc.name, resp.StatusCode, c.cookie)
		}
	}
	code := e.code(t, "ada")
	resp, _ = c.do(t, "POST", "/console/login", url.Values{"name": {"ada"}, "password": {adminPassword}, "code": {code}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right credentials: %d, want 303", resp.StatusCode)
	}
	var set string
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "__Host-cordon-console=") {
			set = h
		}
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=28800"} {
		if !strings.Contains(set, attr) {
			t.Errorf("session cookie %q lacks %s", set, attr)
		}
	}
	if strings.Contains(set, "Domain=") {
		t.Errorf("session cookie %q names a domain; a __Host- cookie may not", set)
	}
	resp, body := c.do(t, "GET", "/console/", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ada (owner)") {
		t.Fatalf("signed in GET /console/: %d\n%s", resp.StatusCode, body)
	}
	// The same code again, even with the right password, is a replay.
	other := &client{e: e}
	resp, _ = other.do(t, "POST", "/console/login", url.Values{"name": {"ada"}, "password": {adminPassword}, "code": {code}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || other.cookie != "" {
		t.Errorf("a replayed TOTP code: %d, want 401", resp.StatusCode)
	}
	// The sign-in is in the audit log under her name.
	if !auditHas(t, e, "cordon:console/ada", "signed in to the console") {
		t.Error("the audit log holds no sign-in by cordon:console/ada")
	}
	// The session ends at its expiry, and at sign-out.
	e.clk.Advance(8*time.Hour + time.Second)
	if resp, _ := c.do(t, "GET", "/console/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("an expired session: %d, want 303 to the sign-in form", resp.StatusCode)
	}
	c = e.signIn(t, "ada")
	stolen := c.cookie
	if resp, _ := c.do(t, "POST", "/console/logout", url.Values{}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	c.cookie = stolen
	if resp, _ := c.do(t, "GET", "/console/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a signed-out session's cookie: %d, want 303 to the sign-in form", resp.StatusCode)
	}
}

func auditHas(t *testing.T, e *env, principal, purpose string) bool {
	t.Helper()
	n, err := e.audit.Size(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	e.audit.Entries(t.Context(), 0, n, func(en *cordon.AuditEntry) error {
		if en.Principal == principal && strings.Contains(string(en.Leaf), purpose) {
			found = true
		}
		return nil
	})
	return found
}

func TestSignInThrottled(t *testing.T) {
	e := newEnv(t, false)
	c := &client{e: e}
	throttled := false
	for i := range 30 {
		resp, _ := c.do(t, "POST", "/console/login", url.Values{"name": {"ada"}, "password": {"guess " + string(rune('a'+i))}, "code": {"123456"}}, nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = true
			if resp.Header.Get("Retry-After") == "" {
				t.Error("a throttled sign-in carries no Retry-After")
			}
			break
		}
	}
	if !throttled {
		t.Fatal("30 wrong passwords in a row were never throttled")
	}
	// Even the right password and code wait out the delay.
	resp, _ := c.do(t, "POST", "/console/login", url.Values{"name": {"ada"}, "password": {adminPassword}, "code": {e.code(t, "ada")}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right credentials during the delay: %d, want 429", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "ada")
	for _, path := range []string{"/console/", "/console/campaigns", "/console/blast", "/console/fleet", "/console/audit", "/console/notices", "/console/alerts", "/console/login", "/console/nowhere"} {
		resp, _ := c.do(t, "GET", path, nil, nil)
		want := map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-store",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	resp, body := c.do(t, "GET", "/console/static/live.js", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "EventSource") {
		t.Errorf("the embedded script: %d", resp.StatusCode)
	}
	if resp, _ := c.do(t, "GET", "/console/static/", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the static folder lists itself: %d, want 404", resp.StatusCode)
	}
}

// TestCSRFRefused: a form posted from another site, with the admin's
// cookie riding along, changes nothing.
func TestCSRFRefused(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "ada")
	doc := url.Values{"document": {"kind: reauth\nname: forged\ncohort: {platforms: [ios]}\n"}}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"cross-site fetch metadata", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"same-site but another origin", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example"}},
		{"old browser, foreign Origin", map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}},
	} {
		resp, _ := c.do(t, "POST", "/console/campaigns", doc, tc.hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, resp.StatusCode)
		}
	}
	list, _ := e.camps.List(t.Context())
	if len(list) != 0 {
		t.Fatalf("a forged form made %d campaigns", len(list))
	}
	resp, _ := c.do(t, "POST", "/console/campaigns", doc, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the same form from the console itself: %d, want 303", resp.StatusCode)
	}
}

func TestRolesLimitPages(t *testing.T) {
	e := newEnv(t, false)
	cy := e.signIn(t, "cy") // auditor
	for path, want := range map[string]int{"/console/campaigns": 403, "/console/": 403, "/console/fleet": 403, "/console/audit": 200, "/console/blast": 200} {
		if resp, _ := cy.do(t, "GET", path, nil, nil); resp.StatusCode != want {
			t.Errorf("auditor GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if resp, _ := cy.do(t, "POST", "/console/campaigns", url.Values{"document": {"kind: reauth\nname: x\n"}}, nil); resp.StatusCode != 403 {
		t.Errorf("auditor creating a campaign: %d, want 403", resp.StatusCode)
	}
}

func TestCampaignErrorAtField(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	resp, body := c.do(t, "POST", "/console/campaigns", url.Values{"document": {"kind: reauth\nname: x\ncohort:\n  versions: \"<< banana\"\n"}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a bad constraint: %d, want 422\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{`<strong>cohort.versions</strong>`, `aria-invalid="true"`, "&lt;&lt; banana"} {
		if !strings.Contains(body, want) {
			t.Errorf("the form does not show %q", want)
		}
	}
}

// TestXSSInert: hostile text in every field a person or an app controls
// comes back escaped.
func TestXSSInert(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "ada")
	const payload = `<script>alert(1)</script><img src=x onerror=alert(2)>"'`
	if resp, body := c.do(t, "POST", "/console/incidents", url.Values{"title": {"leak " + payload}, "severity": {"high"}}, nil); resp.StatusCode != 303 {
		t.Fatalf("open incident: %d\n%s", resp.StatusCode, body)
	}
	resp, _ := c.do(t, "POST", "/console/campaigns", url.Values{"document": {"kind: reauth\nname: 'camp " + strings.ReplaceAll(payload, "'", "''") + "'\ncohort: {platforms: [ios]}\n"}}, nil)
	if resp.StatusCode != 303 {
		t.Fatalf("create campaign: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	pages := []string{"/console/", "/console/campaigns", loc, "/console/blast?principals=" + url.QueryEscape(payload)}
	for _, p := range pages {
		resp, body := c.do(t, "GET", p, nil, nil)
		if resp.StatusCode >= 500 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s renders the payload as markup", p)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not show the payload as text", p)
		}
	}
}

func TestFourEyes(t *testing.T) {
	e := newEnv(t, true)
	ada, bo := e.signIn(t, "ada"), e.signIn(t, "bo")
	resp, _ := ada.do(t, "POST", "/console/campaigns", url.Values{"document": {"kind: reauth\nname: four\ncohort: {platforms: [ios]}\n"}}, nil)
	loc := resp.Header.Get("Location")
	id := strings.TrimPrefix(loc, "/console/campaigns/")
	// A wrong confirmation is refused outright.
	if resp, _ := ada.do(t, "POST", loc+"/activate", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != 422 {
		t.Errorf("activation without the typed id: %d, want 422", resp.StatusCode)
	}
	if resp, _ := ada.do(t, "POST", loc+"/activate", url.Values{"confirm": {id}}, nil); resp.StatusCode != 303 {
		t.Fatalf("asking to activate: %d", resp.StatusCode)
	}
	state := func() cordon.State {
		camp, err := e.camps.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return camp.State
	}
	if s := state(); s != cordon.StateDraft {
		t.Fatalf("after one admin's activation the campaign is %s, want draft", s)
	}
	// She cannot approve her own request.
	if resp, _ := ada.do(t, "POST", loc+"/approve", url.Values{"confirm": {id}}, nil); resp.StatusCode != 422 || state() != cordon.StateDraft {
		t.Errorf("self-approval: %d, state %s; want 422 and draft", resp.StatusCode, state())
	}
	if resp, _ := bo.do(t, "POST", loc+"/approve", url.Values{"confirm": {id}}, nil); resp.StatusCode != 303 {
		t.Fatalf("approval by another admin: %d", resp.StatusCode)
	}
	if s := state(); s != cordon.StateActive {
		t.Errorf("after approval the campaign is %s, want active", s)
	}
	if !auditHas(t, e, "cordon:console/ada", "activation requested") || !auditHas(t, e, "cordon:console/bo", "campaign activate") {
		t.Error("the request and the approval are not both in the audit log under their names")
	}
}

func TestLiveStream(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "ada")
	r, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/console/live/fleet", nil)
	r.AddCookie(&http.Cookie{Name: console.CookieName, Value: c.cookie})
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	buf := make([]byte, 4096)
	n, _ := io.ReadAtLeast(resp.Body, buf, 64)
	got := string(buf[:n])
	if !strings.HasPrefix(got, "event: fragment\ndata: ") || !strings.Contains(got, "live sessions") {
		t.Errorf("the stream starts %q, want a fragment event", got)
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if line != "" && !strings.HasPrefix(line, "data:") && !strings.HasPrefix(line, "event: ") && !strings.HasPrefix(line, ":") {
			t.Errorf("a stream line %q is neither data nor event", line)
		}
	}
}

func TestAuditVerify(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "cy")
	verify := func(want string) {
		t.Helper()
		if resp, _ := c.do(t, "POST", "/console/audit/verify", url.Values{}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("verify: %d", resp.StatusCode)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, body := c.do(t, "GET", "/console/audit", nil, nil)
			if strings.Contains(body, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the audit page never said %q:\n%s", want, body)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	verify("no signed checkpoint yet")
	if _, err := e.audit.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.do(t, "GET", "/console/blast?principals=svc", nil, nil)                    // one more entry, past the checkpoint
	verify("Verified: 3 entries, 1 checkpoints good, the first 2 proven intact") // the sign-in and the first verification signed; the report after
	if !auditHas(t, e, "cordon:console/cy", "audit log verified") {
		t.Error("the verification is not in the audit log under cy")
	}
}

// TestLiveStreamEndsAtSignOut: a stream opened with a session ends once
// the session is signed out.
func TestLiveStreamEndsAtSignOut(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "ada")
	r, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/console/live/fleet", nil)
	r.AddCookie(&http.Cookie{Name: console.CookieName, Value: c.cookie})
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	if _, err := io.ReadAtLeast(resp.Body, buf, 16); err != nil {
		t.Fatalf("the stream sent nothing: %v", err)
	}
	if resp, _ := c.do(t, "POST", "/console/logout", url.Values{}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived its session by 5 s")
	}
}

// TestBlastCSV: the export lists every user, and a subject a reporter
// logged as a spreadsheet formula is written so it cannot run.
func TestBlastCSV(t *testing.T) {
	e := newEnv(t, false)
	now := e.clk.Now()
	if _, _, err := e.audit.Ingest(t.Context(), []audit.Event{
		{Time: now.Add(-time.Hour), Principal: "svc-a", Action: "read", Subject: "=HYPERLINK(\"http://evil\")", Categories: []string{"tickets"}, Purpose: "T-1"},
		{Time: now.Add(-time.Hour), Principal: "svc-a", Action: "read", Subject: "bob", Categories: []string{"payments"}, Purpose: "T-2"},
	}); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(t, "cy")
	resp, body := c.do(t, "GET", "/console/blast.csv?principals=svc-a", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v", resp.StatusCode, resp.Header)
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 3 || lines[0] != "subject,account,categories,events,first,last" {
		t.Fatalf("CSV:\n%s", body)
	}
	if !strings.HasPrefix(lines[1], `"'=HYPERLINK(""http://evil"")"`) {
		t.Errorf("the formula row is %q, want it quoted by an apostrophe", lines[1])
	}
	if !strings.HasPrefix(lines[2], "bob,") {
		t.Errorf("second row %q, want bob", lines[2])
	}
	if !auditHas(t, e, "cordon:console/cy", "blast radius CSV") {
		t.Error("the export is not in the audit log under cy")
	}
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	resp, _ := c.do(t, "POST", "/console/campaigns", url.Values{"document": {"kind: reauth\nname: life\ncohort: {platforms: [ios]}\n"}}, nil)
	loc := resp.Header.Get("Location")
	id := strings.TrimPrefix(loc, "/console/campaigns/")
	_, page := c.do(t, "GET", loc, nil, nil)
	for _, want := range []string{`action="/console/campaigns/` + id + `/activate"`, `action="/console/campaigns/` + id + `/cancel"`} {
		if !strings.Contains(page, want) {
			t.Errorf("a draft's page lacks %s", want)
		}
	}
	if strings.Contains(page, "/pause\"") {
		t.Error("a draft's page offers pause")
	}
	for _, step := range []struct {
		action string
		form   url.Values
		status int
		state  cordon.State
	}{
		{"pause", url.Values{}, 422, cordon.StateDraft}, // not from a draft
		{"activate", url.Values{"confirm": {id}}, 303, cordon.StateActive},
		{"pause", url.Values{}, 303, cordon.StatePaused},
		{"resume", url.Values{}, 303, cordon.StateActive},
		{"complete", url.Values{}, 303, cordon.StateCompleted},
		{"resume", url.Values{}, 422, cordon.StateCompleted},
		{"explode", url.Values{}, 404, cordon.StateCompleted},
	} {
		resp, _ := c.do(t, "POST", loc+"/"+step.action, step.form, nil)
		camp, err := e.camps.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != step.status || camp.State != step.state {
			t.Errorf("%s: %d, state %s; want %d, %s", step.action, resp.StatusCode, camp.State, step.status, step.state)
		}
	}
	if !auditHas(t, e, "cordon:console/bo", "campaign pause") || !auditHas(t, e, "cordon:console/bo", "campaign complete") {
		t.Error("the lifecycle is not in the audit log under bo")
	}
}

func TestIncidentRoom(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	if resp, body := c.do(t, "POST", "/console/incidents", url.Values{"title": {"support tool leak"}, "severity": {"high"}}, nil); resp.StatusCode != 303 {
		t.Fatalf("open: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := c.do(t, "POST", "/console/incidents", url.Values{"title": {"x"}, "severity": {"apocalyptic"}}, nil); resp.StatusCode != 422 || !strings.Contains(body, "severity") {
		t.Errorf("a bad severity: %d, want 422 naming the severity", resp.StatusCode)
	}
	list, err := e.inc.List(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("incidents: %v %v", list, err)
	}
	id := list[0].ID
	resp, _ := c.do(t, "POST", "/console/campaigns", url.Values{"document": {"kind: reauth\nname: linked\ncohort: {platforms: [ios]}\n"}}, nil)
	campID := strings.TrimPrefix(resp.Header.Get("Location"), "/console/campaigns/")
	if _, err := e.inc.Link(t.Context(), incident.Actor{Principal: "cordon:admin/root"}, id, cordon.LinkCampaign, campID); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2 * time.Hour)
	_, body := c.do(t, "GET", "/console/", nil, nil)
	for _, want := range []string{"support tool leak", "investigating", "70h left", `<progress max="0" value="0"`, "linked", "cordon:console/bo: incident opened"} {
		if !strings.Contains(body, want) {
			t.Errorf("the incident room lacks %q\n%s", want, body)
		}
	}
	resp, md := c.do(t, "GET", "/console/incidents/"+id+"/summary.md", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/markdown") || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(md, "support tool leak") {
		t.Fatalf("summary: %d %v\n%s", resp.StatusCode, resp.Header, md)
	}
	if !auditHas(t, e, "cordon:console/bo", "incident summary downloaded") {
		t.Error("the download is not in the audit log under bo")
	}
	if resp, _ := c.do(t, "GET", "/console/incidents/i-nope/summary.md", nil, nil); resp.StatusCode != 404 {
		t.Errorf("an unknown incident's summary: %d, want 404", resp.StatusCode)
	}
}

// TestDraftFromReport: the link from a saved report prefills a draft
// naming it; a report parameter that is no report id prefills nothing.
func TestDraftFromReport(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "ada")
	_, body := c.do(t, "GET", "/console/campaigns?report=r-abc234", nil, nil)
	if !strings.Contains(body, `users_from_report: &#34;r-abc234&#34;`) {
		t.Errorf("the draft does not name the report:\n%s", body)
	}
	_, body = c.do(t, "GET", "/console/campaigns?report="+url.QueryEscape("r-1\nkind: password_reset"), nil, nil)
	if strings.Contains(body, "users_from_report") {
		t.Error("a hostile report parameter was put in the draft")
	}
}

// TestIncidentActions: moving an incident at the version the page showed,
// a note, and a campaign drafted for it, all under the person's name.
func TestIncidentActions(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	c.do(t, "POST", "/console/incidents", url.Values{"title": {"leak"}, "severity": {"high"}}, nil)
	list, _ := e.inc.List(t.Context())
	id := list[0].ID
	if resp, _ := c.do(t, "POST", "/console/incidents/"+id+"/state", url.Values{"state": {"contained"}, "version": {"1"}}, nil); resp.StatusCode != 303 {
		t.Fatalf("move: %d", resp.StatusCode)
	}
	// A second person's move from the same page, at the old version.
	resp, body := c.do(t, "POST", "/console/incidents/"+id+"/state", url.Values{"state": {"resolved"}, "version": {"1"}}, nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "contained") {
		t.Errorf("a stale move: %d, want 409 naming the state now", resp.StatusCode)
	}
	for _, bad := range []url.Values{{"state": {"exploded"}, "version": {"2"}}, {"state": {"resolved"}}} {
		if resp, _ := c.do(t, "POST", "/console/incidents/"+id+"/state", bad, nil); resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("move %v: %d, want a 4xx", bad, resp.StatusCode)
		}
	}
	if resp, _ := c.do(t, "POST", "/console/incidents/"+id+"/notes", url.Values{"text": {"consequences: phishing"}}, nil); resp.StatusCode != 303 {
		t.Errorf("note: %d", resp.StatusCode)
	}
	if resp, _ := c.do(t, "POST", "/console/incidents/"+id+"/notes", url.Values{"text": {"two\nlines"}}, nil); resp.StatusCode != 422 {
		t.Errorf("a two-line note: %d, want 422", resp.StatusCode)
	}
	doc := url.Values{"document": {"kind: reauth\nname: for the leak\ncohort: {platforms: [ios]}\n"}, "incident": {"i-nope"}}
	if resp, body := c.do(t, "POST", "/console/campaigns", doc, nil); resp.StatusCode != 422 || !strings.Contains(body, "<strong>incident</strong>") {
		t.Errorf("a draft for an unknown incident: %d, want 422 at the incident", resp.StatusCode)
	}
	if camps, _ := e.camps.List(t.Context()); len(camps) != 0 {
		t.Fatalf("a refused draft was made: %d campaigns", len(camps))
	}
	doc.Set("incident", id)
	resp, _ = c.do(t, "POST", "/console/campaigns", doc, nil)
	campID := strings.TrimPrefix(resp.Header.Get("Location"), "/console/campaigns/")
	v, _ := e.inc.Get(t.Context(), id)
	if resp.StatusCode != 303 || v.State != cordon.IncidentContained || len(v.Links) != 1 || v.Links[0].ID != campID {
		t.Fatalf("after the draft: %d, incident %+v", resp.StatusCode, v.Incident)
	}
	_, room := c.do(t, "GET", "/console/", nil, nil)
	for _, want := range []string{"cordon:console/bo: state investigating -&gt; contained", "cordon:console/bo: note: consequences: phishing", "cordon:console/bo: linked campaign " + campID, "for the leak"} {
		if !strings.Contains(room, want) {
			t.Errorf("the incident room lacks %q\n%s", want, room)
		}
	}
}

func TestCampaignForm(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	form := url.Values{"kind": {"reauth"}, "name": {"form made"}, "platforms": {"ios", "android"}, "versions": {"<< 8"}, "message": {"Sign in again."}}
	resp, body := c.do(t, "POST", "/console/campaigns/form", form, nil)
	if resp.StatusCode != 422 {
		t.Fatalf("a bad constraint: %d", resp.StatusCode)
	}
	for _, want := range []string{`id="f-versions" name="versions" type="text" value="&lt;&lt; 8" aria-invalid="true"`, `<strong>cohort.versions</strong>`, `value="ios" checked`, `value="form made"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the refused form lacks %q", want)
		}
	}
	form.Set("versions", "< 8.5.0")
	resp, _ = c.do(t, "POST", "/console/campaigns/form", form, nil)
	if resp.StatusCode != 303 {
		t.Fatalf("the form: %d", resp.StatusCode)
	}
	camp, err := e.camps.Get(t.Context(), strings.TrimPrefix(resp.Header.Get("Location"), "/console/campaigns/"))
	if err != nil {
		t.Fatal(err)
	}
	if camp.Kind != cordon.KindReauth || camp.Name != "form made" || strings.Join(camp.Cohort.Platforms, ",") != "ios,android" || camp.Cohort.Versions != "< 8.5.0" || camp.Message != "Sign in again." {
		t.Errorf("the campaign made: %+v", camp)
	}
	// A name that would be YAML if pasted stays a name.
	form.Set("name", "x\nkind: upgrade")
	if resp, _ := c.do(t, "POST", "/console/campaigns/form", form, nil); resp.StatusCode == 303 {
		camp, _ := e.camps.Get(t.Context(), strings.TrimPrefix(resp.Header.Get("Location"), "/console/campaigns/"))
		if camp.Kind != cordon.KindReauth {
			t.Errorf("a name injected the kind: %s", camp.Kind)
		}
	}
}

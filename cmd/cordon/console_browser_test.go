package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
)

//go:embed testdata/axe/axe.min.js
var axeSource string

// chromiumPath finds Debian's Chromium; absent, the test skips, but not
// under CI=true, where .ci/run installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); the console browser test needs it")
	return ""
}

// screenshotDir is where the test's screenshots go: $CORDON_SCREENSHOTS,
// else the test's temporary folder.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("CORDON_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser is one headless Chromium for the whole test, with what it saw:
// every request it made, every dialog a page opened, every console and
// log message (a CSP violation is one).
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	requests []string
	dialogs  []string
	console  []string
	shots    string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	b := &browser{ctx: ctx, shots: screenshotDir(t)}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	consoleCalls := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network domain: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("log domain: %v", err)
	}
	note := func(to *[]string, s string) {
		b.mu.Lock()
		*to = append(*to, s)
		b.mu.Unlock()
	}
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			note(&b.requests, ev.Request.URL)
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			note(&b.dialogs, ev.Message)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		for ev, err := range consoleCalls {
			if err != nil {
				return
			}
			for _, a := range ev.Args {
				note(&b.console, string(a.Value))
			}
		}
	}()
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if ev.Entry != nil {
				note(&b.console, ev.Entry.Text)
			}
		}
	}()
	return b
}

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func brun[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	png := brun(t, b, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// text reads the visible text of the first node sel matches, in one
// script call: a live page replaces nodes under the server's event
// stream, so a node id found by one call can be gone by the next (CI
// failed on exactly that, "No node with given id found").
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	type read struct {
		Found bool
		Text  string
	}
	q, _ := json.Marshal(sel)
	js := `(() => { const n = document.querySelector(` + string(q) + `); return n ? {found: true, text: n.innerText} : {found: false, text: ""} })()`
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := brun(t, b, "read "+sel, chromedp.Evaluate[read](js))
		if r.Found {
			return r.Text
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %s: no such node on the page", sel)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// axe runs axe-core on the page and fails on serious or critical
// violations.
func (b *browser) axe(t *testing.T, pageName string) {
	t.Helper()
	type violation struct {
		ID, Impact, Help string
		Nodes            []struct{ Target []any }
	}
	b.do(t, "inject axe", chromedp.Evaluate[chromedp.Void](axeSource))
	res := brun(t, b, "axe on "+pageName, chromedp.Evaluate[struct{ Violations []violation }](`axe.run(document, {resultTypes: ["violations"]})`,
		func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			t.Errorf("accessibility on %s: %s (%s): %s at %s", pageName, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
		}
	}
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConsoleInBrowser drives the console in Debian's Chromium: sign-in
// with TOTP, a campaign from YAML (a mistake shown at its field, then the
// preview, the typed activation) whose progress rises live as the apps
// log in again, a blast-radius report turned into a cohort and a draft,
// the fleet and the audit log; hostile names render inert, every page
// passes axe-core without serious violations, no page loads anything from
// elsewhere, and a form posted from another site changes nothing.
func TestConsoleInBrowser(t *testing.T) {
	b := newBrowser(t)
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: t.TempDir(), AdminToken: testAdminToken,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32},
		Log:  slog.New(slog.DiscardHandler), Out: io.Discard, ProgressSample: 300 * time.Millisecond, AuditInterval: 200 * time.Millisecond}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	base := m.URL()
	const xss = `<img src=x onerror=alert(1)><script>alert(2)</script>`

	// A console admin, made as the CLI does.
	code, _, out := call(t, "POST", base+"/admin/v1/console/admins", admin(), `{"name":"ada","role":"owner","password":"a long admin passphrase"}`)
	if code != http.StatusCreated {
		t.Fatalf("create console admin: %d %v", code, out)
	}
	uri, err := url.Parse(out["otpauth_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	secret := uri.Query().Get("secret")

	// Six app users on iOS 8.4.0, and a service that read their data.
	const users = 6
	client := `platform=ios, version="8.4.0", source=appstore, device="d-%d"`
	var events, access []string
	for i := range users {
		name := fmt.Sprintf("user%d", i)
		addUser(t, m, name, "a long enough password")
		tok := mustLogin(t, m, name, "a long enough password", fmt.Sprintf(client, i))
		access = append(access, tok["access_token"].(string))
		events = append(events, fmt.Sprintf(`{"time":%q,"principal":"svc-leaky","action":"read","subject":%q,"categories":["email","payment"],"purpose":"T-%d"}`,
			time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), name, i))
	}
	if r := ingest(t, m, "application/json", "["+strings.Join(events, ",")+"]"); r.status != http.StatusOK {
		t.Fatalf("ingest: %v", r)
	}
	// An incident (hostile titles: TestXSSInert in internal/console; here
	// the campaign's name is the hostile one, shown in the room too).
	code, _, inc := call(t, "POST", base+"/admin/v1/incidents", admin(), `{"title":"Support tool token leaked","severity":"high"}`)
	if code != http.StatusCreated {
		t.Fatalf("open incident: %d %v", code, inc)
	}
	incID := inc["id"].(string)

	// Sign in.
	b.do(t, "open the console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#code")))
	b.shot(t, "login")
	b.axe(t, "sign-in")
	b.do(t, "sign in",
		chromedp.SendKeys(chromedp.CSS("#name"), "ada"),
		chromedp.SendKeys(chromedp.CSS("#password"), "a long admin passphrase"),
		chromedp.SendKeys(chromedp.CSS("#code"), totpCode(t, secret, time.Now())),
		chromedp.Submit(chromedp.CSS("#code")),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Incident room"]`)))

	// A campaign: first a mistake, shown at its field.
	b.do(t, "campaigns page", chromedp.Navigate(base+"/console/campaigns"), chromedp.WaitVisible(chromedp.CSS("#document")))
	b.do(t, "a bad document",
		chromedp.SetValue(chromedp.CSS("#document"), "kind: reauth\nname: bad\ncohort:\n  versions: \"<< 8\"\n"),
		chromedp.Submit(chromedp.CSS("#document")),
		chromedp.WaitVisible(chromedp.CSS("#doc-problem")))
	if got := b.text(t, "#doc-problem"); !strings.HasPrefix(got, "cohort.versions:") {
		t.Errorf("the problem shown %q, want it at cohort.versions", got)
	}
	b.shot(t, "campaign-error")
	b.axe(t, "campaigns with an error")
	doc := "kind: reauth\nname: 'Re-login " + xss + "'\ncohort:\n  platforms: [ios]\n  versions: \"< 8.5.0\"\n"
	b.do(t, "create the campaign",
		chromedp.SetValue(chromedp.CSS("#document"), doc),
		chromedp.Submit(chromedp.CSS("#document")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if got := b.text(t, `[data-figure="sessions"]`); !strings.HasPrefix(got, fmt.Sprintf("%d of %d", users, users)) {
		t.Errorf("the preview says %q sessions, want %d of %d", got, users, users)
	}
	b.shot(t, "campaign-preview")
	b.axe(t, "campaign preview")
	campURL := brun(t, b, "campaign url", chromedp.Location())
	campID := campURL[strings.LastIndex(campURL, "/")+1:]
	if code, _, out := call(t, "POST", base+"/admin/v1/incidents/"+incID+"/links", admin(), `{"kind":"campaign","id":"`+campID+`"}`); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("link campaign: %d %v", code, out)
	}
	// A wrong confirmation activates nothing.
	b.do(t, "activate unconfirmed",
		chromedp.SendKeys(chromedp.CSS("#confirm"), "yes"),
		chromedp.Submit(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS(`.problem`)))
	b.do(t, "activate",
		chromedp.SetValue(chromedp.CSS("#confirm"), campID),
		chromedp.Submit(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS(`[data-figure="satisfied"]`)))
	if got := b.text(t, `[data-figure="satisfied"]`); !strings.HasPrefix(got, "0 users") {
		t.Errorf("satisfied at activation %q, want 0 users", got)
	}
	// The apps call the API, are told to log in again, and do; the page,
	// left alone, shows it from the server's event stream.
	time.Sleep(1100 * time.Millisecond) // a new login must be in a later second than the activation
	for i := range users {
		if code, _, _ := call(t, "GET", base+"/v1/session", map[string]string{"Authorization": "Bearer " + access[i], "Cordon-Client": fmt.Sprintf(client, i)}, ""); code != http.StatusUnauthorized {
			t.Fatalf("an app in the cohort: %d, want 401 (log in again)", code)
		}
		mustLogin(t, m, fmt.Sprintf("user%d", i), "a long enough password", fmt.Sprintf(client, i))
	}
	want := fmt.Sprintf("%d users (100%% of the cohort)", users)
	deadline := time.Now().Add(15 * time.Second)
	// Read by script: the live stream replaces the node under a query.
	read := chromedp.Evaluate[string](`(document.querySelector('[data-figure="satisfied"]')||{}).textContent||""`)
	for got := ""; got != want; got = brun(t, b, "read satisfied", read) {
		if time.Now().After(deadline) {
			t.Fatalf("satisfied shows %q, want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	updated := brun(t, b, "updated by the stream", chromedp.AttributeValue(chromedp.CSS(`[data-live]`), "data-updated"))
	if !updated.Exists {
		t.Error("the progress changed without the live stream: the page was reloaded?")
	}
	b.shot(t, "campaign-progress")
	b.axe(t, "campaign progress")
	// Dark mode: the same page under prefers-color-scheme: dark, checked
	// by axe (colour contrast among its rules).
	dark := func(on string) {
		t.Helper()
		if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: on}}}); err != nil {
			t.Fatalf("emulate %s: %v", on, err)
		}
	}
	dark("dark")
	if bg := brun(t, b, "background", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); bg != "rgb(13, 17, 23)" {
		t.Errorf("dark mode background %s, want rgb(13, 17, 23)", bg)
	}
	b.shot(t, "campaign-progress-dark")
	b.axe(t, "campaign progress, dark")
	dark("light")

	// The incident room, with the campaign's bar.
	b.do(t, "incident room", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`progress`)))
	b.shot(t, "incident-room")
	b.axe(t, "incident room")
	// On a phone: nothing wider than the screen but the charts' own
	// scrolling tables.
	b.do(t, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`progress`)))
	if wide := brun(t, b, "page width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		t.Error("the incident room is wider than a phone's screen")
	}
	b.shot(t, "incident-room-phone")
	b.do(t, "desktop", chromedp.EmulateViewport(1280, 900))

	// Blast radius → cohort → draft.
	b.do(t, "blast radius",
		chromedp.Navigate(base+"/console/blast"),
		chromedp.SendKeys(chromedp.CSS("#principals"), "svc-leaky"),
		chromedp.Submit(chromedp.CSS("#principals")),
		chromedp.WaitVisible(chromedp.CSS(`[data-figure="users"]`)))
	if got := b.text(t, `[data-figure="users"]`); got != fmt.Sprint(users) {
		t.Errorf("blast radius users %q, want %d", got, users)
	}
	b.shot(t, "blast-radius")
	b.axe(t, "blast radius")
	b.do(t, "save as cohort",
		chromedp.Click(chromedp.Search(`//button[contains(., "Save as a cohort")]`)),
		chromedp.WaitVisible(chromedp.CSS("#document")))
	draft := brun(t, b, "draft", chromedp.Value(chromedp.CSS("#document")))
	if !strings.Contains(draft, "users_from_report:") {
		t.Fatalf("the draft after saving the cohort is %q, want users_from_report", draft)
	}
	b.do(t, "create from cohort", chromedp.Submit(chromedp.CSS("#document")), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if got := b.text(t, `[data-figure="sessions"]`); !strings.HasPrefix(got, fmt.Sprintf("%d of", 2*users)) {
		t.Errorf("the cohort's preview says %q, want %d sessions (two per user now)", got, 2*users)
	}

	// Fleet and audit.
	b.do(t, "fleet", chromedp.Navigate(base+"/console/fleet?below=8.5.0&platform=ios"), chromedp.WaitVisible(chromedp.CSS(`[data-figure="below"]`)))
	if got := b.text(t, `[data-figure="below"]`); got != fmt.Sprint(2*users) {
		t.Errorf("sessions below 8.5.0: %q, want %d", got, 2*users)
	}
	b.shot(t, "fleet")
	b.axe(t, "fleet")
	b.do(t, "audit", chromedp.Navigate(base+"/console/audit"),
		chromedp.Submit(chromedp.CSS(`form[action="/console/audit/verify"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-live="/console/live/audit"] p`)))
	// The result arrives with the page or, on a long log, from the stream.
	verdict := chromedp.Evaluate[string](`(document.querySelector('[data-live="/console/live/audit"] p:not([role=status]), [data-figure="verified"]')||{}).textContent||""`)
	deadline = time.Now().Add(15 * time.Second)
	got := ""
	for got == "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = brun(t, b, "verification", verdict)
	}
	if !strings.HasPrefix(got, "Verified: ") {
		t.Errorf("the verification says %q", got)
	}
	b.shot(t, "audit")
	b.axe(t, "audit")

	// A notice: a mistake shown at its field, then the draft, its phone
	// preview per language, the typed publication; the incident's public
	// page; the Alerts page.
	b.do(t, "notices page", chromedp.Navigate(base+"/console/notices"), chromedp.WaitVisible(chromedp.CSS("#document")))
	b.do(t, "a bad notice",
		chromedp.SetValue(chromedp.CSS("#document"), "default_language: fr\ntexts:\n  en: {title: t, body: b}\n"),
		chromedp.Submit(chromedp.CSS("#document")),
		chromedp.WaitVisible(chromedp.CSS("#doc-problem")))
	if got := b.text(t, "#doc-problem"); !strings.HasPrefix(got, "default_language:") {
		t.Errorf("the notice problem shown %q, want it at default_language", got)
	}
	notice := "default_language: en\ncohort:\n  platforms: [ios]\ntexts:\n  en:\n    title: 'Sign in again " + xss + "'\n    body: |\n      A token leaked. **Sign in again.** " + xss +
		"\n  de:\n    title: Bitte neu anmelden\n    body: Bitte **neu anmelden**.\n"
	b.do(t, "create the notice",
		chromedp.SetValue(chromedp.CSS("#document"), notice),
		chromedp.Submit(chromedp.CSS("#document")),
		chromedp.WaitVisible(chromedp.CSS(`[data-phone="en"]`)))
	if got := b.text(t, `[data-phone="en"] .phone-body strong`); got != "Sign in again." {
		t.Errorf("the phone preview's body shows %q in bold, want the Markdown rendered", got)
	}
	if got := b.text(t, `[data-phone="en"] .phone-title`); got != "Sign in again "+xss {
		t.Errorf("the phone preview's title is %q, want the hostile title as text", got)
	}
	b.do(t, "open the German preview", chromedp.Click(chromedp.Search(`//summary[text()="de"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-phone="de"] .phone-title`)))
	if got := b.text(t, `[data-phone="de"] .phone-title`); got != "Bitte neu anmelden" {
		t.Errorf("the German preview's title %q", got)
	}
	if got := b.text(t, `[data-figure="targeted"]`); !strings.HasPrefix(got, fmt.Sprintf("%d users", users)) {
		t.Errorf("the notice targets %q, want %d users", got, users)
	}
	b.shot(t, "notice-preview")
	b.axe(t, "notice preview")
	noticeURL := brun(t, b, "notice url", chromedp.Location())
	noticeID := noticeURL[strings.LastIndex(noticeURL, "/")+1:]
	b.do(t, "publish the notice",
		chromedp.SetValue(chromedp.CSS("#confirm"), noticeID),
		chromedp.Submit(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS(`.badge.published`)))
	b.do(t, "notice list", chromedp.Navigate(base+"/console/notices"), chromedp.WaitVisible(chromedp.CSS(`.badge.published`)))
	b.shot(t, "notices")
	b.axe(t, "notices")
	b.do(t, "public page", chromedp.Navigate(base+"/console/incidents/"+incID+"/page"), chromedp.WaitVisible(chromedp.CSS("#slug")),
		chromedp.SendKeys(chromedp.CSS("#slug"), "token-leak"),
		chromedp.SendKeys(chromedp.CSS("#st-title"), "What happened"),
		chromedp.SetValue(chromedp.CSS("#st-body"), "A support tool's token leaked. We **signed everyone out**."),
		chromedp.Submit(chromedp.CSS("#st-body")),
		chromedp.WaitVisible(chromedp.CSS(`[data-figure="status-link"]`)))
	b.shot(t, "public-page")
	b.axe(t, "public page")
	b.do(t, "as users see it", chromedp.Click(chromedp.CSS(`[data-figure="status-link"]`)), chromedp.WaitVisible(chromedp.Search(`//*[contains(., "signed everyone out")]`)))
	// An alert whose evidence an attacker wrote (the usernames tried, the
	// accounts reached), acknowledged nowhere yet: on the Alerts page and
	// in the incident room, opened as an incident from the room.
	al := &cordon.Alert{Kind: "credential_stuffing", Key: "browser", Summary: "stuffing " + xss,
		Evidence: cordon.AlertEvidence{Attempts: 120, Failures: 118, Accounts: 60, Addresses: 4, TopAddresses: []string{"192.0.2.9"}, Reached: []string{xss}, ReachedTotal: 1}}
	if _, err := m.Alerts.Raise(context.Background(), al); err != nil {
		t.Fatal(err)
	}
	b.do(t, "alerts", chromedp.Navigate(base+"/console/alerts"), chromedp.WaitVisible(chromedp.CSS(`.alert-item`)))
	b.shot(t, "alerts")
	b.axe(t, "alerts")
	b.do(t, "alert in the room", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`#alerts-h`)))
	b.axe(t, "incident room with an alert")
	b.do(t, "open the alert as an incident", chromedp.Click(chromedp.CSS(`form[action="/console/alerts/`+al.ID+`/escalate"] button`)))
	// The room comes back without the alert's form once it is an incident.
	deadline = time.Now().Add(10 * time.Second)
	for {
		got, err := m.Alerts.Get(context.Background(), al.ID)
		gone := brun(t, b, "the alert's form", chromedp.Evaluate[bool](`document.readyState === "complete" && !document.querySelector('form[action="/console/alerts/`+al.ID+`/escalate"]')`))
		if err == nil && got.Incident != "" && gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the alert after \"Open as incident\": %+v %v (form gone: %v)", got, err, gone)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.shot(t, "incident-room-escalated")

	// Hostile names stayed text: no dialog opened, no foreign image
	// loaded, and the pages ran no script but the console's own.
	u, _ := url.Parse(base)
	b.mu.Lock()
	for _, r := range b.requests {
		ru, err := url.Parse(r)
		if err != nil || (ru.Scheme != "data" && ru.Host != u.Host) {
			t.Errorf("a page loaded %s, from outside the server", r)
		}
	}
	if len(b.dialogs) > 0 {
		t.Errorf("a payload ran: dialogs %q", b.dialogs)
	}
	for _, c := range b.console {
		if strings.Contains(c, "Content Security Policy") {
			t.Errorf("a CSP violation: %s", c)
		}
	}
	b.mu.Unlock()

	// A page on another site posts a form to the console, in the same
	// browser that holds the session: refused, nothing made.
	before := len(campaignList(t, m))
	evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>evil</title><form id=f method=post action="%s/console/campaigns"><input name=document value="kind: reauth&#10;name: forged&#10;"></form><p id=ready>x</p>`, base)
	}))
	ln, err := net.Listen("tcp", "localhost:0") // localhost is another site than 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	evil.Listener = ln
	evil.Start()
	defer evil.Close()
	evilURL := "http://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	b.do(t, "cross-site post", chromedp.Navigate(evilURL), chromedp.WaitVisible(chromedp.CSS("#ready")),
		chromedp.Submit(chromedp.CSS("#f")), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	status := b.text(t, "h1")
	if got := len(campaignList(t, m)); got != before {
		t.Errorf("a form from another site made a campaign: %d campaigns, want %d", got, before)
	}
	if status == "Campaigns" || status == "" {
		t.Errorf("the cross-site post answered %q, want a refusal or the sign-in page", status)
	}
}

func campaignList(t *testing.T, m *Main) []any {
	t.Helper()
	code, _, out := call(t, "GET", m.URL()+"/admin/v1/campaigns", admin(), "")
	if code != http.StatusOK {
		t.Fatalf("campaigns: %d %v", code, out)
	}
	list, _ := out["campaigns"].([]any)
	return list
}

package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/outbox"
)

const noticeDoc = `default_language: en
cohort: {platforms: [ios]}
texts:
  en:
    title: Sign in again
    body: A token leaked on **14 March**.
  de:
    title: Bitte neu anmelden
    body: Ein Schlüssel wurde am **14. März** bekannt.
`

// newNotice makes a draft from the console and returns its id.
func newNotice(t *testing.T, c *client, doc string, extra url.Values) string {
	t.Helper()
	form := url.Values{"document": {doc}}
	for k, v := range extra {
		form[k] = v
	}
	resp, body := c.do(t, "POST", "/console/notices", form, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/notices/n-") {
		t.Fatalf("create notice: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return strings.TrimPrefix(resp.Header.Get("Location"), "/console/notices/")
}

func noticeCount(t *testing.T, e *env) int {
	t.Helper()
	list, err := e.notes.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestNoticeErrorAtField: a refused document comes back as pasted, with
// the problem at the field it names, and nothing is stored.
func TestNoticeErrorAtField(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	for _, tc := range []struct{ doc, field string }{
		{strings.Replace(noticeDoc, "title: Bitte neu anmelden", "title: ''", 1), "texts.de.title"},
		{strings.Replace(noticeDoc, "  de:", "  DE:", 1), "texts.DE"},
		{strings.Replace(noticeDoc, "default_language: en", "default_language: fr", 1), "default_language"},
		{noticeDoc + "colour: red\n", "colour"},
		{strings.Replace(noticeDoc, "[ios]", "[beos]", 1), "cohort.platforms"},
	} {
		resp, body := c.do(t, "POST", "/console/notices", url.Values{"document": {tc.doc}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 422 or 400\n%s", tc.field, resp.StatusCode, body)
			continue
		}
		for _, want := range []string{`id="doc-problem" role="alert"><strong>` + tc.field, `aria-invalid="true" aria-describedby="doc-problem"`, "A token leaked on **14 March**."} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the refused form lacks %q", tc.field, want)
			}
		}
	}
	if n := noticeCount(t, e); n != 0 {
		t.Fatalf("refused documents made %d notices", n)
	}
	// A preview checks and shows, and stores nothing.
	resp, body := c.do(t, "POST", "/console/notices", url.Values{"document": {noticeDoc}, "preview": {"1"}}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("preview: %d", resp.StatusCode)
	}
	for _, want := range []string{`data-phone="en"`, `data-phone="de"`, "<strong>14 March</strong>", "<strong>14. März</strong>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview lacks %q", want)
		}
	}
	if n := noticeCount(t, e); n != 0 {
		t.Fatalf("a preview made %d notices", n)
	}
}

// TestNoticeLifecycle: a draft linked to its incident, shown as phones
// show it in each language, published only when its id is typed, then
// withdrawn; each act in the audit log under the person's name.
func TestNoticeLifecycle(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	c.do(t, "POST", "/console/incidents", url.Values{"title": {"leak"}, "severity": {"high"}}, nil)
	incs, _ := e.inc.List(t.Context())
	incID := incs[0].ID
	id := newNotice(t, c, noticeDoc, url.Values{"incident": {incID}})
	v, err := e.inc.Get(t.Context(), incID)
	if err != nil || len(v.Links) != 1 || v.Links[0].Kind != cordon.LinkNotice || v.Links[0].ID != id {
		t.Fatalf("the incident's links: %+v %v", v.Links, err)
	}
	_, page := c.do(t, "GET", "/console/notices/"+id, nil, nil)
	for _, want := range []string{`<details class="lang" open>`, `data-phone="en"`, `data-phone="de"`, `lang="de"`, "<strong>14. März</strong>",
		`action="/console/notices/` + id + `/publish"`, `action="/console/notices/` + id + `/withdraw"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the draft's page lacks %q", want)
		}
	}
	state := func() cordon.NoticeState {
		n, err := e.notes.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return n.State
	}
	for _, confirm := range []string{"", "yes", id + " "} {
		if resp, body := c.do(t, "POST", "/console/notices/"+id+"/publish", url.Values{"confirm": {confirm}}, nil); resp.StatusCode != 422 || !strings.Contains(body, "Type the notice&#39;s id") {
			t.Errorf("publish confirmed by %q: %d, want 422", confirm, resp.StatusCode)
		}
	}
	if s := state(); s != cordon.NoticeDraft {
		t.Fatalf("an unconfirmed publication left the notice %s", s)
	}
	if resp, _ := c.do(t, "POST", "/console/notices/"+id+"/publish", url.Values{"confirm": {id}}, nil); resp.StatusCode != 303 || state() != cordon.NoticePublished {
		t.Fatalf("publish: %d, %s", resp.StatusCode, state())
	}
	_, list := c.do(t, "GET", "/console/notices", nil, nil)
	for _, want := range []string{`href="/console/notices/` + id + `">Sign in again</a>`, `<span class="badge published">`, "<code>" + incID + "</code>", "0 of 0 users"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	// The incident room lists the notice linked to it.
	if _, room := c.do(t, "GET", "/console/", nil, nil); !strings.Contains(room, `<a href="/console/notices/`+id+`">Sign in again</a> <span class="badge published">`) ||
		!strings.Contains(room, "acknowledged by 0 user(s)") {
		t.Errorf("the incident room does not list the linked notice:\n%s", room)
	}
	if resp, body := c.do(t, "POST", "/console/notices/"+id+"/publish", url.Values{"confirm": {id}}, nil); resp.StatusCode != 409 || !strings.Contains(body, "cannot become published") {
		t.Errorf("publishing twice: %d, want 409", resp.StatusCode)
	}
	if resp, _ := c.do(t, "POST", "/console/notices/"+id+"/withdraw", url.Values{}, nil); resp.StatusCode != 303 || state() != cordon.NoticeWithdrawn {
		t.Fatalf("withdraw: %d, %s", resp.StatusCode, state())
	}
	if resp, _ := c.do(t, "POST", "/console/notices/"+id+"/explode", url.Values{}, nil); resp.StatusCode != 404 {
		t.Errorf("an unknown action: %d, want 404", resp.StatusCode)
	}
	if resp, _ := c.do(t, "GET", "/console/notices/n-nope", nil, nil); resp.StatusCode != 404 {
		t.Errorf("an unknown notice: %d, want 404", resp.StatusCode)
	}
	for _, what := range []string{"notice draft created", `notice draft -\u003e published`, `notice published -\u003e withdrawn`, "linked notice " + id} {
		if !auditHas(t, e, "cordon:console/bo", what) {
			t.Errorf("the audit log holds no %q by cordon:console/bo", what)
		}
	}
}

// TestPublicPage: a statement with a bad slug is refused at the slug; a
// good one creates the page, linked as users see it.
func TestPublicPage(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "bo")
	c.do(t, "POST", "/console/incidents", url.Values{"title": {"leak"}, "severity": {"high"}}, nil)
	incs, _ := e.inc.List(t.Context())
	path := "/console/incidents/" + incs[0].ID + "/page"
	_, room := c.do(t, "GET", "/console/", nil, nil)
	if !strings.Contains(room, `href="`+path+`"`) {
		t.Error("the incident room does not link the public page")
	}
	stmt := url.Values{"slug": {"May 2026"}, "language": {"en"}, "title": {"What happened"}, "body": {"We **rotated** every token."}}
	resp, body := c.do(t, "POST", path, stmt, nil)
	if resp.StatusCode != 422 || !strings.Contains(body, `id="slug-problem" role="alert"`) || !strings.Contains(body, `value="May 2026" aria-invalid="true"`) {
		t.Fatalf("a bad slug: %d, want 422 at the slug\n%s", resp.StatusCode, body)
	}
	stmt.Set("slug", "may-2026")
	stmt.Set("title", "")
	if resp, body := c.do(t, "POST", path, stmt, nil); resp.StatusCode != 422 || !strings.Contains(body, `id="title-problem"`) {
		t.Errorf("no title: %d, want 422 at the title", resp.StatusCode)
	}
	stmt.Set("title", "What happened")
	if resp, body := c.do(t, "POST", path, stmt, nil); resp.StatusCode != 303 {
		t.Fatalf("publish: %d\n%s", resp.StatusCode, body)
	}
	_, body = c.do(t, "GET", path, nil, nil)
	for _, want := range []string{`<a href="/status/may-2026" data-figure="status-link">`, "<strong>rotated</strong>", `value="may-2026" readonly`, "cordon:console/bo"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if !auditHas(t, e, "cordon:console/bo", "published at /status/may-2026") {
		t.Error("the statement is not in the audit log under bo")
	}
	if resp, _ := c.do(t, "GET", "/console/incidents/i-nope/page", nil, nil); resp.StatusCode != 404 {
		t.Errorf("an unknown incident's page: %d, want 404", resp.StatusCode)
	}
}

// TestNoticeXSSInert: markup in a notice's title and body (a team
// member's mistake or a stolen account's) and in an alert's evidence
// (usernames and addresses an attacker chose) is shown as text or
// removed, never run.
func TestNoticeXSSInert(t *testing.T) {
	e := newEnv(t, false)
	c := e.signIn(t, "ada")
	const payload = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	doc := "default_language: en\ncohort: {platforms: [ios]}\ntexts:\n  en:\n    title: 'hi " + payload + "'\n    body: |\n      " + payload +
		"\n      [click](javascript:alert(3)) <a href=\"javascript:alert(4)\">x</a>\n"
	id := newNotice(t, c, doc, nil)
	c.do(t, "POST", "/console/incidents", url.Values{"title": {"leak"}, "severity": {"high"}}, nil)
	incs, _ := e.inc.List(t.Context())
	page := "/console/incidents/" + incs[0].ID + "/page"
	if resp, body := c.do(t, "POST", page, url.Values{"slug": {"x"}, "language": {"en"}, "title": {payload}, "body": {payload}}, nil); resp.StatusCode != 303 {
		t.Fatalf("statement: %d\n%s", resp.StatusCode, body)
	}
	if _, err := e.alerts.Raise(t.Context(), &cordon.Alert{Kind: "credential_stuffing", Key: payload, Summary: "stuffing " + payload,
		Evidence: cordon.AlertEvidence{Attempts: 9, Failures: 8, Accounts: 3, Addresses: 2, TopAddresses: []string{payload}, Reached: []string{payload}, ReachedTotal: 1,
			Principal: payload + "&x=1", Subjects: []string{payload}}}); err != nil {
		t.Fatal(err)
	}
	// The principal goes into a link's query escaped: it cannot add a
	// parameter.
	_, alerts := c.do(t, "GET", "/console/alerts", nil, nil)
	if !strings.Contains(alerts, `href="/console/blast?principals=%3cscript%3ealert%281%29%3c%2fscript%3e%3cimg%20src%3dx%20onerror%3dalert%282%29%3e%26x%3d1&amp;from=`) {
		t.Errorf("the blast-radius link does not carry the principal escaped:\n%s", alerts)
	}
	previewForm := url.Values{"document": {doc}, "preview": {"1"}}
	for _, p := range []string{"/console/notices", "/console/notices/" + id, page, "/console/", "/console/alerts", "preview"} {
		var resp *http.Response
		var body string
		if p == "preview" {
			resp, body = c.do(t, "POST", "/console/notices", previewForm, nil)
		} else {
			resp, body = c.do(t, "GET", p, nil, nil)
		}
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript`, "onerror=alert(2)>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s renders %q", p, bad)
			}
		}
		if p != "/console/notices" && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not show the payload as text", p)
		}
	}
}

// TestAlertsInRoom: an open alert is in the incident room and on the
// Alerts page; acknowledged and opened as an incident from them, under
// the person's name.
func TestAlertsInRoom(t *testing.T) {
	e := newEnv(t, false)
	raise := func(key string, reached ...string) *cordon.Alert {
		a := &cordon.Alert{Kind: "brute_force", Key: key, Summary: "brute force on " + key,
			Evidence: cordon.AlertEvidence{Attempts: 40, Failures: 39, Accounts: 1, Addresses: 3, TopAddresses: []string{"192.0.2.7"}, Reached: reached, ReachedTotal: len(reached)}}
		if _, err := e.alerts.Raise(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	one, two := raise("alice"), raise("bob", "bob")
	c := e.signIn(t, "bo")
	_, room := c.do(t, "GET", "/console/", nil, nil)
	for _, want := range []string{"Open alerts", "brute force on alice", "brute force on bob", `action="/console/alerts/` + one.ID + `/ack"`,
		`action="/console/alerts/` + two.ID + `/escalate"`, "40 (39 failed) on 1 accounts from 3 addresses", "<code>192.0.2.7</code>", `name="from" value="room"`} {
		if !strings.Contains(room, want) {
			t.Errorf("the incident room lacks %q", want)
		}
	}
	resp, _ := c.do(t, "POST", "/console/alerts/"+one.ID+"/ack", url.Values{"from": {"room"}}, nil)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("ack: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if a, _ := e.alerts.Get(t.Context(), one.ID); a.State != cordon.AlertAcknowledged || a.AcknowledgedBy != "cordon:console/bo" {
		t.Errorf("after the ack: %s by %q", a.State, a.AcknowledgedBy)
	}
	if resp, body := c.do(t, "POST", "/console/alerts/"+one.ID+"/ack", url.Values{}, nil); resp.StatusCode != 409 || !strings.Contains(body, "acknowledged already") {
		t.Errorf("a second ack: %d, want 409", resp.StatusCode)
	}
	if resp, _ := c.do(t, "POST", "/console/alerts/"+two.ID+"/escalate", url.Values{"severity": {"apocalyptic"}}, nil); resp.StatusCode != 422 {
		t.Errorf("a bad severity: %d, want 422", resp.StatusCode)
	}
	if resp, _ := c.do(t, "POST", "/console/alerts/"+two.ID+"/escalate", url.Values{"severity": {"critical"}}, nil); resp.StatusCode != 303 {
		t.Fatalf("escalate: %d", resp.StatusCode)
	}
	a, _ := e.alerts.Get(t.Context(), two.ID)
	inc, err := e.inc.Get(t.Context(), a.Incident)
	if err != nil || inc.Severity != "critical" || !strings.Contains(inc.Title, "brute force on bob") {
		t.Fatalf("the incident opened: %+v %v", inc, err)
	}
	if resp, _ := c.do(t, "POST", "/console/alerts/"+two.ID+"/escalate", url.Values{}, nil); resp.StatusCode != 409 {
		t.Errorf("escalating twice: %d, want 409", resp.StatusCode)
	}
	if _, room := c.do(t, "GET", "/console/", nil, nil); strings.Contains(room, `action="/console/alerts/`+two.ID+`/ack"`) {
		t.Error("the room still lists an alert opened as an incident")
	}
	_, alerts := c.do(t, "GET", "/console/alerts", nil, nil)
	if !strings.Contains(alerts, "by cordon:console/bo") || !strings.Contains(alerts, "<code>"+inc.ID+"</code>") {
		t.Error("the Alerts page does not show who acknowledged and the incident opened")
	}
	for _, what := range []string{"alert acknowledged", "alert opened as incident " + inc.ID} {
		if !auditHas(t, e, "cordon:console/bo", what) {
			t.Errorf("the audit log holds no %q by cordon:console/bo", what)
		}
	}
	if resp, _ := c.do(t, "POST", "/console/alerts/al-nope/ack", url.Values{}, nil); resp.StatusCode != 404 {
		t.Errorf("an unknown alert: %d, want 404", resp.StatusCode)
	}
}

// TestNoticeRolesAndCSRF: an auditor can neither see nor change notices,
// alerts or public pages; a form posted from another site changes
// nothing on any of the new forms.
func TestNoticeRolesAndCSRF(t *testing.T) {
	e := newEnv(t, false)
	bo := e.signIn(t, "bo")
	bo.do(t, "POST", "/console/incidents", url.Values{"title": {"leak"}, "severity": {"high"}}, nil)
	incs, _ := e.inc.List(t.Context())
	incID := incs[0].ID
	id := newNotice(t, bo, noticeDoc, nil)
	a := &cordon.Alert{Kind: "brute_force", Key: "alice", Summary: "brute force"}
	if _, err := e.alerts.Raise(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	_, room := bo.do(t, "GET", "/console/", nil, nil)
	if !strings.Contains(room, `href="/console/notices"`) || !strings.Contains(room, `href="/console/alerts"`) {
		t.Error("a responder's navigation lacks Notices or Alerts")
	}
	posts := []struct {
		path string
		form url.Values
	}{
		{"/console/notices", url.Values{"document": {noticeDoc}}},
		{"/console/notices/" + id + "/publish", url.Values{"confirm": {id}}},
		{"/console/notices/" + id + "/withdraw", url.Values{}},
		{"/console/incidents/" + incID + "/page", url.Values{"slug": {"leak"}, "language": {"en"}, "title": {"t"}, "body": {"b"}}},
		{"/console/alerts/" + a.ID + "/ack", url.Values{}},
		{"/console/alerts/" + a.ID + "/escalate", url.Values{}},
	}
	unchanged := func(who string) {
		t.Helper()
		if n := noticeCount(t, e); n != 1 {
			t.Errorf("%s: %d notices, want 1", who, n)
		}
		if n, _ := e.notes.Get(t.Context(), id); n.State != cordon.NoticeDraft {
			t.Errorf("%s: the notice is %s", who, n.State)
		}
		if _, err := e.notes.PageOf(t.Context(), incID); cordon.ErrorCode(err) != cordon.ECodeNotFound {
			t.Errorf("%s: a public page was published (%v)", who, err)
		}
		if got, _ := e.alerts.Get(t.Context(), a.ID); got.State != cordon.AlertOpen || got.Incident != "" {
			t.Errorf("%s: the alert is %s, incident %q", who, got.State, got.Incident)
		}
	}
	cy := e.signIn(t, "cy") // auditor
	for _, p := range []string{"/console/notices", "/console/notices/" + id, "/console/alerts", "/console/incidents/" + incID + "/page"} {
		if resp, _ := cy.do(t, "GET", p, nil, nil); resp.StatusCode != 403 {
			t.Errorf("auditor GET %s: %d, want 403", p, resp.StatusCode)
		}
	}
	_, audit := cy.do(t, "GET", "/console/audit", nil, nil)
	if strings.Contains(audit, `href="/console/notices"`) || strings.Contains(audit, `href="/console/alerts"`) {
		t.Error("an auditor's navigation offers Notices or Alerts")
	}
	for _, p := range posts {
		if resp, _ := cy.do(t, "POST", p.path, p.form, nil); resp.StatusCode != 403 {
			t.Errorf("auditor POST %s: %d, want 403", p.path, resp.StatusCode)
		}
	}
	unchanged("the auditor")
	for _, p := range posts {
		if resp, _ := bo.do(t, "POST", p.path, p.form, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); resp.StatusCode != 403 {
			t.Errorf("cross-site POST %s: %d, want 403", p.path, resp.StatusCode)
		}
	}
	unchanged("cross-site forms")
	// An incidents link needs the incident to exist.
	if resp, body := bo.do(t, "POST", "/console/notices", url.Values{"document": {noticeDoc}, "incident": {"i-nope"}}, nil); resp.StatusCode != 422 || !strings.Contains(body, "<strong>incident</strong>") {
		t.Errorf("a notice for an unknown incident: %d, want 422 at the incident", resp.StatusCode)
	}
}

// TestNoticeListCounts: the list shows a published email notice's
// messages in the outbox and its acknowledgements, as the apps and the
// outbox report them.
func TestNoticeListCounts(t *testing.T) {
	e := newEnv(t, false)
	o, err := outbox.New(outbox.Config{Store: e.store, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	e.notes.SetMail(o, e.store)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go e.notes.RunMail(ctx, 5*time.Millisecond)
	var sess *cordon.Session
	for i, name := range []string{"amy", "ben"} {
		acct := &cordon.Account{ID: cordon.NewID("u"), Username: name, PasswordHash: "x", CreatedAt: t0, PasswordChangedAt: t0}
		if err := e.store.CreateAccount(t.Context(), acct); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := e.store.SetAccountEmail(t.Context(), acct.ID, "amy@example.org"); err != nil {
				t.Fatal(err)
			}
		}
		sess = &cordon.Session{ID: cordon.NewID("s"), AccountID: acct.ID, Facts: cordon.ClientFacts{Platform: "ios", Version: "8.4.0", Source: "appstore"}, AuthTime: t0, CreatedAt: t0, LastSeenAt: t0}
		rt := &cordon.RefreshToken{Hash: []byte(sess.ID), SessionID: sess.ID, CreatedAt: t0, IdleExpiresAt: t0.Add(240 * time.Hour), AbsoluteExpiresAt: t0.Add(480 * time.Hour)}
		if err := e.store.CreateSession(t.Context(), sess, rt); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signIn(t, "bo")
	id := newNotice(t, c, "email: true\n"+noticeDoc, nil)
	_, page := c.do(t, "GET", "/console/notices/"+id, nil, nil)
	if !strings.Contains(page, `data-figure="targeted">2 users`) || !strings.Contains(page, "and emails every one with an address") {
		t.Errorf("the draft's page does not say whom it reaches:\n%s", page)
	}
	if resp, _ := c.do(t, "POST", "/console/notices/"+id+"/publish", url.Values{"confirm": {id}}, nil); resp.StatusCode != 303 {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
	if _, err := e.notes.Ack(t.Context(), sess, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, list := c.do(t, "GET", "/console/notices", nil, nil)
		if strings.Contains(list, "0 sent, 1 queued, 0 failed") && strings.Contains(list, "1 of 1 users") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the list never showed one queued email and one acknowledgement:\n%s", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

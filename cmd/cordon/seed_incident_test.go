package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/mail/mailtest"
)

// TestSeedIncidentEndToEnd plays the incident this product comes from
// through the API: a support tool's account reads one user's password
// hash; the access rules raise an alert; it is opened as an incident; the
// blast-radius report shows one user and is linked; a re-login campaign
// over the report's users and a notice in two languages (in the app and
// by email) are linked and published; the user's app is refused with the
// notice's title in its language, reads and acknowledges the notice; the
// email reaches the SMTP relay once, and nobody else gets one; the public
// page is published and updated; the timeline and the regulator summary
// hold every step and the one person concerned.
func TestSeedIncidentEndToEnd(t *testing.T) {
	relay := mailtest.Start(t)
	m := apiServer(t, withRelay(relay))
	u := m.URL()
	for _, a := range []struct{ name, email string }{{"alice", "alice@example.org"}, {"bob", "bob@example.org"}} {
		if r := send(t, "POST", u+"/admin/v1/accounts", admin(), createBody(a.name, "a long enough password", a.email)); r.status != http.StatusCreated {
			t.Fatalf("create %s: %v", a.name, r)
		}
	}
	alice := accessToken(t, mustLogin(t, m, "alice", "a long enough password", iosApp))
	bob := accessToken(t, mustLogin(t, m, "bob", "a long enough password", androidApp))
	app := func(token, client string, kv ...string) map[string]string {
		return hdr(append([]string{"Authorization", "Bearer " + token, "Cordon-Client", client}, kv...)...)
	}

	// The breach: svc-support reads alice's profile and password hash;
	// billing reads bob's email as it always does.
	if r := ingest(t, m, "application/x-ndjson", strings.Join([]string{
		evJSON(0, "svc-support", "alice", "profile", "email"),
		evJSON(1, "svc-support", "alice", "password_hash"),
		evJSON(2, "svc-billing", "bob", "email"),
	}, "\n")); r.status >= 300 {
		t.Fatalf("ingest: %v", r)
	}

	// Detection: one alert, opened as an incident.
	if _, err := m.Access.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, m, "")
	if len(got) != 1 || got[0]["kind"] != "access_categories" || evidence(got[0])["principal"] != "svc-support" {
		t.Fatalf("alerts = %v, want one access_categories alert on svc-support", got)
	}
	alertID := got[0]["id"].(string)
	r := send(t, "POST", u+"/admin/v1/alerts/"+alertID+"/escalate", admin(), []byte(`{"severity":"high"}`))
	if r.status != http.StatusCreated {
		t.Fatalf("escalate: %v", r)
	}
	inc := r.body["incident"].(map[string]any)["id"].(string)

	// The blast radius: one user, saved and linked.
	r = send(t, "POST", u+"/admin/v1/audit/reports", admin(), []byte(fmt.Sprintf(`{"principals":["svc-support"],"from":%q,"to":%q}`,
		auditNow.Add(-24*time.Hour).Format(time.RFC3339), auditNow.Format(time.RFC3339))))
	if r.status != http.StatusCreated {
		t.Fatalf("save report: %v", r)
	}
	report := r.body["report"].(map[string]any)["id"].(string)
	if r := send(t, "GET", u+"/admin/v1/audit/reports/"+report, admin(), nil); len(r.body["saved_users"].([]any)) != 1 {
		t.Fatalf("the report's users: %v, want alice alone", r)
	}
	if r := send(t, "POST", u+"/admin/v1/incidents/"+inc+"/links", admin(), []byte(`{"kind":"report","id":"`+report+`"}`)); r.status >= 300 {
		t.Fatalf("link report: %v", r)
	}

	// The measures: a re-login for the report's users, and the notice that
	// explains it, in English and German, in the app and by email.
	r = send(t, "POST", u+"/admin/v1/campaigns?incident="+inc, admin(), []byte(`{"kind":"reauth","name":"support tool read","cohort":{"users_from_report":"`+report+`"}}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create campaign: %v", r)
	}
	camp := r.body["id"].(string)
	if r := send(t, "POST", u+"/admin/v1/campaigns/"+camp+"/activate", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("activate: %v", r)
	}
	doc := `campaign: ` + camp + `
cohort: {users_from_report: ` + report + `}
default_language: en
email: true
texts:
  en: {title: "We signed you out to protect your account", body: "A support tool read your account details. Please log in again."}
  de: {title: "Wir haben Sie zu Ihrem Schutz abgemeldet", body: "Ein Support-Werkzeug hat Ihre Kontodaten gelesen. Bitte melden Sie sich neu an."}
`
	r = send(t, "POST", u+"/admin/v1/notices?incident="+inc, hdr("Authorization", "Bearer "+testAdminToken, "Content-Type", "application/yaml"), []byte(doc))
	if r.status != http.StatusCreated || r.body["email"] != true {
		t.Fatalf("create notice: %v", r)
	}
	notice := r.body["id"].(string)
	if r := send(t, "POST", u+"/admin/v1/notices/"+notice+"/publish", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("publish: %v", r)
	}

	// Alice's app is refused and told why, in German; it reads the
	// notice and acknowledges it. Bob's app sees nothing.
	r = send(t, "GET", u+"/v1/session", app(alice, iosApp, "Accept-Language", "de"), nil)
	if r.status != http.StatusUnauthorized || r.body["error"] != "reauth_required" || !strings.Contains(r.header.Get("Cordon-Notice"), `lang="de"`) {
		t.Fatalf("alice's denial: %v, Cordon-Notice %q", r, r.header.Get("Cordon-Notice"))
	}
	r = send(t, "GET", u+"/v1/notices", app(alice, iosApp, "Accept-Language", "de-AT"), nil)
	if ns, _ := r.body["notices"].([]any); len(ns) != 1 || ns[0].(map[string]any)["title"] != "Wir haben Sie zu Ihrem Schutz abgemeldet" {
		t.Fatalf("alice's notices: %v", r)
	}
	if r := send(t, "POST", u+"/v1/notices/"+notice+"/ack", app(alice, iosApp), nil); r.status != http.StatusOK || r.body["first"] != true {
		t.Fatalf("ack: %v", r)
	}
	if r := send(t, "GET", u+"/v1/notices", app(bob, androidApp), nil); len(r.body["notices"].([]any)) != 0 {
		t.Errorf("bob's notices: %v, want none", r)
	}
	if r := send(t, "GET", u+"/v1/session", app(bob, androidApp), nil); r.status != http.StatusOK {
		t.Errorf("bob's session: %v, want 200", r)
	}

	// The email: alice's address once, bob none; the notice counts it.
	var view apiResp
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		view = send(t, "GET", u+"/admin/v1/notices/"+notice, admin(), nil)
		if mc, _ := view.body["mail"].(map[string]any); mc["sent"] == float64(1) {
			break
		}
	}
	msgs := relay.Messages()
	if len(msgs) != 1 || msgs[0].To != "alice@example.org" || !strings.Contains(string(msgs[0].Data), "Subject: We signed you out to protect your account") ||
		!strings.Contains(string(msgs[0].Data), "A support tool read your account details.") {
		t.Fatalf("the relay got %d messages: %+v", len(msgs), msgs)
	}
	if mc, _ := view.body["mail"].(map[string]any); mc["sent"] != float64(1) || mc["queued"] != float64(0) || mc["failed"] != float64(0) {
		t.Errorf("the notice's mail counts: %v, want 1 sent", view.body["mail"])
	}
	if pr, _ := view.body["progress"].(map[string]any); pr["acknowledged_users"] != float64(1) {
		t.Errorf("the notice's progress: %v, want 1 acknowledged", view.body["progress"])
	}
	// A second sweep (a restart, another node) sends nothing again.
	if err := m.Notices.SweepMail(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(relay.Messages()); n != 1 {
		t.Errorf("after a second sweep the relay has %d messages, want 1", n)
	}

	// The public page, published then updated; the feed and JSON too.
	for i, s := range []string{
		`{"slug":"support-tool","default_language":"en","texts":{"en":{"title":"A support tool read account data","body":"We are investigating."}}}`,
		`{"default_language":"en","texts":{"en":{"title":"Contained","body":"The affected user was **signed out** and told."}}}`,
	} {
		if r := send(t, "POST", u+"/admin/v1/incidents/"+inc+"/page", admin(), []byte(s)); r.status != http.StatusCreated {
			t.Fatalf("page statement %d: %v", i, r)
		}
	}
	page := send(t, "GET", u+"/status/support-tool", nil, nil)
	if page.status != http.StatusOK || !strings.Contains(string(page.raw), "A support tool read account data") || !strings.Contains(string(page.raw), "<strong>signed out</strong>") {
		t.Errorf("the public page: %d %s", page.status, page.raw)
	}
	for _, ext := range []string{".atom", ".json"} {
		if r := send(t, "GET", u+"/status/support-tool"+ext, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.raw), "Contained") {
			t.Errorf("the public page as %s: %d %s", ext, r.status, r.raw)
		}
	}

	// The timeline holds every step; the summary the one person.
	tl := send(t, "GET", u+"/admin/v1/incidents/"+inc+"/timeline?format=md", admin(), nil)
	for _, s := range []string{"alert " + alertID, "report " + report, "campaign " + camp, "notice " + notice, `notice draft -\> published`, "published at /status/support-tool: Contained"} {
		if !strings.Contains(string(tl.raw), s) {
			t.Errorf("the timeline lacks %q:\n%s", s, tl.raw)
		}
	}
	if r := send(t, "GET", u+"/admin/v1/incidents/"+inc+"/timeline", admin(), nil); r.status != http.StatusOK || len(r.body["entries"].([]any)) < 8 {
		t.Errorf("the timeline as JSON: %v", r)
	}
	sum := send(t, "GET", u+"/admin/v1/incidents/"+inc+"/summary", admin(), nil)
	var people struct {
		Known bool `json:"known"`
		Count *int `json:"count"`
	}
	b, _ := json.Marshal(sum.body["people"])
	if err := json.Unmarshal(b, &people); err != nil || !people.Known || people.Count == nil || *people.Count != 1 {
		t.Errorf("the summary's people concerned: %s, want 1", b)
	}
}

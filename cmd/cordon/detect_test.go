package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/detect"
)

// alerts lists the server's alerts after the watcher has caught up.
func alerts(t *testing.T, m *Main, query string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Watcher.Sync(ctx); err != nil {
		t.Fatalf("sync the login watcher: %v", err)
	}
	r := send(t, "GET", m.URL()+"/admin/v1/alerts"+query, admin(), nil)
	if r.status != http.StatusOK {
		t.Fatalf("list alerts: %v", r)
	}
	var out []map[string]any
	for _, a := range r.body["alerts"].([]any) {
		out = append(out, a.(map[string]any))
	}
	return out
}

func evidence(a map[string]any) map[string]any { return a["evidence"].(map[string]any) }

// TestLoginBruteForceRaisesOneAlert: 40 wrong passwords on one account
// through the HTTP API raise exactly one brute_force alert, whatever
// X-Forwarded-For each request claims (no proxy is trusted: the address
// is the TCP peer's); the throttle's refusals count as the guesses they
// are. Benign traffic before it (200 users logging in, one mistyping
// twice) raises nothing.
func TestLoginBruteForceRaisesOneAlert(t *testing.T) {
	m := apiServer(t, withClock(clock.NewFake(fakeNow)))
	for i := range 200 {
		addUser(t, m, fmt.Sprintf("fan-%03d", i), "the fans' own password")
	}
	addUser(t, m, "victim", "the victim's password")
	for i := range 200 {
		if r := loginAs(t, m, fmt.Sprintf("fan-%03d", i), "the fans' own password", nil); r.status != 200 {
			t.Fatalf("benign login: %v", r)
		}
	}
	for range 2 {
		loginAs(t, m, "fan-007", "the fans own password", nil)
	}
	if r := loginAs(t, m, "fan-007", "the fans' own password", nil); r.status != 200 {
		t.Fatalf("the mistyper's third try: %v", r)
	}
	if got := alerts(t, m, ""); len(got) != 0 {
		t.Fatalf("benign traffic raised %d alerts: %v", len(got), got)
	}

	for i := range 40 {
		loginAs(t, m, "victim", fmt.Sprintf("guess %d", i), map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)})
	}
	got := alerts(t, m, "")
	if len(got) != 1 {
		t.Fatalf("brute force raised %d alerts, want 1: %v", len(got), got)
	}
	a := got[0]
	ev := evidence(a)
	if a["kind"] != "brute_force" || a["key"] != cordon.UsernameKey("victim") || a["state"] != "open" {
		t.Errorf("alert = %v, want an open brute_force on victim", a)
	}
	if ev["failures"] != float64(30) || ev["accounts"] != float64(1) || ev["addresses"] != float64(1) {
		t.Errorf("evidence = %v, want 30 failures (the threshold) on 1 account from 1 address", ev)
	}
	if fmt.Sprint(ev["top_addresses"]) != "[127.0.0.1]" {
		t.Errorf("top_addresses = %v, want [127.0.0.1]: the spoofed X-Forwarded-For must not be believed", ev["top_addresses"])
	}
	id := a["id"].(string)

	// Show, ack, and the ack's audit record; a second ack conflicts.
	if r := send(t, "GET", m.URL()+"/admin/v1/alerts/"+id, admin(), nil); r.status != 200 || r.body["id"] != id {
		t.Fatalf("show: %v", r)
	}
	r := send(t, "POST", m.URL()+"/admin/v1/alerts/"+id+"/ack", map[string]string{"Authorization": "Bearer " + testAdminToken}, nil)
	if r.status != 200 || r.body["state"] != "acknowledged" || r.body["acknowledged_by"] != "cordon:admin/root" {
		t.Fatalf("ack: %v", r)
	}
	wantError(t, send(t, "POST", m.URL()+"/admin/v1/alerts/"+id+"/ack", admin(), []byte(`{}`)), 409, "conflict")
	var purposes []string
	for _, e := range auditLeaves(t, m) {
		if e.Subject == "cordon:alert/"+id {
			purposes = append(purposes, e.Principal+": "+strings.SplitN(e.Purpose, ":", 2)[0])
		}
	}
	if want := "[cordon:detect: alert raised cordon:admin/root: alert acknowledged (admin token t-]"; !strings.HasPrefix(fmt.Sprint(purposes), want[:len(want)-len(" (admin token t-]")]) || len(purposes) != 2 {
		t.Errorf("audit records of the alert = %q, want raised then acknowledged", purposes)
	}
	if got := alerts(t, m, "?state=open"); len(got) != 0 {
		t.Errorf("open alerts after the ack: %v", got)
	}
}

// TestAlertEndpointsRefuseBadInput: malformed, missing and hostile input
// on every alert endpoint gets a 4xx with a code.
func TestAlertEndpointsRefuseBadInput(t *testing.T) {
	m := apiServer(t)
	u := m.URL() + "/admin/v1/alerts"
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		code                            string
	}{
		{"unknown state", "GET", "?state=closed", "", "", 422, "invalid_field"},
		{"limit not a number", "GET", "?limit=ten", "", "", 400, "invalid_request"},
		{"limit too big", "GET", "?limit=1000000", "", "", 400, "invalid_request"},
		{"missing alert", "GET", "/al-nope", "", "", 404, "not_found"},
		{"hostile id", "GET", "/al-1%0A%7C%20forged", "", "", 422, "invalid_field"},
		{"ack of a missing alert", "POST", "/al-nope/ack", "", "", 404, "not_found"},
		{"ack with a bad body", "POST", "/al-nope/ack", "application/json", "{", 400, "invalid_request"},
		{"ack with unknown fields", "POST", "/al-nope/ack", "application/json", `{"state":"open"}`, 400, "invalid_request"},
		{"ack with a wrong type", "POST", "/al-nope/ack", "text/plain", "hi", 415, "unsupported_media_type"},
		{"escalate with an oversized body", "POST", "/al-nope/escalate", "application/json", `{"severity":"` + strings.Repeat("x", 8<<10) + `"}`, 413, "payload_too_large"},
		{"escalate of a missing alert", "POST", "/al-nope/escalate", "application/json", `{"severity":"high"}`, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer " + testAdminToken}
			if tc.ctype != "" {
				h["Content-Type"] = tc.ctype
			}
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			wantError(t, send(t, tc.method, u+tc.path, h, body), tc.status, tc.code)
		})
	}
	wantError(t, send(t, "GET", u, nil, nil), 401, "unauthorized")
}

// TestEscalateDraftsACampaignForTheReachedAccounts: a spraying attack
// that got into two accounts, opened as an incident, links the alert and
// a draft reauth campaign whose cohort is exactly those two accounts; the
// incident's timeline shows the alert's records; nothing is activated.
func TestEscalateDraftsACampaignForTheReachedAccounts(t *testing.T) {
	m := apiServer(t, withClock(clock.NewFake(fakeNow)))
	ids := map[string]string{}
	for _, u := range []string{"amy", "ben", "cat"} {
		ids[u] = addUser(t, m, u, "Summer2026!")
	}
	// The attempts go to the watcher as Login hands them over, so the
	// throttle plays no part: 25 accounts fail with the sprayed password,
	// then amy and ben (real accounts) let it in.
	sprayed := m.pwKey.Sum("Summer2026!")
	at := fakeNow
	for i := range 25 {
		at = at.Add(time.Second)
		m.Watcher.Observe(detect.Attempt{At: at, Account: fmt.Sprintf("u%02d", i), Address: fmt.Sprintf("198.51.100.%d", i), Password: sprayed})
	}
	for _, u := range []string{"amy", "ben"} {
		at = at.Add(time.Second)
		m.Watcher.Observe(detect.Attempt{At: at, Account: cordon.UsernameKey(u), Address: "198.51.100.99", Password: sprayed, OK: true})
	}
	got := alerts(t, m, "")
	if len(got) != 1 || got[0]["kind"] != "password_spraying" {
		t.Fatalf("alerts = %v, want one password_spraying", got)
	}
	ev := evidence(got[0])
	if fmt.Sprint(ev["reached"]) != "[amy ben]" || ev["accounts"] != float64(20) {
		t.Errorf("evidence = %v, want reached [amy ben] (raised at 20 accounts)", ev)
	}
	id := got[0]["id"].(string)

	// An incidents-only token may not draft the campaign.
	tok := mintToken(t, m, "responder", "incidents")
	wantError(t, send(t, "POST", m.URL()+"/admin/v1/alerts/"+id+"/escalate", map[string]string{"Authorization": "Bearer " + tok}, nil), 403, "forbidden")

	r := send(t, "POST", m.URL()+"/admin/v1/alerts/"+id+"/escalate", admin(), []byte(`{"severity":"critical"}`))
	if r.status != 201 {
		t.Fatalf("escalate: %v", r)
	}
	inc := r.body["incident"].(map[string]any)
	camp := r.body["campaign"].(map[string]any)
	if inc["severity"] != "critical" || camp["state"] != "draft" || camp["kind"] != "reauth" {
		t.Errorf("escalation: incident %v campaign %v", inc, camp)
	}
	wantUsers := []string{ids["amy"], ids["ben"]}
	if len(wantUsers[0]) > 0 && wantUsers[0] > wantUsers[1] {
		wantUsers[0], wantUsers[1] = wantUsers[1], wantUsers[0]
	}
	if users := fmt.Sprint(camp["cohort"].(map[string]any)["users"]); users != fmt.Sprint(wantUsers) {
		t.Errorf("the campaign's cohort = %s, want exactly amy and ben %v", users, wantUsers)
	}
	alertNow := send(t, "GET", m.URL()+"/admin/v1/alerts/"+id, admin(), nil).body
	if alertNow["incident"] != inc["id"] || alertNow["campaign"] != camp["id"] {
		t.Errorf("the alert links incident %v campaign %v, want %v %v", alertNow["incident"], alertNow["campaign"], inc["id"], camp["id"])
	}
	wantError(t, send(t, "POST", m.URL()+"/admin/v1/alerts/"+id+"/escalate", admin(), nil), 409, "conflict")
	tl := send(t, "GET", m.URL()+"/admin/v1/incidents/"+inc["id"].(string)+"/timeline", admin(), nil)
	var objects []string
	for _, e := range tl.body["entries"].([]any) {
		objects = append(objects, e.(map[string]any)["object"].(string))
	}
	if s := strings.Join(objects, ","); !strings.Contains(s, "alert "+id) || !strings.Contains(s, "campaign "+camp["id"].(string)) {
		t.Errorf("the timeline's objects = %s, want the alert's and the campaign's records", s)
	}
}

// TestSeedIncidentRaisesAnAccessAlert: the seed's incident, one principal
// reading one user's password_hash, raises one alert of the default
// rules, whose report link shows that one user.
func TestSeedIncidentRaisesAnAccessAlert(t *testing.T) {
	m := apiServer(t)
	ingest(t, m, "application/x-ndjson", strings.Join([]string{
		evJSON(0, "svc-support", "alice", "profile", "email"),
		evJSON(1, "svc-support", "alice", "password_hash"),
		evJSON(2, "svc-billing", "bob", "email"),
	}, "\n"))
	if _, err := m.Access.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := alerts(t, m, "")
	if len(got) != 1 {
		t.Fatalf("alerts = %v, want exactly one", got)
	}
	a := got[0]
	ev := evidence(a)
	if a["kind"] != "access_categories" || ev["principal"] != "svc-support" || fmt.Sprint(ev["categories"]) != "[password_hash]" || fmt.Sprint(ev["subjects"]) != "[alice]" {
		t.Errorf("alert = %v", a)
	}
	rep := send(t, "GET", m.URL()+a["report"].(string), admin(), nil)
	acc, _ := rep.body["accesses"].([]any)
	if rep.status != 200 || len(acc) != 1 || acc[0].(map[string]any)["user"] != "alice" {
		t.Errorf("the linked report: %v, want alice's row alone", rep)
	}
	// The next step reads only what was appended since (the alert's
	// record and the report read's), and raises nothing again.
	if n, err := m.Access.Step(context.Background()); err != nil || n != 2 {
		t.Errorf("second step read %d entries (%v), want 2 (the alert's and the report's records)", n, err)
	}
	if got := alerts(t, m, ""); len(got) != 1 || got[0]["seen"] != float64(1) {
		t.Errorf("after the second step: %v", got)
	}
}

// TestConcurrentLoginsUnderDetection: many goroutines log in at once (run
// under -race); detection sees every attempt and raises nothing for
// correct passwords.
func TestConcurrentLoginsUnderDetection(t *testing.T) {
	m := apiServer(t)
	for i := range 20 {
		addUser(t, m, fmt.Sprintf("c-%02d", i), "a concurrent password")
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			for range 5 {
				b, _ := json.Marshal(map[string]string{"username": fmt.Sprintf("c-%02d", i), "password": "a concurrent password"})
				if r, err := do("POST", m.URL()+"/v1/login", jsonCT, b); err != nil || r.status != 200 {
					t.Errorf("login: %v %v", r, err)
				}
			}
		})
	}
	wg.Wait()
	if got := alerts(t, m, ""); len(got) != 0 {
		t.Errorf("correct logins raised %v", got)
	}
	if d := m.Watcher.Dropped(); d != 0 {
		t.Errorf("%d attempts dropped", d)
	}
}

// TestAlertCLI: cordon alert list|show|ack|escalate against a server, and
// their bad input.
func TestAlertCLI(t *testing.T) {
	m := cliServer(t)
	if r := cli(t, "", "alert", "list"); r.code != 0 || r.stdout != "no alerts\n" {
		t.Fatalf("list of none: %v", r)
	}
	ingest(t, m, "application/x-ndjson", evJSON(0, "svc-support", "alice", "password_hash"))
	if _, err := m.Access.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "", "alert", "list", "-o", "json")
	var l struct {
		Alerts []struct{ ID, Kind string } `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || len(l.Alerts) != 1 || l.Alerts[0].Kind != "access_categories" {
		t.Fatalf("list -o json: %v (%v)", r, err)
	}
	id := l.Alerts[0].ID
	if r := cli(t, "", "alert", "list"); !strings.Contains(r.stdout, id+"  access_categories  open") {
		t.Errorf("list: %v", r)
	}
	if r := cli(t, "", "alert", "show", id); r.code != 0 || !strings.Contains(r.stdout, "principal svc-support read 1 users; categories password_hash; users alice") ||
		!strings.Contains(r.stdout, "report: /admin/v1/audit/report?") {
		t.Errorf("show: %v", r)
	}
	if r := cli(t, "", "alert", "escalate", id, "--severity", "critical"); r.code != 0 || !strings.HasPrefix(r.stdout, "alert "+id+" is incident i-") || strings.Contains(r.stdout, "campaign") {
		t.Errorf("escalate (no accounts reached, no campaign): %v", r)
	}
	if r := cli(t, "", "alert", "ack", id); r.code != 0 || r.stdout != "acknowledged alert "+id+" (access_categories)\n" {
		t.Errorf("ack: %v", r)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"alert", "ack", id}, "acknowledged already"},
		{[]string{"alert", "show", "al-nope"}, "no alert"},
		{[]string{"alert", "show"}, "takes one alert ID"},
		{[]string{"alert", "list", "--state", "closed"}, "state must be open or acknowledged"},
		{[]string{"alert", "escalate", id, "--severity", "dire"}, "is incident"},
		{[]string{"alert", "frob"}, "unknown verb alert frob"},
	} {
		if r := cli(t, "", tc.args...); r.code == 0 || !strings.Contains(r.stderr+fmt.Sprint(r.err), tc.want) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, r, tc.want)
		}
	}
}

// TestServeRefusesBadDetectionFlags: a rules file that does not parse,
// and a webhook URL or secret the policy refuses, stop cordon serve with a
// usage error before it binds.
func TestServeRefusesBadDetectionFlags(t *testing.T) {
	bad := writeFile(t, "rules.yaml", "access:\n  - {name: x, kind: categories, categories: [password_hash], factor: 3}\n")
	for _, tc := range []struct {
		name   string
		args   []string
		secret string
		want   string
	}{
		{"rules that do not parse", []string{"--detect-rules", bad}, "", "factor does not apply to a categories rule"},
		{"missing rules file", []string{"--detect-rules", bad + ".nope"}, "", "--detect-rules"},
		{"webhook without a secret", []string{"--alert-webhook", "https://hooks.example.com/cordon"}, "", "CORDON_ALERT_WEBHOOK_SECRET"},
		{"webhook on plain http", []string{"--alert-webhook", "http://hooks.example.com/cordon"}, "whsec_" + strings.Repeat("QUJD", 8), "must use https"},
		{"webhook inside", []string{"--alert-webhook", "https://10.0.0.7/cordon"}, "whsec_" + strings.Repeat("QUJD", 8), "internal address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CORDON_ALERT_WEBHOOK_SECRET", tc.secret)
			r := cli(t, "", append([]string{"serve", "--addr", freeAddr(t), "--data", t.TempDir()}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr+fmt.Sprint(r.err), tc.want) {
				t.Errorf("got %v, want a usage error saying %q", r, tc.want)
			}
		})
	}
}

// TestAlertWebhookFromServe: cordon serve --alert-webhook delivers the
// alert a brute force through the API raises, signed with the secret.
func TestAlertWebhookFromServe(t *testing.T) {
	secret := []byte("a webhook secret of 32 bytes!!!!")
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer recv.Close()
	m := apiServer(t, withClock(clock.NewFake(fakeNow)), func(c *Config) {
		c.AlertWebhook, c.AlertWebhookSecret, c.SSFAllowHTTP = recv.URL+"/cordon", secret, true
	})
	addUser(t, m, "victim", "the victim's password")
	for i := range 35 {
		loginAs(t, m, "victim", fmt.Sprintf("guess %d", i), nil)
	}
	select {
	case r := <-got:
		body := <-bodies
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		if want := alert.Sign(secret, r.Header.Get("webhook-id"), ts, body); r.Header.Get("webhook-signature") != want || ts != fakeNow.Unix() {
			t.Errorf("signature %q at %d, want %q at %d", r.Header.Get("webhook-signature"), ts, want, fakeNow.Unix())
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Kind, Key string
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.Type != "alert.raised" || ev.Data.Kind != "brute_force" || ev.Data.Key != "victim" {
			t.Errorf("delivered %s (%v)", body, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
}

// TestDetectionMetrics: /metrics shows the attempts detection dropped.
func TestDetectionMetrics(t *testing.T) {
	m := apiServer(t)
	r := send(t, "GET", m.URL()+"/metrics", nil, nil)
	if !strings.Contains(string(r.raw), "cordon_detect_attempts_dropped_total 0\n") {
		t.Errorf("/metrics lacks cordon_detect_attempts_dropped_total 0")
	}
}

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// auditNow is the fake clock's time in the audit API tests.
var auditNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func evJSON(minute int, principal, subject string, categories ...string) string {
	return evAt(auditNow, minute, principal, subject, categories...)
}

// evAt is an event dated minute minutes past two hours before now.
func evAt(now time.Time, minute int, principal, subject string, categories ...string) string {
	cs, _ := json.Marshal(categories)
	return fmt.Sprintf(`{"time":%q,"principal":%q,"action":"read","subject":%q,"categories":%s,"purpose":"TICKET-%d"}`,
		now.Add(time.Duration(minute-120)*time.Minute).Format(time.RFC3339), principal, subject, cs, minute)
}

func ingest(t *testing.T, m *Main, ctype string, body string) apiResp {
	t.Helper()
	return send(t, "POST", m.URL()+"/audit/v1/events", adminAs(ctype), []byte(body))
}

// auditLeaves returns the log's entries as events, in order.
func auditLeaves(t *testing.T, m *Main) []audit.Event {
	t.Helper()
	r := send(t, "GET", m.URL()+"/audit/v1/entries", admin(), nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("entries: %v", r)
	}
	var out []audit.Event
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	for dec.More() {
		var v struct {
			Index uint64 `json:"index"`
			Leaf  string `json:"leaf"`
		}
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if v.Index != uint64(len(out)) {
			t.Fatalf("entries export: index %d at position %d", v.Index, len(out))
		}
		leaf, _ := base64.StdEncoding.DecodeString(v.Leaf)
		e, err := audit.ParseLeaf(leaf)
		if err != nil {
			t.Fatalf("entry %d: %v", v.Index, err)
		}
		out = append(out, e)
	}
	return out
}

func TestAuditIngest(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	r := ingest(t, m, "application/json", "["+evJSON(0, "svc-a", "alice", "profile")+","+evJSON(1, "svc-a", "bob", "email", "profile")+"]")
	if r.status != http.StatusOK || count(r.body["accepted"]) != 2 || count(r.body["first_index"]) != 0 || count(r.body["last_index"]) != 1 {
		t.Fatalf("JSON batch: %v", r)
	}
	r = ingest(t, m, "application/x-ndjson", evJSON(2, "svc-b", "carol", "payment")+"\n\n"+evJSON(3, "svc-b", "dave", "playlists")+"\n")
	if r.status != http.StatusOK || count(r.body["first_index"]) != 2 || count(r.body["log_size"]) != 4 {
		t.Fatalf("NDJSON batch: %v", r)
	}
	got := auditLeaves(t, m)
	if len(got) != 4 || got[1].Subject != "bob" || strings.Join(got[1].Categories, ",") != "email,profile" || got[3].Purpose != "TICKET-3" {
		t.Errorf("stored events: %+v", got)
	}
}

func TestAuditIngestBadInput(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	good := evJSON(0, "svc-a", "alice", "profile")
	arr := func(evs ...string) string { return "[" + strings.Join(evs, ",") + "]" }
	future := strings.Replace(good, auditNow.Add(-120*time.Minute).Format(time.RFC3339), auditNow.Add(10*time.Minute).Format(time.RFC3339), 1)
	huge := func(n int) string {
		// A syntactically fine array of events, n bytes and more.
		var b strings.Builder
		b.WriteString("[")
		for b.Len() < n {
			if b.Len() > 1 {
				b.WriteString(",")
			}
			b.WriteString(good)
		}
		b.WriteString("]")
		return b.String()
	}
	many := make([]string, 10_001)
	for i := range many {
		many[i] = `{"time":"2026-11-29T10:00:00Z","principal":"p","action":"read","subject":"s","categories":["email"]}`
	}
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code, field       string
	}{
		{"unknown category", "application/json", arr(good, evJSON(1, "svc-a", "bob", "shoe_size")), 422, "invalid_field", "events[1].categories[0]"},
		{"future time beyond skew", "application/json", arr(good, good, future), 422, "invalid_field", "events[2].time"},
		{"missing time", "application/json", arr(`{"principal":"p","action":"read","subject":"s","categories":["email"]}`), 422, "invalid_field", "events[0].time"},
		{"time not RFC 3339", "application/json", arr(`{"time":"yesterday","principal":"p","action":"read","subject":"s","categories":["email"]}`), 400, "invalid_request", "events[0]"},
		{"bad action", "application/json", arr(strings.Replace(good, `"read"`, `"peek"`, 1)), 422, "invalid_field", "events[0].action"},
		{"missing subject", "application/json", arr(`{"time":"2026-11-29T10:00:00Z","principal":"p","action":"read","categories":["email"]}`), 422, "invalid_field", "events[0].subject"},
		{"no categories", "application/json", arr(`{"time":"2026-11-29T10:00:00Z","principal":"p","action":"read","subject":"s","categories":[]}`), 422, "invalid_field", "events[0].categories"},
		{"unknown field", "application/json", arr(good, `{"time":"2026-11-29T10:00:00Z","principal":"p","action":"read","subject":"s","categories":["email"],"colour":"red"}`), 400, "invalid_request", "events[1]"},
		{"reserved principal", "application/json", arr(`{"time":"2026-11-29T10:00:00Z","principal":"cordon:admin/root","action":"write","subject":"alice","categories":["email"]}`), 422, "invalid_field", "events[0].principal"},
		{"reserved category", "application/json", arr(`{"time":"2026-11-29T10:00:00Z","principal":"p","action":"write","subject":"alice","categories":["email","sessions"]}`), 422, "invalid_field", "events[0].categories[1]"},
		{"reserved subject", "application/json", arr(`{"time":"2026-11-29T10:00:00Z","principal":"p","action":"write","subject":"cordon:campaigns","categories":["email"]}`), 422, "invalid_field", "events[0].subject"},
		{"newline in principal", "application/json", arr(`{"time":"2026-11-29T10:00:00Z","principal":"p\nforged","action":"read","subject":"s","categories":["email"]}`), 422, "invalid_field", "events[0].principal"},
		{"categories not a list", "application/json", arr(`{"time":"2026-11-29T10:00:00Z","principal":"p","action":"read","subject":"s","categories":"email"}`), 400, "invalid_request", "events[0]"},
		{"object, not an array", "application/json", good, 400, "invalid_request", ""},
		{"truncated array", "application/json", "[" + good, 400, "invalid_request", ""},
		{"trailing data", "application/json", arr(good) + "{}", 400, "invalid_request", ""},
		{"empty array", "application/json", "[]", 400, "invalid_request", ""},
		{"empty body", "application/json", "", 400, "invalid_request", ""},
		{"NDJSON with a broken line", "application/x-ndjson", good + "\n{\"time\":\n", 400, "invalid_request", "events[1]"},
		{"NDJSON with two values on a line", "application/x-ndjson", good + good + "\n", 400, "invalid_request", "events[0]"},
		{"NDJSON line over 64 KiB", "application/x-ndjson", good + "\n" + `{"purpose":"` + strings.Repeat("x", 70<<10) + `"}` + "\n", 413, "payload_too_large", "events[1]"},
		{"wrong content type", "text/plain", arr(good), 415, "unsupported_media_type", ""},
		{"10,001 events", "application/json", arr(many...), 413, "payload_too_large", ""},
		{"50 MiB batch", "application/json", huge(50 << 20), 413, "payload_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ingest(t, m, tc.ctype, tc.body)
			wantFieldError(t, r, tc.status, tc.code, tc.field)
		})
	}
	t.Run("nothing refused was stored", func(t *testing.T) {
		if got := auditLeaves(t, m); len(got) != 0 {
			t.Errorf("log after refused batches holds %d entries, want 0", len(got))
		}
	})
}

func TestAuditScopes(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	writer := mintToken(t, m, "reporter", cordon.ScopeAuditWrite)
	reader := mintToken(t, m, "investigator", cordon.ScopeAuditRead)
	body := []byte("[" + evJSON(0, "svc-a", "alice", "profile") + "]")
	as := func(tok string) map[string]string {
		return hdr("Authorization", "Bearer "+tok, "Content-Type", "application/json")
	}
	if r := send(t, "POST", m.URL()+"/audit/v1/events", as(writer), body); r.status != http.StatusOK {
		t.Fatalf("audit:write token ingesting: %v", r)
	}
	wantError(t, send(t, "POST", m.URL()+"/audit/v1/events", as(reader), body), http.StatusForbidden, "forbidden")
	wantError(t, send(t, "POST", m.URL()+"/audit/v1/events", hdr("Content-Type", "application/json"), body), http.StatusUnauthorized, "unauthorized")
	for _, path := range []string{"/audit/v1/checkpoints", "/audit/v1/entries", "/audit/v1/proof/inclusion?index=0", "/admin/v1/audit/report?principal=svc-a"} {
		wantError(t, send(t, "GET", m.URL()+path, as(writer), nil), http.StatusForbidden, "forbidden")
		if r := send(t, "GET", m.URL()+path, as(reader), nil); r.status >= 400 && r.status != http.StatusNotFound {
			t.Errorf("audit:read token on %s: %v", path, r)
		}
	}
}

// mintToken creates an admin token with scopes and returns its secret.
func mintToken(t *testing.T, m *Main, name string, scopes ...string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "scopes": scopes})
	r := send(t, "POST", m.URL()+"/admin/v1/tokens", admin(), b)
	tok, _ := r.body["token"].(string)
	if r.status != http.StatusCreated || tok == "" {
		t.Fatalf("token create: %v", r)
	}
	return tok
}

func TestAuditAdminActionsRecorded(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	addUser(t, m, "alice", "correct horse battery staple")
	// A refused change leaves no record.
	r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), []byte(`{"username":"alice","password":"correct horse battery staple"}`))
	wantError(t, r, http.StatusConflict, "conflict")
	login(t, m, "alice", "correct horse battery staple", `platform=ios, version="8.4.1", source=appstore, device="d1"`)
	if r := send(t, "DELETE", m.URL()+"/admin/v1/accounts/alice/sessions", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("revoke sessions: %v", r)
	}
	if r := send(t, "POST", m.URL()+"/admin/v1/keys/rotate", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("rotate: %v", r)
	}
	id := postCampaign(t, m, `{"kind":"reauth","name":"breach"}`)
	mustAct(t, m, id, "activate")
	mintToken(t, m, "ops", cordon.ScopeAuditRead)
	got := auditLeaves(t, m)
	want := []struct{ subject, categories, purpose string }{
		{"alice", "password_hash,profile", "account created"},
		{"alice", "sessions", "all sessions revoked"},
		{"cordon:signing-keys", "signing_keys", "signing keys rotated"},
		{"cordon:campaign/" + id, "campaigns", "campaign draft created"},
		{"cordon:campaign/" + id, "campaigns", "campaign activate"},
		{"cordon:admin-tokens", "admin_tokens", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("log holds %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		e := got[i]
		if e.Principal != "cordon:admin/root" || e.Action != audit.ActionWrite || e.Subject != w.subject ||
			strings.Join(e.Categories, ",") != w.categories || !strings.HasPrefix(e.Purpose, w.purpose) ||
			!strings.Contains(e.Purpose, "(admin token t-") || e.Source != "127.0.0.1" {
			t.Errorf("entry %d: got %+v, want subject %s, categories %s, purpose %q… naming the token, by cordon:admin/root from 127.0.0.1", i, e, w.subject, w.categories, w.purpose)
		}
	}
	// The admin's own report shows what it touched.
	r = send(t, "GET", m.URL()+"/admin/v1/audit/report?principal=cordon:admin/root&format=text", admin(), nil)
	if r.status != http.StatusOK || !strings.HasPrefix(string(r.raw), "1 user, 4 cordon objects; 7 events: 6 write, 1 export; profile, password_hash, sessions, campaigns, signing_keys, admin_tokens, audit_log; no email") {
		t.Errorf("admin report: %v", r)
	}
}

func TestAuditReportAPI(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	aliceID := addUser(t, m, "alice", "correct horse battery staple")
	addUser(t, m, "bob", "correct horse battery staple")
	ingest(t, m, "application/x-ndjson", strings.Join([]string{
		evJSON(0, "ada@corp", "alice", "profile"),
		evJSON(5, "ada@corp", "alice", "email"),
		evJSON(6, "svc-export", "bob", "payment"),
		evJSON(7, "ada@corp", "=cmd|' /C calc'!A0", "profile"),
	}, "\n"))
	q := func(v url.Values) string { return m.URL() + "/admin/v1/audit/report?" + v.Encode() }
	r := send(t, "GET", q(url.Values{"principal": {"ada@corp"}}), admin(), nil)
	rep, _ := r.body["report"].(map[string]any)
	// alice is an account; the formula names none.
	if r.status != http.StatusOK || count(rep["users"]) != 1 || count(rep["unresolved_subjects"]) != 1 || count(rep["events"]) != 3 {
		t.Fatalf("JSON report: %v", r)
	}
	if s, _ := rep["summary"].(string); !strings.HasPrefix(s, "1 user, 1 unresolved subject; 3 events: 3 read; profile, email; no phone") {
		t.Errorf("summary %q", s)
	}
	r = send(t, "GET", q(url.Values{"principal": {"ada@corp"}, "format": {"csv"}}), admin(), nil)
	rows, err := csv.NewReader(bytes.NewReader(r.raw)).ReadAll()
	if err != nil || r.status != http.StatusOK || len(rows) != 3 || rows[0][0] != "user" {
		t.Fatalf("CSV report: %v (%v)", r, err)
	}
	if rows[1][0] != "'=cmd|' /C calc'!A0" || rows[1][6] != "true" || rows[1][7] != "'=cmd|' /C calc'!A0" ||
		rows[2][0] != aliceID || rows[2][1] != "2" || rows[2][2] != "email profile" || rows[2][5] != aliceID || rows[2][7] != "alice" || rows[2][8] != "2" {
		t.Errorf("CSV rows (a formula must be defused): %q", rows)
	}
	r = send(t, "GET", q(url.Values{"principal": {"svc-export"}}), hdr("Authorization", "Bearer "+testAdminToken, "Accept", "text/plain"), nil)
	if r.status != http.StatusOK || !strings.HasPrefix(string(r.raw), "1 user; 1 event: 1 read; payment; no profile") {
		t.Errorf("text report: %v", r)
	}
	// A window that misses everything.
	r = send(t, "GET", q(url.Values{"principal": {"ada@corp"}, "to": {auditNow.Add(-24 * time.Hour).Format(time.RFC3339)}}), admin(), nil)
	if rep, _ := r.body["report"].(map[string]any); r.status != http.StatusOK || count(rep["users"]) != 0 {
		t.Errorf("empty window: %v", r)
	}
	for _, tc := range []struct {
		name        string
		v           url.Values
		status      int
		code, field string
	}{
		{"no principal", url.Values{}, 400, "invalid_request", "principal"},
		{"bad from", url.Values{"principal": {"a"}, "from": {"last tuesday"}}, 400, "invalid_request", "from"},
		{"bad to", url.Values{"principal": {"a"}, "to": {"2026-13-01"}}, 400, "invalid_request", "to"},
		{"reversed window", url.Values{"principal": {"a"}, "from": {"2026-11-29T00:00:00Z"}, "to": {"2026-11-01T00:00:00Z"}}, 400, "invalid_request", "to"},
		{"bad format", url.Values{"principal": {"a"}, "format": {"xml"}}, 400, "invalid_request", "format"},
		{"too many principals", url.Values{"principal": strings.Fields(strings.Repeat("p ", 101))}, 400, "invalid_request", "principal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFieldError(t, send(t, "GET", q(tc.v), admin(), nil), tc.status, tc.code, tc.field)
		})
	}
	t.Run("saved report", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/admin/v1/audit/reports", admin(), []byte(`{"principals":["ada@corp","svc-export"],"from":"2026-11-01T00:00:00Z","to":"2026-11-30T00:00:00Z"}`))
		rep, _ := r.body["report"].(map[string]any)
		id, _ := rep["id"].(string)
		if r.status != http.StatusCreated || !strings.HasPrefix(id, "r-") || r.header.Get("Location") != "/admin/v1/audit/reports/"+id {
			t.Fatalf("save: %v", r)
		}
		r = send(t, "GET", m.URL()+"/admin/v1/audit/reports/"+id, admin(), nil)
		// alice and bob; the formula is no account, so no cohort member.
		if users, _ := r.body["saved_users"].([]any); r.status != http.StatusOK || len(users) != 2 {
			t.Errorf("saved report: %v", r)
		}
		wantError(t, send(t, "GET", m.URL()+"/admin/v1/audit/reports/r-nope", admin(), nil), http.StatusNotFound, "not_found")
		wantFieldError(t, send(t, "POST", m.URL()+"/admin/v1/audit/reports?format=xml", admin(), []byte(`{"principals":["ada@corp"]}`)), 400, "invalid_request", "format")
		// Defaults as for GET: the last 30 days up to now.
		r = send(t, "POST", m.URL()+"/admin/v1/audit/reports?format=text", admin(), []byte(`{"principals":["ada@corp"]}`))
		if r.status != http.StatusCreated || !strings.HasPrefix(string(r.raw), "1 user, 1 unresolved subject; 3 events: 3 read; profile, email") {
			t.Errorf("saved with default window: %v", r)
		}
		wantError(t, send(t, "POST", m.URL()+"/admin/v1/audit/reports", admin(), []byte(`{"principals":["a"],"from":"soon"}`)), http.StatusBadRequest, "invalid_request")
		wantError(t, send(t, "POST", m.URL()+"/admin/v1/audit/reports", admin(), []byte(`{"principals":[]}`)), http.StatusBadRequest, "invalid_request")
	})
}

func TestAuditProofAPI(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	wantError(t, send(t, "GET", m.URL()+"/audit/v1/proof/inclusion?index=0", admin(), nil), http.StatusNotFound, "not_found")
	var lines []string
	for i := range 300 {
		lines = append(lines, evJSON(i%100, "svc", fmt.Sprintf("u%d", i), "profile"))
	}
	ingest(t, m, "application/x-ndjson", strings.Join(lines[:100], "\n"))
	if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	ingest(t, m, "application/x-ndjson", strings.Join(lines[100:], "\n"))
	if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := send(t, "GET", m.URL()+"/audit/v1/checkpoints", admin(), nil)
	cps, _ := r.body["checkpoints"].([]any)
	if r.status != http.StatusOK || len(cps) != 2 || r.body["verifier_key"] != m.Audit.VerifierKey() || count(r.body["log_size"]) != 300 {
		t.Fatalf("checkpoints: %v", r)
	}
	r = send(t, "GET", m.URL()+"/audit/v1/proof/inclusion?index=42&size=100", admin(), nil)
	if hs, _ := r.body["hashes"].([]any); r.status != http.StatusOK || len(hs) != 7 || !strings.Contains(r.body["checkpoint"].(string), "\n100\n") {
		t.Errorf("inclusion proof: %v", r)
	}
	r = send(t, "GET", m.URL()+"/audit/v1/proof/consistency?from=100", admin(), nil)
	if r.status != http.StatusOK || count(r.body["to"]) != 300 {
		t.Errorf("consistency proof: %v", r)
	}
	for _, tc := range []struct {
		path        string
		status      int
		code, field string
	}{
		{"/audit/v1/proof/inclusion", 400, "invalid_request", "index"},
		{"/audit/v1/proof/inclusion?index=-1", 400, "invalid_request", "index"},
		{"/audit/v1/proof/inclusion?index=1e3", 400, "invalid_request", "index"},
		{"/audit/v1/proof/inclusion?index=99999999999999999999999", 400, "invalid_request", "index"},
		{"/audit/v1/proof/inclusion?index=300", 404, "not_found", "index"},
		{"/audit/v1/proof/inclusion?index=1&size=50", 404, "not_found", "size"},
		{"/audit/v1/proof/consistency", 400, "invalid_request", "from"},
		{"/audit/v1/proof/consistency?from=7", 404, "not_found", "from"},
		{"/audit/v1/proof/consistency?from=300&to=100", 400, "invalid_request", "from"},
		{"/audit/v1/entries?from=x", 400, "invalid_request", "from"},
	} {
		wantFieldError(t, send(t, "GET", m.URL()+tc.path, admin(), nil), tc.status, tc.code, tc.field)
	}
}

// TestUsersFromReportCohort is the loop: a report of what one
// principal read becomes the cohort of a forced re-login.
func TestUsersFromReportCohort(t *testing.T) {
	clk := clock.NewFake(auditNow)
	m := fakeServer(t, clk)
	fleet := []*install{
		{user: "alice", platform: "ios", version: "8.4.1", source: "appstore"},
		{user: "bob", platform: "android", version: "8.4.1", source: "play"},
		{user: "carol", platform: "ios", version: "8.4.1", source: "appstore"},
	}
	enrol(t, m, fleet...)
	clk.Advance(time.Minute) // the sessions predate the campaign
	ingest(t, m, "application/x-ndjson", strings.Join([]string{
		evJSON(0, "rogue@corp", "alice", "profile", "email"),
		evJSON(1, "rogue@corp", "bob", "profile"),
		evJSON(2, "rogue@corp", "former-user", "profile"),
		evJSON(3, "svc-ok", "carol", "profile"),
	}, "\n"))
	r := send(t, "POST", m.URL()+"/admin/v1/audit/reports", admin(), []byte(`{"principals":["rogue@corp"],"from":"2026-11-01T00:00:00Z","to":"2026-11-30T00:00:00Z"}`))
	rep, _ := r.body["report"].(map[string]any)
	id, _ := rep["id"].(string)
	if r.status != http.StatusCreated {
		t.Fatalf("save report: %v", r)
	}
	cid := postCampaign(t, m, `{"kind":"reauth","name":"rogue reads","cohort":{"users_from_report":"`+id+`"}}`)
	r = send(t, "GET", m.URL()+"/admin/v1/campaigns/"+cid+"/preview", admin(), nil)
	if r.status != http.StatusOK || count(r.body["users"]) != 2 || count(r.body["sessions"]) != 2 {
		t.Fatalf("preview of the report cohort: %v", r)
	}
	mustAct(t, m, cid, "activate")
	for _, in := range fleet {
		got := in.get(t, m)
		blocked := in.user != "carol"
		if blocked != (got.status == http.StatusUnauthorized) {
			t.Errorf("%s after activation: %v (blocked %v)", in.user, got, blocked)
		}
	}
	// A report naming no account cannot be a cohort.
	r = send(t, "POST", m.URL()+"/admin/v1/audit/reports", admin(), []byte(`{"principals":["nobody"],"from":"2026-11-01T00:00:00Z","to":"2026-11-30T00:00:00Z"}`))
	empty, _ := r.body["report"].(map[string]any)
	r = send(t, "POST", m.URL()+"/admin/v1/campaigns", admin(), []byte(`{"kind":"reauth","name":"x","cohort":{"users_from_report":"`+empty["id"].(string)+`"}}`))
	wantFieldError(t, r, 422, "invalid_field", "cohort.users_from_report")
}

// TestAuditCLI drives the audit verbs as an operator would.
func TestAuditCLI(t *testing.T) {
	m := cliServer(t) // on the real clock: events are dated from it
	// Straight into the store: creating them through the API would log
	// the admin's action, and the indexes below count from 0.
	aliceID := importUsers(t, m, "alice", "bob")[0]
	now := time.Now()
	evJSON := func(minute int, principal, subject string, categories ...string) string {
		return evAt(now, minute, principal, subject, categories...)
	}
	lines := []string{
		evJSON(0, "svc-support", "alice", "profile", "email"),
		"",
		evJSON(1, "svc-support", "bob", "profile"),
	}
	r := cli(t, strings.Join(lines, "\n"), "audit", "send")
	if r.err != nil || !strings.Contains(r.stdout, "stored 2 events at 0..1") {
		t.Fatalf("audit send: %v", r)
	}
	// A bad line is named by its line number, and nothing of its batch is stored.
	r = cli(t, evJSON(2, "svc", "carol", "profile")+"\n\n"+evJSON(3, "svc", "dave", "shoe_size")+"\n", "audit", "send")
	if r.code != 1 || !strings.Contains(r.err.Error(), "line 3: event 1: unknown category") || !strings.Contains(r.err.Error(), "none of lines 1..3 stored") {
		t.Fatalf("audit send with a bad line: %v", r)
	}
	if _, err := m.Audit.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	r = cli(t, "", "audit", "prove", "1", "--key", m.Audit.VerifierKey())
	if r.err != nil || !strings.Contains(r.stdout, "entry 1 is in the signed tree of 2 entries") || !strings.Contains(r.stdout, "svc-support read of bob (profile)") {
		t.Fatalf("audit prove: %v", r)
	}
	r = cli(t, "", "audit", "prove", "7")
	if r.code != 1 || !strings.Contains(r.err.Error(), "not in the tree of size 2") {
		t.Errorf("audit prove of an entry past the log: %v", r)
	}
	r = cli(t, "", "audit", "report", "--principal", "svc-support")
	if r.err != nil || !strings.HasPrefix(r.stdout, "2 users; 2 events: 2 read; profile, email; no phone") || !strings.Contains(r.stdout, aliceID+" (alice): 1 event: 1 read;") {
		t.Errorf("audit report: %v", r)
	}
	r = cli(t, "", "audit", "report", "--principal", "svc-support", "--format", "csv", "--save")
	if r.err != nil || !strings.HasPrefix(r.stdout, "user,events,categories,first,last,account,unresolved,aliases,read,write,export,delete\n"+aliceID+",1,email profile,") {
		t.Errorf("audit report --save --format csv: %v", r)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"report without a principal", []string{"audit", "report"}},
		{"report in xml", []string{"audit", "report", "--principal", "p", "--format", "xml"}},
		{"report with a bad time", []string{"audit", "report", "--principal", "p", "--save", "--from", "monday"}},
		{"prove without an index", []string{"audit", "prove"}},
		{"prove of a word", []string{"audit", "prove", "seven"}},
		{"verify with a bad key", []string{"audit", "verify", "--key", "not-a-key"}},
		{"unknown verb", []string{"audit", "shred"}},
		{"no verb", []string{"audit"}},
	} {
		if r := cli(t, "", tc.args...); r.code != 2 {
			t.Errorf("%s: got %v, want a usage error (exit 2)", tc.name, r)
		}
	}
	r = cli(t, "", "audit", "verify", "--checkpoints", "/nonexistent/file.json")
	if r.code != 1 {
		t.Errorf("verify with a missing checkpoint file: %v", r)
	}
}

// TestAuditAdminReadsRecorded: an admin reading a user's data is recorded
// before the data is sent.
func TestAuditAdminReadsRecorded(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	addUser(t, m, "alice", "correct horse battery staple")
	if r := send(t, "GET", m.URL()+"/admin/v1/accounts/alice", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("account: %v", r)
	}
	if r := send(t, "GET", m.URL()+"/admin/v1/accounts/alice/sessions", admin(), nil); r.status != http.StatusOK {
		t.Fatalf("sessions: %v", r)
	}
	wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts/nobody", admin(), nil), http.StatusNotFound, "not_found")
	got := auditLeaves(t, m)
	if len(got) != 3 {
		t.Fatalf("log holds %d entries, want the creation and two reads: %+v", len(got), got)
	}
	for i, want := range []string{"profile", "devices,profile,sessions"} {
		e := got[1+i]
		if e.Action != audit.ActionRead || e.Subject != "alice" || e.Principal != "cordon:admin/root" || strings.Join(e.Categories, ",") != want {
			t.Errorf("read %d: got %+v, want a read of alice's %s by cordon:admin/root", i, e, want)
		}
	}
}

// TestAuditReportLong: past auditlog.MaxListed users, JSON lists the first
// ones and says so; CSV streams every row.
func TestAuditReportLong(t *testing.T) {
	m := fakeServer(t, clock.NewFake(auditNow))
	n := auditlog.MaxListed + 20
	users := make([]*cordon.Account, n)
	for i := range users {
		u := fmt.Sprintf("u%06d", i)
		users[i] = &cordon.Account{ID: u, Username: u, PasswordHash: "x", CreatedAt: auditNow, PasswordChangedAt: auditNow}
	}
	if _, err := m.store.ImportAccounts(t.Context(), users); err != nil {
		t.Fatal(err)
	}
	for from := 0; from < n; from += auditlog.MaxBatch {
		var b strings.Builder
		for i := from; i < min(n, from+auditlog.MaxBatch); i++ {
			b.WriteString(evJSON(0, "svc-crawler", fmt.Sprintf("u%06d", i), "email"))
			b.WriteByte('\n')
		}
		if r := ingest(t, m, "application/x-ndjson", b.String()); r.status != http.StatusOK {
			t.Fatalf("ingest: %v", r)
		}
	}
	r := send(t, "GET", m.URL()+"/admin/v1/audit/report?principal=svc-crawler", admin(), nil)
	rep, _ := r.body["report"].(map[string]any)
	listed, _ := r.body["accesses"].([]any)
	if r.status != http.StatusOK || count(rep["users"]) != int64(n) || len(listed) != auditlog.MaxListed || rep["accesses_truncated"] != true {
		t.Errorf("JSON report: %d users, %d listed, truncated %v", count(rep["users"]), len(listed), rep["accesses_truncated"])
	}
	r = send(t, "GET", m.URL()+"/admin/v1/audit/report?principal=svc-crawler&format=csv", admin(), nil)
	rows, err := csv.NewReader(bytes.NewReader(r.raw)).ReadAll()
	if err != nil || len(rows) != n+1 || rows[n][0] != fmt.Sprintf("u%06d", n-1) {
		t.Errorf("CSV report: %d rows (%v), want %d and a header", len(rows)-1, err, n)
	}
	r = send(t, "GET", m.URL()+"/admin/v1/audit/report?principal=svc-crawler&format=text", admin(), nil)
	if !strings.Contains(string(r.raw), fmt.Sprintf("… and %d more (--format csv lists them all)", n-50)) {
		t.Errorf("text report does not say how many more: %.300s", r.raw)
	}
}

// importUsers makes accounts straight in the store (no admin record in
// the audit log), with ids "u-NAME", and returns the ids.
func importUsers(t *testing.T, m *Main, names ...string) []string {
	t.Helper()
	as, ids := make([]*cordon.Account, len(names)), make([]string, len(names))
	for i, n := range names {
		ids[i] = "u-" + n
		as[i] = &cordon.Account{ID: ids[i], Username: n, PasswordHash: "x", CreatedAt: auditNow, PasswordChangedAt: auditNow}
	}
	if _, err := m.store.ImportAccounts(t.Context(), as); err != nil {
		t.Fatal(err)
	}
	return ids
}

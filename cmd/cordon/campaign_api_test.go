package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/token"
)

// End-to-end tests of the campaign API over HTTP: bad documents, the
// lifecycle, previews, enforcement, the decision API, offline grants,
// progress and concurrency. Each test runs its own server; the ones that
// depend on time run on a fake clock.

// campaignNow is where the fake clocks of these tests start.
var campaignNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const userPassword = "a long enough password"

// adminAs is the admin headers with another Content-Type ("" for none).
func adminAs(ctype string) map[string]string {
	return hdr("Content-Type", ctype, "Authorization", "Bearer "+testAdminToken)
}

// postCampaign creates a campaign from a JSON document and returns its id.
func postCampaign(t *testing.T, m *Main, doc string) string {
	t.Helper()
	r := send(t, "POST", m.URL()+"/admin/v1/campaigns", admin(), []byte(doc))
	if r.status != http.StatusCreated || r.body["state"] != "draft" {
		t.Fatalf("create campaign: %v, want 201 with state draft", r)
	}
	id, _ := r.body["id"].(string)
	if id == "" {
		t.Fatalf("create campaign: no id in %v", r)
	}
	return id
}

// campaignAct posts a lifecycle action.
func campaignAct(t *testing.T, m *Main, id, action string) apiResp {
	t.Helper()
	return send(t, "POST", m.URL()+"/admin/v1/campaigns/"+id+"/"+action, admin(), nil)
}

// mustAct posts a lifecycle action that must succeed.
func mustAct(t *testing.T, m *Main, id, action string) {
	t.Helper()
	if r := campaignAct(t, m, id, action); r.status != http.StatusOK {
		t.Fatalf("%s %s: %v", action, id, r)
	}
}

// count reads a JSON number as an integer.
func count(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// progress is a campaign's progress as GET /admin/v1/campaigns/{id} shows it.
type progress struct {
	BlockedSessions int64   `json:"blocked_sessions"`
	BlockedUsers    int64   `json:"blocked_users"`
	SatisfiedUsers  int64   `json:"satisfied_users"`
	Complete        float64 `json:"complete"`
}

func progressOf(t *testing.T, m *Main, id string) progress {
	t.Helper()
	r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id, admin(), nil)
	var v struct {
		Progress *progress `json:"progress"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.raw, &v) != nil || v.Progress == nil {
		t.Fatalf("get campaign %s: %v", id, r)
	}
	return *v.Progress
}

// wantFieldError is wantError that also checks the field at fault ("" for
// none).
func wantFieldError(t *testing.T, r apiResp, status int, code, field string) {
	t.Helper()
	wantError(t, r, status, code)
	got, _ := r.body["field"].(string)
	if got != field {
		t.Errorf("field = %q, want %q: %v", got, field, r)
	}
}

// enrol creates an account for each distinct user of the fleet, logs every
// install in, and returns the account ids by username.
func enrol(t *testing.T, m *Main, fleet ...*install) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, in := range fleet {
		if _, ok := ids[in.user]; !ok {
			ids[in.user] = addUser(t, m, in.user, userPassword)
		}
		in.login(t, m)
	}
	return ids
}

// refreshAs is the refresh grant sent with the install's Cordon-Client.
func (i *install) refreshAs(t *testing.T, m *Main) apiResp {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {i.refresh}}.Encode()
	return send(t, "POST", m.URL()+"/oauth2/token", hdr("Content-Type", "application/x-www-form-urlencoded", "Cordon-Client", i.header()), []byte(form))
}

// get is GET /v1/session for an install, as an apiResp.
func (i *install) get(t *testing.T, m *Main) apiResp {
	t.Helper()
	h := bearerH(i.access)
	h["Cordon-Client"] = i.header()
	return send(t, "GET", m.URL()+"/v1/session", h, nil)
}

func TestCampaignCreateBadInput(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "alice", userPassword)
	const (
		jsonType = "application/json"
		yamlType = "application/yaml"
		rampAt   = `"start":"2026-03-01T00:00:00Z"`
		official = `"official":"https://example.com/download"`
	)
	big := func(n int) string {
		return `{"kind":"reauth","name":"big","message":"` + strings.Repeat("a", n) + `"}`
	}
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code, field       string
	}{
		// Controls: the harness accepts what it should.
		{"valid JSON", jsonType, `{"kind":"reauth","name":"ok"}`, 201, "", ""},
		{"valid JSON with charset", "application/json; charset=utf-8", `{"kind":"reauth","name":"ok"}`, 201, "", ""},
		{"valid YAML", yamlType, "kind: reauth\nname: ok\n", 201, "", ""},
		{"valid auto ramp", jsonType, `{"kind":"reauth","name":"ok","ramp":{` + rampAt + `,"mode":"auto","max_duration":"72h"}}`, 201, "", ""},

		{"wrong content type", "text/plain", `{"kind":"reauth","name":"x"}`, 415, "unsupported_media_type", ""},
		{"no content type", "", `{"kind":"reauth","name":"x"}`, 415, "unsupported_media_type", ""},
		{"malformed JSON", jsonType, `{"kind": reauth, "name": "x"}`, 400, "invalid_request", ""},
		{"truncated JSON", jsonType, `{"kind":"reauth","name":"x"`, 400, "invalid_request", ""},
		{"empty body", jsonType, ``, 400, "invalid_request", ""},
		{"not an object", jsonType, `["reauth"]`, 400, "invalid_request", ""},
		{"two documents", jsonType, `{"kind":"reauth","name":"x"}{"kind":"reauth","name":"y"}`, 400, "invalid_request", ""},
		{"5 MiB body", jsonType, big(5 << 20), 413, "payload_too_large", ""},
		{"2 MiB document", jsonType, big(2 << 20), 413, "payload_too_large", ""},
		{"unknown top-level field", jsonType, `{"kind":"reauth","name":"x","colour":"red"}`, 400, "invalid_request", "colour"},
		{"unknown cohort field", jsonType, `{"kind":"reauth","name":"x","cohort":{"platform":["ios"]}}`, 400, "invalid_request", "cohort.platform"},
		{"unknown kind", jsonType, `{"kind":"logout","name":"x"}`, 422, "invalid_field", "kind"},
		{"missing kind", jsonType, `{"name":"x"}`, 422, "invalid_field", "kind"},
		{"missing name", jsonType, `{"kind":"reauth"}`, 422, "invalid_field", "name"},
		{"bad versions constraint", jsonType, `{"kind":"reauth","name":"x","cohort":{"versions":"<<8"}}`, 422, "invalid_field", "cohort.versions"},
		{"negative ramp", jsonType, `{"kind":"reauth","name":"x","ramp":{` + rampAt + `,"duration":"-5h"}}`, 422, "invalid_field", "ramp.duration"},
		{"zero ramp", jsonType, `{"kind":"reauth","name":"x","ramp":{` + rampAt + `,"duration":"0s"}}`, 422, "invalid_field", "ramp.duration"},
		{"zero ramp seconds", jsonType, `{"kind":"reauth","name":"x","ramp":{` + rampAt + `,"duration":0}}`, 422, "invalid_field", "ramp.duration"},
		{"bad authenticated_before", jsonType, `{"kind":"reauth","name":"x","cohort":{"authenticated_before":"yesterday"}}`, 422, "invalid_field", "cohort.authenticated_before"},
		// A pace is the control plane's to write: a document that brings
		// its own (to admit nobody, or everyone at once) is refused.
		{"auto ramp with a pace", jsonType, `{"kind":"reauth","name":"x","ramp":{` + rampAt + `,"mode":"auto","max_duration":"72h","pace":{"points":[{"at":"2026-03-01T00:00:00Z","share":0}],"rate":0}}}`, 400, "invalid_request", "ramp.pace"},
		{"auto ramp without max_duration", jsonType, `{"kind":"reauth","name":"x","ramp":{` + rampAt + `,"mode":"auto"}}`, 422, "invalid_field", "ramp.max_duration"},
		{"auto ramp above full capacity", jsonType, `{"kind":"reauth","name":"x","ramp":{` + rampAt + `,"mode":"auto","max_duration":"72h","target_utilisation":1.5}}`, 422, "invalid_field", "ramp.target_utilisation"},
		{"unknown ramp mode", yamlType, "kind: reauth\nname: x\nramp: {start: 2026-03-01T00:00:00Z, mode: turbo, duration: 1h}\n", 422, "invalid_field", "ramp.mode"},
		{"bad ramp start", jsonType, `{"kind":"reauth","name":"x","ramp":{"start":"yesterday","duration":"72h"}}`, 422, "invalid_field", "ramp.start"},
		{"upgrade without min_version", jsonType, `{"kind":"upgrade","name":"x","upgrade":{"mode":"immediate","urls":{` + official + `}}}`, 422, "invalid_field", "upgrade.min_version"},
		{"upgrade without urls.official", jsonType, `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"play":"https://play.example/app"}}}`, 422, "invalid_field", "upgrade.urls.official"},
		{"upgrade without upgrade block", jsonType, `{"kind":"upgrade","name":"x"}`, 422, "invalid_field", "upgrade"},
		{"http URL to a remote host", jsonType, `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"http://example.com/download"}}}`, 422, "invalid_field", "upgrade.urls.official"},
		{"javascript URL", jsonType, `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"javascript:alert(1)"}}}`, 422, "invalid_field", "upgrade.urls.official"},
		{"upgrade block on a reauth campaign", jsonType, `{"kind":"reauth","name":"x","upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{` + official + `}}}`, 422, "invalid_field", "upgrade"},
		{"unknown platform", jsonType, `{"kind":"reauth","name":"x","cohort":{"platforms":["blackberry"]}}`, 422, "invalid_field", "cohort.platforms"},
		{"users naming an unknown account", jsonType, `{"kind":"reauth","name":"x","cohort":{"users":["alice","nobody"]}}`, 422, "invalid_field", "cohort.users"},
		{"users_from_report", jsonType, `{"kind":"reauth","name":"x","cohort":{"users_from_report":"r-42"}}`, 422, "invalid_field", "cohort.users_from_report"},
		{"YAML with an alias", yamlType, "kind: reauth\nname: &n incident\nmessage: *n\n", 400, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+"/admin/v1/campaigns", adminAs(tc.ctype), []byte(tc.body))
			if tc.status == http.StatusCreated {
				if r.status != tc.status || r.body["state"] != "draft" {
					t.Errorf("got %v, want 201 with state draft", r)
				}
				return
			}
			wantFieldError(t, r, tc.status, tc.code, tc.field)
		})
	}
	t.Run("nothing refused was stored", func(t *testing.T) {
		r := send(t, "GET", m.URL()+"/admin/v1/campaigns", admin(), nil)
		list, _ := r.body["campaigns"].([]any)
		if r.status != http.StatusOK || len(list) != 4 {
			t.Errorf("list after the bad posts: %d campaigns, want the 4 controls: %v", len(list), r)
		}
	})
	t.Run("no admin token", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/admin/v1/campaigns", jsonCT, []byte(`{"kind":"reauth","name":"x"}`))
		wantError(t, r, http.StatusUnauthorized, "unauthorized")
		if wa := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
			t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", wa)
		}
	})
	t.Run("wrong admin token", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/admin/v1/campaigns", hdr("Content-Type", "application/json", "Authorization", "Bearer cat_not-the-admin-token-0123456789"),
			[]byte(`{"kind":"reauth","name":"x"}`))
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
	})
}

// campaignIn creates a reauth campaign and moves it to state.
func campaignIn(t *testing.T, m *Main, state string) string {
	t.Helper()
	id := postCampaign(t, m, `{"kind":"reauth","name":"lifecycle"}`)
	path := map[string][]string{"draft": nil, "active": {"activate"}, "paused": {"activate", "pause"},
		"completed": {"activate", "complete"}, "cancelled": {"cancel"}}[state]
	for _, a := range path {
		mustAct(t, m, id, a)
	}
	return id
}

func TestCampaignLifecycle(t *testing.T) {
	m := fakeServer(t, clock.NewFake(campaignNow))
	trailLen := func(t *testing.T, id string) int {
		t.Helper()
		r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/trail", admin(), nil)
		list, _ := r.body["trail"].([]any)
		if r.status != http.StatusOK {
			t.Fatalf("trail: %v", r)
		}
		return len(list)
	}
	steps := map[string]int{"draft": 0, "active": 1, "paused": 2, "completed": 2, "cancelled": 1}
	for _, tc := range []struct {
		name, from, action string
		to                 string // "" when the action is refused with 409
	}{
		{"draft activate", "draft", "activate", "active"},
		{"draft pause", "draft", "pause", ""},
		{"draft resume", "draft", "resume", ""},
		{"draft cancel", "draft", "cancel", "cancelled"},
		{"draft complete", "draft", "complete", ""},
		{"active activate", "active", "activate", ""},
		{"active pause", "active", "pause", "paused"},
		{"active resume", "active", "resume", ""},
		{"active cancel", "active", "cancel", "cancelled"},
		{"active complete", "active", "complete", "completed"},
		{"paused activate", "paused", "activate", ""},
		{"paused pause", "paused", "pause", ""},
		{"paused resume", "paused", "resume", "active"},
		{"paused cancel", "paused", "cancel", "cancelled"},
		{"paused complete", "paused", "complete", "completed"},
		{"completed activate", "completed", "activate", ""},
		{"completed pause", "completed", "pause", ""},
		{"completed resume", "completed", "resume", ""},
		{"completed cancel", "completed", "cancel", ""},
		{"completed complete", "completed", "complete", ""},
		{"cancelled activate", "cancelled", "activate", ""},
		{"cancelled pause", "cancelled", "pause", ""},
		{"cancelled resume", "cancelled", "resume", ""},
		{"cancelled cancel", "cancelled", "cancel", ""},
		{"cancelled complete", "cancelled", "complete", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := campaignIn(t, m, tc.from)
			r := campaignAct(t, m, id, tc.action)
			want, wantTrail := tc.to, 1+steps[tc.from]+1
			if tc.to == "" {
				wantError(t, r, http.StatusConflict, "conflict")
				want, wantTrail = tc.from, wantTrail-1
			} else if r.status != http.StatusOK || r.body["state"] != tc.to {
				t.Errorf("got %v, want 200 with state %s", r, tc.to)
			}
			if got := campaignCall(t, m, "GET", "/"+id, "")["state"]; got != want {
				t.Errorf("state afterwards = %v, want %s", got, want)
			}
			if got := trailLen(t, id); got != wantTrail {
				t.Errorf("trail has %d entries, want %d", got, wantTrail)
			}
		})
	}

	t.Run("unknown action", func(t *testing.T) {
		id := campaignIn(t, m, "draft")
		wantError(t, campaignAct(t, m, id, "explode"), http.StatusNotFound, "not_found")
		if got := campaignCall(t, m, "GET", "/"+id, "")["state"]; got != "draft" {
			t.Errorf("state after explode = %v, want draft", got)
		}
	})
	for _, tc := range []struct{ name, method, path string }{
		{"get", "GET", ""},
		{"preview", "GET", "/preview"},
		{"trail", "GET", "/trail"},
		{"activate", "POST", "/activate"},
		{"cancel", "POST", "/cancel"},
		{"explode", "POST", "/explode"},
	} {
		t.Run("unknown campaign "+tc.name, func(t *testing.T) {
			r := send(t, tc.method, m.URL()+"/admin/v1/campaigns/c-doesnotexist"+tc.path, admin(), nil)
			wantError(t, r, http.StatusNotFound, "not_found")
		})
	}
}

func TestCampaignTrailAndPolicyVersion(t *testing.T) {
	m := fakeServer(t, clock.NewFake(campaignNow))
	root, err := m.store.AdminTokenByHash(context.Background(), token.HashSecret(testAdminToken))
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"kind":"reauth","name":"trail","cohort":{"platforms":["ios"]}}`
	id := postCampaign(t, m, doc)
	version := func() uint64 {
		t.Helper()
		v, ok := campaignCall(t, m, "GET", "/"+id, "")["policy_version"].(float64)
		if !ok {
			t.Fatalf("GET campaign has no policy_version")
		}
		return uint64(v)
	}
	last := version()
	actions := []string{"activate", "pause", "resume", "complete"}
	for _, a := range actions {
		mustAct(t, m, id, a)
		if v := version(); v <= last {
			t.Errorf("policy_version after %s = %d, want more than %d", a, v, last)
		} else {
			last = v
		}
	}
	// A refused action changes no policy.
	campaignAct(t, m, id, "activate")
	if v := version(); v != last {
		t.Errorf("policy_version after a refused activate = %d, want %d", v, last)
	}

	r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/trail", admin(), nil)
	var tr struct {
		Trail []struct {
			CampaignID string          `json:"campaign_id"`
			Action     string          `json:"action"`
			Actor      string          `json:"actor"`
			At         time.Time       `json:"at"`
			Document   json.RawMessage `json:"document"`
		} `json:"trail"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.raw, &tr) != nil {
		t.Fatalf("trail: %v", r)
	}
	var got []string
	for i, e := range tr.Trail {
		got = append(got, e.Action)
		if e.Actor != root.ID || e.CampaignID != id {
			t.Errorf("trail[%d] (%s): actor %q campaign %q, want %q and %q", i, e.Action, e.Actor, e.CampaignID, root.ID, id)
		}
		if i > 0 && e.At.Before(tr.Trail[i-1].At) {
			t.Errorf("trail[%d] at %v is before trail[%d] at %v", i, e.At, i-1, tr.Trail[i-1].At)
		}
		if i > 0 && len(e.Document) > 0 && string(e.Document) != "null" {
			t.Errorf("trail[%d] (%s) carries a document: %s", i, e.Action, e.Document)
		}
	}
	if want := append([]string{"create"}, actions...); !slices.Equal(got, want) {
		t.Fatalf("trail actions = %v, want %v", got, want)
	}
	if d := trailDocument(tr.Trail[0].Document); !bytes.Equal(d, []byte(doc)) {
		t.Errorf("create entry's document = %s, want the posted %s", tr.Trail[0].Document, doc)
	}
}

// trailDocument reads a trail entry's document, which may be the JSON
// object itself or its bytes in base64 (a []byte in encoding/json).
func trailDocument(raw json.RawMessage) []byte {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b
		}
		return []byte(s)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}

func TestCampaignListNewestFirst(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	if r := send(t, "GET", m.URL()+"/admin/v1/campaigns", admin(), nil); r.status != http.StatusOK || r.body["campaigns"] == nil {
		t.Fatalf("empty list: %v, want 200 with an empty campaigns list", r)
	}
	var ids []string
	for i := range 4 {
		ids = append(ids, postCampaign(t, m, fmt.Sprintf(`{"kind":"reauth","name":"c%d"}`, i)))
		clk.Advance(time.Second)
	}
	mustAct(t, m, ids[0], "activate") // a later change does not reorder
	r := send(t, "GET", m.URL()+"/admin/v1/campaigns", admin(), nil)
	var got []string
	list, _ := r.body["campaigns"].([]any)
	for _, c := range list {
		got = append(got, c.(map[string]any)["id"].(string))
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("list = %v, want newest first %v", got, want)
	}
}

type previewRow struct {
	Platform string `json:"platform"`
	Version  string `json:"version"`
	Source   string `json:"source"`
	Sessions int64  `json:"sessions"`
}

type previewOut struct {
	Sessions      int64        `json:"sessions"`
	Users         int64        `json:"users"`
	Exact         bool         `json:"exact"`
	AdmittedShare float64      `json:"admitted_share"`
	Breakdown     []previewRow `json:"breakdown"`
	LiveSessions  int64        `json:"live_sessions"`
}

func sortRows(rows []previewRow) []previewRow {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b previewRow) int {
		return strings.Compare(a.Platform+" "+a.Version+" "+a.Source, b.Platform+" "+b.Version+" "+b.Source)
	})
	return rows
}

func TestCampaignPreview(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	t0 := clk.Now()
	// Logged in at t0.
	early := []*install{
		{user: "a1", platform: "ios", version: "8.4.1", source: "appstore"},
		{user: "a3", platform: "android", version: "8.4.1", source: "play"},
		{user: "a5", platform: "desktop", version: "8.4.1", source: "official"},
	}
	ids := enrol(t, m, early...)
	clk.Advance(2 * time.Hour)
	// Logged in at t0+2h; a1 has a second session, a7's ends at once.
	late := []*install{
		{user: "a1", platform: "desktop", version: "8.4.1", source: "official"},
		{user: "a2", platform: "ios", version: "8.5.0", source: "appstore"},
		{user: "a4", platform: "android", version: "8.3.0", source: "unknown"},
		{user: "a6", platform: "android", version: "8.6.0", source: "amazon"},
		{user: "a7", platform: "web", version: "8.4.1", source: "web"},
	}
	for _, in := range late {
		if _, ok := ids[in.user]; !ok {
			ids[in.user] = addUser(t, m, in.user, userPassword)
		}
		in.login(t, m)
	}
	if code, _, out := call(t, "POST", m.URL()+"/v1/logout", bearerH(late[4].access), ""); code != http.StatusNoContent {
		t.Fatalf("logout a7: %d %v", code, out)
	}
	clk.Advance(time.Hour)

	row := func(p, v, s string, n int64) previewRow { return previewRow{p, v, s, n} }
	for _, tc := range []struct {
		name      string
		doc       string
		sessions  int64
		users     int64
		share     float64
		breakdown []previewRow
	}{
		{"platforms", `{"kind":"reauth","name":"p","cohort":{"platforms":["android"]}}`, 3, 3, 1, []previewRow{
			row("android", "8.3.0", "unknown", 1), row("android", "8.4.1", "play", 1), row("android", "8.6.0", "amazon", 1)}},
		{"versions below 8.5.0", `{"kind":"reauth","name":"p","cohort":{"versions":"< 8.5.0"}}`, 5, 4, 1, []previewRow{
			row("android", "8.3.0", "unknown", 1), row("android", "8.4.1", "play", 1), row("desktop", "8.4.1", "official", 2), row("ios", "8.4.1", "appstore", 1)}},
		{"sources", `{"kind":"reauth","name":"p","cohort":{"sources":["play","unknown"]}}`, 2, 2, 1, []previewRow{
			row("android", "8.3.0", "unknown", 1), row("android", "8.4.1", "play", 1)}},
		{"authenticated before", fmt.Sprintf(`{"kind":"reauth","name":"p","cohort":{"authenticated_before":%q}}`, t0.Add(time.Hour).Format(time.RFC3339)), 3, 3, 1, []previewRow{
			row("android", "8.4.1", "play", 1), row("desktop", "8.4.1", "official", 1), row("ios", "8.4.1", "appstore", 1)}},
		{"users by username", `{"kind":"reauth","name":"p","cohort":{"users":["a1"]}}`, 2, 1, 1, []previewRow{
			row("desktop", "8.4.1", "official", 1), row("ios", "8.4.1", "appstore", 1)}},
		{"users by id", fmt.Sprintf(`{"kind":"reauth","name":"p","cohort":{"users":[%q,%q]}}`, ids["a2"], ids["a7"]), 1, 1, 1, []previewRow{
			row("ios", "8.5.0", "appstore", 1)}},
		{"users by username and id", fmt.Sprintf(`{"kind":"reauth","name":"p","cohort":{"users":["a4",%q]}}`, ids["a4"]), 1, 1, 1, []previewRow{
			row("android", "8.3.0", "unknown", 1)}},
		{"upgrade counts only sessions below min_version", `{"kind":"upgrade","name":"p","cohort":{"platforms":["android","ios"]},
			"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://example.com/download"}}}`, 3, 3, 1, []previewRow{
			row("android", "8.3.0", "unknown", 1), row("android", "8.4.1", "play", 1), row("ios", "8.4.1", "appstore", 1)}},
		{"reauth ramp starting in the future", fmt.Sprintf(`{"kind":"reauth","name":"p","cohort":{"platforms":["ios"]},"ramp":{"start":%q,"duration":"72h"}}`,
			clk.Now().Add(24*time.Hour).Format(time.RFC3339)), 2, 2, 0, []previewRow{
			row("ios", "8.4.1", "appstore", 1), row("ios", "8.5.0", "appstore", 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := postCampaign(t, m, tc.doc)
			r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/preview", admin(), nil)
			var got previewOut
			if r.status != http.StatusOK || json.Unmarshal(r.raw, &got) != nil {
				t.Fatalf("preview: %v", r)
			}
			if got.Sessions != tc.sessions || got.Users != tc.users || !got.Exact || got.AdmittedShare != tc.share || got.LiveSessions != 7 {
				t.Errorf("preview = %d sessions, %d users, exact %v, admitted_share %v, live_sessions %d; want %d, %d, true, %v, 7",
					got.Sessions, got.Users, got.Exact, got.AdmittedShare, got.LiveSessions, tc.sessions, tc.users, tc.share)
			}
			if g, w := sortRows(got.Breakdown), sortRows(tc.breakdown); !slices.Equal(g, w) {
				t.Errorf("breakdown = %+v, want %+v", g, w)
			}
		})
	}
}

// TestCampaignPreviewSkipsExpiredSessions: a session whose refresh tokens
// have all expired can make no request again, so a campaign cannot hit it.
func TestCampaignPreviewSkipsExpiredSessions(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	gone := &install{user: "gone", platform: "ios", version: "8.4.1", source: "appstore"}
	back := &install{user: "back", platform: "ios", version: "8.4.1", source: "appstore"}
	enrol(t, m, gone, back)
	clk.Advance(31 * 24 * time.Hour) // past the 30-day refresh idle limit
	if code, out := refresh(t, m, gone.refresh); code != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("refresh of an idle-expired session: %d %v, want 400 invalid_grant", code, out)
	}
	back.login(t, m) // a new session; the old one has expired too
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"reauth","name":"expired"}`)
	r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/preview", admin(), nil)
	var got previewOut
	if r.status != http.StatusOK || json.Unmarshal(r.raw, &got) != nil {
		t.Fatalf("preview: %v", r)
	}
	if got.Sessions != 1 || got.Users != 1 || got.LiveSessions != 1 {
		t.Errorf("preview = %d sessions of %d users, live_sessions %d; want 1, 1, 1 (only back's new session can still be hit)",
			got.Sessions, got.Users, got.LiveSessions)
	}
}

// upgradeDoc is an Android upgrade campaign in the given mode.
func upgradeDoc(mode string) string {
	return fmt.Sprintf(`{"kind":"upgrade","name":"Android 8.5","cohort":{"platforms":["android"]},
		"upgrade":{"min_version":"8.5.0","mode":%q,"urls":{"play":"https://play.example/app","official":"https://example.com/download"}}}`, mode)
}

// wantOAuth checks a refresh refused by a campaign: 400 invalid_grant with
// the campaign's reason.
func wantOAuth(t *testing.T, r apiResp, reason string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" || r.body["reason"] != reason {
		t.Fatalf("refresh: %v, want 400 invalid_grant with reason %s", r, reason)
	}
}

func TestCampaignEnforcement(t *testing.T) {
	t.Run("flexible upgrade prompts", func(t *testing.T) {
		m := fakeServer(t, clock.NewFake(campaignNow))
		old := &install{user: "old", platform: "android", version: "8.4.1", source: "play"}
		side := &install{user: "side", platform: "android", version: "8.4.1", source: "unknown"}
		fresh := &install{user: "fresh", platform: "android", version: "8.5.0", source: "play"}
		enrol(t, m, old, side, fresh)
		id := postCampaign(t, m, upgradeDoc("flexible"))
		mustAct(t, m, id, "activate")
		for _, tc := range []struct {
			name   string
			in     *install
			header string
		}{
			{"below min from play", old, `mode=flexible, min="8.5.0", url="https://play.example/app"`},
			{"below min side-loaded", side, `mode=flexible, min="8.5.0", url="https://example.com/download"`},
			{"at min", fresh, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tc.in.get(t, m)
				if r.status != http.StatusOK {
					t.Fatalf("GET /v1/session: %v, want 200", r)
				}
				if got := r.header.Get("Cordon-Upgrade"); got != tc.header {
					t.Errorf("Cordon-Upgrade = %q, want %q", got, tc.header)
				}
			})
		}
	})

	t.Run("immediate upgrade", func(t *testing.T) {
		m := fakeServer(t, clock.NewFake(campaignNow))
		play := &install{user: "play", platform: "android", version: "8.4.1", source: "play"}
		side := &install{user: "side", platform: "android", version: "8.4.1", source: "unknown"}
		ios := &install{user: "ios", platform: "ios", version: "8.4.1", source: "appstore"}
		waiter := &install{user: "waiter", platform: "android", version: "8.4.1", source: "play"}
		upgrader := &install{user: "upgrader", platform: "android", version: "8.4.1", source: "play"}
		enrol(t, m, play, side, ios, waiter, upgrader)
		id := postCampaign(t, m, upgradeDoc("immediate"))
		mustAct(t, m, id, "activate")
		for _, tc := range []struct {
			name       string
			in         *install
			url        string
			sideloaded bool
		}{
			{"from play", play, "https://play.example/app", false},
			{"side-loaded", side, "https://example.com/download", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tc.in.get(t, m)
				wantError(t, r, http.StatusUpgradeRequired, "upgrade_required")
				sl, _ := r.body["sideloaded"].(bool)
				if r.body["min_version"] != "8.5.0" || r.body["update_url"] != tc.url || r.body["campaign"] != id || sl != tc.sideloaded {
					t.Errorf("426 body = %v; want min_version 8.5.0, update_url %s, campaign %s, sideloaded %v", r.body, tc.url, id, tc.sideloaded)
				}
			})
		}
		t.Run("outside the cohort", func(t *testing.T) {
			if r := ios.get(t, m); r.status != http.StatusOK {
				t.Errorf("iOS session under an Android upgrade: %v, want 200", r)
			}
		})
		t.Run("refresh refused", func(t *testing.T) {
			code, out := refresh(t, m, play.refresh)
			if code != http.StatusBadRequest || out["error"] != "invalid_grant" || out["reason"] != "upgrade_required" ||
				out["update_url"] != "https://play.example/app" || out["min_version"] != "8.5.0" || out["campaign"] != id {
				t.Errorf("refresh: %d %v; want 400 invalid_grant, reason upgrade_required, update_url, min_version, campaign", code, out)
			}
		})
		t.Run("refresh after an in-place upgrade", func(t *testing.T) {
			// The app is refused, upgrades, and refreshes again with the
			// refresh token it holds: the only one it was ever given.
			wantOAuth(t, upgrader.refreshAs(t, m), "upgrade_required")
			upgrader.version = "8.5.0"
			if r := upgrader.refreshAs(t, m); r.status != http.StatusOK {
				t.Errorf("refresh with the same token after upgrading to 8.5.0: %v, want 200 (the upgrade keeps the session)", r)
			}
		})
		t.Run("pause restores access, resume blocks again", func(t *testing.T) {
			wantOAuth(t, waiter.refreshAs(t, m), "upgrade_required")
			mustAct(t, m, id, "pause")
			if r := side.get(t, m); r.status != http.StatusOK {
				t.Errorf("after pause: %v, want 200", r)
			}
			if r := waiter.refreshAs(t, m); r.status != http.StatusOK {
				t.Errorf("refresh after pause with the token refused during the campaign: %v, want 200 (pause restores access)", r)
			}
			if r := waiter.get(t, m); r.status != http.StatusOK {
				t.Errorf("session after pause and a refresh retry: %v, want 200", r)
			}
			mustAct(t, m, id, "resume")
			wantError(t, side.get(t, m), http.StatusUpgradeRequired, "upgrade_required")
			mustAct(t, m, id, "cancel")
			if r := side.get(t, m); r.status != http.StatusOK {
				t.Errorf("after cancel: %v, want 200", r)
			}
		})
	})

	t.Run("password_reset beats reauth", func(t *testing.T) {
		clk := clock.NewFake(campaignNow)
		m := fakeServer(t, clk)
		in := &install{user: "pat", platform: "ios", version: "8.4.1", source: "appstore"}
		enrol(t, m, in)
		clk.Advance(time.Minute)
		reauth := postCampaign(t, m, `{"kind":"reauth","name":"r"}`)
		reset := postCampaign(t, m, `{"kind":"password_reset","name":"p","message":"Set a new password."}`)
		mustAct(t, m, reauth, "activate")
		r := in.get(t, m)
		wantError(t, r, http.StatusUnauthorized, "reauth_required")
		mustAct(t, m, reset, "activate")
		r = in.get(t, m)
		wantError(t, r, http.StatusUnauthorized, "password_reset_required")
		wantBearerChallenge(t, r)
		if r.body["campaign"] != reset {
			t.Errorf("campaign = %v, want the password_reset campaign %s (reauth is %s)", r.body["campaign"], reset, reauth)
		}
		mustAct(t, m, reset, "pause")
		r = in.get(t, m)
		wantError(t, r, http.StatusUnauthorized, "reauth_required")
		if r.body["campaign"] != reauth {
			t.Errorf("after pausing the reset: campaign = %v, want %s", r.body["campaign"], reauth)
		}
	})

	t.Run("explicit users", func(t *testing.T) {
		clk := clock.NewFake(campaignNow)
		m := fakeServer(t, clk)
		alice := &install{user: "alice", platform: "ios", version: "8.4.1", source: "appstore"}
		bob := &install{user: "bob", platform: "ios", version: "8.4.1", source: "appstore"}
		enrol(t, m, alice, bob)
		clk.Advance(time.Minute)
		id := postCampaign(t, m, `{"kind":"reauth","name":"alice only","cohort":{"users":["alice"]}}`)
		mustAct(t, m, id, "activate")
		r := alice.get(t, m)
		wantError(t, r, http.StatusUnauthorized, "reauth_required")
		wantBearerChallenge(t, r)
		if r.body["campaign"] != id {
			t.Errorf("campaign = %v, want %s", r.body["campaign"], id)
		}
		if r := bob.get(t, m); r.status != http.StatusOK {
			t.Errorf("bob, not in the cohort: %v, want 200", r)
		}
	})
}

func TestDecide(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	blocked := &install{user: "ivy", platform: "ios", version: "8.4.1", source: "appstore"}
	allowed := &install{user: "andy", platform: "android", version: "8.4.1", source: "play"}
	gone := &install{user: "gus", platform: "ios", version: "8.4.1", source: "appstore"}
	ids := enrol(t, m, blocked, allowed, gone)
	if code, _, out := call(t, "POST", m.URL()+"/v1/logout", bearerH(gone.access), ""); code != http.StatusNoContent {
		t.Fatalf("logout: %d %v", code, out)
	}
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"reauth","name":"ios","cohort":{"platforms":["ios"]}}`)
	mustAct(t, m, id, "activate")

	decide := func(authz, client string) apiResp {
		t.Helper()
		return send(t, "POST", m.URL()+"/v1/decide", hdr("Authorization", authz, "Cordon-Client", client), nil)
	}
	t.Run("missing Authorization", func(t *testing.T) {
		wantError(t, decide("", blocked.header()), http.StatusUnauthorized, "unauthorized")
	})
	t.Run("garbage token", func(t *testing.T) {
		r := decide("Bearer not.a.token", blocked.header())
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
		wantBearerChallenge(t, r)
	})
	for _, tc := range []struct{ name, client string }{
		{"malformed Cordon-Client", `platform="ios`},
		{"unknown platform in Cordon-Client", `platform=blackberry, version="1.0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, decide("Bearer "+allowed.access, tc.client), http.StatusBadRequest, "invalid_client_header")
		})
	}
	for _, tc := range []struct {
		name     string
		in       *install
		outcome  string
		reason   string
		campaign string
	}{
		{"blocked", blocked, "deny", "reauth_required", id},
		{"allowed", allowed, "allow", "", ""},
		{"logged out", gone, "deny", "session_revoked", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := decide("Bearer "+tc.in.access, tc.in.header())
			if r.status != http.StatusOK {
				t.Fatalf("decide: %v, want 200", r)
			}
			d, _ := r.body["decision"].(map[string]any)
			reason, _ := d["reason"].(string)
			camp, _ := d["campaign"].(string)
			if d["outcome"] != tc.outcome || reason != tc.reason || camp != tc.campaign {
				t.Errorf("decision = %v; want outcome %s, reason %q, campaign %q", d, tc.outcome, tc.reason, tc.campaign)
			}
			if r.body["account_id"] != ids[tc.in.user] || r.body["session_id"] == "" {
				t.Errorf("decide answer = %v, want account_id %s and a session_id", r.body, ids[tc.in.user])
			}
		})
	}
	t.Run("a denial by decide counts as a block", func(t *testing.T) {
		if p := progressOf(t, m, id); p.BlockedSessions != 1 || p.BlockedUsers != 1 {
			t.Errorf("progress = %+v, want 1 blocked session of 1 user", p)
		}
	})
}

func TestOfflineGrantsAPI(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	keep := &install{user: "kim", platform: "android", version: "8.4.1", source: "play"}
	leave := &install{user: "lou", platform: "android", version: "8.4.1", source: "play"}
	enrol(t, m, keep, leave)
	issue := func(t *testing.T, in *install) string {
		t.Helper()
		code, _, g := call(t, "POST", m.URL()+"/v1/offline/grants", bearerH(in.access), "")
		s, _ := g["grant"].(string)
		if code != http.StatusCreated || s == "" || g["expires_at"] == nil {
			t.Fatalf("issue grant: %d %v", code, g)
		}
		return s
	}
	check := func(ctype, body string) apiResp {
		t.Helper()
		return send(t, "POST", m.URL()+"/v1/offline/grants/check", hdr("Content-Type", ctype, "Cordon-Client", keep.header()), []byte(body))
	}
	grantBody := func(g string) string {
		b, _ := json.Marshal(map[string]string{"grant": g})
		return string(b)
	}
	keepGrant, leaveGrant := issue(t, keep), issue(t, leave)

	t.Run("issue without token", func(t *testing.T) {
		wantError(t, send(t, "POST", m.URL()+"/v1/offline/grants", nil, nil), http.StatusUnauthorized, "unauthorized")
	})
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code, field       string
	}{
		{"malformed JSON", "application/json", `{"grant":`, 400, "invalid_request", ""},
		{"not JSON", "application/json", `grant=cog_x`, 400, "invalid_request", ""},
		{"missing grant", "application/json", `{}`, 400, "invalid_request", "grant"},
		{"empty grant", "application/json", `{"grant":""}`, 400, "invalid_request", "grant"},
		{"unknown field", "application/json", `{"grant":"cog_x","device":"d"}`, 400, "invalid_request", "device"},
		{"unknown grant", "application/json", grantBody("cog_doesnotexist"), 404, "not_found", ""},
		{"grant longer than 512 bytes", "application/json", grantBody("cog_" + strings.Repeat("x", 509)), 400, "invalid_request", "grant"},
		{"wrong Content-Type", "text/plain", grantBody(keepGrant), 415, "unsupported_media_type", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFieldError(t, check(tc.ctype, tc.body), tc.status, tc.code, tc.field)
		})
	}
	t.Run("valid grant", func(t *testing.T) {
		if r := check("application/json", grantBody(keepGrant)); r.status != http.StatusOK || r.body["valid"] != true {
			t.Errorf("check: %v, want 200 valid", r)
		}
	})
	t.Run("after logout", func(t *testing.T) {
		if code, _, out := call(t, "POST", m.URL()+"/v1/logout", bearerH(leave.access), ""); code != http.StatusNoContent {
			t.Fatalf("logout: %d %v", code, out)
		}
		r := send(t, "POST", m.URL()+"/v1/offline/grants/check", hdr("Content-Type", "application/json", "Cordon-Client", leave.header()), []byte(grantBody(leaveGrant)))
		wantError(t, r, http.StatusForbidden, "offline_grant_revoked")
	})
	t.Run("expired", func(t *testing.T) {
		clk.Advance(31 * 24 * time.Hour)
		wantError(t, check("application/json", grantBody(keepGrant)), http.StatusForbidden, "offline_grant_revoked")
	})
}

func TestCampaignProgress(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	u1ios := &install{user: "u1", platform: "ios", version: "8.4.1", source: "appstore"}
	u1desk := &install{user: "u1", platform: "desktop", version: "8.4.1", source: "official"}
	u2 := &install{user: "u2", platform: "ios", version: "8.4.1", source: "appstore"}
	u3 := &install{user: "u3", platform: "desktop", version: "8.4.1", source: "official"}
	idle := &install{user: "u4", platform: "ios", version: "8.4.1", source: "appstore"} // in the cohort, never shows up
	outside := &install{user: "u5", platform: "android", version: "8.4.1", source: "play"}
	enrol(t, m, u1ios, u1desk, u2, u3, idle, outside)
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"reauth","name":"progress","cohort":{"platforms":["ios","desktop"]}}`)
	mustAct(t, m, id, "activate")

	want := func(t *testing.T, sessions, users, satisfied int64) {
		t.Helper()
		p := progressOf(t, m, id)
		// Complete is stated against the cohort: u1 to u4 (u4 never shows
		// up), not against those blocked so far; it was satisfied ÷
		// blocked, and 1 before anyone was blocked.
		complete := float64(satisfied) / 4
		if w := (progress{sessions, users, satisfied, complete}); p != w {
			t.Errorf("progress = %+v, want %+v", p, w)
		}
	}
	want(t, 0, 0, 0)
	blocked := []*install{u1ios, u1desk, u2, u3}
	for round := range 3 {
		for _, in := range blocked {
			wantError(t, in.get(t, m), http.StatusUnauthorized, "reauth_required")
		}
		if round == 0 {
			want(t, 4, 3, 0)
		}
	}
	if code, out := refresh(t, m, u2.refresh); code != http.StatusBadRequest || out["reason"] != "reauth_required" {
		t.Errorf("refresh of a blocked session: %d %v", code, out)
	}
	if r := outside.get(t, m); r.status != http.StatusOK {
		t.Errorf("session outside the cohort: %v", r)
	}
	t.Run("repeated requests do not grow blocked_sessions", func(t *testing.T) { want(t, 4, 3, 0) })

	u1ios.login(t, m)
	u2.login(t, m)
	t.Run("re-logins of blocked users satisfy", func(t *testing.T) { want(t, 4, 3, 2) })
	for _, in := range []*install{u1ios, u2} {
		if r := in.get(t, m); r.status != http.StatusOK {
			t.Errorf("after re-login %s: %v, want 200", in.user, r)
		}
	}
	u1desk.login(t, m) // the same user again
	idle.login(t, m)   // in the cohort, never blocked
	outside.login(t, m)
	t.Run("other logins do not count", func(t *testing.T) { want(t, 4, 3, 2) })
	u3.login(t, m)
	t.Run("every blocked user satisfied", func(t *testing.T) { want(t, 4, 3, 3) })
}

// TestCampaignProgressReloginWhilePaused: a blocked user who logs in again
// while the campaign is paused has done what it asks (the new session is
// never blocked after resume), so it counts as satisfied.
func TestCampaignProgressReloginWhilePaused(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	in := &install{user: "paula", platform: "ios", version: "8.4.1", source: "appstore"}
	enrol(t, m, in)
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"reauth","name":"paused re-login"}`)
	mustAct(t, m, id, "activate")
	wantError(t, in.get(t, m), http.StatusUnauthorized, "reauth_required")
	mustAct(t, m, id, "pause")
	in.login(t, m)
	mustAct(t, m, id, "resume")
	if r := in.get(t, m); r.status != http.StatusOK {
		t.Fatalf("new session after resume: %v, want 200", r)
	}
	if p, w := progressOf(t, m, id), (progress{1, 1, 1, 1}); p != w {
		t.Errorf("progress = %+v, want %+v: the re-login during the pause satisfied the campaign", p, w)
	}
}

func TestCampaignConcurrency(t *testing.T) {
	const n = 16
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	// Concurrent requests make the client dial spare connections that
	// never carry a request; the server's graceful shutdown waits 5 s for
	// such connections unless they are closed first (cleanups run last
	// registered first).
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	in := &install{user: "cat", platform: "ios", version: "8.4.1", source: "appstore"}
	enrol(t, m, in)
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"reauth","name":"race"}`)

	t.Run("activate at once", func(t *testing.T) {
		res := make([]apiResp, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res[i], errs[i] = do("POST", m.URL()+"/admin/v1/campaigns/"+id+"/activate", admin(), nil)
			})
		}
		wg.Wait()
		ok, conflict := 0, 0
		for i, r := range res {
			switch {
			case errs[i] != nil:
				t.Errorf("request %d: %v", i, errs[i])
			case r.status == http.StatusOK:
				ok++
			case r.status == http.StatusConflict && r.body["error"] == "conflict":
				conflict++
			default:
				t.Errorf("request %d: %v, want 200 or 409 conflict", i, r)
			}
		}
		if ok != 1 || conflict != n-1 {
			t.Errorf("%d activations won and %d conflicted, want 1 and %d", ok, conflict, n-1)
		}
		r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/trail", admin(), nil)
		list, _ := r.body["trail"].([]any)
		if len(list) != 2 {
			t.Errorf("trail has %d entries, want create and one activate: %v", len(list), r)
		}
	})

	t.Run("one blocked session at once", func(t *testing.T) {
		h := bearerH(in.access)
		h["Cordon-Client"] = in.header()
		res := make([]apiResp, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res[i], errs[i] = do("GET", m.URL()+"/v1/session", h, nil)
			})
		}
		wg.Wait()
		for i, r := range res {
			if errs[i] != nil || r.status != http.StatusUnauthorized || r.body["error"] != "reauth_required" {
				t.Errorf("request %d: %v %v, want 401 reauth_required", i, r, errs[i])
			}
		}
		if p := progressOf(t, m, id); p.BlockedSessions != 1 || p.BlockedUsers != 1 {
			t.Errorf("progress = %+v, want 1 blocked session of 1 user", p)
		}
	})
}

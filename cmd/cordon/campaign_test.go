package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/password"
)

// fakeServer is testServer on a fake clock.
func fakeServer(t *testing.T, clk *clock.Fake) *Main {
	t.Helper()
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: t.TempDir(), AdminToken: testAdminToken, Clock: clk,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32},
		Log:  slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

type install struct {
	user, platform, version, source string
	access, refresh                 string
}

func (i *install) header() string {
	return fmt.Sprintf(`platform=%s, version=%q, source=%s, device="d-%s"`, i.platform, i.version, i.source, i.user)
}

func (i *install) login(t *testing.T, m *Main) {
	t.Helper()
	code, tok := login(t, m, i.user, "a long enough password", i.header())
	if code != 200 {
		t.Fatalf("login %s: %d %v", i.user, code, tok)
	}
	i.access, i.refresh = tok["access_token"].(string), tok["refresh_token"].(string)
}

func (i *install) renew(t *testing.T, m *Main) {
	t.Helper()
	code, tok := refresh(t, m, i.refresh)
	if code != 200 {
		t.Fatalf("refresh %s: %d %v", i.user, code, tok)
	}
	i.access, i.refresh = tok["access_token"].(string), tok["refresh_token"].(string)
}

func (i *install) session(t *testing.T, m *Main) (int, http.Header, map[string]any) {
	t.Helper()
	h := bearerH(i.access)
	h["Cordon-Client"] = i.header()
	return call(t, "GET", m.URL()+"/v1/session", h, "")
}

func campaignCall(t *testing.T, m *Main, method, path, body string) map[string]any {
	t.Helper()
	code, _, out := call(t, method, m.URL()+"/admin/v1/campaigns"+path, admin(), body)
	if code >= 300 {
		t.Fatalf("%s campaigns%s: %d %v", method, path, code, out)
	}
	return out
}

// TestIncident plays the core of SPEC.md's incident through the HTTP API:
// a fleet on four platforms, a reauth campaign for desktop, iOS and
// Windows Phone ramped from 36 h ago over 72 h, an immediate Android
// upgrade routed by install source, re-login, an in-place upgrade, and
// cancel restoring access at once.
func TestIncident(t *testing.T) {
	clk := clock.NewFake(time.Date(2014, 5, 20, 8, 0, 0, 0, time.UTC))
	m := fakeServer(t, clk)
	platforms := []struct{ platform, source string }{{"desktop", "official"}, {"ios", "appstore"}, {"winphone", "microsoft"},
		{"android", "play"}, {"android", "amazon"}, {"android", "unknown"}}
	var fleet []*install
	var imports []byte
	for i := range 300 {
		p := platforms[i%len(platforms)]
		in := &install{user: fmt.Sprintf("user%03d", i), platform: p.platform, version: []string{"8.4.1", "8.3.0"}[i%2], source: p.source}
		fleet = append(fleet, in)
		b, _ := json.Marshal(map[string]string{"username": in.user, "password_hash": testHash(t)})
		imports = append(append(imports, b...), '\n')
	}
	code, _, res := call(t, "POST", m.URL()+"/admin/v1/accounts/import",
		map[string]string{"Content-Type": "application/x-ndjson", "Authorization": "Bearer " + testAdminToken}, string(imports))
	if code != 200 || res["created"].(float64) != 300 {
		t.Fatalf("import: %d %v", code, res)
	}
	for _, in := range fleet {
		in.login(t, m)
	}
	// Android installs download content for offline play.
	grants := map[string]string{}
	for _, in := range fleet[3:6] {
		code, _, g := call(t, "POST", m.URL()+"/v1/offline/grants", bearerH(in.access), "")
		if code != 201 || g["grant"] == nil || g["expires_at"] == nil {
			t.Fatalf("offline grant: %d %v", code, g)
		}
		grants[in.user] = g["grant"].(string)
	}
	clk.Advance(7 * 24 * time.Hour) // the breach is found a week later
	for _, in := range fleet {
		in.renew(t, m) // apps refresh; auth_time stays a week old
	}

	start := clk.Now().Add(-36 * time.Hour).Format(time.RFC3339)
	reauth := campaignCall(t, m, "POST", "", fmt.Sprintf(`{"kind":"reauth","name":"May incident","cohort":{"platforms":["desktop","ios","winphone"]},
		"ramp":{"start":%q,"duration":"72h"},"message":"For your security, please log in again."}`, start))
	if reauth["state"] != "draft" {
		t.Fatalf("created campaign state %v, want draft", reauth["state"])
	}
	id := reauth["id"].(string)
	pv := campaignCall(t, m, "GET", "/"+id+"/preview", "")
	if pv["sessions"].(float64) != 150 || pv["users"].(float64) != 150 {
		t.Errorf("preview = %v sessions, %v users; want 150 and 150", pv["sessions"], pv["users"])
	}
	// A draft enforces nothing.
	if code, _, _ := fleet[0].session(t, m); code != 200 {
		t.Fatalf("draft campaign blocked a session: %d", code)
	}
	campaignCall(t, m, "POST", "/"+id+"/activate", "")

	blocked := map[string]bool{}
	for _, in := range fleet {
		code, hdr, body := in.session(t, m)
		switch {
		case code == 401:
			if in.platform == "android" || body["error"] != "reauth_required" || body["campaign"] != id || hdr.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s on %s: 401 %v", in.user, in.platform, body)
			}
			blocked[in.user] = true
		case code != 200:
			t.Fatalf("%s: %d %v", in.user, code, body)
		}
	}
	if n := len(blocked); n < 50 || n > 100 {
		t.Errorf("%d of 150 cohort sessions blocked half-way through the ramp, want close to half", n)
	}
	// Refresh is refused the same way.
	for _, in := range fleet {
		if !blocked[in.user] {
			continue
		}
		if code, out := refresh(t, m, in.refresh); code != 400 || out["reason"] != "reauth_required" {
			t.Fatalf("refresh of a blocked session: %d %v", code, out)
		}
		break
	}
	// Logging in again satisfies the campaign.
	satisfied := 0
	for _, in := range fleet {
		if blocked[in.user] && satisfied < 10 {
			in.login(t, m)
			if code, _, body := in.session(t, m); code != 200 {
				t.Fatalf("after re-login %s: %d %v", in.user, code, body)
			}
			satisfied++
		}
	}
	got := campaignCall(t, m, "GET", "/"+id, "")
	prog := got["progress"].(map[string]any)
	if prog["blocked_sessions"].(float64) != float64(len(blocked)) || prog["blocked_users"].(float64) != float64(len(blocked)) || prog["satisfied_users"].(float64) != float64(satisfied) {
		t.Errorf("progress = %v; want %d blocked, %d satisfied", prog, len(blocked), satisfied)
	}

	// An immediate Android upgrade sends each source to its store.
	up := campaignCall(t, m, "POST", "", `{"kind":"upgrade","name":"Android 8.5","cohort":{"platforms":["android"]},
		"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"play":"https://play.example/app","amazon":"https://amazon.example/app","official":"https://example.com/download"}}}`)
	campaignCall(t, m, "POST", "/"+up["id"].(string)+"/activate", "")
	wantURL := map[string]string{"play": "https://play.example/app", "amazon": "https://amazon.example/app", "unknown": "https://example.com/download"}
	for _, in := range fleet[3:6] {
		code, _, body := in.session(t, m)
		if code != 426 || body["error"] != "upgrade_required" || body["update_url"] != wantURL[in.source] || body["min_version"] != "8.5.0" ||
			(body["sideloaded"] == true) != (in.source == "unknown") {
			t.Errorf("%s from %s: %d %v", in.platform, in.source, code, body)
		}
	}
	// An upgrade in place passes and keeps the session.
	fleet[3].version = "8.5.0"
	if code, _, body := fleet[3].session(t, m); code != 200 {
		t.Errorf("after upgrading in place: %d %v", code, body)
	}

	// Offline grants issued before a re-key are refused; new ones pass.
	rekey := campaignCall(t, m, "POST", "", `{"kind":"offline_rekey","name":"re-key offline content","cohort":{"platforms":["android"]}}`)
	campaignCall(t, m, "POST", "/"+rekey["id"].(string)+"/activate", "")
	check := func(in *install, grant string) (int, map[string]any) {
		h := map[string]string{"Content-Type": "application/json", "Cordon-Client": in.header()}
		b, _ := json.Marshal(map[string]string{"grant": grant})
		code, _, out := call(t, "POST", m.URL()+"/v1/offline/grants/check", h, string(b))
		return code, out
	}
	for _, in := range fleet[3:6] {
		if code, out := check(in, grants[in.user]); code != 403 || out["error"] != "offline_grant_revoked" || out["campaign"] != rekey["id"] {
			t.Errorf("old grant of %s after re-key: %d %v", in.source, code, out)
		}
	}
	// The app reports its new version on every request, as the wire
	// contract says; the session itself still says 8.4.1.
	gh := bearerH(fleet[3].access)
	gh["Cordon-Client"] = fleet[3].header()
	code, _, g := call(t, "POST", m.URL()+"/v1/offline/grants", gh, "")
	if code != 201 {
		t.Fatalf("new grant after re-key: %d %v", code, g)
	}
	if code, out := check(fleet[3], g["grant"].(string)); code != 200 || out["valid"] != true {
		t.Errorf("new grant after re-key: %d %v", code, out)
	}
	other := *fleet[3]
	other.user = "someone-else"
	if code, out := check(&other, g["grant"].(string)); code != 403 || out["error"] != "offline_grant_revoked" {
		t.Errorf("grant presented from another device: %d %v", code, out)
	}
	if code, out := check(fleet[3], "cog_forged"); code != 404 {
		t.Errorf("forged grant: %d %v, want 404", code, out)
	}
	rp := campaignCall(t, m, "GET", "/"+rekey["id"].(string), "")["progress"].(map[string]any)
	if rp["blocked_users"].(float64) != 3 || rp["satisfied_users"].(float64) != 1 {
		t.Errorf("re-key progress = %v, want 3 blocked users and 1 satisfied", rp)
	}

	// Progress is exported as metrics too.
	mcode, _, _ := call(t, "GET", m.URL()+"/metrics", nil, "")
	resp, err := http.Get(m.URL() + "/metrics")
	if err != nil || mcode != 200 {
		t.Fatalf("metrics: %d %v", mcode, err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`cordon_campaign_satisfied_users{campaign=%q,kind="reauth",state="active"} %d`, id, satisfied)
	if !strings.Contains(string(mb), want) || !strings.Contains(string(mb), "cordon_policy_version") {
		t.Errorf("metrics lack %s", want)
	}
	// And against the cohort, as the progress API states it.
	var cohort struct {
		Targeted struct {
			Users int64 `json:"users"`
		} `json:"targeted"`
		SatisfiedOfCohort float64 `json:"satisfied_of_cohort"`
	}
	if r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/progress", admin(), nil); r.status != 200 || json.Unmarshal(r.raw, &cohort) != nil {
		t.Fatalf("progress: %v", r)
	}
	for _, w := range []string{
		fmt.Sprintf(`cordon_campaign_targeted_users{campaign=%q,kind="reauth",state="active"} %d`, id, cohort.Targeted.Users),
		fmt.Sprintf(`cordon_campaign_satisfied_of_cohort{campaign=%q,kind="reauth",state="active"} %g`, id, cohort.SatisfiedOfCohort),
		`cordon_campaign_admitted_users{`, `cordon_campaign_dormant_users{`,
	} {
		if !strings.Contains(string(mb), w) {
			t.Errorf("metrics lack %s", w)
		}
	}
	if cohort.Targeted.Users == 0 {
		t.Error("the campaign targets nobody: the cohort metric proves nothing")
	}

	// Cancel restores access at once.
	campaignCall(t, m, "POST", "/"+id+"/cancel", "")
	for _, in := range fleet {
		if blocked[in.user] {
			if code, _, body := in.session(t, m); code != 200 {
				t.Fatalf("after cancel %s: %d %v", in.user, code, body)
			}
		}
	}
	// A cancelled campaign cannot be resumed.
	if code, _, body := call(t, "POST", m.URL()+"/admin/v1/campaigns/"+id+"/resume", admin(), ""); code != 409 {
		t.Errorf("resume after cancel: %d %v, want 409", code, body)
	}
}

var testHashCache string

// testHash is one argon2id hash at the test server's cheap parameters of
// "a long enough password", made once.
func testHash(t *testing.T) string {
	t.Helper()
	if testHashCache == "" {
		h := password.NewHasher(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{})
		s, err := h.Hash(context.Background(), "a long enough password")
		if err != nil {
			t.Fatal(err)
		}
		testHashCache = s
	}
	return testHashCache
}

func TestCampaignCLI(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "erin", "a long enough password")
	login(t, m, "erin", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
	login(t, m, "erin", "a long enough password", `platform=android, version="8.4.1", source=play`)
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	doc := t.TempDir() + "/c.yaml"
	if err := os.WriteFile(doc, []byte("kind: reauth\nname: cli test\ncohort:\n  platforms: [ios]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	run1 := func(args ...string) error {
		out.Reset()
		return run(context.Background(), append(args, "--server", m.URL()), strings.NewReader(""), &out, io.Discard)
	}
	if err := run1("campaign", "create", "-f", doc); err != nil {
		t.Fatal(err)
	}
	id := strings.Fields(out.String())[3]
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"campaign", "preview", id}, "would hit 1 session(s) of 1 user(s) (exact), of 2 live sessions"},
		{[]string{"campaign", "activate", id}, "is active"},
		{[]string{"campaign", "list"}, id},
		{[]string{"campaign", "show", id}, "reauth  active"},
		{[]string{"campaign", "pause", id}, "is paused"},
		{[]string{"campaign", "resume", id}, "is active"},
		{[]string{"campaign", "complete", id}, "is completed"},
	} {
		if err := run1(step.args...); err != nil || !strings.Contains(out.String(), step.want) {
			t.Errorf("%v: err %v, output %q, want it to contain %q", step.args, err, out.String(), step.want)
		}
	}
	if err := run1("campaign", "activate", id); err == nil || exitCode(err) != 1 {
		t.Errorf("activate a completed campaign: %v, want an error", err)
	}
	// A document on stdin: YAML and JSON alike.
	for _, d := range []struct{ name, doc string }{
		{"yaml", "kind: reauth\nname: from stdin\ncohort: {platforms: [ios]}\n"},
		{"json", `  {"kind":"reauth","name":"from stdin"}`},
	} {
		out.Reset()
		err := run(context.Background(), []string{"campaign", "create", "-f", "-", "--server", m.URL()}, strings.NewReader(d.doc), &out, io.Discard)
		if err != nil || !strings.HasPrefix(out.String(), "created reauth campaign c-") {
			t.Errorf("create -f - with %s: err %v, output %q", d.name, err, out.String())
		}
	}
	if err := run1("campaign", "create"); exitCode(err) != 2 {
		t.Errorf("create without -f: %v, want a usage error", err)
	}
	if err := run1("campaign", "show"); exitCode(err) != 2 {
		t.Errorf("show without an id: %v, want a usage error", err)
	}
}

func TestPasswordResetCampaign(t *testing.T) {
	clk := clock.NewFake(time.Date(2014, 5, 20, 8, 0, 0, 0, time.UTC))
	m := fakeServer(t, clk)
	const oldPW, newPW = "a long enough password", "a brand new passphrase"
	id := addUser(t, m, "frank", oldPW)
	addUser(t, m, "grace", oldPW)
	in := &install{user: "frank", platform: "ios", version: "8.4.1", source: "appstore"}
	in.login(t, m)
	clk.Advance(time.Hour)
	in.renew(t, m)
	c := campaignCall(t, m, "POST", "", fmt.Sprintf(`{"kind":"password_reset","name":"reset frank","cohort":{"users":[%q]}}`, id))
	cid := c["id"].(string)
	campaignCall(t, m, "POST", "/"+cid+"/activate", "")
	clk.Advance(time.Minute)

	if code, hdr, body := in.session(t, m); code != 401 || body["error"] != "password_reset_required" || body["campaign"] != cid || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("old session: %d %v", code, body)
	}
	code, body := login(t, m, "frank", oldPW, in.header())
	if code != 401 || body["error"] != "password_reset_required" || body["reset_token"] == nil || body["campaign"] != cid {
		t.Fatalf("login with the old password: %d %v", code, body)
	}
	rt := body["reset_token"].(string)
	reset := func(token, pw string) (int, map[string]any) {
		b, _ := json.Marshal(map[string]string{"reset_token": token, "new_password": pw})
		code, _, out := call(t, "POST", m.URL()+"/v1/password/reset", map[string]string{"Content-Type": "application/json", "Cordon-Client": in.header()}, string(b))
		return code, out
	}
	// A weak password is refused before the token is spent.
	if code, out := reset(rt, "password123"); code != 422 || out["error"] != "weak_password" {
		t.Fatalf("weak new password: %d %v", code, out)
	}
	// The old password again is refused, with a fresh token to retry.
	code, out := reset(rt, oldPW)
	if code != 401 || out["error"] != "password_reset_required" || out["problem"] == nil || out["reset_token"] == nil || out["reset_token"] == rt {
		t.Fatalf("same password again: %d %v", code, out)
	}
	if code, out := reset(rt, newPW); code != 401 || out["error"] != "invalid_token" {
		t.Errorf("spent reset token: %d %v, want 401 invalid_token", code, out)
	}
	code, tok := reset(out["reset_token"].(string), newPW)
	if code != 200 || tok["access_token"] == nil {
		t.Fatalf("reset: %d %v", code, tok)
	}
	if code, _, body := in.session(t, m); code != 401 || body["error"] != "session_revoked" {
		t.Errorf("session from before the reset: %d %v, want session_revoked", code, body)
	}
	in.access = tok["access_token"].(string)
	if code, _, body := in.session(t, m); code != 200 {
		t.Errorf("session after the reset: %d %v", code, body)
	}
	if code, body := login(t, m, "frank", newPW, in.header()); code != 200 {
		t.Errorf("login with the new password: %d %v", code, body)
	}
	if code, body := login(t, m, "frank", oldPW, in.header()); code != 401 || body["error"] != "invalid_credentials" {
		t.Errorf("login with the old password: %d %v", code, body)
	}
	// Someone outside the cohort is never asked.
	if code, body := login(t, m, "grace", oldPW, ""); code != 200 {
		t.Errorf("login of a user outside the cohort: %d %v", code, body)
	}
	prog := campaignCall(t, m, "GET", "/"+cid, "")["progress"].(map[string]any)
	if prog["blocked_users"].(float64) != 1 || prog["satisfied_users"].(float64) != 1 {
		t.Errorf("progress = %v, want 1 blocked user and 1 satisfied", prog)
	}
}

// TestShowAutoRamp: campaign show gives an auto ramp's settings, the
// share admitted now, the speed and why, and when it reaches 100 %; not
// the pace's points.
func TestShowAutoRamp(t *testing.T) {
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ramp := `{"start":"2026-12-01T08:00:00Z","duration":"72h","mode":"auto","target_utilisation":0.8,
		"pace":{"points":[{"at":"2026-12-01T08:00:00Z","share":0},{"at":"2026-12-01T09:00:00Z","share":0.25}],"rate":0.00005,"why":"38.0 re-logins/s of headroom"}}`
	c := &campaignOut{ID: "c-1", Kind: "reauth", State: "active", Name: "breach", Cohort: json.RawMessage(`{}`), Ramp: json.RawMessage(ramp)}
	for _, tc := range []struct {
		name string
		now  time.Time
		want []string
	}{
		// 25 % at 9:00, then 0.005 %/s = 18 %/h: 100 % 15,000 s later, 13:10.
		{"running", start.Add(time.Hour), []string{
			"ramp:    auto from 2026-12-01T08:00:00Z, max_duration 72h, target 80 % of the login tier",
			"pace:    25.0 % admitted, 18.0 %/h over the next hour; 100 % by 2026-12-01T13:10:00Z at this pace",
			"why:     38.0 re-logins/s of headroom"}},
		{"done", start.Add(6 * time.Hour), []string{"pace:    100 % admitted since 2026-12-01T13:10:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			showCampaign(&b, c, nil, tc.now)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in\n%s", w, b.String())
				}
			}
			if strings.Contains(b.String(), "points") {
				t.Errorf("the pace's points shown:\n%s", b.String())
			}
		})
	}
}

// TestCampaignAdmissionCLI: `campaign admission` says a ramp's priority
// user is admitted from the ramp's first instant (priority) and another
// by its place (ramp); show counts the priorities; the API refuses a
// missing, oversized or unknown user and an unknown campaign.
func TestCampaignAdmissionCLI(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "erin", "a long enough password")
	addUser(t, m, "frank", "a long enough password")
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	doc := t.TempDir() + "/c.yaml"
	if err := os.WriteFile(doc, []byte("kind: reauth\nname: prio\nramp:\n  start: "+start+"\n  mode: auto\n  max_duration: 72h\n  priority: {users: [erin], unusual_addresses: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	run1 := func(args ...string) error {
		out.Reset()
		return run(context.Background(), append(args, "--server", m.URL()), strings.NewReader(""), &out, io.Discard)
	}
	if err := run1("campaign", "create", "-f", doc); err != nil {
		t.Fatal(err)
	}
	id := strings.Fields(out.String())[3]
	if err := run1("campaign", "activate", id); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"campaign", "admission", id, "erin"}, "will be admitted at " + start + ": priority"},
		{[]string{"campaign", "admission", id, "frank"}, "the user's place in the ramp's order"},
		{[]string{"campaign", "admission", id, "erin", "-o", "json"}, `"why": "priority"`},
		{[]string{"campaign", "show", id}, "first:   1 user(s) of users admitted from the ramp's start; 0 account(s) admitted early, seen from somewhere new"},
	} {
		if err := run1(step.args...); err != nil || !strings.Contains(out.String(), step.want) {
			t.Errorf("%v: err %v, output %q, want it to contain %q", step.args, err, out.String(), step.want)
		}
	}
	if err := run1("campaign", "admission", id, "nobody"); exitCode(err) != 1 {
		t.Errorf("admission of an unknown user: %v, want exit 1", err)
	}
	if err := run1("campaign", "admission", id); exitCode(err) != 2 {
		t.Errorf("admission without a user: %v, want a usage error", err)
	}
	base := m.URL() + "/admin/v1/campaigns/"
	wantError(t, send(t, "GET", base+id+"/admission", admin(), nil), http.StatusBadRequest, "invalid_request")
	wantError(t, send(t, "GET", base+id+"/admission?user="+strings.Repeat("x", 300), admin(), nil), http.StatusBadRequest, "invalid_request")
	wantError(t, send(t, "GET", base+id+"/admission?user=nobody", admin(), nil), http.StatusNotFound, "not_found")
	wantError(t, send(t, "GET", base+"c-doesnotexist/admission?user=erin", admin(), nil), http.StatusNotFound, "not_found")
	if r := send(t, "GET", base+id+"/admission?user=erin", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("admission without an admin token: %d, want 401", r.status)
	}
}

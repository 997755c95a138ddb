package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/password"
)

// startReportingGate is startGate with reports sent every 50 ms.
func startReportingGate(t *testing.T, control, upstream, token string) *GateMain {
	t.Helper()
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: upstream, Control: control, Token: token,
		ReportEvery: 50 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}}
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	waitFor(t, 5*time.Second, "gate ready", func() bool { return g.State.Ready() })
	return g
}

func campaignProgress(t *testing.T, m *Main, id string) map[string]any {
	t.Helper()
	code, _, out := call(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/progress", admin(), "")
	if code != http.StatusOK {
		t.Fatalf("progress: %d %v", code, out)
	}
	return out
}

func counts(p map[string]any, key string) string {
	c, _ := p[key].(map[string]any)
	return fmt.Sprintf("%v/%v", c["sessions"], c["users"])
}

// A denial only a gate saw reaches the campaign's progress within a few
// seconds: progress does not wait for the app to call the server. Two
// gates reporting the same sessions count each once.
func TestGateDenialsReachProgress(t *testing.T) {
	m := testServer(t)
	up := echoUpstream(t)
	gateToken := mintToken(t, m, "edge", "gate")
	g1 := startReportingGate(t, m.URL(), up.URL, gateToken)
	g2 := startReportingGate(t, m.URL(), up.URL, gateToken)
	var access []string
	for i := range 3 {
		name := fmt.Sprintf("user%d", i)
		addUser(t, m, name, "a long enough password")
		_, tok := login(t, m, name, "a long enough password", `platform=ios, version="8.4.1", source=appstore, device="d-1"`)
		access = append(access, tok["access_token"].(string))
	}
	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"edge","cohort":{"platforms":["ios"]}}`)
	id := c["id"].(string)
	if p := campaignProgress(t, m, id); p["complete"] != 0.0 || p["state"] != "draft" || counts(p, "targeted") != "0/0" {
		t.Errorf("a draft: %v; want complete 0, targeted 0/0", p)
	}
	time.Sleep(1100 * time.Millisecond) // the sessions authenticated a second before activation
	campaignCall(t, m, "POST", "/"+id+"/activate", "")
	if p := campaignProgress(t, m, id); counts(p, "targeted") != "3/3" || counts(p, "admitted") != "3/3" || counts(p, "dormant") != "3/3" {
		t.Fatalf("at activation: targeted %s, admitted %s, dormant %s; want 3/3 each", counts(p, "targeted"), counts(p, "admitted"), counts(p, "dormant"))
	}
	waitFor(t, 2*time.Second, "campaign at both gates", func() bool {
		c1, _ := gateGet(t, g1, access[0], nil)
		c2, _ := gateGet(t, g2, access[0], nil)
		return c1 == 401 && c2 == 401
	})
	var wg sync.WaitGroup
	for _, g := range []*GateMain{g1, g2} {
		wg.Go(func() {
			for range 5 {
				gateGet(t, g, access[0], nil)
				gateGet(t, g, access[1], nil)
			}
		})
	}
	wg.Wait()
	took := waitFor(t, 5*time.Second, "gate denials in progress", func() bool { return counts(campaignProgress(t, m, id), "blocked") == "2/2" })
	t.Logf("gate denials reached progress in %v", took)
	time.Sleep(200 * time.Millisecond) // every batch of both gates is in
	p := campaignProgress(t, m, id)
	if counts(p, "blocked") != "2/2" || counts(p, "seen") != "2/2" || counts(p, "dormant") != "1/1" || p["satisfied"] != 0.0 || p["complete"] != 0.0 {
		t.Errorf("after two gates denied 2 sessions 10 times each: blocked %s, seen %s, dormant %s, satisfied %v, complete %v; want 2/2, 2/2, 1/1, 0, 0",
			counts(p, "blocked"), counts(p, "seen"), counts(p, "dormant"), p["satisfied"], p["complete"])
	}
	code, _, series := call(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/progress/series", admin(), "")
	if ss, _ := series["samples"].([]any); code != 200 || len(ss) < 1 {
		t.Errorf("series: %d %v; want a sample from the activation", code, series)
	}
}

// A gate's report is a claim: what a holder of a stolen gate token could
// send, and what the server makes of it.
func TestHostileGateReports(t *testing.T) {
	m := testServer(t)
	gateToken := mintToken(t, m, "edge", "gate")
	campaignsToken := mintToken(t, m, "ops", "campaigns")
	addUser(t, m, "ios-user", "a long enough password")
	addUser(t, m, "android-user", "a long enough password")
	_, iosTok := login(t, m, "ios-user", "a long enough password", `platform=ios, version="8.4.1", source=appstore, device="d-1"`)
	_, andTok := login(t, m, "android-user", "a long enough password", `platform=android, version="8.4.1", source=play, device="d-2"`)
	sessionOf := func(tok map[string]any) string {
		t.Helper()
		code, _, out := call(t, "GET", m.URL()+"/v1/session", bearerH(tok["access_token"].(string)), "")
		if code != 200 {
			t.Fatalf("session: %d %v", code, out)
		}
		return out["session"].(map[string]any)["id"].(string)
	}
	iosSession, androidSession := sessionOf(iosTok), sessionOf(andTok)
	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"ios","cohort":{"platforms":["ios"]}}`)
	id := c["id"].(string)
	time.Sleep(1100 * time.Millisecond)
	campaignCall(t, m, "POST", "/"+id+"/activate", "")

	post := func(token, ctype, body string) (int, map[string]any) {
		t.Helper()
		h := map[string]string{"Content-Type": ctype}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		code, _, out := call(t, "POST", m.URL()+"/v1/gate/reports", h, body)
		return code, out
	}
	report := func(reports ...string) string {
		return `{"reports":[` + strings.Join(reports, ",") + `]}`
	}
	r := func(campaign, session, outcome string) string {
		return fmt.Sprintf(`{"campaign":%q,"session":%q,"outcome":%q}`, campaign, session, outcome)
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = r(id, iosSession, "denied")
	}
	tests := []struct {
		name, token, ctype, body string
		status                   int
		code                     string
	}{
		{"no token", "", "application/json", report(), 401, "unauthorized"},
		{"a token of another scope", campaignsToken, "application/json", report(r(id, iosSession, "denied")), 403, "forbidden"},
		{"not JSON", gateToken, "text/plain", report(), 415, "unsupported_media_type"},
		{"malformed", gateToken, "application/json", `{"reports":[`, 400, "invalid_request"},
		{"missing reports", gateToken, "application/json", `{"dropped":1}`, 400, "invalid_request"},
		{"an unknown field", gateToken, "application/json", `{"reports":[],"satisfied":["u-1"]}`, 400, "invalid_request"},
		{"a report claiming satisfaction", gateToken, "application/json", report(`{"campaign":"` + id + `","session":"` + iosSession + `","outcome":"denied","satisfied":true}`), 400, "invalid_request"},
		{"negative dropped", gateToken, "application/json", `{"reports":[],"dropped":-1}`, 400, "invalid_request"},
		{"1001 reports", gateToken, "application/json", report(many...), 413, "payload_too_large"},
		{"a body over 256 KiB", gateToken, "application/json", `{"reports":[],"pad":"` + strings.Repeat("x", 300<<10) + `"}`, 413, "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := post(tt.token, tt.ctype, tt.body)
			if code != tt.status || out["error"] != tt.code {
				t.Errorf("got %d %v, want %d %s", code, out, tt.status, tt.code)
			}
		})
	}
	if p := campaignProgress(t, m, id); counts(p, "seen") != "0/0" {
		t.Fatalf("after refused batches: seen %s, want nothing counted", counts(p, "seen"))
	}

	code, out := post(gateToken, "application/json", report(
		r(id, iosSession, "denied"),
		r(id, iosSession, "denied"),
		r("c_01NOSUCHCAMPAIGN", iosSession, "denied"),
		r(id, "s_01NOSUCHSESSION", "denied"),
		r(id, androidSession, "denied"), // someone else's session: not in the cohort
		r(id, iosSession, "prompted"),   // a reauth campaign prompts nobody
		r(id, iosSession, "satisfied"),
	))
	if code != 200 || out["accepted"] != 2.0 {
		t.Fatalf("mixed batch: %d %v; want 200 with 2 accepted", code, out)
	}
	var refused []string
	for _, x := range out["refused"].([]any) {
		e := x.(map[string]any)
		refused = append(refused, fmt.Sprintf("%v:%v", e["index"], e["code"]))
	}
	if want := "[2:unknown_campaign 3:unknown_session 4:not_enforced 5:not_enforced 6:invalid_outcome]"; fmt.Sprint(refused) != want {
		t.Errorf("refused %v, want %s", refused, want)
	}
	p := campaignProgress(t, m, id)
	if counts(p, "blocked") != "1/1" || p["satisfied"] != 0.0 || p["satisfied_users"] != 0.0 {
		b, _ := json.Marshal(p)
		t.Errorf("progress after a hostile batch: %s; want 1/1 blocked, nobody satisfied", b)
	}
}

// The progress routes answer bad input with a 4xx naming it.
func TestProgressRoutesBadInput(t *testing.T) {
	m := testServer(t)
	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"r"}`)
	id := c["id"].(string)
	tests := []struct {
		name, path string
		status     int
		code       string
	}{
		{"unknown campaign", "/c_nosuch/progress", 404, "not_found"},
		{"unknown campaign's series", "/c_nosuch/progress/series", 404, "not_found"},
		{"from not a time", "/" + id + "/progress/series?from=yesterday", 400, "invalid_request"},
		{"points too many", "/" + id + "/progress/series?points=1001", 400, "invalid_request"},
		{"points too few", "/" + id + "/progress/series?points=1", 400, "invalid_request"},
		{"points not a number", "/" + id + "/progress/series?points=ten", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, out := call(t, "GET", m.URL()+"/admin/v1/campaigns"+tt.path, admin(), "")
			if code != tt.status || out["error"] != tt.code {
				t.Errorf("got %d %v, want %d %s", code, out, tt.status, tt.code)
			}
		})
	}
	code, _, out := call(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/progress/series?points=2&from=2026-01-01T00:00:00Z", admin(), "")
	if ss, ok := out["samples"].([]any); code != 200 || !ok || len(ss) != 0 {
		t.Errorf("a draft's series: %d %v; want 200 and no samples", code, out)
	}
}

// serve recounts each running campaign's cohort on its own: a session
// that starts after activation joins "targeted" at the next sample.
func TestServeRecountsTheCohort(t *testing.T) {
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: t.TempDir(), AdminToken: testAdminToken, ProgressSample: 100 * time.Millisecond,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	addUser(t, m, "early", "a long enough password")
	addUser(t, m, "late", "a long enough password")
	login(t, m, "early", "a long enough password", `platform=ios, version="8.4.1", source=appstore, device="d-1"`)
	c := campaignCall(t, m, "POST", "", `{"kind":"upgrade","name":"u","cohort":{"platforms":["ios"]},"upgrade":{"min_version":"9.0.0","mode":"flexible","urls":{"official":"https://example.com/app"}}}`)
	id := c["id"].(string)
	campaignCall(t, m, "POST", "/"+id+"/activate", "")
	if got := counts(campaignProgress(t, m, id), "targeted"); got != "1/1" {
		t.Fatalf("targeted at activation: %s, want 1/1", got)
	}
	login(t, m, "late", "a long enough password", `platform=ios, version="8.4.1", source=appstore, device="d-2"`)
	took := waitFor(t, 5*time.Second, "the new session in the cohort", func() bool { return counts(campaignProgress(t, m, id), "targeted") == "2/2" })
	t.Logf("a new session joined the cohort %v after its login", took)
	// Samples are kept to the second: a second sample comes within two.
	waitFor(t, 3*time.Second, "a second sample", func() bool {
		code, _, out := call(t, "GET", m.URL()+"/admin/v1/campaigns/"+id+"/progress/series", admin(), "")
		ss, _ := out["samples"].([]any)
		return code == 200 && len(ss) >= 2
	})
}

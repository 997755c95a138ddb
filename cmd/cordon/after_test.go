package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/feed"
)

// TestAfterRekeyWaitsForUpgrade plays "campaigns that wait for each other"
// through the HTTP API: an upgrade to 8.5.0, then an offline re-key that
// waits for it per install. An install still on 8.4.1 keeps its grant and
// is refused the re-key download until it is upgraded (and has logged in
// on the new version: the server trusts only what a session was at login);
// an install on 8.5.0 is re-keyed at once. A stolen token that claims the
// new version does not get new keys. Gates, which compile the policy from
// the feed, decide as the server does at every step.
func TestAfterRekeyWaitsForUpgrade(t *testing.T) {
	clk := clock.NewFake(time.Date(2014, 5, 20, 8, 0, 0, 0, time.UTC))
	m := fakeServer(t, clk)
	oldApp := &install{user: "olga", platform: "android", version: "8.4.1", source: "play"}
	newApp := &install{user: "nina", platform: "android", version: "8.5.0", source: "play"}
	grants := map[*install]string{}
	for _, in := range []*install{oldApp, newApp} {
		addUser(t, m, in.user, "a long enough password")
		in.login(t, m)
		grants[in] = download(t, m, in, in.header(), 201)["grant"].(string)
	}
	clk.Advance(time.Hour)

	up := campaignCall(t, m, "POST", "", `{"kind":"upgrade","name":"Android 8.5","cohort":{"platforms":["android"]},
		"upgrade":{"min_version":"8.5.0","mode":"flexible","urls":{"play":"https://play.example/app","official":"https://example.com/download"}}}`)
	upID := up["id"].(string)
	rekey := campaignCall(t, m, "POST", "", `{"kind":"offline_rekey","name":"re-key after 8.5","after":{"campaign":"`+upID+`"}}`)
	rekeyID := rekey["id"].(string)

	// Validation: the prerequisite must exist, be of a kind that can be
	// waited for, and per user fits only a password_reset.
	for doc, field := range map[string]string{
		`{"kind":"offline_rekey","name":"x","after":{"campaign":"c-doesnotexist"}}`:            "after.campaign",
		`{"kind":"reauth","name":"x","after":{"campaign":"` + rekeyID + `"}}`:                  "after.campaign",
		`{"kind":"offline_rekey","name":"x","after":{"campaign":"` + upID + `","per":"user"}}`: "after.per",
		`{"kind":"offline_rekey","name":"x","after":{"campaign":"` + upID + `","when":"now"}}`: "after.when",
		`{"kind":"offline_rekey","name":"x","after":{"campaign":42}}`:                          "after.campaign",
	} {
		code, _, out := call(t, "POST", m.URL()+"/admin/v1/campaigns", admin(), doc)
		if code != 400 && code != 422 || out["field"] != field {
			t.Errorf("create %s: %d %v; want a refusal of %s", doc, code, out, field)
		}
	}
	// The re-key cannot start before its prerequisite: it would hold
	// everyone, and say nothing of why.
	if code, _, out := call(t, "POST", m.URL()+"/admin/v1/campaigns/"+rekeyID+"/activate", admin(), ""); code != 409 {
		t.Fatalf("activate the re-key before its upgrade: %d %v; want 409", code, out)
	}
	campaignCall(t, m, "POST", "/"+upID+"/activate", "")
	campaignCall(t, m, "POST", "/"+rekeyID+"/activate", "")
	clk.Advance(time.Minute)
	oldApp.renew(t, m)
	newApp.renew(t, m)

	// The dependency shows in the campaign and in the list.
	if got := campaignCall(t, m, "GET", "/"+rekeyID, ""); fmt.Sprint(got["after"]) != fmt.Sprint(map[string]any{"campaign": upID, "satisfied": true, "per": "install"}) {
		t.Errorf("GET the re-key: after = %v", got["after"])
	}

	agree := func(step string) {
		t.Helper()
		gatesAgree(t, m, step, map[string]*install{"old": oldApp, "new": newApp}, grants)
	}
	agree("both campaigns active")

	// The install on 8.5.0 is re-keyed: its old grant is revoked, and it
	// downloads again.
	if code, out := checkIn(t, m, grants[newApp], newApp.header()); code != 403 || out["error"] != "offline_grant_revoked" || out["campaign"] != rekeyID {
		t.Errorf("new install's old grant: %d %v; want revoked by the re-key", code, out)
	}
	grants[newApp] = download(t, m, newApp, newApp.header(), 201)["grant"].(string)
	if code, out := checkIn(t, m, grants[newApp], newApp.header()); code != 200 {
		t.Errorf("new install's new grant: %d %v", code, out)
	}

	// The install on 8.4.1 is waiting: its grant still holds, and a
	// download is refused with the upgrade to make first.
	if code, out := checkIn(t, m, grants[oldApp], oldApp.header()); code != 200 {
		t.Errorf("old install's grant while the re-key waits: %d %v; want valid", code, out)
	}
	out := download(t, m, oldApp, oldApp.header(), 426)
	if out["error"] != "upgrade_required" || out["campaign"] != upID || out["update_url"] != "https://play.example/app" {
		t.Errorf("old install's download: %v; want upgrade_required from %s", out, upID)
	}
	if pv := campaignCall(t, m, "GET", "/"+rekeyID+"/preview", ""); pv["waiting_sessions"] != 1.0 || pv["waiting_users"] != 1.0 {
		t.Errorf("re-key preview: %v; want the old install waiting", pv)
	}
	prog := campaignCall(t, m, "GET", "/"+rekeyID, "")["progress"].(map[string]any)
	if w := prog["waiting"].(map[string]any); w["sessions"] != 1.0 || w["users"] != 1.0 {
		t.Errorf("re-key progress: waiting %v; want the old install (1 session, 1 user)", w)
	}

	// Hostile: the old install's token (stolen, or an app updated in place)
	// claims 8.5.0. The claim lifts nothing that hands out keys: the
	// download asks for a login on the new version.
	claim := `platform=android, version="8.5.0", source=play, device="d-olga"`
	out = download(t, m, oldApp, claim, 401)
	if out["error"] != "reauth_required" || out["campaign"] != rekeyID {
		t.Errorf("old token claiming 8.5.0: %v; want reauth_required from the re-key", out)
	}
	// A claim at check-in can only bring the revocation forward.
	if code, out := checkIn(t, m, grants[oldApp], claim); code != 403 || out["error"] != "offline_grant_revoked" {
		t.Errorf("old grant, check-in claiming 8.5.0: %d %v; want revoked", code, out)
	}
	agree("a claim of the new version")

	// Upgraded and logged in on 8.5.0, the old install is re-keyed.
	oldApp.version = "8.5.0"
	oldApp.login(t, m)
	grants[oldApp] = download(t, m, oldApp, oldApp.header(), 201)["grant"].(string)
	if code, out := checkIn(t, m, grants[oldApp], oldApp.header()); code != 200 {
		t.Errorf("upgraded install's new grant: %d %v", code, out)
	}
	agree("the old install upgraded")

	// Completing the upgrade releases everyone; cancelling an upgrade
	// another re-key waits for holds that one for good. Gates agree on
	// both, which needs the feed to carry the ended prerequisites.
	up2 := campaignCall(t, m, "POST", "", `{"kind":"upgrade","name":"Android 9","cohort":{"platforms":["android"]},
		"upgrade":{"min_version":"9.0.0","mode":"flexible","urls":{"official":"https://example.com/download"}}}`)
	campaignCall(t, m, "POST", "/"+up2["id"].(string)+"/activate", "")
	rekey2 := campaignCall(t, m, "POST", "", `{"kind":"offline_rekey","name":"re-key after 9","after":{"campaign":"`+up2["id"].(string)+`"}}`)
	campaignCall(t, m, "POST", "/"+rekey2["id"].(string)+"/activate", "")
	campaignCall(t, m, "POST", "/"+up2["id"].(string)+"/cancel", "")
	campaignCall(t, m, "POST", "/"+upID+"/complete", "")
	clk.Advance(time.Minute)
	agree("one prerequisite completed, one cancelled")
	if code, _, out := call(t, "POST", m.URL()+"/admin/v1/campaigns/"+rekey2["id"].(string)+"/pause", admin(), ""); code != 200 {
		t.Fatalf("pause: %d %v", code, out)
	}
	if code, _, out := call(t, "POST", m.URL()+"/admin/v1/campaigns/"+rekey2["id"].(string)+"/resume", admin(), ""); code != 409 {
		t.Errorf("resume a re-key whose upgrade was cancelled: %d %v; want 409", code, out)
	}
	code, _, out := call(t, "POST", m.URL()+"/admin/v1/campaigns", admin(), `{"kind":"offline_rekey","name":"x","after":{"campaign":"`+up2["id"].(string)+`"}}`)
	if code != 422 || out["field"] != "after.campaign" {
		t.Errorf("create after a cancelled campaign: %d %v; want 422", code, out)
	}
}

func download(t *testing.T, m *Main, in *install, client string, want int) map[string]any {
	t.Helper()
	h := bearerH(in.access)
	h["Cordon-Client"] = client
	code, _, out := call(t, "POST", m.URL()+"/v1/offline/grants", h, "")
	if code != want {
		t.Fatalf("download for %s (%s): %d %v; want %d", in.user, client, code, out, want)
	}
	return out
}

func checkIn(t *testing.T, m *Main, grant, client string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"grant": grant})
	code, _, out := call(t, "POST", m.URL()+"/v1/offline/grants/check", map[string]string{"Content-Type": "application/json", "Cordon-Client": client}, string(b))
	return code, out
}

// gatesAgree compiles the policy as a gate does, from the feed's snapshot
// after a trip through JSON, and checks it decides every install's
// requests, check-ins and downloads as the server's policy does, for the
// version each install reports and for a claim of another.
func gatesAgree(t *testing.T, m *Main, step string, installs map[string]*install, grants map[*install]string) {
	t.Helper()
	ev, err := m.snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var wire feed.Event
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	now := m.Config.Clock.Now()
	gate, err := decision.Compile(wire.Policy.DomainCampaigns(), wire.Policy.Version, now)
	if err != nil {
		t.Fatal(err)
	}
	server := m.Campaigns.Policy()
	if server.Version != gate.Version {
		t.Fatalf("%s: the feed carries policy %d, the server holds %d", step, gate.Version, server.Version)
	}
	for name, in := range installs {
		sessions, err := m.store.ListSessions(t.Context(), accountOf(t, m, in.user))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sessions {
			for _, v := range []string{in.version, "8.4.1", "9.0.0"} {
				client := cordon.ClientFacts{Platform: in.platform, Version: v, Source: in.source, Device: "d-" + in.user}
				for what, f := range map[string]func(*decision.Policy) decision.Decision{
					"request": func(p *decision.Policy) decision.Decision {
						return decision.Decide(&decision.Input{Session: s, Client: client, Now: now, Policy: p})
					},
					"download": func(p *decision.Policy) decision.Decision {
						return decision.DecideDownload(&decision.Input{Session: s, Client: client, Now: now, Policy: p})
					},
					"check-in": func(p *decision.Policy) decision.Decision {
						return decision.DecideOffline(&decision.OfflineInput{AccountID: s.AccountID, Facts: s.Facts, AuthTime: s.AuthTime, Client: client, Issued: s.AuthTime, Now: now, Policy: p})
					},
				} {
					g, _ := json.Marshal(f(gate))
					w, _ := json.Marshal(f(server))
					if string(g) != string(w) {
						t.Errorf("%s: %s install, %s claiming %s: gate %s, server %s", step, name, what, v, g, w)
					}
				}
			}
		}
	}
}

func accountOf(t *testing.T, m *Main, username string) string {
	t.Helper()
	a, err := m.store.AccountByUsername(t.Context(), username)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// TestCLIAfter: the CLI creates a campaign that waits for another from
// YAML on stdin, shows the dependency in show, list and -o json, says why
// it cannot start before its prerequisite, and shows a refused document's
// field.
func TestCLIAfter(t *testing.T) {
	m := cliServer(t)
	addUser(t, m, "olga", "a long enough password")
	if code, out := login(t, m, "olga", "a long enough password", `platform=android, version="8.4.1", source=play, device="d-1"`); code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	r := cli(t, "kind: upgrade\nname: Android 8.5\ncohort: {platforms: [android]}\nupgrade: {min_version: 8.5.0, mode: immediate, urls: {official: https://example.com/download}}\n", "campaign", "create", "-f", "-")
	if r.err != nil {
		t.Fatal(r)
	}
	upID := strings.Fields(r.stdout)[3]
	r = cli(t, "kind: offline_rekey\nname: re-key on 8.5\nafter: {campaign: "+upID+"}\n", "campaign", "create", "-f", "-")
	if r.err != nil {
		t.Fatal(r)
	}
	rekeyID := strings.Fields(r.stdout)[3]
	if r := cli(t, "", "campaign", "activate", rekeyID); r.code != 1 || !strings.Contains(fmt.Sprint(r.err), "activate "+upID+" first") {
		t.Errorf("activate before the prerequisite: %v", r)
	}
	cli(t, "", "campaign", "activate", upID)
	cli(t, "", "campaign", "activate", rekeyID)
	if r := cli(t, "", "campaign", "show", rekeyID); !strings.Contains(r.stdout, "after:   "+upID+" (once satisfied, per install)") {
		t.Errorf("show: %v", r)
	}
	if r := cli(t, "", "campaign", "preview", rekeyID); !strings.Contains(r.stdout, "1 session(s) of 1 user(s) wait for the prerequisite") {
		t.Errorf("preview: %v", r)
	}
	if r := cli(t, "", "campaign", "list"); !strings.Contains(r.stdout, "AFTER") || !strings.Contains(r.stdout, upID+"  ") {
		t.Errorf("list: %v", r)
	}
	if r := cli(t, "", "campaign", "show", rekeyID, "-o", "json"); !strings.Contains(r.stdout, `"after"`) || !strings.Contains(r.stdout, `"per": "install"`) {
		t.Errorf("show -o json: %v", r)
	}
	if r := cli(t, "kind: reauth\nname: x\nafter: {campaign: "+rekeyID+"}\n", "campaign", "create", "-f", "-"); r.code != 1 || !strings.Contains(fmt.Sprint(r.err), "nothing can wait for") {
		t.Errorf("after an offline_rekey: %v", r)
	}
}

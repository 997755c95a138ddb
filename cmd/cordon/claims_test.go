package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
)

// The claims a holder of a stolen token sends to lift a protecting
// campaign from a session that authenticated as iOS 8.4.1, side-loaded,
// on device d-ivan: each fact claimed up, down, changed and left out.
var dodges = []struct{ name, client string }{
	{"newer version, same device", `platform=ios, version="9.0.0", source=unknown, device="d-ivan"`},
	{"newer version, official store, same device", `platform=ios, version="9.0.0", source=appstore, device="d-ivan"`},
	{"official store only", `platform=ios, version="8.4.1", source=appstore, device="d-ivan"`},
	{"play store", `platform=ios, version="8.4.1", source=play, device="d-ivan"`},
	{"older version", `platform=ios, version="1.0.0", source=unknown, device="d-ivan"`},
	{"another platform", `platform=android, version="9.0.0", source=play, device="d-ivan"`},
	{"another device", `platform=ios, version="9.0.0", source=appstore, device="d-other"`},
	{"no version", `platform=ios, source=unknown, device="d-ivan"`},
	{"no header", ""},
}

const ivanClient = `platform=ios, version="8.4.1", source=unknown, device="d-ivan"`

// TestProtectingCampaignsIgnoreClaims: a reauth or password_reset campaign
// judges the facts the session authenticated with. No claim in
// Cordon-Client lifts it at /v1/session, /v1/decide or the token endpoint,
// and none is written into the session.
func TestProtectingCampaignsIgnoreClaims(t *testing.T) {
	for _, kind := range []struct{ kind, reason string }{
		{"reauth", "reauth_required"},
		{"password_reset", "password_reset_required"},
	} {
		t.Run(kind.kind, func(t *testing.T) {
			clk := clock.NewFake(campaignNow)
			m := fakeServer(t, clk)
			addUser(t, m, "ivan", userPassword)
			tok := mustLogin(t, m, "ivan", userPassword, ivanClient)
			access, rt := accessToken(t, tok), tok["refresh_token"].(string)
			clk.Advance(time.Minute)
			id := postCampaign(t, m, fmt.Sprintf(`{"kind":%q,"name":"ios below 8.5 side-loaded","cohort":{"platforms":["ios"],"versions":"< 8.5.0","sources":["unknown"]}}`, kind.kind))
			mustAct(t, m, id, "activate")

			for _, d := range dodges {
				t.Run(d.name, func(t *testing.T) {
					h := hdr("Authorization", "Bearer "+access, "Cordon-Client", d.client)
					r := send(t, "GET", m.URL()+"/v1/session", h, nil)
					wantError(t, r, http.StatusUnauthorized, kind.reason)
					if r.body["campaign"] != id {
						t.Errorf("campaign = %v, want %s", r.body["campaign"], id)
					}
					r = send(t, "POST", m.URL()+"/v1/decide", h, nil)
					dec, _ := r.body["decision"].(map[string]any)
					if r.status != http.StatusOK || dec["outcome"] != "deny" || dec["reason"] != kind.reason {
						t.Errorf("decide: %v, want deny %s", r, kind.reason)
					}
					form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
					r = send(t, "POST", m.URL()+"/oauth2/token", hdr("Content-Type", "application/x-www-form-urlencoded", "Cordon-Client", d.client), []byte(form))
					if r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" || r.body["reason"] != kind.reason {
						t.Errorf("refresh: %v, want 400 invalid_grant with reason %s", r, kind.reason)
					}
				})
			}
			// Pause, and the session shows the facts it logged in with.
			mustAct(t, m, id, "pause")
			r := send(t, "GET", m.URL()+"/v1/session", hdr("Authorization", "Bearer "+access), nil)
			facts, _ := r.body["session"].(map[string]any)
			client, _ := facts["client"].(map[string]any)
			if r.status != http.StatusOK || client["version"] != "8.4.1" || client["source"] != "unknown" || client["platform"] != "ios" {
				t.Errorf("session after the claims: %v, want ios 8.4.1 from unknown, as at login", r)
			}
			if p := progressOf(t, m, id); p.SatisfiedUsers != 0 {
				t.Errorf("progress = %+v, want nobody satisfied: no claim does what the campaign asks", p)
			}
		})
	}
}

// TestUpgradeReadsTheReportedVersion: an upgrade campaign is the one kind
// that reads the version a request reports, from the session's platform:
// that is how an in-place update satisfies it.
func TestUpgradeReadsTheReportedVersion(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	addUser(t, m, "ivan", userPassword)
	access := accessToken(t, mustLogin(t, m, "ivan", userPassword, ivanClient))
	id := postCampaign(t, m, `{"kind":"upgrade","name":"ios to 8.5","cohort":{"platforms":["ios"]},"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://m.example.com/download","appstore":"https://apps.apple.com/app/id1"}}}`)
	mustAct(t, m, id, "activate")
	for _, tc := range []struct {
		name, client string
		status       int
	}{
		{"version at login", ivanClient, http.StatusUpgradeRequired},
		{"updated in place", `platform=ios, version="8.5.0", source=unknown, device="d-ivan"`, http.StatusOK},
		{"older than at login", `platform=ios, version="8.0.0", source=unknown, device="d-ivan"`, http.StatusUpgradeRequired},
		{"a newer version from another platform", `platform=android, version="9.0.0", source=play, device="d-ivan"`, http.StatusUpgradeRequired},
		{"no header: the version at login", "", http.StatusUpgradeRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "GET", m.URL()+"/v1/session", hdr("Authorization", "Bearer "+access, "Cordon-Client", tc.client), nil)
			if r.status != tc.status {
				t.Fatalf("%v, want %d", r, tc.status)
			}
			// A side-loaded install is sent to the official site, whatever
			// store it claims now: the source never changes in a session.
			if tc.status == http.StatusUpgradeRequired && (r.body["update_url"] != "https://m.example.com/download" || r.body["sideloaded"] != true) {
				t.Errorf("update_url %v sideloaded %v, want the official site and true", r.body["update_url"], r.body["sideloaded"])
			}
		})
	}
	t.Run("a claimed store does not change where a side-loaded install is sent", func(t *testing.T) {
		r := send(t, "GET", m.URL()+"/v1/session", hdr("Authorization", "Bearer "+access, "Cordon-Client", `platform=ios, version="8.4.1", source=appstore, device="d-ivan"`), nil)
		if r.status != http.StatusUpgradeRequired || r.body["update_url"] != "https://m.example.com/download" || r.body["sideloaded"] != true {
			t.Errorf("%v, want 426 to the official site, sideloaded", r)
		}
	})
}

// TestOfflineRekeyIgnoresClaims: an offline_rekey campaign judges the grant
// by the facts it was issued to; a check-in that claims a newer version or
// an official store is still refused, and a device-bound grant needs its
// device.
func TestOfflineRekeyIgnoresClaims(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	addUser(t, m, "ivan", userPassword)
	access := accessToken(t, mustLogin(t, m, "ivan", userPassword, ivanClient))
	r := send(t, "POST", m.URL()+"/v1/offline/grants", hdr("Authorization", "Bearer "+access, "Cordon-Client", ivanClient), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("grant: %v", r)
	}
	grant := r.body["grant"].(string)
	check := func(client string) apiResp {
		b, _ := json.Marshal(map[string]string{"grant": grant})
		return send(t, "POST", m.URL()+"/v1/offline/grants/check", hdr("Content-Type", "application/json", "Cordon-Client", client), b)
	}
	t.Run("a bound grant needs its device", func(t *testing.T) {
		if r := check(ivanClient); r.status != http.StatusOK || r.body["valid"] != true {
			t.Fatalf("check-in from the device: %v, want 200 valid", r)
		}
		for _, client := range []string{"", `platform=ios, version="8.4.1", source=unknown`, `platform=ios, version="8.4.1", source=unknown, device="d-other"`} {
			wantError(t, check(client), http.StatusForbidden, "offline_grant_revoked")
		}
	})
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"offline_rekey","name":"re-key ios below 8.5","cohort":{"platforms":["ios"],"versions":"< 8.5.0","sources":["unknown"]}}`)
	mustAct(t, m, id, "activate")
	for _, d := range dodges {
		t.Run(d.name, func(t *testing.T) {
			r := check(d.client)
			wantError(t, r, http.StatusForbidden, "offline_grant_revoked")
		})
	}
	// The one check-in from the right device names the campaign.
	if r := check(`platform=ios, version="9.0.0", source=appstore, device="d-ivan"`); r.body["campaign"] != id {
		t.Errorf("check-in claiming 9.0.0 from the app store: %v, want campaign %s", r, id)
	}
}

// TestPasswordResetBelongsToTheAccount: once a password_reset campaign has
// admitted an account, every login of it must set a new password, whatever
// it claims to be; only a new password satisfies the campaign.
func TestPasswordResetBelongsToTheAccount(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	addUser(t, m, "ann", userPassword)
	addUser(t, m, "ios-only", userPassword)
	android := `platform=android, version="8.4.1", source=play, device="d-ann"`
	tok := mustLogin(t, m, "ann", userPassword, android)
	mustLogin(t, m, "ios-only", userPassword, `platform=ios, version="8.4.1", source=appstore, device="d-io"`)
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"password_reset","name":"android passwords","cohort":{"platforms":["android"]}}`)
	mustAct(t, m, id, "activate")
	clk.Advance(time.Minute)

	for _, d := range []struct{ name, client string }{
		{"claims ios", `platform=ios, version="9.0.0", source=appstore, device="d-x"`},
		{"claims web", `platform=web, source=web`},
		{"no header", ""},
		{"android", android},
	} {
		t.Run("login that "+d.name, func(t *testing.T) {
			code, body := login(t, m, "ann", userPassword, d.client)
			if code != http.StatusUnauthorized || body["error"] != "password_reset_required" || body["campaign"] != id || body["reset_token"] == nil {
				t.Errorf("%d %v, want 401 password_reset_required with a reset token", code, body)
			}
		})
	}
	if p := progressOf(t, m, id); p.SatisfiedUsers != 0 || p.BlockedUsers != 1 || p.Complete != 0 {
		t.Errorf("progress = %+v, want 1 user blocked, none satisfied, 0 %% complete", p)
	}
	t.Run("an account with no session in the cohort logs in", func(t *testing.T) {
		if code, body := login(t, m, "ios-only", userPassword, `platform=ios, version="8.4.1", source=appstore, device="d-io"`); code != http.StatusOK {
			t.Errorf("%d %v, want 200", code, body)
		}
	})
	t.Run("the admission holds once the account's cohort session is gone", func(t *testing.T) {
		sid := tok["session_id"].(string)
		if r := send(t, "DELETE", m.URL()+"/admin/v1/sessions/"+sid, admin(), nil); r.status != http.StatusNoContent && r.status != http.StatusOK {
			t.Fatalf("revoke: %v", r)
		}
		code, body := login(t, m, "ann", userPassword, `platform=ios, version="9.0.0", source=appstore, device="d-x"`)
		if code != http.StatusUnauthorized || body["error"] != "password_reset_required" {
			t.Errorf("%d %v, want 401 password_reset_required", code, body)
		}
	})
	t.Run("a new password satisfies it", func(t *testing.T) {
		_, body := login(t, m, "ann", userPassword, "")
		b, _ := json.Marshal(map[string]string{"reset_token": body["reset_token"].(string), "new_password": "an entirely new passphrase"})
		if r := send(t, "POST", m.URL()+"/v1/password/reset", hdr("Content-Type", "application/json"), b); r.status != http.StatusOK {
			t.Fatalf("reset: %v", r)
		}
		if p := progressOf(t, m, id); p.SatisfiedUsers != 1 || p.Complete != 1 {
			t.Errorf("progress = %+v, want 1 satisfied, complete", p)
		}
		if code, body := login(t, m, "ann", "an entirely new passphrase", `platform=ios, version="9.0.0", source=appstore, device="d-x"`); code != http.StatusOK {
			t.Errorf("login with the new password: %d %v", code, body)
		}
	})
}

// TestReauthSatisfiedOnlyByACohortLogin: a reauth campaign is satisfied by
// a new authentication of a session in its cohort, not by any login.
func TestReauthSatisfiedOnlyByACohortLogin(t *testing.T) {
	clk := clock.NewFake(campaignNow)
	m := fakeServer(t, clk)
	addUser(t, m, "rob", userPassword)
	ios := `platform=ios, version="8.4.1", source=appstore, device="d-rob"`
	old := accessToken(t, mustLogin(t, m, "rob", userPassword, ios))
	clk.Advance(time.Minute)
	id := postCampaign(t, m, `{"kind":"reauth","name":"ios","cohort":{"platforms":["ios"],"versions":"< 8.5.0"}}`)
	mustAct(t, m, id, "activate")
	clk.Advance(time.Minute)
	wantError(t, send(t, "GET", m.URL()+"/v1/session", hdr("Authorization", "Bearer "+old, "Cordon-Client", ios), nil), http.StatusUnauthorized, "reauth_required")

	mustLogin(t, m, "rob", userPassword, `platform=web, source=web`)
	mustLogin(t, m, "rob", userPassword, `platform=ios, version="9.0.0", source=appstore, device="d-rob"`)
	if p := progressOf(t, m, id); p.SatisfiedUsers != 0 {
		t.Errorf("after logins from web and from ios 9.0.0: progress %+v, want none satisfied (neither is in the cohort)", p)
	}
	mustLogin(t, m, "rob", userPassword, ios)
	if p := progressOf(t, m, id); p.SatisfiedUsers != 1 {
		t.Errorf("after a login from ios 8.4.1: progress %+v, want 1 satisfied", p)
	}
}

// TestGateIgnoresClaims: the gate judges a reauth campaign on the facts
// the token carries from login, whatever Cordon-Client claims.
func TestGateIgnoresClaims(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "ivan", userPassword)
	access := accessToken(t, mustLogin(t, m, "ivan", userPassword, ivanClient))
	id := postCampaign(t, m, `{"kind":"reauth","name":"ios below 8.5 side-loaded","cohort":{"platforms":["ios"],"versions":"< 8.5.0","sources":["unknown"]}}`)
	mustAct(t, m, id, "activate")
	g := startGate(t, m.URL(), echoUpstream(t).URL)
	for _, d := range dodges {
		t.Run(d.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer " + access}
			if d.client != "" {
				h["Cordon-Client"] = d.client
			}
			code, _, body := call(t, "GET", "http://"+g.Addr()+"/api/things", h, "")
			if code != http.StatusUnauthorized || body["error"] != "reauth_required" || body["campaign"] != id {
				t.Errorf("%d %v, want 401 reauth_required", code, body)
			}
		})
	}
}

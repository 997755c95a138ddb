package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestEveryRevocationReachesTheGate: a gate verifies access tokens on its
// own, so every way a session ends must be published to it, or it would
// keep accepting the session until its token expires. Logout is tested in
// TestGateEnforcesAndPropagates; these are the others.
func TestEveryRevocationReachesTheGate(t *testing.T) {
	m := testServer(t)
	g := startGate(t, m.URL(), echoUpstream(t).URL)
	const pw = "a long enough password"
	client := `platform=ios, version="8.4.1", source=appstore, device="d-1"`
	accountID := addUser(t, m, "rita", pw)

	// session logs rita in again and checks the gate lets the token through.
	session := func(t *testing.T) map[string]any {
		t.Helper()
		tok := mustLogin(t, m, "rita", pw, client)
		if code, body := gateGet(t, g, accessToken(t, tok), nil); code != http.StatusOK {
			t.Fatalf("fresh session at the gate: %d %v", code, body)
		}
		return tok
	}
	revokedAtGate := func(t *testing.T, access string) {
		t.Helper()
		// Wait for the revocation itself, not any 401: a campaign that
		// reaches the gate first (the password reset) denies the session
		// with its own error before the revocation arrives.
		var last map[string]any
		took := waitFor(t, 2*time.Second, "revocation at the gate", func() bool {
			code, body := gateGet(t, g, access, nil)
			last = body
			return code == http.StatusUnauthorized && body["error"] == "session_revoked"
		})
		if last["error"] != "session_revoked" {
			t.Errorf("at the gate: %v, want session_revoked", last)
		}
		t.Logf("reached the gate in %v", took)
	}

	t.Run("refresh token reuse", func(t *testing.T) {
		tok := session(t)
		rt := tok["refresh_token"].(string)
		if code, out := refresh(t, m, rt); code != http.StatusOK {
			t.Fatalf("first refresh: %d %v", code, out)
		}
		if code, out := refresh(t, m, rt); code != http.StatusBadRequest || out["reason"] != "refresh_token_reused" {
			t.Fatalf("replayed refresh: %d %v", code, out)
		}
		revokedAtGate(t, accessToken(t, tok))
	})
	t.Run("deleting one's own session", func(t *testing.T) {
		victim, other := session(t), session(t)
		code, _, out := call(t, "DELETE", m.URL()+"/v1/sessions/"+victim["session_id"].(string), bearerH(accessToken(t, other)), "")
		if code != http.StatusNoContent {
			t.Fatalf("delete own session: %d %v", code, out)
		}
		revokedAtGate(t, accessToken(t, victim))
	})
	t.Run("password change ends the other sessions", func(t *testing.T) {
		victim, me := session(t), session(t)
		b, _ := json.Marshal(map[string]string{"current_password": pw, "new_password": "an interim passphrase"})
		h := bearerH(accessToken(t, me))
		h["Content-Type"] = "application/json"
		if code, _, out := call(t, "POST", m.URL()+"/v1/password", h, string(b)); code != http.StatusNoContent && code != http.StatusOK {
			t.Fatalf("password change: %d %v", code, out)
		}
		revokedAtGate(t, accessToken(t, victim))
		// Back to the password the other subtests use.
		b, _ = json.Marshal(map[string]string{"current_password": "an interim passphrase", "new_password": pw})
		if code, _, out := call(t, "POST", m.URL()+"/v1/password", h, string(b)); code != http.StatusNoContent && code != http.StatusOK {
			t.Fatalf("password change back: %d %v", code, out)
		}
	})
	t.Run("an admin revokes one session", func(t *testing.T) {
		victim := session(t)
		if code, _, out := call(t, "DELETE", m.URL()+"/admin/v1/sessions/"+victim["session_id"].(string), admin(), ""); code != http.StatusNoContent && code != http.StatusOK {
			t.Fatalf("admin revoke: %d %v", code, out)
		}
		revokedAtGate(t, accessToken(t, victim))
	})
	t.Run("an admin revokes every session of the account", func(t *testing.T) {
		a, b := session(t), session(t)
		if code, _, out := call(t, "DELETE", m.URL()+"/admin/v1/accounts/"+accountID+"/sessions", admin(), ""); code != http.StatusOK && code != http.StatusNoContent {
			t.Fatalf("admin revoke all: %d %v", code, out)
		}
		revokedAtGate(t, accessToken(t, a))
		revokedAtGate(t, accessToken(t, b))
	})
	t.Run("a password reset ends every session", func(t *testing.T) {
		victim := session(t)
		id := postCampaign(t, m, `{"kind":"password_reset","name":"reset rita","cohort":{"users":["rita"]}}`)
		mustAct(t, m, id, "activate")
		code, body := login(t, m, "rita", pw, client)
		if code != http.StatusUnauthorized || body["reset_token"] == nil {
			t.Fatalf("login under the reset campaign: %d %v", code, body)
		}
		b, _ := json.Marshal(map[string]string{"reset_token": body["reset_token"].(string), "new_password": "a fresh and unseen passphrase"})
		if code, _, out := call(t, "POST", m.URL()+"/v1/password/reset", map[string]string{"Content-Type": "application/json"}, string(b)); code != http.StatusOK {
			t.Fatalf("reset: %d %v", code, out)
		}
		revokedAtGate(t, accessToken(t, victim))
	})
}

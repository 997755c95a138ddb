package main

import (
	"net/http"
	"testing"
)

// A token the server has verified before is answered from its
// verified-token cache, which keeps only what the token's bytes prove. A
// stolen token repeated after its session was logged out, revoked by an
// admin, or caught by a campaign must be refused at its next request.
func TestRepeatedTokenRefusedAtOnce(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "carol", "a long enough password")
	client := `platform=android, version="8.4.1", source=play`
	session := func(tok map[string]any) apiResp {
		return send(t, "GET", m.URL()+"/v1/session", bearerH(tok["access_token"].(string)), nil)
	}
	var toks []map[string]any
	for range 3 {
		code, tok := login(t, m, "carol", "a long enough password", client)
		if code != http.StatusOK {
			t.Fatalf("login: %d %v", code, tok)
		}
		for range 2 { // the second answer comes from the cache
			if r := session(tok); r.status != http.StatusOK {
				t.Fatalf("GET /v1/session: %v", r)
			}
		}
		toks = append(toks, tok)
	}
	loggedOut, revoked, campaigned := toks[0], toks[1], toks[2]

	if r := send(t, "POST", m.URL()+"/v1/logout", bearerH(loggedOut["access_token"].(string)), nil); r.status != http.StatusNoContent {
		t.Fatalf("logout: %v", r)
	}
	if r := send(t, "DELETE", m.URL()+"/admin/v1/sessions/"+revoked["session_id"].(string), admin(), nil); r.status != http.StatusNoContent {
		t.Fatalf("admin revoke: %v", r)
	}
	for name, tok := range map[string]map[string]any{"logged out": loggedOut, "revoked by an admin": revoked} {
		if r := session(tok); r.status != http.StatusUnauthorized || r.body["error"] != "session_revoked" {
			t.Errorf("%s: GET /v1/session = %v, want 401 session_revoked", name, r)
		}
	}

	id := postCampaign(t, m, `{"kind":"reauth","name":"everyone"}`)
	mustAct(t, m, id, "activate")
	if r := session(campaigned); r.status != http.StatusUnauthorized || r.body["error"] != "reauth_required" {
		t.Errorf("after a reauth campaign: GET /v1/session = %v, want 401 reauth_required", r)
	}
}

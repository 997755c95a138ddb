package main

import (
	"net/http"
	"testing"
)

// Duplicate member names and text that is not UTF-8 are refused with a
// 400 naming the field, at every strict JSON endpoint, before anything is
// decoded: encoding/json alone keeps the last duplicate and turns bad
// bytes into U+FFFD.
func TestStrictJSONRefusesDuplicatesAndBadUTF8(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "alice", "alice's long password")
	at := accessToken(t, mustLogin(t, m, "alice", "alice's long password", ""))
	userJSON := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + at}
	event := func(extra string) string {
		return `{"time":"2026-05-27T07:59:00Z","principal":"svc",` + extra + `"action":"read","subject":"alice","categories":["email"],"purpose":"T-1","source":"h"}`
	}
	good := event("")
	tests := []struct {
		name, path string
		hdr        map[string]string
		body       string
		field      string
	}{
		{"login duplicate username", "/v1/login", jsonCT, `{"username":"mallory","username":"alice","password":"alice's long password"}`, "username"},
		{"login invalid UTF-8", "/v1/login", jsonCT, "{\"username\":\"alice\",\"password\":\"alice's long\xffpassword\"}", "password"},
		{"login lone surrogate escape", "/v1/login", jsonCT, `{"username":"alice\ud800","password":"x"}`, "username"},
		{"password change duplicate", "/v1/password", userJSON, `{"current_password":"alice's long password","new_password":"one new password","new_password":"another new password"}`, "new_password"},
		{"admin account duplicate", "/admin/v1/accounts", admin(), `{"username":"bob","password":"a long password 1","username":"root"}`, "username"},
		{"import array duplicate", "/admin/v1/accounts/import", importHdr("application/json"), `[{"username":"bob","password":"a long password 1","password":"another one 22"}]`, "0.password"},
		{"import ndjson duplicate", "/admin/v1/accounts/import", importHdr("application/x-ndjson"), `{"username":"bob","username":"eve","password":"a long password 1"}` + "\n", "username"},
		{"audit array duplicate", "/audit/v1/events", adminAs("application/json"), `[` + good + `,` + event(`"principal":"svc-other",`) + `]`, "events[1].principal"},
		{"audit array invalid UTF-8", "/audit/v1/events", adminAs("application/json"), "[" + event("\"purpose\":\"T-\xc3\x28\",") + "]", "events[0].purpose"},
		{"audit ndjson duplicate", "/audit/v1/events", adminAs("application/x-ndjson"), good + "\n" + event(`"subject":"bob",`) + "\n", "events[1].subject"},
		{"audit ndjson invalid UTF-8", "/audit/v1/events", adminAs("application/x-ndjson"), "{\"time\":\"2026-05-27T07:59:00Z\",\"principal\":\"svc\xff\",\"action\":\"read\",\"subject\":\"alice\",\"categories\":[\"email\"]}\n", "events[0].principal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+tt.path, tt.hdr, []byte(tt.body))
			wantError(t, r, http.StatusBadRequest, "invalid_request")
			if r.body["field"] != tt.field {
				t.Errorf("field = %v, want %q (%v)", r.body["field"], tt.field, r.body)
			}
		})
	}
	// Nothing of the refused batches was stored.
	if r := send(t, "GET", m.URL()+"/audit/v1/entries", admin(), nil); r.status == http.StatusOK {
		if n, ok := r.body["entries"].([]any); ok && len(n) > 0 {
			t.Errorf("refused batches left entries: %v", r.body)
		}
	}
}

// A new password holding NUL is refused, naming the field.
func TestNewPasswordWithNULRefused(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "alice", "alice's long password")
	at := accessToken(t, mustLogin(t, m, "alice", "alice's long password", ""))
	h := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + at}
	r := send(t, "POST", m.URL()+"/v1/password", h, []byte(`{"current_password":"alice's long password","new_password":"a long new\u0000password"}`))
	wantError(t, r, http.StatusUnprocessableEntity, "weak_password")
	if r.body["field"] != "new_password" {
		t.Errorf("field = %v, want new_password (%v)", r.body["field"], r.body)
	}
	r = send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), []byte(`{"username":"bob","password":"a long\u0000password"}`))
	wantError(t, r, http.StatusUnprocessableEntity, "weak_password")
	if r.body["field"] != "password" {
		t.Errorf("account creation: field = %v, want password (%v)", r.body["field"], r.body)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/cordon-dev/cordon/internal/password"
)

const testAdminToken = "cat_test-admin-token-0123456789"

// testServer runs a whole cordon in-process on port 0 with cheap hashing.
func testServer(t *testing.T) *Main {
	t.Helper()
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: t.TempDir(), AdminToken: testAdminToken,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32},
		Log:  slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

// call sends a request and decodes a JSON answer into a map.
func call(t *testing.T, method, u string, hdr map[string]string, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %q", method, u, err, data)
		}
	}
	return resp.StatusCode, resp.Header, out
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

func admin() map[string]string {
	return map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + testAdminToken}
}

func addUser(t *testing.T, m *Main, name, pw string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	code, _, out := call(t, "POST", m.URL()+"/admin/v1/accounts", admin(), string(b))
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %v", name, code, out)
	}
	return out["id"].(string)
}

func login(t *testing.T, m *Main, name, pw, client string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	h := map[string]string{"Content-Type": "application/json"}
	if client != "" {
		h["Cordon-Client"] = client
	}
	code, _, out := call(t, "POST", m.URL()+"/v1/login", h, string(b))
	return code, out
}

func refresh(t *testing.T, m *Main, rt string) (int, map[string]any) {
	t.Helper()
	code, _, out := call(t, "POST", m.URL()+"/oauth2/token", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
	return code, out
}

func bearerH(at string) map[string]string { return map[string]string{"Authorization": "Bearer " + at} }

func TestLoginRefreshSessionLogout(t *testing.T) {
	m := testServer(t)
	id := addUser(t, m, "alice", "correct horse battery")
	code, tok := login(t, m, "Alice", "correct horse battery", `platform=ios, version="8.4.1", source=appstore, device="d-1"`)
	if code != 200 {
		t.Fatalf("login: %d %v", code, tok)
	}
	for _, f := range []string{"access_token", "token_type", "expires_in", "refresh_token", "session_id"} {
		if tok[f] == nil {
			t.Errorf("login answer lacks %s: %v", f, tok)
		}
	}
	at := tok["access_token"].(string)
	code, _, sess := call(t, "GET", m.URL()+"/v1/session", bearerH(at), "")
	if code != 200 || sess["account_id"] != id {
		t.Fatalf("session: %d %v", code, sess)
	}
	client := sess["session"].(map[string]any)["client"].(map[string]any)
	if client["platform"] != "ios" || client["version"] != "8.4.1" || client["source"] != "appstore" {
		t.Errorf("session facts = %v", client)
	}

	// An in-place upgrade keeps the session, whose facts stay those it
	// authenticated with: a claim never rewrites them.
	h := bearerH(at)
	h["Cordon-Client"] = `platform=ios, version="8.5.0", source=play, device="d-1"`
	code, _, sess = call(t, "GET", m.URL()+"/v1/session", h, "")
	if got := sess["session"].(map[string]any)["client"].(map[string]any); code != 200 || got["version"] != "8.4.1" || got["source"] != "appstore" {
		t.Errorf("after upgrade: %d facts %v, want version 8.4.1 from appstore as at login", code, got)
	}

	code, next := refresh(t, m, tok["refresh_token"].(string))
	if code != 200 || next["refresh_token"] == tok["refresh_token"] || next["session_id"] != tok["session_id"] {
		t.Fatalf("refresh: %d %v", code, next)
	}
	code, _, _ = call(t, "POST", m.URL()+"/v1/logout", bearerH(next["access_token"].(string)), "")
	if code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	code, hdr, body := call(t, "GET", m.URL()+"/v1/session", bearerH(next["access_token"].(string)), "")
	if code != 401 || body["error"] != "session_revoked" || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("after logout: %d %v %q", code, body, hdr.Get("WWW-Authenticate"))
	}
	if code, out := refresh(t, m, next["refresh_token"].(string)); code != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh after logout: %d %v", code, out)
	}
}

func TestWrongCredentialsLookAlike(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "bob", "a long enough password")
	c1, unknown := login(t, m, "nobody", "a long enough password", "")
	c2, wrong := login(t, m, "bob", "not the password", "")
	if c1 != 401 || c2 != 401 || unknown["error"] != "invalid_credentials" || unknown["message"] != wrong["message"] || unknown["error"] != wrong["error"] {
		t.Errorf("unknown user: %d %v; wrong password: %d %v; want the same 401 invalid_credentials", c1, unknown, c2, wrong)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "carol", "a long enough password")
	_, tok := login(t, m, "carol", "a long enough password", "")
	first := tok["refresh_token"].(string)
	code, next := refresh(t, m, first)
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, next)
	}
	code, out := refresh(t, m, first) // replay
	if code != 400 || out["error"] != "invalid_grant" || out["reason"] != "refresh_token_reused" {
		t.Fatalf("replay: %d %v", code, out)
	}
	if code, out := refresh(t, m, next["refresh_token"].(string)); code != 400 || out["error"] != "invalid_grant" {
		t.Errorf("newest token of a replayed family: %d %v, want invalid_grant", code, out)
	}
	if code, _, out := call(t, "GET", m.URL()+"/v1/session", bearerH(next["access_token"].(string)), ""); code != 401 {
		t.Errorf("access token of a replayed family: %d %v, want 401", code, out)
	}
}

func TestConcurrentRefreshAtMostOneWins(t *testing.T) {
	m := testServer(t)
	addUser(t, m, "dave", "a long enough password")
	_, tok := login(t, m, "dave", "a long enough password", "")
	rt := tok["refresh_token"].(string)
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = refresh(t, m, rt)
		}()
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case 200:
			wins++
		case 400:
		default:
			t.Errorf("a concurrent refresh answered %d", c)
		}
	}
	if wins > 1 {
		t.Errorf("%d concurrent refreshes of one token won, want at most 1", wins)
	}
}

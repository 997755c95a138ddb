package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/password"
)

// introspectFixture is a server on loopback with one logged-in session,
// and an admin token of scope introspect.
func introspectFixture(b *testing.B) (m *Main, access, introspector string) {
	b.Helper()
	m = &Main{Config: Config{Addr: "127.0.0.1:0", Data: b.TempDir(), AdminToken: testAdminToken,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	if _, err := m.Authn.CreateAccount(context.Background(), "bench", "a long enough password"); err != nil {
		b.Fatal(err)
	}
	post := func(path, ctype, auth, body string, v any) {
		req, _ := http.NewRequest("POST", m.URL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Cordon-Client", `platform=android, version="8.4.1", source=play, device="d-1"`)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode >= 300 {
			b.Fatalf("POST %s: %d %v", path, resp.StatusCode, err)
		}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	post("/v1/login", "application/json", "", `{"username":"bench","password":"a long enough password"}`, &tok)
	var at struct {
		Token string `json:"token"`
	}
	post("/admin/v1/tokens", "application/json", testAdminToken, `{"name":"bench","scopes":["introspect"]}`, &at)
	return m, tok.AccessToken, at.Token
}

// BenchmarkIntrospect is a backend asking POST /oauth2/introspect about
// an access token: the admin token and the session are read from the
// store, the token verified and the decision taken.
func BenchmarkIntrospect(b *testing.B) {
	m, access, intro := introspectFixture(b)
	body := url.Values{"token": {access}}.Encode()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for b.Loop() {
		req, _ := http.NewRequest("POST", m.URL()+"/oauth2/introspect", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+intro)
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out struct {
			Active bool `json:"active"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || !out.Active {
			b.Fatalf("introspection: %d active=%v %v", resp.StatusCode, out.Active, err)
		}
	}
}

// BenchmarkSessionGet is the app's own GET /v1/session with the same
// token: the baseline introspection is compared with.
func BenchmarkSessionGet(b *testing.B) {
	m, access, _ := introspectFixture(b)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	req, _ := http.NewRequest("GET", m.URL()+"/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

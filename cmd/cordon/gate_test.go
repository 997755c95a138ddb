package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gatepkg "github.com/cordon-dev/cordon/gate"
	"github.com/cordon-dev/cordon/internal/password"
)

// echoUpstream answers every request with the headers it received.
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(up.Close)
	return up
}

func startGate(t *testing.T, control, upstream string) *GateMain {
	t.Helper()
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: upstream, Control: control, Token: testAdminToken,
		Log: slog.New(slog.DiscardHandler)}}
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	waitFor(t, 5*time.Second, "gate ready", func() bool { return g.State.Ready() })
	return g
}

// waitFor polls cond every 5 ms until it holds or limit passes, and
// returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func gateGet(t *testing.T, g *GateMain, access string, extra map[string]string) (int, map[string]any) {
	t.Helper()
	h := map[string]string{"Cordon-Client": `platform=ios, version="8.4.1", source=appstore, device="d-1"`}
	if access != "" {
		h["Authorization"] = "Bearer " + access
	}
	for k, v := range extra {
		h[k] = v
	}
	code, _, body := call(t, "GET", "http://"+g.Addr()+"/api/things", h, "")
	return code, body
}

func TestGateEnforcesAndPropagates(t *testing.T) {
	m := testServer(t)
	up := echoUpstream(t)
	g := startGate(t, m.URL(), up.URL)
	addUser(t, m, "hank", "a long enough password")
	_, tok := login(t, m, "hank", "a long enough password", `platform=ios, version="8.4.1", source=appstore, device="d-1"`)
	access := tok["access_token"].(string)

	// Allowed, with identity headers the upstream can trust.
	code, body := gateGet(t, g, access, map[string]string{"X-Cordon-Account": "u-spoofed", "Cordon-Campaign": "spoof", "X-Cordon-Extra": "x"})
	if code != 200 {
		t.Fatalf("allowed request: %d %v", code, body)
	}
	hdr := body["headers"].(map[string]any)
	if got := hdr["X-Cordon-Account"].([]any); len(got) != 1 || got[0] == "u-spoofed" || !strings.HasPrefix(got[0].(string), "u-") {
		t.Errorf("X-Cordon-Account = %v, want the verified account only", got)
	}
	if hdr["Cordon-Campaign"] != nil || hdr["X-Cordon-Extra"] != nil {
		t.Errorf("spoofed Cordon- headers reached the upstream: %v", hdr)
	}
	if hdr["Cordon-Client"] == nil || hdr["X-Cordon-Session"] == nil || hdr["X-Cordon-Platform"].([]any)[0] != "ios" {
		t.Errorf("identity headers missing: %v", hdr)
	}
	if code, body := gateGet(t, g, "", nil); code != 401 || body["error"] != "unauthorized" {
		t.Errorf("no token: %d %v", code, body)
	}

	// A campaign activated at the control plane is enforced within a second.
	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"gate test","cohort":{"platforms":["ios"]}}`)
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/activate", "")
	took := waitFor(t, time.Second, "campaign at the gate", func() bool { code, _ := gateGet(t, g, access, nil); return code == 401 })
	t.Logf("campaign reached the gate in %v", took)
	if code, body := gateGet(t, g, access, nil); body["error"] != "reauth_required" || body["campaign"] != c["id"] {
		t.Errorf("blocked at the gate: %d %v", code, body)
	}
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/cancel", "")
	waitFor(t, time.Second, "cancel at the gate", func() bool { code, _ := gateGet(t, g, access, nil); return code == 200 })

	// A logout reaches the gate within a second, though the token is valid.
	if code, _, _ := call(t, "POST", m.URL()+"/v1/logout", bearerH(access), ""); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	took = waitFor(t, time.Second, "logout at the gate", func() bool { code, _ := gateGet(t, g, access, nil); return code == 401 })
	t.Logf("logout reached the gate in %v", took)
	if _, body := gateGet(t, g, access, nil); body["error"] != "session_revoked" {
		t.Errorf("after logout: %v", body)
	}
}

func TestGateFailsStaticAndCatchesUp(t *testing.T) {
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func() *Main {
		m := &Main{Config: Config{Addr: addr, Data: data, AdminToken: testAdminToken, Issuer: "http://cordon.test",
			Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := start()
	up := echoUpstream(t)
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: up.URL, Control: m.URL(), Issuer: "http://cordon.test", Token: testAdminToken, Log: slog.New(slog.DiscardHandler)}}
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	waitFor(t, 5*time.Second, "gate ready", func() bool { return g.State.Ready() })

	addUser(t, m, "ivy", "a long enough password")
	addUser(t, m, "jack", "a long enough password")
	_, ivy := login(t, m, "ivy", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
	_, jack := login(t, m, "jack", "a long enough password", `platform=android, version="8.4.1", source=play`)
	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"ios","cohort":{"platforms":["ios"]}}`)
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/activate", "")
	waitFor(t, time.Second, "campaign at the gate", func() bool { code, _ := gateGet(t, g, ivy["access_token"].(string), nil); return code == 401 })

	// The control plane goes away: the gate keeps enforcing what it holds.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "gate notices", func() bool { return !g.Feed.Connected() })
	if code, _ := gateGet(t, g, ivy["access_token"].(string), nil); code != 401 {
		t.Errorf("blocked session while the control plane is down: %d, want 401", code)
	}
	if code, _ := gateGet(t, g, jack["access_token"].(string), nil); code != 200 {
		t.Errorf("allowed session while the control plane is down: %d, want 200", code)
	}
	if code, _, _ := call(t, "GET", "http://"+g.Addr()+"/readyz", nil, ""); code != 200 {
		t.Errorf("readyz while failing static: %d, want 200", code)
	}

	// It comes back with a change made while the gate was away (a fresh
	// run of the server: a new epoch, so the gate takes a snapshot).
	m = start()
	t.Cleanup(func() { m.Close() })
	c2 := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"android","cohort":{"platforms":["android"]}}`)
	campaignCall(t, m, "POST", "/"+c2["id"].(string)+"/activate", "")
	took := waitFor(t, 10*time.Second, "catch up after restart", func() bool {
		code, _ := gateGet(t, g, jack["access_token"].(string), nil)
		return code == 401
	})
	t.Logf("caught up %v after the restart", took)
	if code, _ := gateGet(t, g, ivy["access_token"].(string), nil); code != 401 {
		t.Errorf("the earlier campaign after catching up: %d, want 401", code)
	}
}

// TestGatePassesWebSocketUpgrades: an Upgrade request of an allowed
// session reaches the upstream and the connection is spliced both ways.
func TestGatePassesWebSocketUpgrades(t *testing.T) {
	m := testServer(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-Cordon-Account") == "" {
			http.Error(w, "want an upgrade with identity", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	}))
	t.Cleanup(up.Close)
	g := startGate(t, m.URL(), up.URL)
	addUser(t, m, "lena", "a long enough password")
	_, tok := login(t, m, "lena", "a long enough password", `platform=web, version="1.0.0", source=web`)

	conn, err := net.Dial("tcp", g.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer "+tok["access_token"].(string)+"\r\n"+
		"Cordon-Client: platform=web, version=\"1.0.0\", source=web\r\n\r\n")
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 101") {
		t.Fatalf("upgrade answer: %q, %v", buf[:n], err)
	}
	io.WriteString(conn, "hello\n")
	n, err = conn.Read(buf)
	if err != nil || string(buf[:n]) != "echo: hello\n" {
		t.Errorf("spliced connection: %q, %v", buf[:n], err)
	}
}

// TestGateMiddlewareFollows uses the public gate package as a Go backend
// would: Follow the server, wrap a handler, read the Identity.
func TestGateMiddlewareFollows(t *testing.T) {
	m := testServer(t)
	st := gatepkg.NewState(m.URL(), "cordon")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gatepkg.Follow(ctx, st, m.URL(), testAdminToken, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 5*time.Second, "middleware ready", st.Ready)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := gatepkg.FromContext(r.Context())
		if !ok {
			http.Error(w, "no identity", 500)
			return
		}
		io.WriteString(w, id.AccountID)
	})
	srv := httptest.NewServer(gatepkg.New(st, gatepkg.Options{}).Handler(app))
	t.Cleanup(srv.Close)
	id := addUser(t, m, "mona", "a long enough password")
	_, tok := login(t, m, "mona", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != id {
		t.Errorf("through the middleware: %d %q, want 200 %q", resp.StatusCode, body, id)
	}
}

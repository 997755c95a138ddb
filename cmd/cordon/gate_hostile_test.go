package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The gate under attack: a client holding connections open, spelling
// headers the way CGI servers fold them, sending two credentials,
// claiming addresses, or keeping a WebSocket after its session ended.
// Every test talks to a real GateMain over real TCP.

func startGateWith(t *testing.T, control, upstream string, conf func(*GateConfig)) *GateMain {
	t.Helper()
	c := GateConfig{Addr: "127.0.0.1:0", Upstream: upstream, Control: control, Token: testAdminToken, Log: slog.New(slog.DiscardHandler)}
	if conf != nil {
		conf(&c)
	}
	g := &GateMain{Config: c}
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	waitFor(t, 5*time.Second, "gate ready", func() bool { return g.State.Ready() })
	return g
}

// countingUpstream answers with the headers and the length of the body
// it received, and counts the requests that reached it.
func countingUpstream(t *testing.T, reached *atomic.Int64) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		if d := r.URL.Query().Get("sleep"); d != "" {
			wait, _ := time.ParseDuration(d)
			time.Sleep(wait)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"headers": r.Header, "body_bytes": n})
	}))
	t.Cleanup(up.Close)
	return up
}

// rawConn is a client that writes bytes as given: no canonical header
// names, no body unless the test writes one.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	sent time.Time
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	rc.sent = time.Now()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// answer reads one response within limit and returns it with its
// decoded JSON body and how long after the last send it came.
func (rc *rawConn) answer(limit time.Duration) (*http.Response, map[string]any, time.Duration) {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("no answer within %v: %v", limit, err)
	}
	took := time.Since(rc.sent)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body map[string]any
	json.Unmarshal(data, &body)
	return resp, body, took
}

// closed waits up to limit for the gate to close the connection and
// returns how long after the last send it did.
func (rc *rawConn) closed(limit time.Duration) time.Duration {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, rc.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		rc.t.Fatalf("connection still open %v after the request", limit)
	}
	return time.Since(rc.sent)
}

// TestGateRefusesWithoutWaitingForTheBody: a refused request that
// announces a body it never sends is answered at once and its connection
// closed, with the default timeouts (which are far longer), so it is the
// refusal, not a timeout, that frees the connection. Before, such a
// connection got no answer and stayed open for good.
func TestGateRefusesWithoutWaitingForTheBody(t *testing.T) {
	m := testServer(t)
	var reached atomic.Int64
	g := startGateWith(t, m.URL(), countingUpstream(t, &reached).URL, nil)
	addUser(t, m, "olga", "a long enough password")
	_, tok := login(t, m, "olga", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
	access := tok["access_token"].(string)
	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"deny olga","cohort":{"users":["olga"]}}`)
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/activate", "")
	waitFor(t, 2*time.Second, "campaign at the gate", func() bool { code, _ := gateGet(t, g, access, nil); return code == 401 })
	// The probes above were allowed until the campaign reached the gate;
	// only what follows must never reach the upstream.
	reached.Store(0)

	for _, tc := range []struct {
		name, head string
		status     int
		code       string
	}{
		{"no token", "Content-Length: 1000\r\n", 401, "unauthorized"},
		{"bad token", "Authorization: Bearer a.b.c\r\nContent-Length: 1000\r\n", 401, "invalid_token"},
		{"chunked, no token", "Transfer-Encoding: chunked\r\n", 401, "unauthorized"},
		{"expect 100-continue", "Expect: 100-continue\r\nContent-Length: 100000\r\n", 401, "unauthorized"},
		{"denied by a campaign", "Authorization: Bearer " + access + "\r\nContent-Length: 1000\r\n", 401, "reauth_required"},
		{"two credentials", "Authorization: Bearer " + access + "\r\nAuthorization: Bearer x\r\nContent-Length: 1000\r\n", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, g.Addr())
			rc.send("POST /api/upload HTTP/1.1\r\nHost: gate\r\n" + tc.head + "\r\n")
			resp, body, answered := rc.answer(5 * time.Second)
			if resp.StatusCode != tc.status || body["error"] != tc.code {
				t.Errorf("answer: %d %v, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if !resp.Close {
				t.Errorf("answer does not say Connection: close")
			}
			closedAfter := rc.closed(5 * time.Second)
			if answered > time.Second || closedAfter > 2*time.Second {
				t.Errorf("answered after %v, closed after %v; want under 1 s and 2 s", answered, closedAfter)
			}
			t.Logf("answered after %v, closed after %v", answered.Round(time.Millisecond), closedAfter.Round(time.Millisecond))
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}

	// The attack as reported: 600 such connections at once (the gate
	// that fell had 512 descriptors). Each is answered and closed; the
	// gate holds none of them afterwards.
	const attackers = 600
	before, _ := g.Conns() // the test's own kept-alive client connections
	conns := make([]*rawConn, attackers)
	for i := range conns {
		conns[i] = dialRaw(t, g.Addr())
		conns[i].send("POST /api/upload HTTP/1.1\r\nHost: gate\r\nContent-Length: 1000\r\n\r\n")
	}
	var slowest time.Duration
	peak, _ := g.Conns()
	for _, rc := range conns {
		if resp, _, _ := rc.answer(10 * time.Second); resp.StatusCode != 401 {
			t.Fatalf("attacker answered %d", resp.StatusCode)
		}
		slowest = max(slowest, rc.closed(10*time.Second))
	}
	held := waitFor(t, 5*time.Second, "no attacker connection held", func() bool { n, _ := g.Conns(); return n <= before })
	t.Logf("%d stalled-body connections: %d open at the gate just after they were sent; the last closed %v after its request; none held %v later",
		attackers, peak-before, slowest.Round(time.Millisecond), held.Round(time.Millisecond))
}

// TestGateBoundsAllowedBodies: an allowed request's body may take as long
// as it keeps coming (pauses under --read-timeout), the upstream may take
// longer than every timeout to answer, and a body that stops is cut after
// --read-timeout without progress.
func TestGateBoundsAllowedBodies(t *testing.T) {
	m := testServer(t)
	var reached atomic.Int64
	const readTimeout = 400 * time.Millisecond
	g := startGateWith(t, m.URL(), countingUpstream(t, &reached).URL, func(c *GateConfig) {
		c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = readTimeout, readTimeout, readTimeout
	})
	addUser(t, m, "pia", "a long enough password")
	_, tok := login(t, m, "pia", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)
	auth := "Authorization: Bearer " + tok["access_token"].(string) + "\r\n"

	t.Run("slow upload that keeps coming", func(t *testing.T) {
		rc := dialRaw(t, g.Addr())
		rc.send("POST /api/upload HTTP/1.1\r\nHost: gate\r\n" + auth + "Content-Length: 1000\r\n\r\n")
		for range 10 { // 1.5 s in all, pauses of 150 ms
			time.Sleep(150 * time.Millisecond)
			rc.send(strings.Repeat("x", 100))
		}
		resp, body, _ := rc.answer(5 * time.Second)
		if resp.StatusCode != 200 || body["body_bytes"] != float64(1000) {
			t.Errorf("slow upload: %d %v, want 200 with 1000 bytes upstream", resp.StatusCode, body)
		}
	})
	t.Run("upstream slower than every timeout", func(t *testing.T) {
		code, _, body := call(t, "GET", "http://"+g.Addr()+"/api/poll?sleep=1200ms", bearerH(tok["access_token"].(string)), "")
		if code != 200 || body["headers"] == nil {
			t.Errorf("long poll: %d %v, want 200", code, body)
		}
	})
	t.Run("stalled body", func(t *testing.T) {
		rc := dialRaw(t, g.Addr())
		rc.send("POST /api/upload HTTP/1.1\r\nHost: gate\r\n" + auth + "Content-Length: 1000\r\n\r\n")
		rc.send(strings.Repeat("x", 10))
		closedAfter := rc.closed(5 * time.Second)
		if closedAfter < readTimeout/2 || closedAfter > readTimeout+2*time.Second {
			t.Errorf("stalled body closed after %v, want about the read timeout %v", closedAfter, readTimeout)
		}
		t.Logf("stalled body of an allowed request closed after %v", closedAfter.Round(time.Millisecond))
	})
}

// TestGateConnectionLimit: clients that open connections and never
// finish their headers hold at most --max-conns of them, each for at most
// --read-header-timeout; a real client queued behind twice as many is
// served once they time out.
func TestGateConnectionLimit(t *testing.T) {
	m := testServer(t)
	var reached atomic.Int64
	const limit, headerTimeout = 4, 500 * time.Millisecond
	g := startGateWith(t, m.URL(), countingUpstream(t, &reached).URL, func(c *GateConfig) {
		c.MaxConns, c.ReadHeaderTimeout = limit, headerTimeout
	})
	var held atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // the most connections the gate held at once
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				if n, _ := g.Conns(); int64(n) > held.Load() {
					held.Store(int64(n))
				}
			}
		}
	}()
	const stalled = 3 * limit
	for range stalled {
		rc := dialRaw(t, g.Addr())
		rc.send("GET /healthz HTTP/1.1\r\nHost: gate\r\nX-Slow: ")
	}
	waitFor(t, 2*time.Second, "the limit filled", func() bool { n, _ := g.Conns(); return n == limit })
	start := time.Now()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get("http://" + g.Addr() + "/healthz")
	if err != nil {
		t.Fatalf("a real client behind %d stalled connections: %v", stalled, err)
	}
	resp.Body.Close()
	waited := time.Since(start)
	close(stop)
	<-sampled
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	if held.Load() > limit {
		t.Errorf("the gate held %d connections at once, limit %d", held.Load(), limit)
	}
	// Three rounds of stalled connections, each cut at the header timeout.
	if waited > 3*headerTimeout+3*time.Second {
		t.Errorf("real client waited %v", waited)
	}
	t.Logf("%d stalled connections, limit %d, header timeout %v: at most %d held, real client served after %v",
		stalled, limit, headerTimeout, held.Load(), waited.Round(time.Millisecond))
	waitFor(t, 5*time.Second, "stalled connections all closed", func() bool { n, _ := g.Conns(); return n == 0 })
}

// TestGateStripsFoldedSpellings: header names a CGI or WSGI server folds
// into the gate's own variables (HTTP_X_CORDON_ACCOUNT) never reach the
// upstream, nor a second spelling of Cordon-Client, which the gate never
// judged. Names are written on the wire literally.
func TestGateStripsFoldedSpellings(t *testing.T) {
	m := testServer(t)
	var reached atomic.Int64
	g := startGateWith(t, m.URL(), countingUpstream(t, &reached).URL, nil)
	account := addUser(t, m, "quinn", "a long enough password")
	_, tok := login(t, m, "quinn", "a long enough password", `platform=ios, version="8.4.1", source=appstore`)

	rc := dialRaw(t, g.Addr())
	rc.send("GET /api/me HTTP/1.1\r\nHost: gate\r\nAuthorization: Bearer " + tok["access_token"].(string) + "\r\n" +
		"Cordon-Client: platform=ios, version=\"8.4.1\", source=appstore\r\n" +
		"X_Cordon_Account: u-victim\r\n" +
		"x_cordon_account: u-victim-2\r\n" +
		"X-Cordon_Account: u-victim-3\r\n" +
		"x-cOrDoN-aCcOuNt: u-victim-4\r\n" +
		"X.Cordon.Session: s-victim\r\n" +
		"Cordon_Foo: 1\r\n" +
		"CORDON_FOO: 2\r\n" +
		"Cordon~Campaign: c-1\r\n" +
		"Cordon_Client: platform=android, source=play\r\n" +
		"cordon.client: platform=android\r\n" +
		"X-Cordonnier: kept\r\n" +
		// A hop-by-hop list naming the gate's own headers must not
		// take them off the request (the proxy drops what Connection
		// names before the gate adds its own).
		"Connection: keep-alive, X-Cordon-Account, X-Real-IP\r\n" +
		"\r\n")
	resp, body, _ := rc.answer(5 * time.Second)
	if resp.StatusCode != 200 {
		t.Fatalf("request: %d %v", resp.StatusCode, body)
	}
	hdr := body["headers"].(map[string]any)
	allowed := map[string]bool{"Cordon-Client": true, "X-Cordon-Account": true, "X-Cordon-Session": true, "X-Cordon-Platform": true,
		"X-Cordon-Version": true, "X-Cordon-Source": true, "X-Cordon-Device": true, "X-Cordon-Auth-Time": true, "X-Cordonnier": true}
	for k, v := range hdr {
		if strings.Contains(strings.ToLower(k), "cordon") && !allowed[k] {
			t.Errorf("%s: %v reached the upstream", k, v)
		}
	}
	if got := fmt.Sprint(hdr["X-Cordon-Account"]); got != "["+account+"]" {
		t.Errorf("X-Cordon-Account = %s, want [%s]", got, account)
	}
	if got := fmt.Sprint(hdr["Cordon-Client"]); got != `[platform=ios, version="8.4.1", source=appstore]` {
		t.Errorf("Cordon-Client = %s", got)
	}
	if got := fmt.Sprint(hdr["X-Real-Ip"]); got != "[127.0.0.1]" {
		t.Errorf("X-Real-IP = %s, want [127.0.0.1]", got)
	}
	if got := fmt.Sprint(hdr["X-Cordonnier"]); got != "[kept]" {
		t.Errorf("X-Cordonnier, outside the namespace, = %s, want [kept]", got)
	}
}

// TestGateRefusesTwoCredentials: two Authorization headers, or two
// credentials in one, are refused with 400 before the token is even
// looked at, and nothing reaches the upstream.
func TestGateRefusesTwoCredentials(t *testing.T) {
	m := testServer(t)
	var reached atomic.Int64
	g := startGateWith(t, m.URL(), countingUpstream(t, &reached).URL, nil)
	addUser(t, m, "rosa", "a long enough password")
	addUser(t, m, "sven", "a long enough password")
	_, rosa := login(t, m, "rosa", "a long enough password", "")
	_, sven := login(t, m, "sven", "a long enough password", "")
	a, b := rosa["access_token"].(string), sven["access_token"].(string)
	for _, tc := range []struct{ name, auth string }{
		{"two headers, two valid tokens", "Authorization: Bearer " + a + "\r\nAuthorization: Bearer " + b + "\r\n"},
		{"two headers, other spelling", "Authorization: Bearer " + a + "\r\nauthorization: Basic cm9zYTpwdw==\r\n"},
		{"comma-joined", "Authorization: Bearer " + a + ", Bearer " + b + "\r\n"},
		{"comma-joined, no space", "Authorization: Bearer " + a + ",Basic cm9zYTpwdw==\r\n"},
		{"blank-joined", "Authorization: Bearer " + a + " " + b + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, g.Addr())
			rc.send("GET /api/me HTTP/1.1\r\nHost: gate\r\n" + tc.auth + "\r\n")
			resp, body, _ := rc.answer(5 * time.Second)
			if resp.StatusCode != 400 || body["error"] != "invalid_request" || body["message"] == "" {
				t.Errorf("answer: %d %v, want 400 invalid_request with a message", resp.StatusCode, body)
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d requests with two credentials reached the upstream", n)
	}
	if code, _ := gateGet(t, g, a, nil); code != 200 {
		t.Errorf("one credential: %d, want 200", code)
	}
}

// TestGateSetsForwardedFromThePeer: the client's X-Forwarded-For,
// X-Real-IP, Forwarded and their kin (in any spelling) never reach the
// upstream from an untrusted peer; the gate says what it saw. From a
// trusted proxy the client is the right-most untrusted address.
func TestGateSetsForwardedFromThePeer(t *testing.T) {
	m := testServer(t)
	var reached atomic.Int64
	up := countingUpstream(t, &reached)
	addUser(t, m, "tova", "a long enough password")
	_, tok := login(t, m, "tova", "a long enough password", "")
	auth := "Authorization: Bearer " + tok["access_token"].(string) + "\r\n"
	spoof := "X-Forwarded-For: 198.51.100.1\r\nX-Real-IP: 198.51.100.2\r\nForwarded: for=198.51.100.3;proto=https\r\n" +
		"True-Client-IP: 198.51.100.4\r\nX_Forwarded_For: 198.51.100.5\r\nX-Client-IP: 198.51.100.6\r\nCF-Connecting-IP: 198.51.100.7\r\n" +
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nx_real_ip: 198.51.100.8\r\n"
	send := func(g *GateMain, extra string) map[string]any {
		t.Helper()
		rc := dialRaw(t, g.Addr())
		rc.send("GET /api/me HTTP/1.1\r\nHost: gate.example\r\n" + auth + extra + "\r\n")
		resp, body, _ := rc.answer(5 * time.Second)
		if resp.StatusCode != 200 {
			t.Fatalf("request: %d %v", resp.StatusCode, body)
		}
		return body["headers"].(map[string]any)
	}
	want := func(hdr map[string]any, name, value string) {
		t.Helper()
		if got := fmt.Sprint(hdr[name]); got != value {
			t.Errorf("%s = %s, want %s", name, got, value)
		}
	}

	t.Run("untrusted peer", func(t *testing.T) {
		g := startGateWith(t, m.URL(), up.URL, nil)
		hdr := send(g, spoof)
		want(hdr, "X-Forwarded-For", "[127.0.0.1]")
		want(hdr, "X-Real-Ip", "[127.0.0.1]")
		want(hdr, "X-Forwarded-Proto", "[http]")
		want(hdr, "X-Forwarded-Host", "[gate.example]")
		for _, k := range []string{"Forwarded", "True-Client-Ip", "X_forwarded_for", "X-Client-Ip", "Cf-Connecting-Ip", "X_real_ip"} {
			if hdr[k] != nil {
				t.Errorf("%s: %v reached the upstream", k, hdr[k])
			}
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		nets, err := parseTrustedProxies("127.0.0.1/32, 10.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		g := startGateWith(t, m.URL(), up.URL, func(c *GateConfig) { c.TrustedProxies = nets })
		// The client wrote 198.51.100.9 itself; the first proxy saw
		// 203.0.113.7; a second, internal one saw the first.
		hdr := send(g, "X-Forwarded-For: 198.51.100.9, 203.0.113.7\r\nX-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: api.example\r\nX_Real_IP: 198.51.100.8\r\n")
		want(hdr, "X-Real-Ip", "[203.0.113.7]")
		want(hdr, "X-Forwarded-For", "[198.51.100.9, 203.0.113.7, 10.1.2.3, 127.0.0.1]")
		want(hdr, "X-Forwarded-Proto", "[https]")
		want(hdr, "X-Forwarded-Host", "[api.example]")
		if hdr["X_real_ip"] != nil {
			t.Errorf("X_Real_IP reached the upstream: %v", hdr["X_real_ip"])
		}
		// Garbage where the client's address should be: the gate falls
		// back on what it saw, never on the garbage.
		hdr = send(g, "X-Forwarded-For: not-an-address, 10.1.2.3\r\n")
		want(hdr, "X-Real-Ip", "[127.0.0.1]")
		hdr = send(g, "")
		want(hdr, "X-Real-Ip", "[127.0.0.1]")
		want(hdr, "X-Forwarded-For", "[127.0.0.1]")
	})
	t.Run("flag", func(t *testing.T) {
		for _, bad := range []string{"10.0.0.0/33", "not-an-address", ","} {
			if _, err := parseTrustedProxies(bad); err == nil {
				t.Errorf("--trusted-proxies %q accepted", bad)
			}
		}
	})
}

// wsEcho is an upstream that echoes WebSocket messages.
func wsEcho(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	return up
}

func dialWS(t *testing.T, g *GateMain, access, client string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + access}}
	if client != "" {
		h.Set("Cordon-Client", client)
	}
	c, resp, err := websocket.Dial(context.Background(), "ws://"+g.Addr()+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial through the gate: %d %v", status, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	echo(t, c, "hello")
	return c
}

func echo(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// endsWithin waits up to limit for the tunnel to end.
func endsWithin(t *testing.T, c *websocket.Conn, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	_, _, err := c.Read(ctx)
	if err == nil {
		t.Fatalf("tunnel still relaying")
	}
	if ctx.Err() != nil {
		t.Fatalf("tunnel still open %v later", limit)
	}
}

// TestGateClosesTunnels: a WebSocket through the gate ends when an admin
// revokes its session, or when a campaign that denies it is activated;
// another session's tunnel keeps relaying. Before, both kept relaying.
func TestGateClosesTunnels(t *testing.T) {
	m := testServer(t)
	g := startGateWith(t, m.URL(), wsEcho(t).URL, nil)
	addUser(t, m, "uma", "a long enough password")
	addUser(t, m, "vic", "a long enough password")
	ios := `platform=ios, version="8.4.1", source=appstore`
	android := `platform=android, version="8.4.1", source=play`
	_, uma := login(t, m, "uma", "a long enough password", ios)
	_, vic := login(t, m, "vic", "a long enough password", android)

	umaWS := dialWS(t, g, uma["access_token"].(string), ios)
	vicWS := dialWS(t, g, vic["access_token"].(string), android)
	if _, n := g.Conns(); n != 2 {
		t.Errorf("tunnels held: %d, want 2", n)
	}

	start := time.Now()
	if code, _, _ := call(t, "DELETE", m.URL()+"/admin/v1/sessions/"+uma["session_id"].(string), admin(), ""); code != 204 && code != 200 {
		t.Fatalf("admin revoke: %d", code)
	}
	endsWithin(t, umaWS, 3*time.Second)
	took := time.Since(start)
	t.Logf("tunnel of a revoked session closed %v after the revocation", took.Round(time.Millisecond))
	echo(t, vicWS, "still here")

	c := campaignCall(t, m, "POST", "", `{"kind":"reauth","name":"android","cohort":{"platforms":["android"]}}`)
	start = time.Now()
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/activate", "")
	endsWithin(t, vicWS, 3*time.Second)
	took = time.Since(start)
	t.Logf("tunnel denied by a new campaign closed %v after the activation", took.Round(time.Millisecond))
	waitFor(t, 2*time.Second, "tunnels forgotten", func() bool { _, n := g.Conns(); return n == 0 })
}

// TestGateTunnelOutlivesTimeouts: the read, write and idle timeouts
// bound requests, not an allowed WebSocket, which lives as long as its
// token does.
func TestGateTunnelOutlivesTimeouts(t *testing.T) {
	m := testServer(t)
	const short = 300 * time.Millisecond
	g := startGateWith(t, m.URL(), wsEcho(t).URL, func(c *GateConfig) {
		c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = short, short, short, short
	})
	addUser(t, m, "xena", "a long enough password")
	_, tok := login(t, m, "xena", "a long enough password", "")
	ws := dialWS(t, g, tok["access_token"].(string), "")
	time.Sleep(4 * short)
	echo(t, ws, "after every timeout")
}

// TestGateReadyzSaysWhenItCannotVerify: a gate told another issuer than
// the server's holds a policy and the keys, yet refuses every token;
// /readyz says so once the tokens show it.
func TestGateReadyzSaysWhenItCannotVerify(t *testing.T) {
	m := testServer(t)
	var reached atomic.Int64
	g := startGateWith(t, m.URL(), countingUpstream(t, &reached).URL, func(c *GateConfig) { c.Issuer = "http://[::]:8080" })
	if code, _, body := call(t, "GET", "http://"+g.Addr()+"/readyz", nil, ""); code != 200 {
		t.Fatalf("readyz before any token: %d %v", code, body)
	}
	addUser(t, m, "wes", "a long enough password")
	for range 3 { // three sessions, so no cache answers
		_, tok := login(t, m, "wes", "a long enough password", "")
		if code, body := gateGet(t, g, tok["access_token"].(string), nil); code != 401 {
			t.Fatalf("token for another issuer: %d %v", code, body)
		}
	}
	code, _, body := call(t, "GET", "http://"+g.Addr()+"/readyz", nil, "")
	if code != 503 || body["error"] != "not_ready" || body["reason"] != "issuer_mismatch" || body["message"] == "" {
		t.Errorf("readyz: %d %v, want 503 not_ready issuer_mismatch", code, body)
	}
}

func TestDefaultMaxConns(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{{0, 16384}, {512, 224}, {1024, 480}, {4096, 2016}, {1 << 20, 16384}, {100, 64}} {
		if got := defaultMaxConns(tc.nofile); got != tc.want {
			t.Errorf("defaultMaxConns(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
	if os.Getenv("CI") == "" {
		t.Logf("this machine: nofile %d, default --max-conns %d", fileLimit(), defaultMaxConns(fileLimit()))
	}
}

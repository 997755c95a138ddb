package gate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// The tests here hold the Proxy, over real connections, to what
// httputil.ReverseProxy does for it, so that a forwarder of its own (tried
// for memory, see ARCHITECTURE.md) or a Go upgrade is held to the same
// wire: hop-by-hop headers removed both ways,
// identity and forwarding headers only the gate's, the upstream's path,
// query and Host, streamed bodies both ways, flushes for a streamed
// answer, trailers, 1xx answers, an upstream failing mid-answer and a
// client going away.

// proxyPair serves a Proxy in front of upstream (at path prefix) and
// returns the proxy's URL and a header that the gate lets through.
func proxyPair(t *testing.T, prefix string, upstream http.HandlerFunc) (string, http.Header) {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	f := newFixture(t, Options{})
	p, err := NewProxy(ProxyConfig{Upstream: up.URL + prefix, Gate: f.g})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(p)
	t.Cleanup(gw.Close)
	h := http.Header{"Authorization": {bearerOf(f.token(claims()))}, "Cordon-Client": {androidPlay}}
	return gw.URL, h
}

// rawRequest writes head (lines without CRLF) and body to the gate as they
// are, and reads the answer.
func rawRequest(t *testing.T, gateURL string, head []string, body string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(gateURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, strings.Join(head, "\r\n")+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("answer body: %v", err)
	}
	return res, string(b)
}

// TestProxyHopByHop: no hop-by-hop header crosses the gate either way —
// the fixed list and every header the Connection header names, in any
// case — but "Te: trailers"; and a client's identity or forwarding
// headers, named in Connection or not, never reach the upstream.
func TestProxyHopByHop(t *testing.T) {
	var seen http.Header
	var seenTrailer http.Header
	gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		io.Copy(io.Discard, r.Body)
		seenTrailer = r.Trailer.Clone()
		rh := w.Header()
		rh["Connection"] = []string{"X-Resp-Hop, x-resp-hop-2"}
		rh["X-Resp-Hop"] = []string{"1"}
		rh["X-Resp-Hop-2"] = []string{"2"}
		rh["Keep-Alive"] = []string{"timeout=1"}
		rh["Proxy-Authenticate"] = []string{"Basic"}
		rh["Proxy-Connection"] = []string{"keep-alive"}
		rh["Upgrade"] = []string{"h2c"}
		rh["X-Resp-Kept"] = []string{"k"}
		io.WriteString(w, "ok")
	})
	head := []string{
		"POST /api/x HTTP/1.1",
		"Host: gate.example",
		"Authorization: " + h.Get("Authorization"),
		"Cordon-Client: " + h.Get("Cordon-Client"),
		"Connection: X-Hop-A, x-hop-b,X-Cordon-Account, X-Forwarded-For",
		"X-Hop-A: a",
		"x-hop-b: b",
		"Keep-Alive: timeout=5",
		"Proxy-Connection: keep-alive",
		"Proxy-Authorization: Basic dTpw",
		"TE: deflate, trailers",
		"Trailer: X-Cordon-Account",
		"Transfer-Encoding: chunked",
		"X-Cordon-Account: forged",
		"X-Forwarded-For: 203.0.113.66",
		"X-Kept: k",
	}
	res, body := rawRequest(t, gw, head, "5\r\nhello\r\n0\r\nX-Cordon-Account: forged-in-trailer\r\n\r\n")
	if res.StatusCode != http.StatusOK || body != "ok" || seen == nil {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	for _, k := range []string{"Connection", "X-Hop-A", "X-Hop-B", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Trailer", "Transfer-Encoding", "Upgrade"} {
		if v, ok := seen[k]; ok {
			t.Errorf("upstream saw %s: %q", k, v)
		}
	}
	want := map[string]string{"Te": "trailers", "X-Kept": "k", "X-Cordon-Account": "u-1", "X-Forwarded-For": "127.0.0.1"}
	for k, v := range want {
		if got := seen[k]; len(got) != 1 || got[0] != v {
			t.Errorf("upstream saw %s: %q, want [%q]", k, got, v)
		}
	}
	for k, vv := range seenTrailer {
		if len(vv) > 0 {
			t.Errorf("upstream saw the client's trailer %s: %q", k, vv)
		}
	}
	for _, k := range []string{"Connection", "X-Resp-Hop", "X-Resp-Hop-2", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Upgrade"} {
		if v, ok := res.Header[k]; ok {
			t.Errorf("client saw %s: %q", k, v)
		}
	}
	if got := res.Header.Get("X-Resp-Kept"); got != "k" {
		t.Errorf("client saw X-Resp-Kept %q", got)
	}

	// An Upgrade header without "Connection: upgrade" asks for nothing:
	// it is dropped, and the request proxied as any other.
	seen = nil
	res, body = rawRequest(t, gw, []string{"GET /api/x HTTP/1.1", "Host: gate.example", "Authorization: " + h.Get("Authorization"),
		"Cordon-Client: " + h.Get("Cordon-Client"), "Upgrade: websocket", "X-Cordon-Session: forged", "Connection: close"}, "")
	if res.StatusCode != http.StatusOK || body != "ok" || seen == nil {
		t.Fatalf("with a bare Upgrade: %d %q", res.StatusCode, body)
	}
	if v, ok := seen["Upgrade"]; ok {
		t.Errorf("upstream saw Upgrade %q", v)
	}
	if got := seen.Get("X-Cordon-Session"); got != "s-1" {
		t.Errorf("upstream saw X-Cordon-Session %q, want s-1", got)
	}
}

// TestProxyURLAndHost: the upstream gets its own Host, its path prefix
// before the client's path, and the client's query without what Go
// cannot parse (an upstream that parses it otherwise would read
// parameters the gate never saw); the client's Host is X-Forwarded-Host.
func TestProxyURLAndHost(t *testing.T) {
	var got *http.Request
	upHost := ""
	gw, h := proxyPair(t, "/base", func(w http.ResponseWriter, r *http.Request) { got = r.Clone(context.Background()) })
	for _, tc := range []struct{ target, path, query string }{
		{"/api/x?a=1&b=2", "/base/api/x", "a=1&b=2"},
		{"/api/x?a=1&b=2;c=3", "/base/api/x", "a=1"},
		{"/api/x?a=%zz&b=1", "/base/api/x", "b=1"},
		{"/api/%2Fx", "/base/api/%2Fx", ""},
	} {
		got = nil
		req, _ := http.NewRequest(http.MethodGet, gw+tc.target, nil)
		req.Header = h.Clone()
		req.Host = "gate.example"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || got == nil {
			t.Fatalf("%s: %d", tc.target, res.StatusCode)
		}
		if upHost == "" {
			upHost = got.Host
		}
		if p := got.URL.EscapedPath(); p != tc.path || got.URL.RawQuery != tc.query {
			t.Errorf("%s: upstream saw %s ? %s, want %s ? %s", tc.target, p, got.URL.RawQuery, tc.path, tc.query)
		}
		if !strings.HasPrefix(got.Host, "127.0.0.1:") || got.Header.Get("X-Forwarded-Host") != "gate.example" {
			t.Errorf("%s: upstream saw Host %q, X-Forwarded-Host %q", tc.target, got.Host, got.Header.Get("X-Forwarded-Host"))
		}
	}
}

// TestProxyStreamsBodies: the request body reaches the upstream as the
// client sends it, not once it is whole.
func TestProxyStreamsBodies(t *testing.T) {
	first := make(chan string, 1)
	gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			first <- err.Error()
			return
		}
		first <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s%s", buf, rest)
	})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, gw+"/upload", pr)
	req.Header = h.Clone()
	type answer struct {
		res  *http.Response
		body string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		done <- answer{res, string(b), err}
	}()
	io.WriteString(pw, "hello")
	select {
	case got := <-first:
		if got != "hello" {
			t.Fatalf("upstream read %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream did not get the body's first part before its end")
	}
	io.WriteString(pw, ", world")
	pw.Close()
	a := <-done
	if a.err != nil || a.res.StatusCode != http.StatusOK || a.body != "hello, world" {
		t.Fatalf("got %v %q %v", a.res, a.body, a.err)
	}
}

// TestProxyFlushesStreams: a server-sent event stream, and any answer of
// unknown length, reaches the client as the upstream writes it — its
// header at once, before any event.
func TestProxyFlushesStreams(t *testing.T) {
	for _, ct := range []string{"text/event-stream; charset=utf-8", "application/octet-stream"} {
		t.Run(ct, func(t *testing.T) {
			next := make(chan struct{})
			gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(http.StatusOK)
				http.NewResponseController(w).Flush()
				<-next
				io.WriteString(w, "data: 1\n\n")
				http.NewResponseController(w).Flush()
				<-next
			})
			defer func() {
				select {
				case <-next:
				default:
					close(next)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw+"/events", nil)
			req.Header = h.Clone()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("the answer's header did not come before any event: %v", err)
			}
			defer res.Body.Close()
			next <- struct{}{}
			line, err := bufio.NewReader(res.Body).ReadString('\n')
			if err != nil || line != "data: 1\n" {
				t.Fatalf("first event: %q %v", line, err)
			}
			close(next)
		})
	}
}

// TestProxyTrailers: the upstream's trailers reach the client, announced
// or not.
func TestProxyTrailers(t *testing.T) {
	gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		if r.URL.Path == "/late" {
			w.Header().Set(http.TrailerPrefix+"X-Late", "7")
		}
	})
	for path, want := range map[string]http.Header{
		"/announced": {"X-Sum": {"42"}},
		"/late":      {"X-Sum": {"42"}, "X-Late": {"7"}},
	} {
		req, _ := http.NewRequest(http.MethodGet, gw+path, nil)
		req.Header = h.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(b) != "body" {
			t.Fatalf("%s: body %q %v", path, b, err)
		}
		if fmt.Sprint(res.Trailer) != fmt.Sprint(want) {
			t.Errorf("%s: trailers %v, want %v", path, res.Trailer, want)
		}
	}
}

// TestProxyInformational: a 1xx answer of the upstream reaches the client
// with its header, before the final answer.
func TestProxyInformational(t *testing.T) {
	gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "ok")
	})
	var codes []int
	var link string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		codes = append(codes, code)
		link = h.Get("Link")
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, gw+"/", nil)
	req.Header = h.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(b) != "ok" || len(codes) != 1 || codes[0] != http.StatusEarlyHints || link != "</app.css>; rel=preload" {
		t.Errorf("got 1xx %v (Link %q), then %d %q", codes, link, res.StatusCode, b)
	}
	if res.Header.Get("Link") != "" {
		t.Errorf("the 103's Link reached the final answer")
	}
}

// TestProxyUpstreamFailsMidAnswer: an answer the upstream breaks off is
// broken off to the client too, never ended as though it were whole.
func TestProxyUpstreamFailsMidAnswer(t *testing.T) {
	gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	req, _ := http.NewRequest(http.MethodGet, gw+"/", nil)
	req.Header = h.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil {
		t.Errorf("the client read %q and a clean end", b)
	}
}

// TestProxyClientGoesAway: a client that goes away cancels its request to
// the upstream.
func TestProxyClientGoesAway(t *testing.T) {
	started, cancelled := make(chan struct{}), make(chan struct{})
	gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw+"/slow", nil)
	req.Header = h.Clone()
	errc := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream's request was not cancelled when the client went away")
	}
	<-errc
}

// TestProxyExpectContinue: a client that waits for "100 Continue" before
// its body gets it once the upstream asks for the body, and the body
// reaches the upstream.
func TestProxyExpectContinue(t *testing.T) {
	gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", b)
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(gw, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	head := []string{"POST /up HTTP/1.1", "Host: gate.example", "Authorization: " + h.Get("Authorization"),
		"Cordon-Client: " + h.Get("Cordon-Client"), "Expect: 100-continue", "Content-Length: 5"}
	if _, err := io.WriteString(c, strings.Join(head, "\r\n")+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusContinue {
		t.Fatalf("before the body: %v %v", res, err)
	}
	io.WriteString(c, "hello")
	if res, err = http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(b) != "got hello" {
		t.Errorf("got %d %q", res.StatusCode, b)
	}
}

// TestProxyUnaskedSwitch: an upstream that switches protocols when the
// client asked for no upgrade gets no tunnel to the client (one the gate
// would not watch): the client gets a 502.
func TestProxyUnaskedSwitch(t *testing.T) {
	for _, upgrade := range []string{"Upgrade: websocket\r\nConnection: Upgrade\r\n", ""} {
		gw, h := proxyPair(t, "", func(w http.ResponseWriter, r *http.Request) {
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n" + upgrade + "\r\n")
			rw.Flush()
			io.Copy(io.Discard, rw) // until the gate hangs up
		})
		req, _ := http.NewRequest(http.MethodGet, gw+"/", nil)
		req.Header = h.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadGateway {
			t.Errorf("101 with %q: the client got %d", upgrade, res.StatusCode)
		}
	}
}

package gate

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/realclientip/realclientip-go"
)

// FuzzForwarded sends arbitrary forwarding headers from an untrusted and
// from a trusted peer: from the untrusted one the upstream must see the
// peer and nothing the client wrote; from the trusted one the client is
// the peer or an address that is no trusted proxy.
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "198.51.100.9, 203.0.113.7, 10.1.2.3", "garbage, 10.1.2.3", "[2001:db8::1]:443, 10.0.0.1", "for=1.2.3.4", "", ",,,", "10.0.0.1, 10.0.0.2"} {
		f.Add(s, "198.51.100.2", "https")
	}
	trusted, err := realclientip.AddressesAndRangesToIPNets("10.0.0.0/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, xff, realIP, proto string) {
		for _, peer := range []string{"192.0.2.50", "10.9.9.9"} {
			in := httptest.NewRequest(http.MethodGet, "http://gate.example/", nil)
			in.RemoteAddr = net.JoinHostPort(peer, "4711")
			for _, h := range []http.Header{in.Header} {
				h["X-Forwarded-For"] = strings.Split(xff, "\n")
				h["X-Real-Ip"] = []string{realIP}
				h["X_real_ip"] = []string{realIP}
				h["Forwarded"] = []string{"for=" + realIP}
				h["X-Forwarded-Proto"] = []string{proto}
			}
			pr := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
			setForwarded(pr, trusted)
			out := pr.Out.Header
			got := out.Get("X-Real-Ip")
			if out["Forwarded"] != nil || out["X_real_ip"] != nil {
				t.Fatalf("peer %s: client headers reached the upstream: %v", peer, out)
			}
			if p := out.Get("X-Forwarded-Proto"); p != "http" && p != "https" {
				t.Fatalf("peer %s: X-Forwarded-Proto %q", peer, p)
			}
			if peer == "192.0.2.50" {
				if got != peer || out.Get("X-Forwarded-For") != peer || out.Get("X-Forwarded-Proto") != "http" {
					t.Fatalf("untrusted peer: X-Real-Ip %q, X-Forwarded-For %q, proto %q", got, out.Get("X-Forwarded-For"), out.Get("X-Forwarded-Proto"))
				}
				continue
			}
			ip := net.ParseIP(got)
			if got != peer && (ip == nil || trusted[0].Contains(ip)) {
				t.Fatalf("trusted peer, X-Forwarded-For %q: X-Real-Ip %q", xff, got)
			}
		}
	})
}

// TestProxyHeaders: the upstream sees the identity the token vouches for
// under the X-Cordon- names, none of the Cordon- or X-Cordon- headers the
// client made up (in any spelling), and forwarding headers set from the
// TCP peer. Every expected name and value is written out.
func TestProxyHeaders(t *testing.T) {
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	defer up.Close()
	f := newFixture(t, Options{})
	p, err := NewProxy(ProxyConfig{Upstream: up.URL, Gate: f.g})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://gate.example/v1/playlists", nil)
	r.RemoteAddr = "192.0.2.50:4711"
	auth := bearerOf(f.token(claims()))
	r.Header["Authorization"] = []string{auth}
	r.Header["Cordon-Client"] = []string{androidPlay}
	for _, k := range []string{"X-Cordon-Account", "X_Cordon_Account", "x.cordon.session", "Cordon-Campaign", "Cordon_Client", "X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
		r.Header[k] = []string{"spoofed"}
	}
	r.Header["X-Other"] = []string{"kept"}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	if w.Code != http.StatusOK || seen == nil {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	want := map[string]string{
		"Authorization":      auth,
		"Cordon-Client":      androidPlay,
		"X-Other":            "kept",
		"X-Cordon-Account":   "u-1",
		"X-Cordon-Session":   "s-1",
		"X-Cordon-Platform":  "android",
		"X-Cordon-Version":   "8.4.1",
		"X-Cordon-Source":    "play",
		"X-Cordon-Device":    "d-1",
		"X-Cordon-Auth-Time": "1401004800", // base - 48 h
		"X-Forwarded-For":    "192.0.2.50",
		"X-Real-Ip":          "192.0.2.50",
		"X-Forwarded-Proto":  "http",
		"X-Forwarded-Host":   "gate.example",
		"Accept-Encoding":    "gzip", // the transport's own
	}
	for k, v := range want {
		if got := seen[k]; len(got) != 1 || got[0] != v {
			t.Errorf("upstream saw %s: %q, want [%q]", k, got, v)
		}
	}
	for k := range seen {
		if _, ok := want[k]; !ok && k != "User-Agent" { // the proxy sends an empty one
			t.Errorf("upstream saw %s: %q, which it should not", k, seen[k])
		}
	}
}

// TestProxyUpstreamDown: an upstream that does not answer is a 502 with
// the wire contract's JSON error.
func TestProxyUpstreamDown(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	up.Close()
	f := newFixture(t, Options{})
	p, err := NewProxy(ProxyConfig{Upstream: up.URL, Gate: f.g})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/playlists", nil)
	r.Header["Authorization"] = []string{bearerOf(f.token(claims()))}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	if want := `{"error":"upstream_unavailable","message":"the service behind the gate did not answer"}` + "\n"; w.Code != http.StatusBadGateway || w.Body.String() != want {
		t.Errorf("got %d %q, want 502 %q", w.Code, w.Body, want)
	}
}

func TestNewProxyRefuses(t *testing.T) {
	f := newFixture(t, Options{})
	for _, c := range []ProxyConfig{{Upstream: "ftp://x", Gate: f.g}, {Upstream: "http://", Gate: f.g}, {Upstream: "http://x"}} {
		if _, err := NewProxy(c); err == nil {
			t.Errorf("NewProxy(%+v): no error", c)
		}
	}
}

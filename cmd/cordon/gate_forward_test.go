package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
)

// FuzzForwarded sends arbitrary forwarding headers from an untrusted and
// from a trusted peer: from the untrusted one the upstream must see the
// peer and nothing the client wrote; from the trusted one the client is
// the peer or an address that is no trusted proxy.
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "198.51.100.9, 203.0.113.7, 10.1.2.3", "garbage, 10.1.2.3", "[2001:db8::1]:443, 10.0.0.1", "for=1.2.3.4", "", ",,,", "10.0.0.1, 10.0.0.2"} {
		f.Add(s, "198.51.100.2", "https")
	}
	trusted, err := parseTrustedProxies("10.0.0.0/8")
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

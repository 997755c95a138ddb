package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/gate"
	"github.com/realclientip/realclientip-go"
)

// streaming wraps the proxy for requests the gate has allowed. Until
// then the server's ReadTimeout and WriteTimeout bound the request whole;
// an allowed request may rightly take longer (an upload, a long poll, a
// streamed answer), so its deadlines move with its progress instead: the
// client may pause at most readTimeout in its body and writeTimeout in
// taking the answer, and the upstream may think as long as it likes. An
// Upgrade request gets no deadlines: a tunnel's life is bounded by its
// access token (package gate closes it), its idle time by its protocol.
func streaming(next http.Handler, readTimeout, writeTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header["Upgrade"]) > 0 {
			// The server lifts both deadlines of a hijacked connection
			// (TestGateTunnelOutlivesTimeouts holds it to that).
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// The server lifts the read deadline itself once the body is
		// read (it then watches for the client going away), so a body
		// needs its deadline moved only while it comes.
		if r.Body != nil && r.Body != http.NoBody {
			rc.SetReadDeadline(time.Now().Add(readTimeout))
			r.Body = &progressBody{ReadCloser: r.Body, rc: rc, d: readTimeout}
		}
		next.ServeHTTP(&progressWriter{ResponseWriter: w, rc: rc, d: writeTimeout}, r)
	})
}

// progressBody moves the connection's read deadline on with every read
// of an allowed request's body (see streaming).
type progressBody struct {
	io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && err == nil {
		b.rc.SetReadDeadline(time.Now().Add(b.d))
	}
	return n, err
}

// progressWriter gives the client writeTimeout to take each part of an
// allowed request's answer, however long the upstream took to start it.
type progressWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *progressWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

func (w *progressWriter) FlushError() error {
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.rc.Flush()
}

// parseTrustedProxies reads --trusted-proxies: addresses and CIDR ranges,
// comma-separated.
func parseTrustedProxies(s string) ([]net.IPNet, error) {
	var list []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	if len(list) == 0 {
		return nil, errors.New("no address or range given")
	}
	nets, err := realclientip.AddressesAndRangesToIPNets(list...)
	if err != nil {
		return nil, fmt.Errorf("want addresses or CIDR ranges, comma-separated: %w", err)
	}
	return nets, nil
}

// forwardingHeaders are the request headers upstreams read a client's
// address, host or scheme from, by their folded names (gate.FoldedName).
// A client may send any of them in any spelling; the gate removes them
// all and sets the X-Forwarded ones and X-Real-IP from what it saw.
var forwardingHeaders = map[string]bool{
	"forwarded": true, "x-forwarded-for": true, "x-forwarded-host": true, "x-forwarded-proto": true,
	"x-forwarded-port": true, "x-forwarded-prefix": true, "x-forwarded-server": true, "x-forwarded-scheme": true,
	"x-forwarded-ssl": true, "x-real-ip": true, "x-client-ip": true, "true-client-ip": true, "cf-connecting-ip": true,
	"x-cluster-client-ip": true, "fastly-client-ip": true, "x-original-forwarded-for": true, "x-original-host": true,
	"x-host": true, "x-scheme": true, "front-end-https": true,
}

// setForwarded sets X-Forwarded-For, X-Real-IP, X-Forwarded-Proto and
// X-Forwarded-Host on the request to the upstream from what the gate saw:
// the TCP peer is the client, unless it is one of the trusted proxies;
// then the client is the right-most address of X-Forwarded-For that is
// not a trusted proxy (anything left of it could have been written by
// the client), and the proxy's X-Forwarded-Proto and -Host are kept.
func setForwarded(pr *httputil.ProxyRequest, trusted []net.IPNet) {
	out, in := pr.Out.Header, pr.In.Header
	for k := range out {
		if forwardingHeaders[gate.FoldedName(k)] {
			delete(out, k)
		}
	}
	peer := realclientip.RemoteAddrStrategy{}.ClientIP(nil, pr.In.RemoteAddr)
	proto := "http"
	if pr.In.TLS != nil {
		proto = "https"
	}
	host := pr.In.Host
	client, xff := peer, peer
	if peer != "" && contains(trusted, peer) {
		s, _ := realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", trusted)
		if ip := s.ClientIP(in, ""); ip != "" {
			client = ip
		}
		if prior := in.Values("X-Forwarded-For"); len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + peer
		}
		if p := in.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			proto = p
		}
		if h := in.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
	}
	if peer != "" {
		out.Set("X-Forwarded-For", xff)
		out.Set("X-Real-IP", client)
	}
	out.Set("X-Forwarded-Proto", proto)
	if host != "" {
		out.Set("X-Forwarded-Host", host)
	}
}

func contains(nets []net.IPNet, addr string) bool {
	host, _ := realclientip.SplitHostZone(addr)
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

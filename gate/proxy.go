package gate

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/realclientip/realclientip-go"
)

// Identity headers a Proxy sets toward its upstream. The gate owns the
// Cordon- and X-Cordon- namespaces: whatever a client sent under them
// (but Cordon-Client) is removed first, so an upstream can trust these.
const (
	HeaderAccount  = "X-Cordon-Account"
	HeaderSession  = "X-Cordon-Session"
	HeaderPlatform = "X-Cordon-Platform"
	HeaderVersion  = "X-Cordon-Version"
	HeaderSource   = "X-Cordon-Source"
	HeaderDevice   = "X-Cordon-Device"
	HeaderAuthTime = "X-Cordon-Auth-Time" // Unix seconds
	// HeaderIssuer is set for a token of a trusted external issuer (its
	// iss); X-Cordon-Account is then "ISSUER#SUB" and X-Cordon-Platform
	// and -Source are empty: nobody recorded them at login.
	HeaderIssuer = "X-Cordon-Issuer"
)

// Defaults of ProxyConfig.
const (
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 30 * time.Second
)

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	// Upstream is the http(s) URL of the backend behind the gate.
	Upstream string
	// Gate decides every request; required.
	Gate *Gate
	// TrustedProxies are the proxies in front of the gate whose
	// X-Forwarded-For it believes; from anyone else it sets the
	// forwarding headers from the TCP peer.
	TrustedProxies []net.IPNet
	// ReadTimeout and WriteTimeout are, for an allowed request, the
	// longest pause in sending its body and in taking its answer (30 s
	// each when zero); the upstream may take as long as it likes. The
	// http.Server's own timeouts bound a request until it is allowed.
	ReadTimeout, WriteTimeout time.Duration
	// Transport reaches the upstream; when nil, a clone of
	// http.DefaultTransport that keeps up to 1,024 idle connections.
	Transport http.RoundTripper
	// Log receives upstream failures; nothing when nil.
	Log *slog.Logger
}

// Proxy is the gate as a reverse proxy, the handler `cordon gate` serves:
// each request is decided by the Gate and answered as cordon serve
// would, or forwarded to the upstream with the identity headers above,
// the client's Cordon- and X-Cordon- headers removed and the forwarding
// headers (X-Forwarded-For, X-Real-IP, X-Forwarded-Proto and -Host) set
// from what the gate saw. An upstream that does not answer is a 502
// upstream_unavailable. It is safe for concurrent use.
type Proxy struct {
	h http.Handler
}

// NewProxy returns the Proxy c describes.
func NewProxy(c ProxyConfig) (*Proxy, error) {
	up, err := url.Parse(c.Upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, fmt.Errorf("gate: the upstream must be an http(s) URL, got %q", c.Upstream)
	}
	if c.Gate == nil {
		return nil, errors.New("gate: ProxyConfig.Gate is required")
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Transport == nil {
		// The default transport keeps 2 idle connections per host: under
		// concurrency the gate would open and close an upstream
		// connection per request. Keep as many as the gate may have in
		// flight.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
		c.Transport = tr
	}
	trusted := c.TrustedProxies
	rp := &httputil.ReverseProxy{
		Transport:  c.Transport,
		BufferPool: &copyBuffers{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			// A map sized for what the gate adds: growing the clone
			// ReverseProxy made, by the identity and forwarding headers,
			// reallocated it on every request.
			h := make(http.Header, len(pr.Out.Header)+12)
			for k, v := range pr.Out.Header {
				if !owned(k) {
					h[k] = v
				}
			}
			pr.Out.Header = h
			setForwarded(pr, trusted)
			if id, ok := FromContext(pr.In.Context()); ok {
				h := pr.Out.Header
				h.Set(HeaderAccount, id.AccountID)
				h.Set(HeaderSession, id.SessionID)
				h.Set(HeaderPlatform, id.Platform)
				h.Set(HeaderVersion, id.Version)
				h.Set(HeaderSource, id.Source)
				h.Set(HeaderDevice, id.Device)
				h.Set(HeaderAuthTime, strconv.FormatInt(id.AuthTime.Unix(), 10))
				if id.Issuer != "" {
					h.Set(HeaderIssuer, id.Issuer)
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			c.Log.Warn("upstream", "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"error":"upstream_unavailable","message":"the service behind the gate did not answer"}`+"\n")
		},
	}
	return &Proxy{h: c.Gate.Handler(streaming(rp, c.ReadTimeout, c.WriteTimeout))}, nil
}

// copyBuffers lends the proxy the buffers it copies answers through.
// Without a pool httputil.ReverseProxy allocates 32 KiB for every
// request: two thirds of what a proxied request allocated (48.8 KiB).
type copyBuffers struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *copyBuffers) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, copyBufferSize)
}

func (b *copyBuffers) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	buf = buf[:copyBufferSize]
	b.p.Put(&buf)
}

// ServeHTTP decides r and answers it or forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

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

// forwardingHeaders are the request headers upstreams read a client's
// address, host or scheme from, by their folded names (FoldedName).
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
		if forwardingHeaders[FoldedName(k)] {
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
		// A zone means nothing beyond the link it was written on, and
		// realclientip lets one through even on an IPv4 address
		// ("0.0.0.1%0"): the upstream gets the bare address, or the
		// peer when what is left is no address.
		if a, err := netip.ParseAddr(s.ClientIP(in, "")); err == nil {
			client = a.WithZone("").Unmap().String()
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

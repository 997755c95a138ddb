package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/password"
)

// benchFixture is a server, a gate and a small upstream on loopback, with
// one logged-in session.
func benchFixture(b *testing.B) (upstream, gateURL, access string) {
	b.Helper()
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: b.TempDir(), AdminToken: testAdminToken,
		Hash: password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, Log: slog.New(slog.DiscardHandler), Out: io.Discard}}
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(up.Close)
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: up.URL, Control: m.URL(), Token: testAdminToken, Log: slog.New(slog.DiscardHandler)}}
	if err := g.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	for !g.State.Ready() {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	if _, err := m.Authn.CreateAccount(ctx, "bench", "a long enough password"); err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("POST", m.URL()+"/v1/login", stringsReader(`{"username":"bench","password":"a long enough password"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cordon-Client", `platform=android, version="8.4.1", source=play, device="d-1"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	decodeJSON(resp, &tok)
	return up.URL, "http://" + g.Addr(), tok.AccessToken
}

// benchGet measures sequential keep-alive GETs and reports the median and
// 99th percentile latency.
func benchGet(b *testing.B, url, access string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	req, _ := http.NewRequest("GET", url+"/api/x", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Cordon-Client", `platform=android, version="8.4.1", source=play, device="d-1"`)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkProxyDirect is the baseline: the same requests straight to the
// upstream.
func BenchmarkProxyDirect(b *testing.B) {
	up, _, access := benchFixture(b)
	benchGet(b, up, access)
}

// BenchmarkProxyGate sends them through cordon gate (token verified from
// the cache, decision on a live policy, headers rewritten, proxied).
func BenchmarkProxyGate(b *testing.B) {
	_, g, access := benchFixture(b)
	benchGet(b, g, access)
}

// BenchmarkProxyBare is the floor the gate is judged against: the same
// requests through a bare httputil.ReverseProxy to the same upstream,
// keeping as many idle upstream connections as the gate does.
func BenchmarkProxyBare(b *testing.B) {
	up, _, access := benchFixture(b)
	benchGet(b, bareProxy(b, up), access)
}

func BenchmarkProxyBareParallel(b *testing.B) {
	up, _, access := benchFixture(b)
	benchParallel(b, bareProxy(b, up), access)
}

func bareProxy(b *testing.B, upstream string) string {
	u, err := url.Parse(upstream)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	rp.Transport = tr
	srv := httptest.NewServer(rp)
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkProxyDirectParallel and BenchmarkProxyGateParallel measure
// throughput with concurrent clients.
func BenchmarkProxyDirectParallel(b *testing.B) {
	up, _, access := benchFixture(b)
	benchParallel(b, up, access)
}

func BenchmarkProxyGateParallel(b *testing.B) {
	_, g, access := benchFixture(b)
	benchParallel(b, g, access)
}

func benchParallel(b *testing.B, url, access string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url+"/api/x", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		req.Header.Set("Cordon-Client", `platform=android, version="8.4.1", source=play, device="d-1"`)
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// A fast refusal is no throughput: every answer must be the
			// upstream's.
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func decodeJSON(resp *http.Response, v any) {
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
}

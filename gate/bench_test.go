package gate

import (
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/benchutil"
	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

// The benchmarks run requests through Handler with a ResponseWriter that
// discards what it is given, so they measure the gate (header parsing,
// cache or verification, revocation lookup, decision, the denial's JSON,
// the context) and not net/http. Each runs on every core (RunParallel),
// so ns/op is wall time per request with GOMAXPROCS workers and the three
// compare directly.

// Mixes of sessions the benchmarks send against the same 100 campaigns.
const (
	// mixIncident is internal/decision's property-test sessions: random
	// facts, logged in up to 200 hours ago. Nearly all are denied, so
	// the figure includes writing the denial.
	mixIncident = "incident"
	// mixAllowed is sessions that have done what the campaigns ask: logged
	// in a minute ago, on a version above every min_version. Nearly all
	// pass, through every campaign of their platform.
	mixAllowed = "allowed"
)

// benchGate is a gate on the real clock whose policy holds 100 active
// campaigns of a random mix (as internal/decision's property tests make
// them) and 1,000 revoked sessions, and 1,000 requests from valid tokens
// of random sessions of the mix.
func benchGate(b *testing.B, cacheSize int, mix string) (*Gate, []*http.Request, *fixture) {
	b.Helper()
	now := time.Now()
	f := &fixture{t: b}
	f.now.Store(now.UnixNano())
	f.key, f.keys, f.signer = newSigner(b, now.Add(-time.Hour))
	r := rand.New(rand.NewPCG(7, 8))
	var revoked []feed.Revocation
	for i := range 1000 {
		revoked = append(revoked, feed.Revocation{SessionID: fmt.Sprintf("s-revoked-%d", i), Until: now.Add(time.Hour)})
	}
	f.st = NewState(issuer, audience)
	f.apply(snapshot(1, randomCampaigns(r, 100, now), revoked, f.keys.JWKS()))
	g := New(f.st, Options{CacheSize: cacheSize})

	versions := []string{"8.3.0", "8.4.0", "8.4.1", "8.5.0", "8.6.2", "9.0.0", ""}
	reqs := make([]*http.Request, 1000)
	for i := range reqs {
		facts := cordon.ClientFacts{Platform: cordon.Platforms[r.IntN(len(cordon.Platforms))], Version: versions[r.IntN(len(versions))],
			Source: cordon.Sources[r.IntN(len(cordon.Sources))], Device: fmt.Sprintf("d-%d", i)}
		auth := now.Add(-time.Duration(r.IntN(200)) * time.Hour)
		if mix == mixAllowed {
			facts.Version, auth = "9.1.0", now.Add(-time.Minute)
		}
		tok := sign(b, f.signer, token.Claims{Subject: fmt.Sprintf("u-%d", r.IntN(500)), SessionID: cordon.NewID("s"),
			AuthTime: auth, Platform: facts.Platform, Version: facts.Version, Source: facts.Source}, now)
		reqs[i] = request(bearerOf(tok), clientfacts.Format(facts))
	}
	return g, reqs, f
}

// randomCampaigns is internal/decision's random mix of kinds, cohorts,
// ramps and upgrade modes, around now.
func randomCampaigns(r *rand.Rand, n int, now time.Time) []*cordon.Campaign {
	versions := []string{"8.3.0", "8.4.0", "8.4.1", "8.5.0", "8.6.2", "9.0.0"}
	kinds := []cordon.Kind{cordon.KindReauth, cordon.KindPasswordReset, cordon.KindUpgrade, cordon.KindOfflineRekey}
	var cs []*cordon.Campaign
	for i := range n {
		c := &cordon.Campaign{ID: fmt.Sprintf("c-%03d", i), Kind: kinds[r.IntN(len(kinds))], State: cordon.StateActive,
			Activated: now.Add(-time.Duration(r.IntN(100)) * time.Hour)}
		if r.IntN(2) == 0 {
			c.Cohort.Platforms = []string{cordon.Platforms[r.IntN(len(cordon.Platforms))]}
		}
		if r.IntN(3) == 0 {
			c.Cohort.Sources = []string{cordon.Sources[r.IntN(len(cordon.Sources))]}
		}
		if r.IntN(3) == 0 {
			c.Cohort.Versions = "< " + versions[r.IntN(len(versions))]
		}
		if r.IntN(2) == 0 {
			c.Ramp = &cordon.Ramp{Start: now.Add(-time.Duration(r.IntN(72)) * time.Hour), Duration: time.Duration(1+r.IntN(96)) * time.Hour}
		}
		if c.Kind == cordon.KindUpgrade {
			mode := cordon.UpgradeImmediate
			if r.IntN(2) == 0 {
				mode = cordon.UpgradeFlexible
			}
			c.Upgrade = &cordon.UpgradeSpec{MinVersion: versions[r.IntN(len(versions))], Mode: mode,
				URLs: map[string]string{"play": "https://play.example/app", "official": "https://example.com/download"}}
		}
		cs = append(cs, c)
	}
	return cs
}

// discard is a ResponseWriter that keeps nothing but its header map.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// runGate sends the requests round-robin from every core and reports
// decisions per second and the share of requests denied.
func runGate(b *testing.B, g *Gate, reqs []*http.Request) {
	b.Helper()
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var denied atomic.Int64
	g.onDecision = func(d Decision) {
		if d.Outcome == Deny {
			denied.Add(1)
		}
	}
	for _, r := range reqs { // warm the cache and the policy's version memo
		h.ServeHTTP(&discard{h: http.Header{}}, r)
	}
	share := float64(denied.Load()) / float64(len(reqs))
	g.onDecision = nil
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchutil.Start()
	b.RunParallel(func(pb *testing.PB) {
		w := &discard{h: http.Header{}}
		i := next.Add(7919) // start the workers apart
		for pb.Next() {
			h.ServeHTTP(w, reqs[i%uint64(len(reqs))])
			i++
		}
	})
	cpu.ReportCPU(b, "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	b.ReportMetric(100*share, "%denied")
}

// BenchmarkGateCacheHit is the steady state: every token already
// verified, 100 active campaigns, 1,000 revocations.
func BenchmarkGateCacheHit(b *testing.B) {
	for _, mix := range []string{mixAllowed, mixIncident} {
		b.Run("mix="+mix, func(b *testing.B) {
			g, reqs, _ := benchGate(b, 0, mix)
			runGate(b, g, reqs)
		})
	}
}

// BenchmarkGateColdPath turns the cache off: every request verifies its
// token's signature and parses its Cordon-Client header, then decides.
func BenchmarkGateColdPath(b *testing.B) {
	for _, mix := range []string{mixAllowed, mixIncident} {
		b.Run("mix="+mix, func(b *testing.B) {
			g, reqs, _ := benchGate(b, -1, mix)
			runGate(b, g, reqs)
		})
	}
}

// BenchmarkBareEd25519Verify is the floor for the cold path: the
// signature check alone over a signing input the size of the pool's
// tokens, on every core.
func BenchmarkBareEd25519Verify(b *testing.B) {
	_, reqs, f := benchGate(b, -1, mixAllowed)
	tok := strings.TrimPrefix(reqs[0].Header.Get("Authorization"), "Bearer ")
	msg := []byte(tok[:strings.LastIndexByte(tok, '.')])
	p, err := x509.ParsePKCS8PrivateKey(f.key.PrivateKey)
	if err != nil {
		b.Fatal(err)
	}
	priv := p.(ed25519.PrivateKey)
	pub, sig := priv.Public().(ed25519.PublicKey), ed25519.Sign(priv, msg)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := benchutil.Start()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Error("signature did not verify")
				return
			}
		}
	})
	cpu.ReportCPU(b, "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkGateReporting is BenchmarkGateCacheHit's incident mix (nearly
// every request denied by a campaign, so each is a report) with and
// without a Reporter: what telling the control plane costs the hot path.
// The Reporter is never run, so what is measured is Record alone: a
// client retrying a denial is found in the table of pairs reported lately.
func BenchmarkGateReporting(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("report=%t", on), func(b *testing.B) {
			g, reqs, _ := benchGate(b, 0, mixIncident)
			if on {
				rep, err := NewReporter(ReporterConfig{Server: "http://127.0.0.1:9", Capacity: DefaultReportCapacity})
				if err != nil {
					b.Fatal(err)
				}
				g.reporter = rep
			}
			runGate(b, g, reqs)
		})
	}
}

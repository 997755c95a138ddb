package issuers_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/gate"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/issuers/issuertest"
	"github.com/cordon-dev/cordon/internal/token"
	jose "github.com/go-jose/go-jose/v4"
)

var algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// benchTokens starts a provider of alg on the real clock and returns a
// Set holding its keys and n of its tokens for distinct users.
func benchTokens(b *testing.B, alg jose.SignatureAlgorithm, n int) (*issuers.Set, *issuertest.Provider, []string) {
	b.Helper()
	p := issuertest.New(b, alg)
	s, err := issuers.New([]issuers.Config{{Issuer: p.Issuer(), Audience: "api", Algorithms: []string{string(alg)}}}, issuers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	toks := make([]string, n)
	for i := range toks {
		toks[i] = p.Sign(p.Claims(fmt.Sprintf("user-%d", i), time.Now().Add(-time.Minute)), map[string]any{"typ": "at+jwt"})
	}
	return s, p, toks
}

// BenchmarkExternalVerify is an external issuer's token verified cold
// (no cache): the dispatch peek, parse, header checks, key lookup,
// signature and claims, on every core.
func BenchmarkExternalVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run("alg="+string(alg), func(b *testing.B) {
			s, _, toks := benchTokens(b, alg, 64)
			ctx := context.Background()
			var next atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(7919)
				for pb.Next() {
					tok := toks[i%uint64(len(toks))]
					i++
					if !s.Trusts(tok) {
						b.Error("not trusted")
						return
					}
					if _, err := s.Verify(ctx, tok, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
		})
	}
}

// BenchmarkBareVerify is the floor: the signature check of the same
// tokens with the standard library alone (the SHA-256 of RS256 and ES256
// included), on every core.
func BenchmarkBareVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run("alg="+string(alg), func(b *testing.B) {
			_, p, toks := benchTokens(b, alg, 64)
			pub := p.Public()
			type signed struct{ msg, sig []byte }
			in := make([]signed, len(toks))
			for i, tok := range toks {
				dot := strings.LastIndexByte(tok, '.')
				sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
				if err != nil {
					b.Fatal(err)
				}
				in[i] = signed{[]byte(tok[:dot]), sig}
			}
			verify := func(s signed) bool {
				switch k := pub.(type) {
				case *rsa.PublicKey:
					h := sha256.Sum256(s.msg)
					return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], s.sig) == nil
				case *ecdsa.PublicKey:
					h := sha256.Sum256(s.msg)
					r, ss := new(big.Int).SetBytes(s.sig[:32]), new(big.Int).SetBytes(s.sig[32:])
					return ecdsa.Verify(k, h[:], r, ss)
				case ed25519.PublicKey:
					return ed25519.Verify(k, s.msg, s.sig)
				}
				return false
			}
			var next atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(7919)
				for pb.Next() {
					if !verify(in[i%uint64(len(in))]) {
						b.Error("signature did not verify")
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
		})
	}
}

// BenchmarkGateCacheHitExternal is the gate's steady state, every token
// already verified, with 1,000 tokens of an external issuer (RS256)
// against 1,000 of cordon's own: the same gate, the same 100 campaigns
// (a random mix around now), sessions that owe nothing (logged in a
// minute ago). An external token is judged on the policy's Unproven form,
// where every protecting campaign is in every platform's list.
func BenchmarkGateCacheHitExternal(b *testing.B) {
	for _, kind := range []string{"cordon", "external"} {
		b.Run("tokens="+kind, func(b *testing.B) {
			now := time.Now()
			set, _, ext := benchTokens(b, jose.RS256, 1000)
			k, err := token.NewSigningKey(now.Add(-time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			ks, err := token.NewKeySet([]*cordon.SigningKey{k}, 15*time.Minute, now)
			if err != nil {
				b.Fatal(err)
			}
			signer := token.NewSigner(ks, "https://cordon.example.com", []string{"api"}, "app", 15*time.Minute)
			st := gate.NewState("https://cordon.example.com", "api")
			applyEvent(b, st, feed.Event{Kind: feed.KindSnapshot, Epoch: "e", Seq: 1,
				Policy: feed.WirePolicy(1, benchCampaigns(rand.New(rand.NewPCG(7, 8)), 100, now)), JWKS: ks.JWKS()})
			g := gate.New(st, gate.Options{External: set})
			const client = `platform=android, version="9.1.0", source=play, device="d-1"`
			reqs := make([]*http.Request, 1000)
			for i := range reqs {
				tok := ext[i]
				if kind == "cordon" {
					tok, err = signer.Sign(token.Claims{Subject: fmt.Sprintf("u-%d", i), SessionID: cordon.NewID("s"), IssuedAt: now,
						AuthTime: now.Add(-time.Minute), Platform: "android", Version: "9.1.0", Source: "play"})
					if err != nil {
						b.Fatal(err)
					}
				}
				r := httptest.NewRequest(http.MethodGet, "/v1/playlists", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Cordon-Client", client)
				reqs[i] = r
			}
			h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			for _, r := range reqs { // warm the cache
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("warm-up: %d %s", w.Code, w.Body)
				}
			}
			var next atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &discard{h: http.Header{}}
				i := next.Add(7919)
				for pb.Next() {
					h.ServeHTTP(w, reqs[i%uint64(len(reqs))])
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

func applyEvent(b *testing.B, st *gate.State, ev feed.Event) {
	b.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	pe, err := gate.ParseEvent(data)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Apply(pe); err != nil {
		b.Fatal(err)
	}
}

// benchCampaigns is gate's benchmark mix of kinds, cohorts, ramps and
// upgrade modes, around now.
func benchCampaigns(r *rand.Rand, n int, now time.Time) []*cordon.Campaign {
	versions := []string{"8.3.0", "8.4.0", "8.4.1", "8.5.0", "8.6.2", "9.0.0"}
	kinds := []cordon.Kind{cordon.KindReauth, cordon.KindPasswordReset, cordon.KindUpgrade, cordon.KindOfflineRekey}
	var cs []*cordon.Campaign
	for i := range n {
		c := &cordon.Campaign{ID: fmt.Sprintf("c-%03d", i), Kind: kinds[r.IntN(len(kinds))], State: cordon.StateActive,
			Activated: now.Add(-time.Duration(1+r.IntN(100)) * time.Hour)}
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
			// Ramps that ended before the sessions' login.
			c.Ramp = &cordon.Ramp{Start: c.Activated.Add(-time.Duration(r.IntN(72)) * time.Hour), Duration: time.Duration(1+r.IntN(24)) * time.Minute}
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

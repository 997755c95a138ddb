package ssf

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/token"
)

func benchTransmitter(b *testing.B, url string) (*Transmitter, *cordon.SSFStream) {
	b.Helper()
	k, err := token.NewSigningKey(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ks, err := token.NewKeySet([]*cordon.SigningKey{k}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	st := memstore.New()
	tr := New(st, clock.Real{}, nil, Config{Issuer: "https://cordon.example", Keys: func() *token.KeySet { return ks },
		Policy: Policy{AllowHTTP: true}, QueueLimit: 1 << 30})
	s := &cordon.SSFStream{ID: "ssf-bench", Owner: "rp", Audience: "rp", Delivery: cordon.SSFDeliveryPush, EndpointURL: url,
		EventsRequested: []string{EventSessionRevoked}, Status: cordon.SSFEnabled, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateSSFStream(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	return tr, s
}

func benchSignal(i int) signal {
	sess := &cordon.Session{ID: fmt.Sprintf("s-%026d", i), AccountID: "u-3kq7w2mz5xq4ja2bqzv2n6xkta", RevokedAt: time.Now(), RevokeReason: cordon.RevokeAdmin}
	return sessionSignals(sess)[0]
}

// BenchmarkEd25519Sign is the baseline: a bare Ed25519 signature over a
// payload the size of a session-revoked SET's claims.
func BenchmarkEd25519Sign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 420)
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(priv, msg)
	}
}

// BenchmarkSETSign builds and signs one session-revoked SET.
func BenchmarkSETSign(b *testing.B) {
	tr, s := benchTransmitter(b, "http://127.0.0.1:1/")
	g := benchSignal(0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.sign(s, g); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSETPush is one SET end to end: signed, enqueued in the outbox
// (in memory), claimed, pushed over HTTP to a loopback receiver that
// answers 202, and settled.
func BenchmarkSETPush(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer rc.Close()
	tr, s := benchTransmitter(b, rc.URL)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := tr.enqueueAll(ctx, []*cordon.SSFStream{s}, []signal{benchSignal(i)}); err != nil {
			b.Fatal(err)
		}
		if err := tr.push(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n, _ := tr.store.PendingSSF(ctx, s.ID, time.Now().Add(time.Hour), 10, 0); len(n) != 0 {
		b.Fatalf("%d SETs left undelivered", len(n))
	}
}

package feed

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkPublishFanout50 and BenchmarkPublishFanout100 measure how long a
// policy change takes from Publish to apply on every gate, over real HTTP
// on loopback: one op is one change reaching all subscribers, and p50/p99
// are over every (change, gate) pair. Issue 4 wants p99 under 100 ms.
func BenchmarkPublishFanout50(b *testing.B)  { benchmarkFanout(b, 50) }
func BenchmarkPublishFanout100(b *testing.B) { benchmarkFanout(b, 100) }

func benchmarkFanout(b *testing.B, gates int) {
	h, st := newTestHub(b, 0)
	srv := httptest.NewServer(Handler(h, slog.New(slog.DiscardHandler)))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{}, gates)
	applied := make(chan struct{}, gates)
	latencies := make([][]time.Duration, gates)
	var wg sync.WaitGroup
	for i := range gates {
		c := &Client{URL: srv.URL, HTTP: srv.Client()}
		wg.Go(func() {
			_ = c.Run(ctx, func(e Event) {
				if e.Kind == KindSnapshot {
					ready <- struct{}{}
					return
				}
				// At crossed the wire without its monotonic reading, so
				// this is wall-clock time, measured in the same process.
				latencies[i] = append(latencies[i], time.Since(e.At))
				applied <- struct{}{}
			})
		})
	}
	for range gates {
		<-ready
	}

	b.ResetTimer()
	for range b.N {
		st.change(h)
		for range gates {
			<-applied
		}
	}
	b.StopTimer()
	cancel()
	wg.Wait()

	all := slices.Concat(latencies...)
	slices.Sort(all)
	quantile := func(q float64) float64 {
		return float64(all[int(q*float64(len(all)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(quantile(0.50), "p50-µs")
	b.ReportMetric(quantile(0.99), "p99-µs")
}

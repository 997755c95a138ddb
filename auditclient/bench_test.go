package auditclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/auditclient"
)

// BenchmarkSend sends events through a client, in batches of 1000, to a
// real cordon on SQLite in this process, and waits until all of them are
// committed: the throughput of client, HTTP, validation and the store's
// commits together.
func BenchmarkSend(b *testing.B) {
	s := newCordon(b, nil)
	c := s.client(b, auditclient.Config{MaxBatch: 1000, FlushInterval: 10 * time.Millisecond})
	es := events(1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := c.Send(ctx, es[i%len(es)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if n := len(s.entries(b)); n != b.N {
		b.Fatalf("the log holds %d entries, want %d", n, b.N)
	}
}

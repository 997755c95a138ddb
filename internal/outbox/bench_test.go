package outbox_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/mail"
	"github.com/cordon-dev/cordon/internal/mail/mailtest"
	"github.com/cordon-dev/cordon/internal/outbox"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// BenchmarkDeliver compares, per message, the outbox on SQLite (enqueue,
// claim, send, record) with the same messages sent straight through
// package mail, four at a time in both: the relay alone is the baseline.
func BenchmarkDeliver(b *testing.B) {
	r := mailtest.Start(b)
	s := sender(b, r)
	b.Run("via=direct", func(b *testing.B) {
		ms := messages(b.N, fmt.Sprintf("bench:%d", b.N))
		work := make(chan outbox.Message)
		var wg sync.WaitGroup
		b.ResetTimer()
		for range 4 {
			wg.Go(func() {
				for m := range work {
					if err := s.Send(b.Context(), mail.Message{To: m.To, Subject: m.Subject, Text: m.Text, ID: "x@example.com", Date: time.Now()}); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, m := range ms {
			work <- m
		}
		close(work)
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
	})
	b.Run("via=outbox", func(b *testing.B) {
		db, err := sqlite.Open(b.Context(), b.TempDir()+"/c.db")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		o, err := outbox.New(outbox.Config{Store: db, Sender: s, Clock: clock.Real{}, Parallel: 4, Batch: 32})
		if err != nil {
			b.Fatal(err)
		}
		ms := messages(b.N, fmt.Sprintf("bench:%d", b.N))
		b.ResetTimer()
		if _, err := o.Enqueue(b.Context(), ms); err != nil {
			b.Fatal(err)
		}
		for {
			n, err := o.RunOnce(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		b.StopTimer()
		if c, _ := o.Counts(b.Context(), ""); c.Sent != int64(b.N) {
			b.Fatalf("sent %d of %d", c.Sent, b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
	})
}

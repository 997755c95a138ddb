package auditclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/auditclient"
	"github.com/cordon-dev/cordon/internal/auditlog"
)

func TestSendFlush(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBatch int
		n        int
	}{
		{"one batch of 1000", 1000, 1000},
		{"batches of 37", 37, 1000},
		{"one event", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newCordon(t, nil)
			c := s.client(t, auditclient.Config{MaxBatch: tc.maxBatch})
			es := events(tc.n)
			ps := sendAll(t, c, es)
			flush(t, c)
			wantIndexes(t, ps, 0)
			s.wantLog(t, es)
			if tc.maxBatch > 0 {
				if got, least := s.requests.Load(), int64((tc.n+tc.maxBatch-1)/tc.maxBatch); got < least {
					t.Errorf("%d requests for %d events in batches of %d; want at least %d", got, tc.n, tc.maxBatch, least)
				}
			}
		})
	}
}

func TestRecordIsDurableOnReturn(t *testing.T) {
	t.Parallel()
	s := newCordon(t, nil)
	// A long interval: Record must not wait for it.
	c := s.client(t, auditclient.Config{FlushInterval: time.Hour})
	var es []auditclient.Event
	for i := range 3 {
		e := event(i)
		start := time.Now()
		idx, err := c.Record(context.Background(), e)
		if err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Record took %s", d)
		}
		if idx != uint64(i) {
			t.Errorf("Record %d = index %d", i, idx)
		}
		// Read straight from the store, before anything else happens.
		es = append(es, e)
		s.wantLog(t, es)
	}
}

func TestZeroTimeIsNow(t *testing.T) {
	t.Parallel()
	s := newCordon(t, nil)
	c := s.client(t, auditclient.Config{})
	before := time.Now()
	e := event(0)
	e.Time = time.Time{}
	if _, err := c.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	got := s.entries(t)[0].Time
	if got.Before(before.Add(-time.Millisecond)) || got.After(time.Now()) {
		t.Errorf("stored time %s, want the time of Send (about %s)", got, before)
	}
}

// Failures before the server reaches the store lose nothing and store
// nothing twice.
func TestTransientFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failures  int64
		fail      http.HandlerFunc
		waitLeast time.Duration
	}{
		{"503", 3, status(http.StatusServiceUnavailable), 0},
		{"500", 2, status(http.StatusInternalServerError), 0},
		{"502 from a gateway", 1, status(http.StatusBadGateway), 0},
		{"408", 1, status(http.StatusRequestTimeout), 0},
		{"connection closed", 3, hangUp, 0},
		{"429 with Retry-After", 1, status(http.StatusTooManyRequests, "Retry-After", "1"), time.Second},
		{"503 with Retry-After", 1, status(http.StatusServiceUnavailable, "Retry-After", "1"), time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newCordon(t, failFirst(tc.failures, tc.fail))
			c := s.client(t, auditclient.Config{FlushInterval: time.Hour})
			es := events(300)
			start := time.Now()
			ps := sendAll(t, c, es)
			flush(t, c)
			if d := time.Since(start); d < tc.waitLeast {
				t.Errorf("delivered after %s; Retry-After asked for %s", d, tc.waitLeast)
			}
			wantIndexes(t, ps, 0)
			s.wantLog(t, es)
			if got, want := s.requests.Load(), tc.failures+1; got != want {
				t.Errorf("%d requests, want %d (the failures and one success)", got, want)
			}
		})
	}
}

// The one ambiguity: an answer lost after the commit. The client sends
// again with the same Idempotency-Key, the server answers from the first
// commit, and the log holds the batch once.
func TestAnswerLostAfterCommitStoresOnce(t *testing.T) {
	t.Parallel()
	var once sync.Once
	s := newCordon(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			lost := false
			once.Do(func() { lost = true })
			if !lost {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(discard{}, r) // commits
			hangUp(w, r)
		})
	})
	var log logBuffer
	c := s.client(t, auditclient.Config{FlushInterval: time.Hour, Log: log.logger()})
	es := events(10)
	ps := sendAll(t, c, es)
	flush(t, c)
	wantIndexes(t, ps, 0) // the first commit's indexes, answered again
	s.wantLog(t, es)
	if strings.Contains(log.String(), "stored twice") {
		t.Errorf("the client warned of a duplicate the server never stored:\n%s", log.String())
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// A refused event fails alone, with the field the server named, is never
// retried, and does not hold up the events around it or later batches.
func TestRefusedEvent(t *testing.T) {
	t.Parallel()
	s := newCordon(t, nil)
	c := s.client(t, auditclient.Config{FlushInterval: time.Hour})
	es := events(6)
	es[1].Categories = []string{"shoe_size"}
	es[3].Categories = []string{"email", "shoe_size"}   // the same fault: refused with es[1]
	es[4].Categories = []string{"email", "hair_colour"} // another fault: needs its own answer
	ps := sendAll(t, c, es)
	err := c.Flush(context.Background())
	var ae *auditclient.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "3 events were not committed") {
		t.Fatalf("Flush = %v, want 3 events not committed, wrapping an *auditclient.Error", err)
	}
	for _, tc := range []struct {
		i       int
		field   string
		message string
	}{
		{1, "categories[0]", `unknown category "shoe_size"`},
		{3, "categories[1]", `unknown category "shoe_size"`},
		{4, "categories[1]", `unknown category "hair_colour"`},
	} {
		_, err := ps[tc.i].Wait(context.Background())
		var e *auditclient.Error
		if !errors.As(err, &e) {
			t.Fatalf("event %d: Wait = %v, want an *auditclient.Error", tc.i, err)
		}
		want := auditclient.Error{Status: http.StatusUnprocessableEntity, Code: "invalid_field", Field: tc.field, Message: tc.message}
		if *e != want {
			t.Errorf("event %d: Wait error = %+v, want %+v", tc.i, *e, want)
		}
	}
	wantIndexes(t, []*auditclient.Pending{ps[0], ps[2], ps[5]}, 0)
	if got := s.requests.Load(); got != 3 {
		t.Errorf("%d requests, want 3: two refusals and the rest", got)
	}
	// Reported once: the next Flush covers only later events.
	later := events(10)[6:]
	ps = sendAll(t, c, later)
	flush(t, c)
	wantIndexes(t, ps, 3)
	s.wantLog(t, []auditclient.Event{es[0], es[2], es[5], later[0], later[1], later[2], later[3]})
}

// The server's clock refuses events from the future; later events of the
// same batch go with the first, earlier ones go through.
func TestRefusedFutureTime(t *testing.T) {
	t.Parallel()
	s := newCordon(t, nil)
	c := s.client(t, auditclient.Config{FlushInterval: time.Hour})
	es := events(4)
	es[1].Time = time.Now().Add(time.Hour)
	es[2].Time = time.Now().Add(2 * time.Hour)
	ps := sendAll(t, c, es)
	if err := c.Flush(context.Background()); err == nil {
		t.Fatal("Flush = nil; two events were refused")
	}
	for _, i := range []int{1, 2} {
		var e *auditclient.Error
		if _, err := ps[i].Wait(context.Background()); !errors.As(err, &e) || e.Field != "time" || e.Status != 422 {
			t.Errorf("event %d: Wait = %v, want a 422 for time", i, err)
		}
	}
	wantIndexes(t, []*auditclient.Pending{ps[0], ps[3]}, 0)
	s.wantLog(t, []auditclient.Event{es[0], es[3]})
	if got := s.requests.Load(); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

// A refusal of the whole request fails every event of the batch, once.
func TestRefusedRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  func(testing.TB, *cordonServer) string
		status int
		code   string
	}{
		{"unknown token", func(testing.TB, *cordonServer) string { return "cat_not-a-token" }, 401, "invalid_token"},
		{"token without audit:write", func(t testing.TB, s *cordonServer) string { return s.addToken(t, "audit:read") }, 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newCordon(t, nil)
			c := s.client(t, auditclient.Config{Token: tc.token(t, s), FlushInterval: time.Hour})
			ps := sendAll(t, c, events(5))
			if err := c.Flush(context.Background()); err == nil {
				t.Fatal("Flush = nil")
			}
			for i, p := range ps {
				var e *auditclient.Error
				if _, err := p.Wait(context.Background()); !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code || e.Field != "" {
					t.Fatalf("event %d: Wait = %v, want %d %s", i, err, tc.status, tc.code)
				}
			}
			if got := s.requests.Load(); got != 1 {
				t.Errorf("%d requests, want 1: a refusal is not retried", got)
			}
			if len(s.entries(t)) != 0 {
				t.Error("the log holds entries")
			}
		})
	}
}

// A server whose body limit is below the client's gets halved batches.
func TestTooLargeSplits(t *testing.T) {
	t.Parallel()
	s := newCordon(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > 4000 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				io.WriteString(w, `{"error":"payload_too_large","message":"the body is larger than 4000 bytes"}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := s.client(t, auditclient.Config{FlushInterval: time.Hour})
	es := events(100)
	ps := sendAll(t, c, es)
	flush(t, c)
	wantIndexes(t, ps, 0)
	s.wantLog(t, es)
}

func TestSendRefusesInvalid(t *testing.T) {
	t.Parallel()
	c, err := auditclient.New(auditclient.Config{Server: "http://127.0.0.1:1", Token: "cat_x"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, tc := range []struct {
		name  string
		edit  func(*auditclient.Event)
		field string
	}{
		{"no principal", func(e *auditclient.Event) { e.Principal = "" }, "principal"},
		{"unknown action", func(e *auditclient.Event) { e.Action = "peek" }, "action"},
		{"no subject", func(e *auditclient.Event) { e.Subject = "" }, "subject"},
		{"control character in subject", func(e *auditclient.Event) { e.Subject = "bob\nadmin: ok" }, "subject"},
		{"no categories", func(e *auditclient.Event) { e.Categories = nil }, "categories"},
		{"repeated category", func(e *auditclient.Event) { e.Categories = []string{"email", "email"} }, "categories[1]"},
		{"empty category", func(e *auditclient.Event) { e.Categories = []string{"email", ""} }, "categories[1]"},
		{"category with a space", func(e *auditclient.Event) { e.Categories = []string{"e mail"} }, "categories[0]"},
		{"long purpose", func(e *auditclient.Event) { e.Purpose = strings.Repeat("x", 513) }, "purpose"},
		{"invalid UTF-8 source", func(e *auditclient.Event) { e.Source = "\xff" }, "source"},
		{"year 10000", func(e *auditclient.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := event(0)
			tc.edit(&e)
			p, err := c.Send(context.Background(), e)
			var ae *auditclient.Error
			if !errors.As(err, &ae) || ae.Field != tc.field || ae.Status != 0 {
				t.Fatalf("Send = %v, %v; want a refusal of %s", p, err, tc.field)
			}
		})
	}
}

func TestNewRefusesConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    auditclient.Config
	}{
		{"no server", auditclient.Config{Token: "t"}},
		{"not http", auditclient.Config{Server: "ftp://cordon", Token: "t"}},
		{"no token", auditclient.Config{Server: "http://cordon"}},
		{"batch too large", auditclient.Config{Server: "http://cordon", Token: "t", MaxBatch: auditlog.MaxBatch + 1}},
		{"buffer below a batch", auditclient.Config{Server: "http://cordon", Token: "t", MaxBatch: 100, MaxBuffered: 10}},
		{"backoffs reversed", auditclient.Config{Server: "http://cordon", Token: "t", MinBackoff: time.Second, MaxBackoff: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := auditclient.New(tc.c); err == nil {
				c.Close(context.Background())
				t.Fatal("New = nil error")
			}
		})
	}
}

func TestConfigHidesToken(t *testing.T) {
	t.Parallel()
	c := auditclient.Config{Server: "http://cordon", Token: "cat_secret"}
	var b logBuffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "config", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), b.String()} {
		if strings.Contains(s, "cat_secret") {
			t.Errorf("token shown: %s", s)
		}
	}
}

// blocking holds every request until release is closed.
func blocking(release <-chan struct{}) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			next.ServeHTTP(w, r)
		})
	}
}

func TestBufferFull(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	s := newCordon(t, blocking(release))
	c := s.client(t, auditclient.Config{MaxBatch: 2, MaxBuffered: 4, FlushInterval: time.Millisecond})
	t.Cleanup(open) // before the client's Close
	es := events(6)
	ps := sendAll(t, c, es[:4]) // a batch in flight, two queued

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Send(ctx, es[4]); !errors.Is(err, auditclient.ErrFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send on a full buffer = %v, want ErrFull after the deadline", err)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	start := time.Now()
	if _, err := c.Send(done, es[4]); !errors.Is(err, auditclient.ErrFull) || time.Since(start) > time.Second {
		t.Fatalf("Send with an ended context = %v after %s, want ErrFull at once", err, time.Since(start))
	}

	// A Send that waits goes through once there is room.
	sent := make(chan error, 1)
	var p4 *auditclient.Pending
	go func() {
		var err error
		p4, err = c.Send(context.Background(), es[4])
		sent <- err
	}()
	select {
	case err := <-sent:
		t.Fatalf("Send returned %v while the buffer was full", err)
	case <-time.After(20 * time.Millisecond):
	}
	open()
	if err := <-sent; err != nil {
		t.Fatalf("waiting Send = %v", err)
	}
	ps = append(ps, p4)
	flush(t, c)
	wantIndexes(t, ps, 0)
	s.wantLog(t, es[:5])
}

func TestCloseDrains(t *testing.T) {
	t.Parallel()
	s := newCordon(t, failFirst(2, status(http.StatusServiceUnavailable)))
	c := s.client(t, auditclient.Config{FlushInterval: time.Hour})
	es := events(1200)
	ps := sendAll(t, c, es)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	wantIndexes(t, ps, 0)
	s.wantLog(t, es)
	if _, err := c.Send(ctx, event(0)); !errors.Is(err, auditclient.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Errorf("Flush after Close = %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCloseGivesUp(t *testing.T) {
	t.Run("while a retry waits", func(t *testing.T) {
		t.Parallel()
		s := newCordon(t, failFirst(1<<30, status(http.StatusServiceUnavailable)))
		var log logBuffer
		c := s.client(t, auditclient.Config{MaxBatch: 2, FlushInterval: time.Hour, MinBackoff: time.Hour, MaxBackoff: time.Hour, Log: log.logger()})
		ps := sendAll(t, c, events(5))
		for !strings.Contains(log.String(), "retrying") {
			time.Sleep(time.Millisecond)
		}
		closeSoon(t, c, 5)
		wantErrs(t, ps, auditclient.ErrClosed, auditclient.ErrClosed)
	})
	t.Run("with the batch in flight", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		s := newCordon(t, func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				arrived <- struct{}{}
				<-r.Context().Done()
			})
		})
		c := s.client(t, auditclient.Config{MaxBatch: 2, FlushInterval: time.Hour})
		ps := sendAll(t, c, events(5))
		<-arrived
		// The server has the whole body; give the client's transport a
		// moment to note it has written it.
		time.Sleep(20 * time.Millisecond)
		closeSoon(t, c, 5)
		wantErrs(t, ps, auditclient.ErrUnconfirmed, auditclient.ErrClosed)
	})
}

// closeSoon closes c with a short deadline and checks it gave up on n
// events, promptly.
func closeSoon(t *testing.T, c *auditclient.Client, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Close(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s with a 50ms context", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), fmt.Sprintf("%d events were not committed", n)) {
		t.Errorf("Close = %v, want %d events not committed after the deadline", err, n)
	}
}

// wantErrs checks the first batch (two events) failed with first, the
// rest with rest.
func wantErrs(t *testing.T, ps []*auditclient.Pending, first, rest error) {
	t.Helper()
	for i, p := range ps {
		want := rest
		if i < 2 {
			want = first
		}
		if _, err := p.Wait(context.Background()); !errors.Is(err, want) {
			t.Errorf("event %d: Wait = %v, want %v", i, err, want)
		}
	}
}

func TestWaitContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	s := newCordon(t, blocking(release))
	c := s.client(t, auditclient.Config{})
	t.Cleanup(open)
	p, err := c.Send(context.Background(), event(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want the deadline", err)
	}
	if err := c.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush = %v, want the deadline", err)
	}
	open()
	wantIndexes(t, []*auditclient.Pending{p}, 0)
	flush(t, c)
}

func TestConcurrentSend(t *testing.T) {
	t.Parallel()
	s := newCordon(t, failFirst(3, status(http.StatusServiceUnavailable)))
	c := s.client(t, auditclient.Config{MaxBatch: 100, MaxBuffered: 1000})
	const workers, each = 16, 100
	ps := make([][]*auditclient.Pending, workers)
	sent := make([][]auditclient.Event, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := event(i)
				e.Principal = fmt.Sprintf("svc-%d", w)
				if i%25 == 24 {
					if _, err := c.Record(context.Background(), e); err != nil {
						t.Errorf("worker %d: Record: %v", w, err)
						return
					}
					continue
				}
				p, err := c.Send(context.Background(), e)
				if err != nil {
					t.Errorf("worker %d: Send: %v", w, err)
					return
				}
				ps[w] = append(ps[w], p)
				sent[w] = append(sent[w], e)
			}
		})
	}
	wg.Wait()
	flush(t, c)

	es := s.entries(t)
	if len(es) != workers*each {
		t.Fatalf("the log holds %d entries, want %d", len(es), workers*each)
	}
	for w := range workers {
		last := int64(-1)
		for i, p := range ps[w] {
			idx, err := p.Wait(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := es[idx].Leaf, leaf(sent[w][i]); string(got) != string(want) {
				t.Fatalf("worker %d event %d at %d:\n got %s\nwant %s", w, i, idx, got, want)
			}
			if int64(idx) <= last {
				t.Fatalf("worker %d: event %d at %d, after an earlier one at %d", w, i, idx, last)
			}
			last = int64(idx)
		}
	}
}

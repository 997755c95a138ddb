package feed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wait bounds every wait on the network; it is a failure deadline, not a
// pause.
const wait = 10 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// server serves next for every request and reports each request's
// Last-Event-ID on conns.
type server struct {
	*httptest.Server
	next  atomic.Pointer[http.Handler]
	conns chan string
}

func newServer(t *testing.T, h http.Handler, configure ...func(*http.Server)) *server {
	t.Helper()
	s := &server{conns: make(chan string, 100)}
	s.next.Store(&h)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.conns <- r.Header.Get("Last-Event-ID")
		(*s.next.Load()).ServeHTTP(w, r)
	}))
	for _, f := range configure {
		f(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(h http.Handler) { s.next.Store(&h) }

// conn waits for the next request and returns its Last-Event-ID.
func (s *server) conn(t *testing.T) string {
	t.Helper()
	select {
	case id := <-s.conns:
		return id
	case <-time.After(wait):
		t.Fatal("no connection")
		return ""
	}
}

// runClient runs c until the test ends (or stop is called) and returns
// what it applies.
func runClient(t *testing.T, c *Client) (events <-chan Event, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Event, 1024)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func(e Event) { ch <- e }) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	t.Cleanup(stop)
	return ch, stop
}

func recv(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(wait):
		t.Fatal("no event")
		return Event{}
	}
}

// expect receives the events with the given seqs, in order, none snapshots.
func expect(t *testing.T, events <-chan Event, want ...uint64) {
	t.Helper()
	for _, w := range want {
		if e := recv(t, events); e.Seq != w || e.Kind == KindSnapshot {
			t.Fatalf("got %s %s, want seq %d", e.Kind, e.ID(), w)
		}
	}
}

func TestClientResumesAfterDisconnect(t *testing.T) {
	h, st := newTestHub(t, 0)
	feed := Handler(h, testLogger(t))
	srv := newServer(t, feed)
	c := &Client{URL: srv.URL, Log: testLogger(t), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	events, stop := runClient(t, c)

	if id := srv.conn(t); id != "" {
		t.Errorf("first connection sent Last-Event-ID %q", id)
	}
	if e := recv(t, events); e.Kind != KindSnapshot || e.Seq != 0 {
		t.Fatalf("first event %s %s, want the snapshot at 0", e.Kind, e.ID())
	}
	for range 3 {
		st.change(h)
	}
	expect(t, events, 1, 2, 3)
	if !c.Connected() {
		t.Error("Connected() = false while streaming")
	}

	// Hold the reconnect until the missed changes are published, so they
	// must come from the replay.
	release := make(chan struct{})
	srv.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		feed.ServeHTTP(w, r)
	}))
	srv.CloseClientConnections()
	if id, want := srv.conn(t), h.Epoch()+":3"; id != want {
		t.Errorf("reconnect sent Last-Event-ID %q, want %q", id, want)
	}
	for range 3 {
		st.change(h)
	}
	close(release)
	expect(t, events, 4, 5, 6)
	st.change(h)
	expect(t, events, 7)
	stop() // LastEventID moves once apply has returned
	if got, want := c.LastEventID(), h.Epoch()+":7"; got != want {
		t.Errorf("LastEventID() = %q, want %q", got, want)
	}
}

func TestClientSnapshotAfterServerRestart(t *testing.T) {
	h1, st1 := newTestHub(t, 0)
	srv := newServer(t, Handler(h1, testLogger(t)))
	c := &Client{URL: srv.URL, Log: testLogger(t), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	events, _ := runClient(t, c)
	srv.conn(t)
	recv(t, events) // snapshot
	st1.change(h1)
	expect(t, events, 1)

	h2, st2 := newTestHub(t, 0)
	for range 5 {
		st2.change(h2)
	}
	srv.serve(Handler(h2, testLogger(t)))
	srv.CloseClientConnections()
	if id, want := srv.conn(t), h1.Epoch()+":1"; id != want {
		t.Errorf("reconnect sent Last-Event-ID %q, want %q", id, want)
	}
	e := recv(t, events)
	if e.Kind != KindSnapshot || e.Epoch != h2.Epoch() || e.Seq != 5 || e.Policy.Version != 5 {
		t.Fatalf("after the restart got %s %s, want the new run's snapshot %s:5", e.Kind, e.ID(), h2.Epoch())
	}
	st2.change(h2)
	expect(t, events, 6)
}

// pingWriter reports each ping the handler writes.
type pingWriter struct {
	http.ResponseWriter
	pings chan<- struct{}
}

func (w *pingWriter) Write(b []byte) (int, error) {
	if bytes.HasPrefix(b, []byte(": ping")) {
		select {
		case w.pings <- struct{}{}:
		default:
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *pingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestPingKeepsIdleConnectionAlive also runs the server with read and
// write timeouts far shorter than the stream, as a server that also serves
// ordinary requests has (cordon serve: 60 s).
func TestPingKeepsIdleConnectionAlive(t *testing.T) {
	h, st := newTestHub(t, 0)
	const (
		ping = 10 * time.Millisecond
		idle = 300 * time.Millisecond
	)
	feed := Handler(h, testLogger(t), WithPing(ping))
	pings := make(chan struct{}, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		feed.ServeHTTP(&pingWriter{ResponseWriter: w, pings: pings}, r)
	}), func(s *http.Server) { s.WriteTimeout, s.ReadTimeout = ping, 50*time.Millisecond })
	c := &Client{URL: srv.URL, Log: testLogger(t), IdleTimeout: idle}
	events, _ := runClient(t, c)
	srv.conn(t)
	recv(t, events)
	afterSnapshot := c.LastEventAt()

	// Far more pings than fit in the idle timeout: without them the client
	// would have given up on the connection several times.
	deadline := time.After(wait)
	for n := 0; n < 2*int(idle/ping); n++ {
		select {
		case <-pings:
		case <-deadline:
			t.Fatalf("%d pings written, want %d", n, 2*int(idle/ping))
		}
	}
	select {
	case id := <-srv.conns:
		t.Fatalf("the client reconnected (Last-Event-ID %q) on a connection that pinged", id)
	default:
	}
	if !c.Connected() {
		t.Error("Connected() = false")
	}
	if !c.LastEventAt().After(afterSnapshot) {
		t.Errorf("LastEventAt() = %v, not moved by pings since %v", c.LastEventAt(), afterSnapshot)
	}
	st.change(h)
	expect(t, events, 1)
}

func TestSilentConnectionDetected(t *testing.T) {
	h, st := newTestHub(t, 0)
	st.change(h)
	srv := newServer(t, Handler(h, testLogger(t), WithPing(time.Hour)))
	c := &Client{URL: srv.URL, Log: testLogger(t), IdleTimeout: 50 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	events, _ := runClient(t, c)
	srv.conn(t)
	snap := recv(t, events)
	for range 2 {
		if id := srv.conn(t); id != snap.ID() {
			t.Errorf("reconnect sent Last-Event-ID %q, want %q", id, snap.ID())
		}
	}
	st.change(h)
	expect(t, events, 2)
}

func TestClientRetriesRefusedToken(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h, _ := newTestHub(t, 0)
			feed := Handler(h, testLogger(t))
			var refusals atomic.Int32
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer s3cret" || refusals.Add(1) <= 2 {
					writeError(w, status, "invalid_token", "no")
					return
				}
				feed.ServeHTTP(w, r)
			}))
			var logs syncBuffer
			c := &Client{URL: srv.URL, Token: "s3cret", MaxBackoff: 5 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(&logs, nil))}
			events, stop := runClient(t, c)
			if e := recv(t, events); e.Kind != KindSnapshot {
				t.Fatalf("got %s, want the snapshot once the token is accepted", e.Kind)
			}
			stop()
			if n := refusals.Load(); n != 3 {
				t.Errorf("%d requests, want 2 refused then 1 accepted", n)
			}
			if got := strings.Count(logs.String(), "level=ERROR msg=\"feed: control plane refused"); got != 2 {
				t.Errorf("%d refusals logged as errors, want 2:\n%s", got, logs.String())
			}
			if strings.Contains(logs.String(), "s3cret") {
				t.Error("the token reached the log")
			}
		})
	}
}

// syncBuffer is a bytes.Buffer for a logger on another goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestClientRetriesOtherFailures(t *testing.T) {
	h, _ := newTestHub(t, 0)
	feed := Handler(h, testLogger(t))
	var n atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeError(w, http.StatusBadGateway, "bad_gateway", "proxy")
		case 2:
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>captive portal</html>")
		case 3:
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "id: x:1\nevent: policy\ndata: {not json\n\n")
		default:
			feed.ServeHTTP(w, r)
		}
	}))
	c := &Client{URL: srv.URL, Log: testLogger(t), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	events, _ := runClient(t, c)
	if e := recv(t, events); e.Kind != KindSnapshot {
		t.Fatalf("got %s, want the snapshot", e.Kind)
	}
	for range 4 {
		if id := srv.conn(t); id != "" {
			t.Errorf("sent Last-Event-ID %q after an event it could not decode", id)
		}
	}
}

func TestHandler(t *testing.T) {
	h, st := newTestHub(t, 0)
	for range 4 {
		st.change(h)
	}
	srv := httptest.NewServer(Handler(h, testLogger(t)))
	t.Cleanup(srv.Close)

	t.Run("headers and query fallback", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?last_event_id="+h.Epoch()+":2", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		for k, want := range map[string]string{
			"Content-Type":      "text/event-stream",
			"Cache-Control":     "no-store",
			"X-Accel-Buffering": "no",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		p := newSSEParser(resp.Body)
		for _, want := range []string{h.Epoch() + ":3", h.Epoch() + ":4"} {
			e, err := p.next()
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != want || e.Type != KindPolicy {
				t.Errorf("got %s %s, want policy %s", e.Type, e.ID, want)
			}
		}
	})
	t.Run("header wins over query", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?last_event_id=bogus", nil)
		req.Header.Set("Last-Event-ID", h.Epoch()+":3")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if e, err := newSSEParser(resp.Body).next(); err != nil || e.ID != h.Epoch()+":4" {
			t.Errorf("got %q, %v; want the replay of 4", e.ID, err)
		}
	})
	t.Run("POST refused", func(t *testing.T) {
		resp, err := srv.Client().Post(srv.URL, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
			t.Errorf("status %d, Allow %q; want 405, GET", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("snapshot failure", func(t *testing.T) {
		broken := NewHub(func(context.Context) (Event, error) { return Event{}, errors.New("store down") }, 0)
		rec := httptest.NewRecorder()
		Handler(broken, slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"error":"overloaded"`) {
			t.Errorf("got %d %s, want 503 overloaded", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "store down") {
			t.Error("the cause reached the client")
		}
	})
}

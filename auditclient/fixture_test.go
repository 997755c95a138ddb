package auditclient_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/auditclient"
	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/httpapi"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/token"
)

// template is an empty, migrated store that each test copies: migrating
// takes a quarter of a second under -race, a copy nothing. TestMain sets
// it before any test runs; it is read-only after.
var template string

// TestMain makes the template store, and fails the run if a Client's
// goroutine outlives the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "auditclient-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	template = filepath.Join(dir, "template.db")
	db, err := sqlite.Open(context.Background(), template)
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "template store:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		deadline := time.Now().Add(2 * time.Second)
		for senders() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := senders(); n > 0 {
			fmt.Fprintf(os.Stderr, "%d auditclient senders still running after the tests\n", n)
			code = 1
		}
	}
	os.Exit(code)
}

// senders counts running Client goroutines.
func senders() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "auditclient.(*Client).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// cordonServer is a real cordon audit API on SQLite, on an httptest
// server, with an optional handler in front of it to inject failures.
type cordonServer struct {
	db       *sqlite.DB
	url      string
	token    string // scopes audit:write and audit:read
	requests atomic.Int64
}

func newCordon(t testing.TB, front func(next http.Handler) http.Handler) *cordonServer {
	t.Helper()
	s, stop, err := startCordon(t.TempDir(), front)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// startCordon is newCordon for callers without a testing.TB (examples):
// the store lives in dir; stop closes the server, then the store.
func startCordon(dir string, front func(next http.Handler) http.Handler) (*cordonServer, func(), error) {
	ctx := context.Background()
	b, err := os.ReadFile(template)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "cordon.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	svc, err := auditlog.New(ctx, auditlog.Config{Store: db, Origin: "test/audit"})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	s := &cordonServer{db: db}
	secret, hash := token.NewSecret(token.PrefixAdminToken)
	if err := db.CreateAdminToken(ctx, &cordon.AdminToken{ID: cordon.NewID("t"), Name: "reporter",
		Hash: hash, Scopes: []string{cordon.ScopeAuditWrite, cordon.ScopeAuditRead}, CreatedAt: time.Now()}); err != nil {
		db.Close()
		return nil, nil, err
	}
	s.token = secret
	var h http.Handler = httpapi.New(httpapi.Deps{Store: db, Audit: svc})
	if front != nil {
		h = front(h)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	s.url = ts.URL
	return s, func() { ts.Close(); db.Close() }, nil
}

// addToken stores an admin token with scopes and returns its secret.
func (s *cordonServer) addToken(t testing.TB, scopes ...string) string {
	t.Helper()
	secret, hash := token.NewSecret(token.PrefixAdminToken)
	// Token names are unique (each is an audit principal).
	id := cordon.NewID("t")
	err := s.db.CreateAdminToken(context.Background(), &cordon.AdminToken{ID: id, Name: "reporter-" + id,
		Hash: hash, Scopes: scopes, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// client returns a client of s with fast settings, closed when the test
// ends (before the server).
func (s *cordonServer) client(t testing.TB, c auditclient.Config) *auditclient.Client {
	t.Helper()
	c.Server = s.url
	if c.Token == "" {
		c.Token = s.token
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 5 * time.Millisecond
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 20 * time.Millisecond
	}
	cl, err := auditclient.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.Close(ctx)
	})
	return cl
}

// entries returns every stored entry, in index order.
func (s *cordonServer) entries(t testing.TB) []*cordon.AuditEntry {
	t.Helper()
	ctx := context.Background()
	size, err := s.db.AuditSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var es []*cordon.AuditEntry
	if err := s.db.AuditEntries(ctx, 0, size, func(e *cordon.AuditEntry) error {
		es = append(es, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return es
}

// wantLog checks the store holds exactly events, in order.
func (s *cordonServer) wantLog(t testing.TB, events []auditclient.Event) {
	t.Helper()
	es := s.entries(t)
	if len(es) != len(events) {
		t.Fatalf("the log holds %d entries, want %d", len(es), len(events))
	}
	for i, e := range events {
		if got, want := es[i].Leaf, leaf(e); !bytes.Equal(got, want) {
			t.Fatalf("entry %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// leaf is the stored form of e: the server resolves every subject to an
// account at ingest, and the fixture's subjects (user-N) name none, so the
// leaf says so with an empty account.
func leaf(e auditclient.Event) []byte {
	return audit.Leaf(audit.Event{Time: e.Time, Principal: e.Principal, Action: e.Action, Subject: e.Subject,
		Account: "", Resolved: true, Categories: e.Categories, Purpose: e.Purpose, Source: e.Source})
}

// base dates test events, well inside the server's window.
var base = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)

func event(i int) auditclient.Event {
	return auditclient.Event{Time: base.Add(time.Duration(i) * time.Millisecond), Principal: "svc-support",
		Action: auditclient.ActionRead, Subject: fmt.Sprintf("user-%d", i), Categories: []string{"email", "profile"},
		Purpose: fmt.Sprintf("TICKET-%d", i), Source: "support-1"}
}

func events(n int) []auditclient.Event {
	es := make([]auditclient.Event, n)
	for i := range es {
		es[i] = event(i)
	}
	return es
}

// sendAll sends events and returns their Pendings.
func sendAll(t testing.TB, c *auditclient.Client, es []auditclient.Event) []*auditclient.Pending {
	t.Helper()
	ps := make([]*auditclient.Pending, len(es))
	for i, e := range es {
		p, err := c.Send(context.Background(), e)
		if err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		ps[i] = p
	}
	return ps
}

// wantIndexes checks each Pending committed at its position's index
// plus first.
func wantIndexes(t testing.TB, ps []*auditclient.Pending, first uint64) {
	t.Helper()
	for i, p := range ps {
		idx, err := p.Wait(context.Background())
		if err != nil {
			t.Fatalf("Wait %d: %v", i, err)
		}
		if want := first + uint64(i); idx != want {
			t.Fatalf("Wait %d = %d, want %d", i, idx, want)
		}
	}
}

func flush(t testing.TB, c *auditclient.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// failFirst answers the first n requests with fail, then passes them on.
func failFirst(n int64, fail http.HandlerFunc) func(http.Handler) http.Handler {
	var seen atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if seen.Add(1) <= n {
				fail(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// status answers code with a JSON error body and extra headers.
func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":"test_failure","message":"injected %d"}`, code)
	}
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// logBuffer is a log destination safe for the client's goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

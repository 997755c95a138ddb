package alert_test

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/detect"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/ssf"
)

var t0 = time.Date(2026, 5, 27, 8, 0, 0, 0, time.UTC)

func newService(t *testing.T, wh *alert.Webhook) (*alert.Service, *memstore.Store) {
	t.Helper()
	store := memstore.New()
	clk := clock.NewFake(t0)
	log, err := auditlog.New(t.Context(), auditlog.Config{Store: store, Clock: clk, Origin: "test.example/audit", Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := alert.New(alert.Config{Store: store, Audit: log, Clock: clk, Webhook: wh})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

func watch(t *testing.T, svc *alert.Service, r detect.Rules) *alert.Watcher {
	t.Helper()
	w := alert.NewWatcher(detect.New(r), svc, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go w.Run(ctx)
	return w
}

func sync_(t *testing.T, w *alert.Watcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func list(t *testing.T, svc *alert.Service) []*cordon.Alert {
	t.Helper()
	as, err := svc.List(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

var key = detect.NewPasswordKey()

// TestEachAttackRaisesOneAlert: each attack, fed as Login feeds it, makes
// exactly one stored alert with its evidence, however long it goes on.
func TestEachAttackRaisesOneAlert(t *testing.T) {
	rules := detect.Rules{Window: 10 * time.Minute, BruteFailures: 10, SprayAccounts: 10, StuffingAccounts: 50, StuffingAddresses: 5, StuffingFailureRatio: 0.8, Cooldown: time.Hour}
	tests := []struct {
		name     string
		attempts func(at func() time.Time) []detect.Attempt
		kind     string
		evidence string // failures accounts addresses reached
	}{
		{"brute force, then in", func(at func() time.Time) (out []detect.Attempt) {
			for i := range 25 {
				out = append(out, detect.Attempt{At: at(), Account: "alice", Address: "203.0.113.9", Password: key.Sum(fmt.Sprint("guess", i))})
			}
			return append(out, detect.Attempt{At: at(), Account: "alice", Address: "203.0.113.9", Password: key.Sum("right"), OK: true})
		}, detect.KindBruteForce, "10 1 1 [alice]"},
		{"spraying", func(at func() time.Time) (out []detect.Attempt) {
			for i := range 40 {
				out = append(out, detect.Attempt{At: at(), Account: fmt.Sprintf("u%02d", i), Address: fmt.Sprintf("198.51.100.%d", i%3), Password: key.Sum("Winter2026")})
			}
			return out
		}, detect.KindSpraying, "10 10 3 []"},
		{"stuffing", func(at func() time.Time) (out []detect.Attempt) {
			for i := range 200 {
				out = append(out, detect.Attempt{At: at(), Account: fmt.Sprintf("list-%03d", i), Address: fmt.Sprintf("192.0.2.%d", i%20), Password: key.Sum(fmt.Sprint("leaked", i))})
			}
			return out
		}, detect.KindStuffing, "50 50 20 []"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := newService(t, nil)
			w := watch(t, svc, rules)
			now := t0
			for _, a := range tt.attempts(func() time.Time { now = now.Add(time.Second); return now }) {
				w.Observe(a)
			}
			sync_(t, w)
			got := list(t, svc)
			if len(got) != 1 || got[0].Kind != tt.kind {
				t.Fatalf("alerts = %v, want one %s", got, tt.kind)
			}
			e := got[0].Evidence
			if ev := fmt.Sprint(e.Failures, e.Accounts, e.Addresses, e.Reached); ev != tt.evidence {
				t.Errorf("evidence (failures accounts addresses reached) = %s, want %s", ev, tt.evidence)
			}
		})
	}
}

// TestBenignTrafficRaisesNothing: many users logging in, one mistyping
// twice, from a handful of shared addresses (a carrier's NAT).
func TestBenignTrafficRaisesNothing(t *testing.T) {
	svc, _ := newService(t, nil)
	w := watch(t, svc, detect.DefaultRules())
	now := t0
	for i := range 5000 {
		now = now.Add(50 * time.Millisecond)
		user := fmt.Sprintf("user-%04d", i)
		addr := fmt.Sprintf("100.64.0.%d", i%4)
		if i == 77 {
			w.Observe(detect.Attempt{At: now, Account: user, Address: addr, Password: key.Sum("typo 1")})
			w.Observe(detect.Attempt{At: now, Account: user, Address: addr, Password: key.Sum("typo 2")})
		}
		w.Observe(detect.Attempt{At: now, Account: user, Address: addr, Password: key.Sum("pw " + user), OK: true})
	}
	sync_(t, w)
	if got := list(t, svc); len(got) != 0 {
		t.Errorf("benign traffic raised %v", got)
	}
}

// TestWebhookSignedAndRetried: a new alert reaches the receiver signed as
// Standard Webhooks sign (checked here with the scheme's own recipe), after
// the receiver failed twice; the raise never waited for it.
func TestWebhookSignedAndRetried(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	var calls atomic.Int32
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		m := hmac.New(sha256New(), secret)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		mu.Lock()
		got = append(got, fmt.Sprint(r.Header.Get("webhook-signature") == want, " ", len(body) > 0, " ", ts != ""))
		mu.Unlock()
	}))
	defer srv.Close()
	wh, err := alert.NewWebhook(alert.WebhookConfig{URL: srv.URL + "/hook", Secret: secret, Policy: ssf.Policy{AllowHTTP: true}, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go wh.Run(ctx)
	svc, _ := newService(t, wh)
	if _, err := svc.Raise(t.Context(), &cordon.Alert{Kind: detect.KindBruteForce, Key: "alice", Summary: "brute force"}); err != nil {
		t.Fatal(err)
	}
	// Raised again while open: an update, not a second delivery.
	if _, err := svc.Raise(t.Context(), &cordon.Alert{Kind: detect.KindBruteForce, Key: "alice", Summary: "brute force"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for wh.Delivered() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if wh.Delivered() != 1 || calls.Load() != 3 || !slices.Equal(got, []string{"true true true"}) {
		t.Errorf("delivered %d after %d calls; receiver saw %v; want 1 after 3, signature valid", wh.Delivered(), calls.Load(), got)
	}
}

// TestWebhookURLPolicy: the push policy of Shared Signals applies.
func TestWebhookURLPolicy(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, u := range []string{"http://hooks.example.com/x", "https://127.0.0.1/x", "https://169.254.169.254/latest", "https://10.1.2.3/x", "https://intranet/x", "ftp://hooks.example.com/x", "https://user:pw@hooks.example.com/x"} {
		if _, err := alert.NewWebhook(alert.WebhookConfig{URL: u, Secret: secret}); err == nil {
			t.Errorf("NewWebhook(%s): nil error, want refused", u)
		}
	}
	if _, err := alert.NewWebhook(alert.WebhookConfig{URL: "https://hooks.example.com/cordon", Secret: secret}); err != nil {
		t.Errorf("an https URL on the open network: %v", err)
	}
	for _, s := range []string{"", "abc", "whsec_!!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := alert.ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q): nil error", s)
		}
	}
	if b, err := alert.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString(secret)); err != nil || string(b) != string(secret) {
		t.Errorf("ParseSecret of a good secret: %q %v", b, err)
	}
}

// TestSign pins the signature of the Standard Webhooks specification's
// own example (secret, message id, timestamp, body and signature as the
// spec and its reference libraries give them).
func TestSign(t *testing.T) {
	secret, err := alert.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := alert.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// TestConcurrentObserve: many goroutines observing at once (run under
// -race), then one alert for the one attack among them.
func TestConcurrentObserve(t *testing.T) {
	svc, _ := newService(t, nil)
	w := watch(t, svc, detect.Rules{BruteFailures: 100})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				at := t0.Add(time.Duration(i) * time.Millisecond)
				w.Observe(detect.Attempt{At: at, Account: "target", Address: "203.0.113." + strconv.Itoa(g), Password: key.Sum(fmt.Sprint(g, i))})
				w.Observe(detect.Attempt{At: at, Account: fmt.Sprintf("ok-%d-%d", g, i), Address: "198.51.100.1", Password: key.Sum("x"), OK: true})
			}
		})
	}
	wg.Wait()
	sync_(t, w)
	if got := list(t, svc); len(got) != 1 || got[0].Kind != detect.KindBruteForce || got[0].Key != "target" {
		t.Errorf("alerts = %v, want one brute_force on target", got)
	}
	if w.Dropped() != 0 {
		t.Errorf("%d attempts dropped", w.Dropped())
	}
}

// TestAccessWatcherResumes: the reads logged before detection first ran
// raise nothing; those appended later do, each read once; a restart
// (a new watcher on the same store) resumes where the last stopped, so
// reads logged while it was down are judged too.
func TestAccessWatcherResumes(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cordon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clk := clock.NewFake(t0)
	log, err := auditlog.New(t.Context(), auditlog.Config{Store: store, Clock: clk, Origin: "test.example/audit", Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := alert.New(alert.Config{Store: store, Audit: log, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	read := func(principal, cat string) {
		t.Helper()
		if _, _, err := log.Ingest(t.Context(), []audit.Event{{Time: clk.Now(), Principal: principal, Action: audit.ActionRead, Subject: "alice", Categories: []string{cat}}}); err != nil {
			t.Fatal(err)
		}
	}
	start := func() *alert.AccessWatcher {
		t.Helper()
		w := alert.NewAccessWatcher(store, log, detect.NewAccess(detect.DefaultFile().Access), svc, nil)
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		return w
	}
	read("svc-old", "password_hash") // before detection existed
	w := start()
	if _, err := w.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := list(t, svc); len(got) != 0 {
		t.Fatalf("a read logged before the first start raised %v", got)
	}
	read("svc-a", "payment")
	if _, err := w.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	read("svc-b", "password_hash") // while the node is down
	w = start()
	if _, err := w.Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range list(t, svc) {
		keys = append(keys, a.Key)
	}
	slices.Sort(keys)
	if fmt.Sprint(keys) != "[secrets/svc-a secrets/svc-b]" {
		t.Errorf("alerts = %v, want svc-a's and svc-b's, once each", keys)
	}
}

// TestHostileUsernameInSummary: a username tried by an attacker is shown
// quoted, so an alert's line cannot forge another or drive a terminal.
func TestHostileUsernameInSummary(t *testing.T) {
	a := alert.FromLogin(detect.Alert{Kind: detect.KindBruteForce, Key: "eve\x1b[2J\nal-forged  brute_force  acknowledged", Failures: 30, From: t0, To: t0})
	want := `brute force on account "eve\x1b[2J\nal-forged  brute_force  acknowledged": 30 failures from 0 addresses in 0s`
	if a.Summary != want {
		t.Errorf("summary = %q, want %q", a.Summary, want)
	}
	if got := alert.Shown("bruno"); got != "bruno" {
		t.Errorf("Shown(bruno) = %q", got)
	}
}

// TestWatcherQueueBound: with the detector not running, the queue takes
// QueueSize attempts and counts the rest as dropped; once it runs,
// everything queued is detected, a Sync marker queued behind a full
// queue included.
func TestWatcherQueueBound(t *testing.T) {
	svc, _ := newService(t, nil)
	w := alert.NewWatcher(detect.New(detect.Rules{BruteFailures: alert.QueueSize}), svc, nil)
	for i := range alert.QueueSize + 5 {
		w.Observe(detect.Attempt{At: t0, Account: "target", Address: "203.0.113.9", Password: key.Sum(strconv.Itoa(i))})
	}
	if got := w.Dropped(); got != 5 {
		t.Fatalf("dropped %d, want the 5 beyond QueueSize", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go w.Run(ctx)
	sync_(t, w)
	if got := list(t, svc); len(got) != 1 || got[0].Key != "target" {
		t.Fatalf("alerts = %v, want the brute force the %d queued attempts make", got, alert.QueueSize)
	}
	// The queue takes attempts again once drained.
	w.Observe(detect.Attempt{At: t0, Account: "other", Address: "203.0.113.9", Password: key.Sum("x")})
	sync_(t, w)
	if got := w.Dropped(); got != 5 {
		t.Errorf("dropped %d after draining, want still 5", got)
	}
}

// BenchmarkNewWatcher is what a server start pays for its login
// watcher (B/op), before any login: a channel of QueueSize items cost
// 32 MB; the queue now grows with bursts.
func BenchmarkNewWatcher(b *testing.B) {
	det := detect.New(detect.Rules{})
	b.ReportAllocs()
	for b.Loop() {
		_ = alert.NewWatcher(det, nil, nil)
	}
}

package main

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/mail/mailtest"
)

// TestMailRestartMidSendLosesNothing stops a node while its outbox has
// sends in flight (the relay holds the DATA answer). The messages cut by
// the stop must go back to the queue due at once, recorded before the
// store closes, so the restarted node sends each of them within seconds:
// not after their 2-minute lease, nor after a failed attempt's backoff.
func TestMailRestartMidSendLosesNothing(t *testing.T) {
	relay := mailtest.Start(t)
	var (
		mu       sync.Mutex
		down     = true
		inFlight atomic.Int32
	)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	relay.SetFail(func(stage, _ string) error {
		mu.Lock()
		isDown := down
		mu.Unlock()
		if stage != "data" || !isDown {
			return nil
		}
		inFlight.Add(1)
		<-release // the client is gone long before
		return mailtest.Temporary("too late")
	})
	data := t.TempDir()
	dir := func(c *Config) { c.Data = data }
	m := apiServer(t, withRelay(relay), dir)
	users := []string{"alice", "bob", "carol"}
	for _, u := range users {
		if r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), createBody(u, "the leaked password", u+"@example.org")); r.status != http.StatusCreated {
			t.Fatalf("create %s: %v", u, r)
		}
	}
	activateOn(t, m.URL(), `{"kind":"password_reset","name":"hashes leaked","verify":"email","cohort":{"users":["alice","bob","carol"]}}`)
	for deadline := time.Now().Add(10 * time.Second); inFlight.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no send reached the relay")
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(relay.Messages()); n != 0 {
		t.Fatalf("the relay accepted %d messages while it held every answer", n)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	apiServer(t, withRelay(relay), dir)
	waitLinks(t, relay, len(users)) // 10 s: each once, none lost
}

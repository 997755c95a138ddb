package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/httpapi"
	"github.com/cordon-dev/cordon/internal/password"
)

// TestCredentialStuffing is the throttle under a credential-stuffing load
// through the real HTTP server: 10,000 wrong guesses from 1,000 addresses
// (each its own client behind a trusted loopback proxy) against 1,000
// accounts, 10 per account from 10 addresses, while time stands still.
// Each account's free budget is 5 failures, so at most 6 guesses per
// account are evaluated (hashed); the rest are refused unevaluated. The
// owner of an attacked account, on the device she logged in with before
// and from an address the attack also uses, still gets in mid-attack,
// while an attacked account's correct password from a stranger's address
// does not.
func TestCredentialStuffing(t *testing.T) {
	const (
		accounts  = 1000
		addresses = 1000
		perAddr   = 10
		workers   = 16
	)
	began := time.Now()
	trusted, err := httpapi.ParseTrustedProxies("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	m := apiServer(t, withClock(clock.NewFake(fakeNow)), func(c *Config) { c.TrustedProxies = trusted })

	h, err := password.NewHasher(m.Config.Hash, password.Limits{}).Hash(context.Background(), "the owners' real password")
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]map[string]string, accounts)
	for i := range recs {
		recs[i] = map[string]string{"username": fmt.Sprintf("acct-%04d", i), "password_hash": h}
	}
	if r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"), ndjson(recs...)); r.status != http.StatusOK || r.body["created"] != float64(accounts) {
		t.Fatalf("import: %v", r)
	}
	addr := func(a int) string { return fmt.Sprintf("198.18.%d.%d", a/250, a%250+1) }
	owner := func(xff string) apiResp {
		return loginAs(t, m, "acct-0000", "the owners' real password", map[string]string{
			"X-Forwarded-For": xff, "Cordon-Client": `platform=android, version="8.4.1", source=play, device="d-owner"`})
	}
	if r := owner("198.51.100.200"); r.status != 200 {
		t.Fatalf("owner's first login: %v", r)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var statuses sync.Map // status → *atomic.Int64
	attack := func(from, to int) {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for n := range jobs {
					a, j := n/perAddr, n%perAddr
					b, _ := json.Marshal(map[string]string{"username": fmt.Sprintf("acct-%04d", (a*perAddr+j)%accounts), "password": fmt.Sprintf("leaked-%d-%d", a, j)})
					req, _ := http.NewRequest("POST", m.URL()+"/v1/login", bytes.NewReader(b))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Forwarded-For", addr(a))
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						continue
					}
					resp.Body.Close()
					c, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
					c.(*atomic.Int64).Add(1)
				}
			})
		}
		for n := from; n < to; n++ {
			jobs <- n
		}
		close(jobs)
		wg.Wait()
	}

	before := verifications(t, m)
	attack(0, addresses*perAddr/2)
	// Mid-attack: the owner, on her known device, from an attacking address.
	if r := owner(addr(0)); r.status != 200 {
		t.Errorf("owner on her known device during the attack: %v, want 200", r)
	}
	attack(addresses*perAddr/2, addresses*perAddr)
	evaluated := 0
	for _, n := range delta(before, verifications(t, m)) {
		evaluated += n
	}
	count := map[int]int64{}
	statuses.Range(func(k, v any) bool { count[k.(int)] = v.(*atomic.Int64).Load(); return true })

	// An account's correct password from a stranger's address, once the
	// attack spent its budget, is refused unevaluated.
	stranger := loginAs(t, m, "acct-0001", "the owners' real password", map[string]string{"X-Forwarded-For": "203.0.113.99"})
	wantError(t, stranger, http.StatusTooManyRequests, "too_many_attempts")
	if r := owner("203.0.113.100"); r.status != 200 {
		t.Errorf("owner on her known device after the attack: %v, want 200", r)
	}

	// 6 per account, plus up to 6 more on the owner's account, whose
	// failures her successful login reset, plus her own login.
	wrong := evaluated - 1
	t.Logf("10,000 attempts: %d evaluated (%d wrong guesses, 1 owner login), statuses %v, took %v", evaluated, wrong, count, time.Since(began).Round(time.Millisecond))
	if wrong < 6000 || wrong > 6006 {
		t.Errorf("wrong guesses evaluated = %d, want 6,000 to 6,006 (6 per account)", wrong)
	}
	if count[401] != int64(wrong) || count[401]+count[429]+count[503] != 10000 {
		t.Errorf("statuses %v: want every evaluated guess a 401 and every other attempt a 429 or 503", count)
	}

	// Detection saw one attack: one credential_stuffing alert, from the
	// addresses the trusted proxy named, no brute force (10 guesses per
	// account) and no spraying (every guess another password). The owner's
	// login from an attacking address counts as reached: from there, the
	// list was tried.
	got := alerts(t, m, "")
	if len(got) != 1 || got[0]["kind"] != "credential_stuffing" {
		t.Fatalf("alerts = %v, want one credential_stuffing", got)
	}
	ev := evidence(got[0])
	if ev["accounts"].(float64) < 100 || ev["addresses"].(float64) < 10 || fmt.Sprint(ev["reached"]) != "[acct-0000]" {
		t.Errorf("evidence = %v, want ≥ 100 accounts, ≥ 10 addresses, reached [acct-0000]", ev)
	}
	for _, a := range ev["top_addresses"].([]any) {
		if !strings.HasPrefix(a.(string), "198.18.") {
			t.Errorf("top address %v is not one the proxy named", a)
			break
		}
	}
}

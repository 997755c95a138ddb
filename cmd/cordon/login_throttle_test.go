package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/httpapi"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"golang.org/x/crypto/bcrypt"
)

// verifications reads cordon_password_verifications_total per family from
// /metrics: the guesses the server actually evaluated.
func verifications(t *testing.T, m *Main) map[string]int {
	t.Helper()
	resp, err := http.Get(m.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), `cordon_password_verifications_total{family="`)
		if !ok {
			continue
		}
		fam, num, _ := strings.Cut(line, `"} `)
		n, err := strconv.ParseFloat(num, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", sc.Text(), err)
		}
		out[fam] = int(n)
	}
	return out
}

// delta is after - before, per family, leaving out families that did not move.
func delta(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for f, n := range after {
		if n != before[f] {
			d[f] = n - before[f]
		}
	}
	return d
}

func loginAs(t *testing.T, m *Main, name, pw string, h map[string]string) apiResp {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
	hh := map[string]string{"Content-Type": "application/json"}
	for k, v := range h {
		hh[k] = v
	}
	return send(t, "POST", m.URL()+"/v1/login", hh, b)
}

// An unknown username costs the verification of a hash family the
// accounts hold, never a cheaper one: with only imported bcrypt accounts,
// an unknown user costs one bcrypt verify, like a wrong password does, and
// a wrong password that NFKC changes runs bcrypt once. After a restart the
// families are read back from the store.
func TestLoginUnknownUserCostsAccountFamily(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testUnknownUserCost(t, "") })
	t.Run("postgres", func(t *testing.T) { testUnknownUserCost(t, pgtest.URL(t)) })
}

func testUnknownUserCost(t *testing.T, store string) {
	data := t.TempDir()
	m := apiServer(t, func(c *Config) { c.Data, c.Store = data, store })
	bc, err := bcrypt.GenerateFromPassword([]byte("imported password one"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"),
		ndjson(map[string]string{"username": "imp-1", "password_hash": string(bc)}, map[string]string{"username": "imp-2", "password_hash": string(bc)}))
	if r.status != http.StatusOK {
		t.Fatalf("import: %v", r)
	}

	check := func(m *Main, name, pw string, want map[string]int) {
		t.Helper()
		before := verifications(t, m)
		r := loginAs(t, m, name, pw, nil)
		wantError(t, r, http.StatusUnauthorized, "invalid_credentials")
		if got := delta(before, verifications(t, m)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("login %q: verifications %v, want %v", name, got, want)
		}
	}
	check(m, "nobody-at-all", "some wrong password", map[string]int{"bcrypt-4": 1})
	check(m, "imp-1", "some wrong password", map[string]int{"bcrypt-4": 1})
	check(m, "imp-2", "ﬁnance wrong password", map[string]int{"bcrypt-4": 1}) // ﬁ: NFKC changes it

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := apiServer(t, func(c *Config) { c.Data, c.Store = data, store })
	check(m2, "someone-else", "some wrong password", map[string]int{"bcrypt-4": 1})
}

// 60 concurrent wrong guesses from one address are evaluated no more than
// 60 sequential ones would be: 21 (a free budget of 20 failures, and the
// 21st is the first that costs a wait). The rest are refused unevaluated.
func TestConcurrentGuessesReserveBudget(t *testing.T) {
	m := apiServer(t, withClock(clock.NewFake(fakeNow)))
	before := verifications(t, m)
	var wg sync.WaitGroup
	statuses := make(chan int, 60)
	for i := range 60 {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]string{"username": fmt.Sprintf("guess-%d", i), "password": "wrong password"})
			r, err := do("POST", m.URL()+"/v1/login", jsonCT, b)
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- r.status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	evaluated := 0
	for _, n := range delta(before, verifications(t, m)) {
		evaluated += n
	}
	if evaluated != 21 || count[401] != 21 || count[429]+count[503] != 39 {
		t.Errorf("60 concurrent wrong guesses: %d evaluated, statuses %v; want 21 evaluated, 21×401 and 39×429/503", evaluated, count)
	}
}

// An address throttled by others' failures (a carrier NAT) still lets an
// owner in on a device that logged in before; a stranger on it waits.
func TestSharedAddressKnownDeviceGetsIn(t *testing.T) {
	m := apiServer(t, withClock(clock.NewFake(fakeNow)))
	addUser(t, m, "alice", "alice's long password")
	addUser(t, m, "bob", "bob's long password")
	alice := map[string]string{"Cordon-Client": `platform=ios, version="8.4.1", source=appstore, device="d-alice"`}
	if r := loginAs(t, m, "alice", "alice's long password", alice); r.status != 200 {
		t.Fatalf("alice's first login: %v", r)
	}
	for i := range 25 {
		loginAs(t, m, fmt.Sprintf("sprayed-%d", i), "wrong password", nil)
	}
	wantError(t, loginAs(t, m, "bob", "bob's long password", nil), http.StatusTooManyRequests, "too_many_attempts")
	if r := loginAs(t, m, "alice", "alice's long password", alice); r.status != 200 {
		t.Errorf("alice on her known device behind the throttled address: %v, want 200", r)
	}
	// Claiming alice's device id for bob does not make bob's login known.
	bobAsAlice := map[string]string{"Cordon-Client": `platform=ios, version="8.4.1", source=appstore, device="d-alice"`}
	wantError(t, loginAs(t, m, "bob", "bob's long password", bobAsAlice), http.StatusTooManyRequests, "too_many_attempts")
}

// Behind a trusted proxy each client is counted at its own address (the
// right-most X-Forwarded-For entry the proxy did not add); from a peer
// that is not a trusted proxy the header is ignored.
func TestTrustedProxiesAddress(t *testing.T) {
	trusted, err := httpapi.ParseTrustedProxies("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }

	t.Run("trusted", func(t *testing.T) {
		m := apiServer(t, withClock(clock.NewFake(fakeNow)), func(c *Config) { c.TrustedProxies = trusted })
		addUser(t, m, "carol", "carol's long password")
		for i := range 25 {
			loginAs(t, m, fmt.Sprintf("sprayed-%d", i), "wrong password", xff("198.51.100.1"))
		}
		wantError(t, loginAs(t, m, "carol", "carol's long password", xff("198.51.100.1")), http.StatusTooManyRequests, "too_many_attempts")
		if r := loginAs(t, m, "carol", "carol's long password", xff("198.51.100.2")); r.status != 200 {
			t.Errorf("another client behind the same proxy: %v, want 200", r)
		}
		// The attacker forges an entry to the left; the proxy appends
		// the address it saw, and that one counts.
		wantError(t, loginAs(t, m, "carol", "carol's long password", xff("198.51.100.2, 198.51.100.1")), http.StatusTooManyRequests, "too_many_attempts")
	})
	t.Run("untrusted peer", func(t *testing.T) {
		m := apiServer(t, withClock(clock.NewFake(fakeNow)))
		addUser(t, m, "carol", "carol's long password")
		for i := range 25 {
			loginAs(t, m, fmt.Sprintf("sprayed-%d", i), "wrong password", xff(fmt.Sprintf("198.51.100.%d", i+1)))
		}
		wantError(t, loginAs(t, m, "carol", "carol's long password", xff("203.0.113.77")), http.StatusTooManyRequests, "too_many_attempts")
	})
}

func TestServeTrustedProxiesFlag(t *testing.T) {
	err := run(t.Context(), []string{"serve", "--trusted-proxies", "10.0.0.0/8,not-a-network"}, nil, new(strings.Builder), new(strings.Builder))
	if err == nil || !strings.Contains(err.Error(), "--trusted-proxies") || !strings.Contains(err.Error(), "not-a-network") {
		t.Errorf("serve --trusted-proxies with a bad entry: %v, want a usage error naming it", err)
	}
}

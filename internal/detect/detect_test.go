package detect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/password"
)

var t0 = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

var key = NewPasswordKey()

func attempt(at time.Duration, account, address, password string, ok bool) Attempt {
	return Attempt{At: t0.Add(at), Account: account, Address: address, Password: key.Sum(password), OK: ok}
}

// feed observes every attempt and returns the alerts raised, in order.
func feed(d *Detector, as []Attempt) []Alert {
	var out []Alert
	for _, a := range as {
		out = append(out, d.Observe(a)...)
	}
	return out
}

func kinds(as []Alert) []string {
	var ks []string
	for _, a := range as {
		ks = append(ks, a.Kind)
	}
	return ks
}

func TestStuffing(t *testing.T) {
	d := New(Rules{})
	var as []Attempt
	// 300 accounts from a breached list, from 25 addresses, a few a second;
	// three of them reuse their password here.
	for i := range 300 {
		ok := i == 50 || i == 150 || i == 250
		as = append(as, attempt(time.Duration(i)*time.Second, fmt.Sprintf("user-%03d", i), fmt.Sprintf("203.0.113.%d", i%25), fmt.Sprintf("pw-%d", i), ok))
	}
	// The owner of another account logs in from home in the middle.
	as = slices.Insert(as, 200, attempt(199*time.Second, "carol", "198.51.100.7", "carols", true))
	got := feed(d, as)
	if !slices.Equal(kinds(got), []string{KindStuffing}) {
		t.Fatalf("alerts: got %v, want one credential_stuffing", kinds(got))
	}
	al := got[0]
	if al.Key != "*" || al.Addresses < 10 || al.Accounts < 100 || al.Failures < 100 || al.From != t0 {
		t.Errorf("evidence: %+v", al)
	}
	// Raised when the 100th account failed: reached so far is user-050.
	if !slices.Equal(al.Reached, []string{"user-050"}) {
		t.Errorf("reached at the alert: got %v, want [user-050]", al.Reached)
	}
	// Later, the whole reach, and never carol (her address never failed).
	if got := d.Reached(KindStuffing, "*", t0.Add(301*time.Second)); !slices.Equal(got, []string{"user-050", "user-150", "user-250"}) {
		t.Errorf("reached after the wave: got %v", got)
	}
}

func TestSpraying(t *testing.T) {
	d := New(Rules{})
	var as []Attempt
	for i := range 25 {
		as = append(as, attempt(time.Duration(i)*time.Second, fmt.Sprintf("user-%02d", i), "192.0.2.1", "Summer2026!", i == 21))
	}
	got := feed(d, as)
	if !slices.Equal(kinds(got), []string{KindSpraying}) {
		t.Fatalf("alerts: got %v, want one password_spraying", kinds(got))
	}
	al := got[0]
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(al.Key) || strings.Contains(fmt.Sprint(al), "Summer") {
		t.Errorf("the alert's key %q must be a fingerprint that does not show the password: %+v", al.Key, al)
	}
	if al.Accounts != 20 || al.Failures != 20 || !slices.Equal(al.TopAddresses, []string{"192.0.2.1"}) {
		t.Errorf("evidence: %+v", al)
	}
	if got := d.Reached(KindSpraying, al.Key, t0.Add(30*time.Second)); !slices.Equal(got, []string{"user-21"}) {
		t.Errorf("reached: got %v, want [user-21]", got)
	}
	// Another password, tried on the same accounts once each, is not it.
	d2 := New(Rules{})
	var mixed []Attempt
	for i := range 25 {
		mixed = append(mixed, attempt(time.Duration(i)*time.Second, fmt.Sprintf("user-%02d", i), "192.0.2.1", fmt.Sprintf("own-%d", i), false))
	}
	if got := feed(d2, mixed); slices.Contains(kinds(got), KindSpraying) {
		t.Errorf("distinct passwords raised %v", kinds(got))
	}
}

func TestBruteForce(t *testing.T) {
	d := New(Rules{})
	var as []Attempt
	// The owner logs in in the morning; that is not a reach.
	as = append(as, attempt(0, "alice", "198.51.100.7", "correct", true))
	for i := range 40 {
		as = append(as, attempt(time.Minute+time.Duration(i)*time.Second, "alice", fmt.Sprintf("192.0.2.%d", i%3), fmt.Sprintf("guess-%d", i), false))
	}
	got := feed(d, as)
	if !slices.Equal(kinds(got), []string{KindBruteForce}) {
		t.Fatalf("alerts: got %v, want one brute_force (raised once, then cooling down)", kinds(got))
	}
	if al := got[0]; al.Key != "alice" || al.Failures != 30 || len(al.Reached) != 0 {
		t.Errorf("evidence: %+v", al)
	}
	d.Observe(attempt(2*time.Minute, "alice", "192.0.2.1", "guess-right", true))
	if got := d.Reached(KindBruteForce, "alice", t0.Add(2*time.Minute)); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("reached after a success: got %v", got)
	}
}

func TestNoAlertOnOrdinaryTraffic(t *testing.T) {
	d := New(Rules{})
	var as []Attempt
	// 2,000 people; one in three mistypes once (each their own way)
	// before getting in; one forgets and tries 10 times over an hour.
	for i := range 2000 {
		at := time.Duration(i) * 300 * time.Millisecond
		u, addr := fmt.Sprintf("user-%04d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250)
		if i%3 == 0 {
			as = append(as, attempt(at, u, addr, "typo-"+u, false))
		}
		as = append(as, attempt(at+time.Second, u, addr, "right", true))
	}
	for i := range 10 {
		as = append(as, attempt(time.Duration(i)*6*time.Minute, "forgetful", "10.9.9.9", fmt.Sprintf("maybe-%d", i), false))
	}
	slices.SortStableFunc(as, func(a, b Attempt) int { return a.At.Compare(b.At) })
	if got := feed(d, as); len(got) != 0 {
		t.Fatalf("ordinary traffic raised %+v", got)
	}
}

func TestWindowForgets(t *testing.T) {
	d := New(Rules{Window: 10 * time.Minute, BruteFailures: 30})
	// 60 failures on one account, one a minute: never 30 in 10 minutes.
	for i := range 60 {
		if got := d.Observe(attempt(time.Duration(i)*time.Minute, "bob", "192.0.2.9", "x", false)); len(got) != 0 {
			t.Fatalf("failure %d raised %v", i, kinds(got))
		}
	}
	if n := d.accFails["bob"]; n > 11 {
		t.Errorf("the window holds %d of bob's failures, want at most 11", n)
	}
}

func TestCooldownRaisesAgain(t *testing.T) {
	d := New(Rules{BruteFailures: 3, Cooldown: time.Hour, Window: 10 * time.Minute})
	wave := func(start time.Duration) []Alert {
		var as []Attempt
		for i := range 3 {
			as = append(as, attempt(start+time.Duration(i)*time.Second, "dave", "192.0.2.3", "x", false))
		}
		return feed(d, as)
	}
	if got := wave(0); len(got) != 1 {
		t.Fatalf("first wave: %v", kinds(got))
	}
	if got := wave(20 * time.Minute); len(got) != 0 {
		t.Fatalf("a wave within the cooldown raised %v", kinds(got))
	}
	if got := wave(2 * time.Hour); len(got) != 1 {
		t.Fatalf("a wave after the cooldown: %v, want one alert", kinds(got))
	}
}

func TestMemoryBound(t *testing.T) {
	const max = 5000
	d := New(Rules{Window: 24 * time.Hour, BruteFailures: 1 << 30, SprayAccounts: 1 << 30, StuffingAccounts: 1 << 30, MaxAttempts: max})
	for i := range max + 1000 {
		d.Observe(Attempt{At: t0.Add(time.Duration(i) * time.Millisecond), Account: fmt.Sprint(i), Address: "a", Password: Hash{byte(i)}})
	}
	if n := len(d.attempts) - d.head; n != max {
		t.Errorf("window holds %d attempts, want the cap %d", n, max)
	}
	if len(d.accFails) != max || d.fails != max {
		t.Errorf("counters: %d accounts, %d failures; want %d each", len(d.accFails), d.fails, max)
	}
}

// TestCountersMatchTheWindow recomputes every counter from the window
// after a random walk with expiry and the cap: the O(1) bookkeeping must
// agree with a scan.
func TestCountersMatchTheWindow(t *testing.T) {
	d := New(Rules{Window: time.Minute})
	for i := range 20000 {
		d.Observe(Attempt{At: t0.Add(time.Duration(i) * 7 * time.Millisecond), Account: fmt.Sprint(i % 97), Address: fmt.Sprint(i % 13),
			Password: Hash{byte(i % 5)}, OK: i%7 == 0})
	}
	acc, addr, fails := map[string]int{}, map[string]int{}, 0
	pw := map[Hash]map[string]int{}
	for _, a := range d.live() {
		if a.OK {
			continue
		}
		fails++
		acc[a.Account]++
		addr[a.Address]++
		if pw[a.Password] == nil {
			pw[a.Password] = map[string]int{}
		}
		pw[a.Password][a.Account]++
	}
	if fails != d.fails || fmt.Sprint(acc) != fmt.Sprint(d.accFails) || fmt.Sprint(addr) != fmt.Sprint(d.addrFails) || fmt.Sprint(pw) != fmt.Sprint(d.pwAccounts) {
		t.Errorf("counters disagree with the window: %d vs %d failures", d.fails, fails)
	}
}

func TestConcurrentObservers(t *testing.T) {
	d := New(Rules{BruteFailures: 50})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var raised []Alert
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				got := d.Observe(attempt(time.Duration(i)*time.Millisecond, "erin", fmt.Sprintf("192.0.2.%d", g), "x", false))
				mu.Lock()
				raised = append(raised, got...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := len(raised); n != 1 || raised[0].Kind != KindBruteForce || raised[0].Failures < 50 {
		t.Fatalf("800 concurrent failures raised %d alerts (%v), want exactly one brute_force", n, kinds(raised))
	}
}

func TestPasswordKey(t *testing.T) {
	a, b := NewPasswordKey(), NewPasswordKey()
	first, again := a.Sum("hunter2"), a.Sum("hunter"+"2")
	if first != again {
		t.Fatal("one key hashes one password two ways")
	}
	if a.Sum("hunter2") == b.Sum("hunter2") || a.Sum("hunter2") == a.Sum("hunter3") {
		t.Fatal("hashes collide across keys or passwords")
	}
}

func BenchmarkObserve(b *testing.B) {
	d := New(Rules{})
	// A window already holding a stuffing wave of 100,000 attempts.
	for i := range 100_000 {
		d.Observe(Attempt{At: t0.Add(time.Duration(i) * time.Millisecond), Account: fmt.Sprint(i), Address: fmt.Sprint(i % 500), Password: Hash{byte(i)}})
	}
	pw := key.Sum("guess")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		d.Observe(Attempt{At: t0.Add(100*time.Second + time.Duration(i)*time.Microsecond), Account: "acct", Address: "addr", Password: pw})
	}
}

// BenchmarkPasswordKeySum is the keyed hash every login adds.
func BenchmarkPasswordKeySum(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		key.Sum("correct horse battery staple")
	}
}

// BenchmarkLoginVerify is the baseline detection is compared with: the
// argon2id verify every login runs, at cordon's default cost.
func BenchmarkLoginVerify(b *testing.B) {
	h := password.NewHasher(password.DefaultParams(), password.Limits{})
	enc, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(b.Context(), "correct horse battery staple", enc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

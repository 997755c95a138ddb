package throttle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
)

var start = time.Date(2014, 5, 27, 8, 0, 0, 0, time.UTC)

func newThrottle(t *testing.T, cfg Config) (*Throttle, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(start)
	return New(cfg, clk), clk
}

// retryAfter returns 0 if Check lets k through, else the seconds it says
// to wait, failing the test on any other kind of answer.
func retryAfter(t *testing.T, th *Throttle, k Keys) int {
	t.Helper()
	a, err := th.Check(context.Background(), k)
	if err == nil {
		a.Cancel()
		return 0
	}
	var e *cordon.Error
	if !errors.As(err, &e) || e.Code != cordon.ECodeThrottled {
		t.Fatalf("Check(%+v) = %v, want nil or a %s *cordon.Error", k, err, cordon.ECodeThrottled)
	}
	if e.RetryAfter < 1 {
		t.Fatalf("Check(%+v) RetryAfter = %d, want >= 1", k, e.RetryAfter)
	}
	return e.RetryAfter
}

// stranger is attempt i at an account from an address used only once.
func stranger(account string, i int) Keys {
	return Keys{Account: account, Address: fmt.Sprintf("10.%d.%d.%d:4711", i>>16&0xff, i>>8&0xff, i&0xff)}
}

func TestDelaysGrowAndCap(t *testing.T) {
	cases := []struct {
		name  string
		keys  func(i int) Keys
		fails int
		// want maps a number of failures to the RetryAfter right after it.
		want map[int]int
	}{
		{
			name:  "account, strangers from many addresses",
			keys:  func(i int) Keys { return stranger("alice", i) },
			fails: 120,
			want: map[int]int{1: 0, 5: 0, 6: 1, 7: 2, 8: 4, 9: 8, 10: 16, 11: 32, 12: 60, 13: 60,
				99: 60, 100: 300, 101: 300, 120: 300},
		},
		{
			name:  "address, many accounts",
			keys:  func(i int) Keys { return Keys{Account: fmt.Sprintf("user%d", i), Address: "192.0.2.7:1234"} },
			fails: 200,
			want: map[int]int{1: 0, 20: 0, 21: 1, 22: 2, 23: 4, 30: 512, 31: 900, 32: 900,
				100: 900, 200: 900},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th, clk := newThrottle(t, DefaultConfig())
			for n := 1; n <= c.fails; n++ {
				k := c.keys(n)
				if got := retryAfter(t, th, k); got != 0 {
					t.Fatalf("before failure %d: RetryAfter = %d, want the attempt let through", n, got)
				}
				th.Fail(k)
				got := retryAfter(t, th, c.keys(n+1))
				if want, ok := c.want[n]; ok && got != want {
					t.Errorf("after %d failures: RetryAfter = %d, want %d", n, got, want)
				}
				clk.Advance(time.Duration(got) * time.Second)
			}
		})
	}
}

func TestFreeBudget(t *testing.T) {
	cases := []struct {
		name string
		keys func(i int) Keys
		free int
	}{
		{"account", func(i int) Keys { return stranger("alice", i) }, 5},
		{"address", func(i int) Keys { return Keys{Account: fmt.Sprintf("u%d", i), Address: "192.0.2.7"} }, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th, _ := newThrottle(t, DefaultConfig())
			for i := range c.free {
				th.Fail(c.keys(i))
				if got := retryAfter(t, th, c.keys(i+1)); got != 0 {
					t.Fatalf("after %d failures: RetryAfter = %d, want 0 within a free budget of %d", i+1, got, c.free)
				}
			}
			th.Fail(c.keys(c.free))
			if got := retryAfter(t, th, c.keys(c.free+1)); got != 1 {
				t.Errorf("after %d failures: RetryAfter = %d, want 1", c.free+1, got)
			}
		})
	}
}

func TestDecay(t *testing.T) {
	cases := []struct {
		name    string
		keys    func(i int) Keys
		fails   int
		advance time.Duration
		// want is RetryAfter after one more failure following the pause.
		want int
	}{
		{"account remembered just before a day", func(i int) Keys { return stranger("alice", i) }, 10, 24*time.Hour - time.Second, 32},
		{"account forgotten after a day", func(i int) Keys { return stranger("alice", i) }, 10, 24 * time.Hour, 0},
		{"address remembered just before an hour", func(i int) Keys { return Keys{Account: fmt.Sprintf("u%d", i), Address: "192.0.2.7"} }, 25, time.Hour - time.Second, 32},
		{"address forgotten after an hour", func(i int) Keys { return Keys{Account: fmt.Sprintf("u%d", i), Address: "192.0.2.7"} }, 25, time.Hour, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th, clk := newThrottle(t, DefaultConfig())
			for i := range c.fails {
				th.Fail(c.keys(i))
			}
			clk.Advance(c.advance)
			if got := retryAfter(t, th, c.keys(c.fails)); got != 0 {
				t.Fatalf("after the pause: RetryAfter = %d, want 0", got)
			}
			th.Fail(c.keys(c.fails))
			if got := retryAfter(t, th, c.keys(c.fails+1)); got != c.want {
				t.Errorf("after one more failure: RetryAfter = %d, want %d", got, c.want)
			}
		})
	}
}

func TestSuccessResetsAccountNotAddress(t *testing.T) {
	th, clk := newThrottle(t, DefaultConfig())
	alice := Keys{Account: "alice", Address: "192.0.2.7:1", Device: "d-1"}
	for range 25 {
		th.Fail(alice)
	}
	clk.Advance(time.Hour - time.Minute)
	th.Succeed(alice)

	if got := retryAfter(t, th, stranger("alice", 1)); got != 0 {
		t.Errorf("account after a success: RetryAfter = %d, want 0", got)
	}
	if c := th.accounts.get("alice", clk.Now().UnixNano()); c != nil {
		t.Errorf("account after a success: %d failures kept, want the entry gone", c.fails)
	}
	mallory := Keys{Account: "mallory", Address: "192.0.2.7:2"}
	th.Fail(mallory)
	if got := retryAfter(t, th, mallory); got != 32 {
		t.Errorf("address after a success and one more failure: RetryAfter = %d, want 32 (26 failures)", got)
	}
}

func TestKnownPairs(t *testing.T) {
	owner := Keys{Account: "alice", Address: "198.51.100.1:1", Device: "d-1"}
	cases := []struct {
		name string
		keys Keys
		want int // RetryAfter while the account is under attack
	}{
		{"stranger", Keys{Account: "alice", Address: "203.0.113.9:1", Device: "x"}, 60},
		{"stranger without device", Keys{Account: "alice", Address: "203.0.113.9:1"}, 60},
		{"known device, new address", Keys{Account: "alice", Address: "203.0.113.10:1", Device: "d-1"}, 0},
		{"known address, new device", Keys{Account: "alice", Address: "198.51.100.1:2", Device: "d-2"}, 0},
		{"known device and address", owner, 0},
		{"upper-case username of the owner", Keys{Account: "Alice", Address: "198.51.100.1:3", Device: "d-1"}, 0},
		{"known device of another account", Keys{Account: "alice2", Address: "203.0.113.9:1", Device: "d-1"}, 0},
	}
	th, clk := newThrottle(t, DefaultConfig())
	th.Succeed(owner)
	clk.Advance(24 * time.Hour)
	// A stuffing attack on alice from 40 addresses, 1 attempt each.
	for i := range 40 {
		th.Fail(stranger("alice", i))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := retryAfter(t, th, c.keys); got != c.want {
				t.Errorf("Check(%+v): RetryAfter = %d, want %d", c.keys, got, c.want)
			}
		})
	}
}

// A shared address (carrier NAT, corporate proxy) throttled by others'
// failures does not lock out an owner on a known device; a known address
// alone is no proof, since everyone behind it shares it.
func TestKnownDeviceSkipsSharedAddress(t *testing.T) {
	th, _ := newThrottle(t, DefaultConfig())
	owner := Keys{Account: "alice", Address: "198.51.100.1:1", Device: "d-1"}
	th.Succeed(owner)
	// Someone on the owner's network sprays other accounts.
	for i := range 25 {
		th.Fail(Keys{Account: fmt.Sprintf("u%d", i), Address: "198.51.100.1:9"})
	}
	if got := retryAfter(t, th, owner); got != 0 {
		t.Errorf("known device on a throttled address: RetryAfter = %d, want 0", got)
	}
	if got := retryAfter(t, th, Keys{Account: "alice", Address: "198.51.100.1:2", Device: "d-2"}); got != 16 {
		t.Errorf("known address, new device, on a throttled address: RetryAfter = %d, want 16", got)
	}
	if got := retryAfter(t, th, Keys{Account: "bob", Address: "198.51.100.1:3", Device: "d-1"}); got != 16 {
		t.Errorf("another account claiming the owner's device id: RetryAfter = %d, want 16", got)
	}
}

// Concurrent attempts are evaluated no more than sequential ones: with a
// free budget of 20 failures, 60 attempts in flight at once from one
// address get 21 slots (the 21st failure is the first that costs a wait).
func TestConcurrentAttemptsReserve(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BusyWait = -1 // the attempts are held, not resolved: do not wait for them
	th, _ := newThrottle(t, cfg)
	var attempts []*Attempt
	refused := 0
	for i := range 60 {
		a, err := th.Check(context.Background(), Keys{Account: fmt.Sprintf("u%d", i), Address: "203.0.113.5:1"})
		if err != nil {
			refused++
			continue
		}
		attempts = append(attempts, a)
	}
	if len(attempts) != 21 || refused != 39 {
		t.Fatalf("60 attempts in flight: %d let through, %d refused; want 21 and 39", len(attempts), refused)
	}
	for _, a := range attempts {
		a.Fail()
	}
	if got := retryAfter(t, th, Keys{Account: "x", Address: "203.0.113.5:2"}); got != 1 {
		t.Errorf("after 21 failures: RetryAfter = %d, want 1", got)
	}
}

// Attempts that wait for a slot held in flight get it when a success
// frees it: 60 correct logins at once behind one address all get in.
func TestBusyWaitsForSuccesses(t *testing.T) {
	th, _ := newThrottle(t, DefaultConfig())
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			a, err := th.Check(context.Background(), Keys{Account: fmt.Sprintf("u%d", i), Address: "203.0.113.7:1"})
			if err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond) // the hash
			a.Succeed()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("correct login behind a busy address: %v, want it let through", err)
	}
}

// An attempt cancelled (the hasher was overloaded) gives its slot back.
func TestCancelGivesSlotBack(t *testing.T) {
	th, _ := newThrottle(t, DefaultConfig())
	for range 100 {
		a, err := th.Check(context.Background(), Keys{Account: "alice", Address: "203.0.113.6:1"})
		if err != nil {
			t.Fatalf("Check after cancelled attempts: %v, want nil", err)
		}
		a.Cancel()
		a.Cancel() // a second resolution does nothing
	}
	if n := th.addresses.len() + th.accounts.len(); n != 0 {
		t.Errorf("after cancelled attempts: %d entries kept, want 0", n)
	}
}

func TestKnownPairBudget(t *testing.T) {
	th, clk := newThrottle(t, DefaultConfig())
	owner := Keys{Account: "alice", Address: "198.51.100.1:1", Device: "d-1"}
	th.Succeed(owner)
	// The known device, from addresses of its own so that only the
	// device pair counts.
	device := func(i int) Keys {
		return Keys{Account: "alice", Address: fmt.Sprintf("10.0.%d.%d", i>>8, i&0xff), Device: "d-1"}
	}
	want := map[int]int{1: 0, 10: 0, 11: 1, 12: 2, 17: 60, 99: 60, 100: 300, 101: 300}
	for n := 1; n <= 101; n++ {
		if got := retryAfter(t, th, device(n)); got != 0 {
			t.Fatalf("before failure %d: RetryAfter = %d, want 0", n, got)
		}
		th.Fail(device(n))
		got := retryAfter(t, th, device(n+1))
		if w, ok := want[n]; ok && got != w {
			t.Errorf("after %d failures of the known pair: RetryAfter = %d, want %d", n, got, w)
		}
		clk.Advance(time.Duration(got) * time.Second)
	}
	if got := retryAfter(t, th, stranger("alice", 1)); got != 0 {
		t.Errorf("stranger after the known pair failed: RetryAfter = %d, want 0 (pair failures do not count against the account)", got)
	}
	th.Succeed(owner)
	if got := retryAfter(t, th, owner); got != 0 {
		t.Errorf("known pair after a success: RetryAfter = %d, want 0", got)
	}
}

func TestKnownPairLeastThrottledWins(t *testing.T) {
	th, clk := newThrottle(t, DefaultConfig())
	owner := Keys{Account: "alice", Address: "198.51.100.1:1", Device: "d-1"}
	th.Succeed(owner)
	// An attacker who learnt the device id uses up the device pair's budget.
	for i := range 20 {
		th.Fail(Keys{Account: "alice", Address: fmt.Sprintf("203.0.113.%d:1", i), Device: "d-1"})
	}
	if got := retryAfter(t, th, Keys{Account: "alice", Address: "203.0.113.99:1", Device: "d-1"}); got == 0 {
		t.Errorf("device pair after 20 failures: RetryAfter = 0, want a wait")
	}
	if got := retryAfter(t, th, owner); got != 0 {
		t.Errorf("owner on the known address: RetryAfter = %d, want 0", got)
	}
	clk.Advance(31 * 24 * time.Hour)
	if got := retryAfter(t, th, owner); got != 0 {
		t.Errorf("after 31 days: RetryAfter = %d, want 0", got)
	}
	if n := th.known.len(); n != 0 {
		t.Errorf("after 31 days: %d accounts with known pairs, want 0", n)
	}
}

func TestKnownPairExpires(t *testing.T) {
	th, clk := newThrottle(t, DefaultConfig())
	owner := Keys{Account: "alice", Address: "198.51.100.1:1", Device: "d-1"}
	th.Succeed(owner)
	clk.Advance(30 * 24 * time.Hour)
	for i := range 10 {
		th.Fail(stranger("alice", i))
	}
	if got := retryAfter(t, th, owner); got != 16 {
		t.Errorf("owner 30 days after the last success: RetryAfter = %d, want 16 (a stranger again)", got)
	}
}

func TestKnownPairsPerAccountBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEntries = 10
	th, clk := newThrottle(t, cfg)
	owner := Keys{Account: "alice", Address: "198.51.100.1:1", Device: "d-1"}
	th.Succeed(owner)
	// One account of the attacker's own, logged into from ever new devices.
	for i := range 1000 {
		clk.Advance(time.Second)
		th.Succeed(Keys{Account: "mallory", Address: "203.0.113.9:1", Device: fmt.Sprintf("d-%d", i)})
	}
	now := clk.Now().UnixNano()
	if got := len(th.known.get("mallory", now).pairs); got != cfg.KnownPerAccount {
		t.Errorf("mallory: %d known pairs, want %d", got, cfg.KnownPerAccount)
	}
	if kp := th.known.get("mallory", now).find(pair{device: true, other: "d-999"}); kp == nil {
		t.Errorf("mallory: newest device not known, want it known")
	}
	if kp := th.known.get("mallory", now).find(pair{other: "203.0.113.9"}); kp == nil {
		t.Errorf("mallory: address not known, want it known")
	}
	if th.known.get("alice", now) == nil {
		t.Errorf("alice: known pairs pushed out by another account's logins, want them kept")
	}
}

func TestBurstGetsOneSlot(t *testing.T) {
	th, clk := newThrottle(t, DefaultConfig())
	for i := range 10 {
		th.Fail(stranger("alice", i))
	}
	clk.Advance(16 * time.Second)

	const n = 64
	var wg sync.WaitGroup
	let := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			if _, err := th.Check(context.Background(), stranger("alice", 100+i)); err == nil {
				let <- i
			}
		})
	}
	wg.Wait()
	close(let)
	if got := len(let); got != 1 {
		t.Errorf("%d concurrent attempts once the wait ended: %d let through, want 1", n, got)
	}
}

func TestAddressKey(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"IPv4 with port", "192.0.2.7:4711", "192.0.2.7"},
		{"IPv4 bare", "192.0.2.7", "192.0.2.7"},
		{"IPv6 with port", "[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"IPv6 bare", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"IPv6 key unchanged", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"IPv6 with zone", "[fe80::1%eth0]:80", "fe80::/64"},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"loopback IPv6", "[::1]:80", "::/64"},
		{"not an address", "pipe", "pipe"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := AddressKey(c.in); got != c.want {
				t.Errorf("AddressKey(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestIPv6Slash64SharesBudget(t *testing.T) {
	th, _ := newThrottle(t, DefaultConfig())
	for i := range 21 {
		th.Fail(Keys{Account: fmt.Sprintf("u%d", i), Address: fmt.Sprintf("[2001:db8:0:1::%x]:443", i+1)})
	}
	cases := []struct {
		name, addr string
		want       int
	}{
		{"same /64", "[2001:db8:0:1:ffff:ffff:ffff:ffff]:1", 1},
		{"next /64", "[2001:db8:0:2::1]:1", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := retryAfter(t, th, Keys{Account: "bob", Address: c.addr}); got != c.want {
				t.Errorf("Check from %s: RetryAfter = %d, want %d", c.addr, got, c.want)
			}
		})
	}
}

func TestEviction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEntries = 100
	th, clk := newThrottle(t, cfg)
	for i := range 1000 {
		k := Keys{Account: fmt.Sprintf("u%d", i), Address: fmt.Sprintf("10.0.%d.%d", i>>8, i&0xff), Device: "d"}
		th.Fail(k)
		th.Succeed(k)
	}
	for name, n := range map[string]int{"addresses": th.addresses.len(), "accounts": th.accounts.len(), "known": th.known.len()} {
		if n > cfg.MaxEntries {
			t.Errorf("%s: %d entries, want at most %d", name, n, cfg.MaxEntries)
		}
	}
	now := clk.Now().UnixNano()
	if th.addresses.get("10.0.3.231", now) == nil {
		t.Errorf("newest address evicted, want it kept")
	}
	if th.addresses.get("10.0.0.0", now) != nil {
		t.Errorf("oldest address kept, want it evicted")
	}
	checkRing(t, th.addresses)
	checkRing(t, th.known)

	// Expired entries go before live ones.
	clk.Advance(time.Hour)
	for i := range 60 {
		th.Fail(Keys{Account: "x", Address: fmt.Sprintf("10.1.0.%d", i)})
	}
	if n := th.addresses.len(); n != 60 {
		t.Errorf("after an hour and 60 new addresses: %d entries, want 60 (the expired ones dropped)", n)
	}
	checkRing(t, th.addresses)
}

// checkRing checks the ring and the map agree and the ring is in stamp order.
func checkRing[K comparable, V any](t *testing.T, tb *table[K, V]) {
	t.Helper()
	n := 0
	last := int64(-1 << 63)
	for e := tb.root.next; e != &tb.root; e = e.next {
		if e.next.prev != e {
			t.Fatalf("ring broken at entry %d", n)
		}
		if tb.items[e.key] != e {
			t.Fatalf("ring entry %d is not in the map", n)
		}
		if e.stamp < last {
			t.Fatalf("ring entry %d stamped before its predecessor", n)
		}
		last = e.stamp
		n++
	}
	if n != len(tb.items) {
		t.Fatalf("ring has %d entries, map %d", n, len(tb.items))
	}
}

func TestConcurrentUse(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEntries = 500
	th, clk := newThrottle(t, cfg)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 2000 {
				k := Keys{
					Account: fmt.Sprintf("u%d", (g*7+i)%300),
					Address: fmt.Sprintf("[2001:db8:%x::1]:1", i%700),
					Device:  fmt.Sprintf("d%d", i%5),
				}
				if a, err := th.Check(context.Background(), k); err == nil {
					if i%10 == 0 {
						a.Succeed()
					} else {
						a.Fail()
					}
				}
				if g == 0 && i%100 == 0 {
					clk.Advance(time.Minute)
				}
			}
		})
	}
	wg.Wait()
	th.mu.Lock()
	defer th.mu.Unlock()
	checkRing(t, th.addresses)
	checkRing(t, th.accounts)
	checkRing(t, th.known)
	for name, n := range map[string]int{"addresses": th.addresses.len(), "accounts": th.accounts.len(), "known": th.known.len()} {
		if n > cfg.MaxEntries {
			t.Errorf("%s: %d entries, want at most %d", name, n, cfg.MaxEntries)
		}
	}
}

func TestThrottledError(t *testing.T) {
	cases := []struct {
		name    string
		wait    time.Duration
		secs    int
		message string
	}{
		{"under a second", time.Nanosecond, 1, "too many failed logins; try again in 1 s"},
		{"whole seconds", 32 * time.Second, 32, "too many failed logins; try again in 32 s"},
		{"rounded up", 31*time.Second + time.Millisecond, 32, "too many failed logins; try again in 32 s"},
		{"a minute", time.Minute, 60, "too many failed logins; try again in 60 s"},
		{"minutes", 5 * time.Minute, 300, "too many failed logins; try again in 5 min"},
		{"minutes rounded up", 14*time.Minute + time.Second, 841, "too many failed logins; try again in 15 min"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e *cordon.Error
			if !errors.As(throttled(c.wait), &e) {
				t.Fatalf("throttled(%v) is not a *cordon.Error", c.wait)
			}
			if e.Code != cordon.ECodeThrottled || e.RetryAfter != c.secs || e.Message != c.message {
				t.Errorf("throttled(%v) = {%s %d %q}, want {%s %d %q}", c.wait, e.Code, e.RetryAfter, e.Message,
					cordon.ECodeThrottled, c.secs, c.message)
			}
		})
	}
}

func TestZeroConfigTakesDefaults(t *testing.T) {
	th := New(Config{}, clock.NewFake(start))
	if got, want := th.cfg, DefaultConfig(); got != want {
		t.Errorf("New(Config{}) config = %+v, want %+v", got, want)
	}
}

func BenchmarkCheckFail(b *testing.B) {
	keys := benchKeys(1 << 16)
	b.Run("serial", func(b *testing.B) {
		th := New(DefaultConfig(), clock.Real{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := keys[i&(len(keys)-1)]
			if a, err := th.Check(context.Background(), k); err == nil {
				a.Fail()
			} else {
				th.Fail(k)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		th := New(DefaultConfig(), clock.Real{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				k := keys[i&(len(keys)-1)]
				if a, err := th.Check(context.Background(), k); err == nil {
					a.Fail()
				} else {
					th.Fail(k)
				}
				i += 7
			}
		})
	})
}

func benchKeys(n int) []Keys {
	ks := make([]Keys, n)
	for i := range ks {
		ks[i] = Keys{
			Account: fmt.Sprintf("user%d@example.com", i%5000),
			Address: fmt.Sprintf("198.51.%d.%d:%d", i>>8&0xff, i&0xff, 40000+i%1000),
			Device:  fmt.Sprintf("d-%d", i%3000),
		}
	}
	return ks
}

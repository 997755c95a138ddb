package throttle

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
)

// loginAs is a successful password login of account (id) with k.
func loginAs(t *testing.T, th *Throttle, id string, k Keys) {
	t.Helper()
	a, err := th.Check(context.Background(), k)
	if err != nil {
		t.Fatalf("Check(%+v): %v", k, err)
	}
	a.SucceedAs(id)
}

// TestSeenJudgesTheNetwork: a refresh is somewhere new when none of the
// account's known addresses is in its network (an IPv4 /24, an IPv6 /48);
// the device plays no part, and an account known by no address, or by no
// id, is never unusual.
func TestSeenJudgesTheNetwork(t *testing.T) {
	th, _ := newThrottle(t, DefaultConfig())
	loginAs(t, th, "u-alice", Keys{Account: "Alice", Address: "192.0.2.1:4711", Device: "d-home"})
	loginAs(t, th, "u-alice", Keys{Account: "alice", Address: "[2001:db8:1:2::5]:443", Device: "d-home"})
	loginAs(t, th, "u-dave", Keys{Account: "dave", Address: "", Device: "d-dave"}) // a Unix socket: a device, no address
	// A login that never said which account it proved.
	a, err := th.Check(context.Background(), Keys{Account: "bob", Address: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	a.Succeed()

	cases := []struct {
		name, id, address string
		want              bool
	}{
		{"the same address", "u-alice", "192.0.2.1:5000", false},
		{"the same /24", "u-alice", "192.0.2.254", false},
		{"IPv4-mapped, the same /24", "u-alice", "[::ffff:192.0.2.9]:1", false},
		{"the next /24", "u-alice", "192.0.3.1", true},
		{"another network", "u-alice", "203.0.113.5:1", true},
		{"the same /64", "u-alice", "[2001:db8:1:2::99]:1", false},
		{"another /64 of the same /48", "u-alice", "[2001:db8:1:ff00::1]:1", false},
		{"the next /48", "u-alice", "[2001:db8:2::1]:1", true},
		{"a bare IPv6 /64 key", "u-alice", "2001:db8:9::/64", true},
		{"not an IP (a Unix socket)", "u-alice", "", false},
		{"not an IP, text", "u-alice", "@", false},
		{"an account known by device only", "u-dave", "203.0.113.5:1", false},
		{"an account never linked to its id", "u-bob", "203.0.113.5:1", false},
		{"an unknown account", "u-nobody", "203.0.113.5:1", false},
		{"no account id", "", "203.0.113.5:1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := th.Seen(c.id, c.address); got != c.want {
				t.Errorf("Seen(%q, %q) = %v, want %v", c.id, c.address, got, c.want)
			}
		})
	}
	var nilThrottle *Throttle
	if nilThrottle.Seen("u-alice", "203.0.113.5") {
		t.Error("a nil throttle saw something")
	}
}

// TestSeenNeverTeaches: a refresh from somewhere new does not make that
// address known, neither for Seen nor for the throttle (a known pair
// skips the account's wait, and only a password may earn that): the
// attacker's next refresh is as new as the first, and a login from there
// is still unusual and still waits for the account.
func TestSeenNeverTeaches(t *testing.T) {
	th, _ := newThrottle(t, DefaultConfig())
	loginAs(t, th, "u-alice", Keys{Account: "alice", Address: "192.0.2.1", Device: "d-home"})
	for i := range 3 {
		if !th.Seen("u-alice", "203.0.113.5:1") {
			t.Fatalf("refresh %d from a new network not unusual", i+1)
		}
	}
	evil := Keys{Account: "alice", Address: "203.0.113.5", Device: "d-evil"}
	a, err := th.Check(context.Background(), evil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Unusual() || !a.acct {
		t.Errorf("a login where only refreshes were seen: unusual %v, counts against the account %v; want both", a.Unusual(), a.acct)
	}
	a.Cancel()
	th.mu.Lock()
	set := th.known.get("alice", start.UnixNano())
	n := len(set.pairs)
	th.mu.Unlock()
	if n != 2 {
		t.Errorf("alice has %d known pairs after refreshes from elsewhere, want her 2 (device and address)", n)
	}
}

// TestSeenKeepsHomeKnown: refreshes from a known network keep its
// addresses known past Config.KnownFor after the last login (so the
// owner's own refreshes are not flagged a month on, and the account stays
// known for judging new ones), without forgiving the pair's failures.
func TestSeenKeepsHomeKnown(t *testing.T) {
	th, clk := newThrottle(t, DefaultConfig())
	home := Keys{Account: "alice", Address: "192.0.2.1", Device: "d-home"}
	loginAs(t, th, "u-alice", home)
	for range 3 {
		th.Fail(home) // the pair's own failures
	}
	for day := 20; day <= 80; day += 20 {
		clk.Advance(20 * 24 * time.Hour)
		if th.Seen("u-alice", "192.0.2.77") {
			t.Fatalf("day %d: the owner's refresh from home's /24 is unusual", day)
		}
	}
	if !th.Seen("u-alice", "203.0.113.5") {
		t.Error("day 80, 80 days after the login, refreshes from home in between: a new network is not unusual")
	}
	th.mu.Lock()
	now := clk.Now().UnixNano()
	known := th.knownPairs(normalize(home), now)
	th.mu.Unlock()
	if known[1] == nil {
		t.Fatal("home's address pair forgotten")
	}
	if known[0] != nil {
		t.Error("the device pair renewed by refreshes; only the address may be")
	}

	// Failures within Known.Forget survive a refresh.
	th2, _ := newThrottle(t, DefaultConfig())
	loginAs(t, th2, "u-alice", home)
	for range 3 {
		th2.Fail(home)
	}
	th2.Seen("u-alice", "192.0.2.1")
	th2.mu.Lock()
	defer th2.mu.Unlock()
	if c := th2.knownPairs(normalize(home), start.UnixNano())[1]; c == nil || c.fails != 3 {
		t.Errorf("a refresh from home reset the pair's failures: %+v, want 3", c)
	}
}

// TestSeenExpires: with no login or refresh from home for Config.KnownFor,
// the account is as good as unknown: nothing is unusual.
func TestSeenExpires(t *testing.T) {
	th, clk := newThrottle(t, DefaultConfig())
	loginAs(t, th, "u-alice", Keys{Account: "alice", Address: "192.0.2.1", Device: "d-home"})
	clk.Advance(30*24*time.Hour - time.Second)
	if !th.Seen("u-alice", "203.0.113.5") {
		t.Error("a second before the pairs expire: not unusual")
	}
	clk.Advance(time.Second)
	if th.Seen("u-alice", "203.0.113.5") {
		t.Error("after every pair expired: unusual")
	}
}

// TestSeenConcurrent runs Seen beside logins, failures and evictions:
// the tables stay bounded and consistent (run with -race).
func TestSeenConcurrent(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEntries = 200
	th, clk := newThrottle(t, cfg)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				acct := (g*13 + i) % 300
				k := Keys{Account: fmt.Sprintf("user%d", acct), Address: fmt.Sprintf("10.%d.%d.1", acct%7, i%3), Device: fmt.Sprintf("d%d", i%4)}
				id := fmt.Sprintf("u-%d", acct)
				switch i % 4 {
				case 0:
					if a, err := th.Check(context.Background(), k); err == nil {
						a.SucceedAs(id)
					}
				case 1:
					th.Fail(k)
				default:
					th.Seen(id, fmt.Sprintf("10.%d.%d.9", acct%7, i%5))
				}
				if g == 0 && i%200 == 0 {
					clk.Advance(time.Hour)
				}
			}
		})
	}
	wg.Wait()
	th.mu.Lock()
	defer th.mu.Unlock()
	checkRing(t, th.known)
	checkRing(t, th.ids)
	for name, n := range map[string]int{"known": th.known.len(), "ids": th.ids.len()} {
		if n > cfg.MaxEntries {
			t.Errorf("%s: %d entries, want at most %d", name, n, cfg.MaxEntries)
		}
	}
}

// BenchmarkSeen is the refresh path's share of the throttle: an account
// with one device and one address, refreshed from that address; and one
// with a full set of known addresses (16), refreshed from a known network
// that is its last pair, and from a new one (every pair compared).
func BenchmarkSeen(b *testing.B) {
	th := New(DefaultConfig(), clock.Real{})
	for i := range 16 {
		a, err := th.Check(context.Background(), Keys{Account: "alice", Address: fmt.Sprintf("[2001:db8:%x::1]:1", i)})
		if err != nil {
			b.Fatal(err)
		}
		a.SucceedAs("u-alice")
	}
	two := New(DefaultConfig(), clock.Real{})
	a, err := two.Check(context.Background(), Keys{Account: "bob", Address: "192.0.2.1", Device: "d-1"})
	if err != nil {
		b.Fatal(err)
	}
	a.SucceedAs("u-bob")
	b.Run("typical", func(b *testing.B) { // a device and an address, refreshed from that address's key
		b.ReportAllocs()
		for b.Loop() {
			two.Seen("u-bob", "192.0.2.1")
		}
	})
	for _, c := range []struct{ name, address string }{{"known", "[2001:db8:f:1::1]:1"}, {"new", "198.51.100.7:1"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				th.Seen("u-alice", c.address)
			}
		})
	}
}

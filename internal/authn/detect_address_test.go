package authn_test

import (
	"sync"
	"testing"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/detect"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
)

type heard struct {
	mu       sync.Mutex
	attempts []detect.Attempt
}

func (h *heard) Observe(a detect.Attempt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts = append(h.attempts, a)
}

// TestDetectionSeesNetworksNotHosts: detection hears a login's address as
// the throttle counts it — an IPv6 client by its /64, an IPv4 one as it
// is, ports and zones dropped — so a host rotating through its /64 is one
// address to it, and cannot log in unseen from a fresh one each time.
func TestDetectionSeesNetworksNotHosts(t *testing.T) {
	ctx := t.Context()
	store, clk := memstore.New(), clock.NewFake(t0)
	camps, err := campaign.New(ctx, store, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &heard{}
	svc, err := authn.New(ctx, authn.Deps{Store: store, Clock: clk, Campaigns: camps, Policy: password.DefaultPolicy(),
		Hasher:   password.NewHasher(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{}),
		Throttle: throttle.New(throttle.DefaultConfig(), clk), Detect: h, PasswordKey: detect.NewPasswordKey()}, authn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAccount(ctx, "alice", alicePassword); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"[2001:db8:1:2::1]:4711", "2001:db8:1:2:ffff::9", "[2001:db8:1:2::7%eth0]:1", "192.0.2.7:4711", "::ffff:192.0.2.7"} {
		svc.Login(ctx, authn.LoginRequest{Username: "alice", Password: alicePassword, Client: iphone, Address: addr})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var got []string
	for _, a := range h.attempts {
		got = append(got, a.Address)
	}
	want := []string{"2001:db8:1:2::/64", "2001:db8:1:2::/64", "2001:db8:1:2::/64", "192.0.2.7", "192.0.2.7"}
	if len(got) != len(want) {
		t.Fatalf("detection heard %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("attempt %d from %s: heard %q, want %q", i, []string{"[2001:db8:1:2::1]:4711", "2001:db8:1:2:ffff::9", "[2001:db8:1:2::7%eth0]:1", "192.0.2.7:4711", "::ffff:192.0.2.7"}[i], got[i], want[i])
		}
	}
}

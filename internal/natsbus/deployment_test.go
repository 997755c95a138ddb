package natsbus

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/natstest"
)

// openFollower opens a Bus with no deployment of its own, as cordon gate
// does.
func openFollower(t *testing.T, url string) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	b, err := Open(ctx, url, Options{RevocationTTL: time.Minute})
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestDeploymentsOnOneFeedDoNotMix: two deployments publish on one bus
// URL. The second starts its versions again at 1 and is stored all the
// same (its subjects are its own); a follower without a deployment
// follows the one announced last, and a follower pinned by the URL's
// deployment= follows that one, each seeing only its own policies.
func TestDeploymentsOnOneFeedDoNotMix(t *testing.T) {
	url := natstest.URL(t)
	old := openBus(t, url, Options{Deployment: "d-old"})
	publish(t, old, policyEvent(7))

	fresh := openBus(t, url, Options{Deployment: "d-new"})
	publish(t, fresh, policyEvent(1)) // would be stale against 7 on a shared subject

	current := openFollower(t, url)
	f := follow(t, current)
	caughtUp(t, current)
	if got, want := policies(f.deliveries()), []uint64{1}; !slices.Equal(got, want) {
		t.Errorf("follower of the announced deployment: policy versions = %v, want %v", got, want)
	}
	if got := current.Deployment(); got != "d-new" {
		t.Errorf("the follower follows deployment %q, want d-new", got)
	}

	pinned := openFollower(t, url+"&deployment=d-old")
	p := follow(t, pinned)
	caughtUp(t, pinned)
	if got, want := policies(p.deliveries()), []uint64{7}; !slices.Equal(got, want) {
		t.Errorf("follower pinned to d-old: policy versions = %v, want %v", got, want)
	}

	publish(t, fresh, policyEvent(2))
	f.waitFor(t, "policy 2 of d-new", func(ds []delivery) bool { return slices.Contains(policies(ds), 2) })
	if got := policies(p.deliveries()); !slices.Equal(got, []uint64{7}) {
		t.Errorf("the follower pinned to d-old received %v, want only 7", got)
	}

	// A third deployment starts: the follower that took the announced
	// one says it is superseded (its owner fails readiness); the pinned
	// one does not.
	openBus(t, url, Options{Deployment: "d-third"})
	deadline := time.Now().Add(supersededPoll + 5*time.Second)
	for current.Superseded() != "d-third" {
		if time.Now().After(deadline) {
			t.Fatalf("Superseded() = %q %v after a new deployment was announced, want d-third", current.Superseded(), supersededPoll+5*time.Second)
		}
		time.Sleep(50 * time.Millisecond) // no event marks the poll; bounded by the deadline
	}
	if got := pinned.Superseded(); got != "" {
		t.Errorf("the pinned follower's Superseded() = %q, want \"\"", got)
	}
}

// TestFollowerWaitsForAnAnnouncement: a follower that starts before any
// server announced a deployment waits for one, then follows it.
func TestFollowerWaitsForAnAnnouncement(t *testing.T) {
	url := natstest.URL(t)
	early := openFollower(t, url)
	f := follow(t, early)
	time.Sleep(2 * announcePoll) // the follower is waiting; nothing to signal on
	pub := openBus(t, url, Options{Deployment: "d-late"})
	publish(t, pub, policyEvent(3))
	f.waitFor(t, "policy 3", func(ds []delivery) bool { return slices.Contains(policies(ds), 3) })
}

// TestOpenRefusesAMismatchedDeployment: a store's deployment that
// differs from the URL's deployment= is a configuration error.
func TestOpenRefusesAMismatchedDeployment(t *testing.T) {
	url := natstest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := Open(ctx, url+"&deployment=d-a", Options{RevocationTTL: time.Minute, Deployment: "d-b"}); err == nil {
		t.Error("Open with deployment d-b on a URL naming d-a = nil error")
	}
}

// FuzzParseURL: no bus URL makes parseURL panic, and one it accepts names
// streams and a deployment that are single valid tokens, so no URL can
// reach into another deployment's subjects with a wildcard or a dot.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"nats://h:4222", "nats://h:4222?stream=A&prefix=a.b&deployment=d-1", "nats://h?deployment=*", "nats://h?deployment=a.b", "?", "nats://h?prefix=a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := parseURL(raw)
		if err != nil {
			return
		}
		if !validStream(strings.TrimSuffix(n.latest, "_LATEST")) || !validPrefix(n.prefix) {
			t.Errorf("parseURL(%q) accepted %+v", raw, n)
		}
		if n.deployment != "" && (!ValidDeployment(n.deployment) || strings.ContainsAny(n.deployment, ".*> ")) {
			t.Errorf("parseURL(%q) accepted deployment %q", raw, n.deployment)
		}
	})
}

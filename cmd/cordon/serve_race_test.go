package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/natstest"
	"github.com/cordon-dev/cordon/internal/sqlite"
)

// TestServeWiresBeforeBackgroundWork: Run starts its background work (the
// policy watch above all) only once every field that work reads is set.
// The watch publishes each policy it installs to the bus; started before
// Run had set the bus, it read the field while Run wrote it — a data race
// the race detector reports here. Another writer raises the store's policy
// version throughout the start, and the watch polls every millisecond, so
// it installs policies while Run is still connecting to NATS.
func TestServeWiresBeforeBackgroundWork(t *testing.T) {
	bus := natstest.URL(t)
	ctx := context.Background()
	data := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(data, "cordon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, err := db.PolicyVersion(ctx)
			if err == nil {
				_, err = db.RaisePolicyVersion(ctx, v)
			}
			if err != nil {
				t.Errorf("raise the policy version: %v", err)
				return
			}
		}
	}()
	m, err := startNodeIn(t, Config{Data: data, Bus: bus, PolicyPoll: time.Millisecond})
	close(stop)
	<-stopped
	if err != nil {
		t.Fatal(err)
	}
	// The watch did install what the other writer did.
	want, err := db.PolicyVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Campaigns.Policy().Version < want {
		if time.Now().After(deadline) {
			t.Fatalf("policy version %d, want %d: the watch did not install the store's", m.Campaigns.Policy().Version, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

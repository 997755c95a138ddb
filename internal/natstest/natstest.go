// Package natstest gives tests a feed of their own on the test NATS server
// (127.0.0.1:4222, or CORDON_TEST_NATS): a bus URL naming a stream and a
// subject prefix no other test uses, whose streams are deleted when the
// test ends. Without a server the test is skipped — except under CI=true,
// or when CORDON_TEST_NATS names a server, where it fails.
package natstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// ServerURL is the test server's URL.
func ServerURL() string {
	if u := os.Getenv("CORDON_TEST_NATS"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// URL returns a bus URL of the test's own.
func URL(tb testing.TB) string {
	tb.Helper()
	nc, err := nats.Connect(ServerURL(), nats.Timeout(2*time.Second))
	switch {
	case err == nil:
		nc.Close()
	case os.Getenv("CI") == "true" || os.Getenv("CORDON_TEST_NATS") != "":
		tb.Fatalf("connect to NATS at %s: %v", ServerURL(), err)
	default:
		tb.Skip("NATS not reachable at 127.0.0.1:4222 (set CORDON_TEST_NATS to another URL); skipping")
	}
	id := make([]byte, 8)
	rand.Read(id)
	stream := "TEST_" + hex.EncodeToString(id)
	tb.Cleanup(func() {
		nc, err := nats.Connect(ServerURL())
		if err != nil {
			tb.Errorf("delete test streams: %v", err)
			return
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			tb.Errorf("delete test streams: %v", err)
			return
		}
		for _, s := range []string{stream + "_LATEST", stream + "_REVOKE"} {
			if err := js.DeleteStream(s); err != nil && !errors.Is(err, nats.ErrStreamNotFound) {
				tb.Errorf("delete stream %s: %v", s, err)
			}
		}
	})
	return ServerURL() + "?stream=" + stream + "&prefix=test." + hex.EncodeToString(id)
}

package natsbus

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsServer is a nats-server process of the test's own, so the test can
// stop and start it; the shared one at 127.0.0.1:4222 is not the test's
// to restart.
type natsServer struct {
	bin, port, dir string
	cmd            *exec.Cmd
}

// startServer starts nats-server with JetStream on a free port and a
// store in a temporary folder, stopped when the test ends. Without the
// binary the test is skipped, except in CI, which has it.
func startServer(tb testing.TB) *natsServer {
	tb.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("nats-server binary: %v", err)
		}
		tb.Skip("nats-server binary not found; skipping")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	s := &natsServer{bin: bin, port: port, dir: tb.TempDir()}
	s.start(tb)
	tb.Cleanup(func() { s.stop(tb) })
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + s.port }

func (s *natsServer) start(tb testing.TB) {
	tb.Helper()
	s.cmd = exec.Command(s.bin, "-a", "127.0.0.1", "-p", s.port, "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(wait)
	for {
		nc, err := nats.Connect(s.url(), nats.Timeout(time.Second))
		if err == nil {
			nc.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nats-server on port %s not up within %v: %v", s.port, wait, err)
		}
		time.Sleep(50 * time.Millisecond) // a process starting has no channel to wait on
	}
}

// stop kills the server, as a crash would.
func (s *natsServer) stop(tb testing.TB) {
	tb.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func TestFollowSurvivesAServerRestart(t *testing.T) {
	srv := startServer(t)
	url := srv.url() + "?stream=RESTART&prefix=restart"
	pub := openBus(t, url, Options{Origin: "pub"})
	sub := openBus(t, url, Options{})
	f := follow(t, sub)
	caughtUp(t, sub)
	publish(t, pub, policyEvent(1))
	publish(t, pub, keysEvent("k1"))
	publish(t, pub, revokeEvent("s1"))
	f.waitFor(t, "the first events", func(ds []delivery) bool { return len(ds) == 3 })

	pubBack := pub.nc.StatusChanged(nats.CONNECTED)
	subBack := sub.nc.StatusChanged(nats.CONNECTED)
	srv.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	err := pub.Publish(ctx, revokeEvent("lost"))
	cancel()
	if !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish with the server down = %v, want ErrNotConnected", err)
	}

	srv.start(t)
	for _, back := range []chan nats.Status{pubBack, subBack} {
		select {
		case <-back:
		case <-time.After(wait):
			t.Fatalf("no reconnection within %v of the restart", wait)
		}
	}
	publish(t, pub, revokeEvent("s2"))
	publish(t, pub, policyEvent(2))
	ds := f.waitFor(t, "the events after the restart", func(ds []delivery) bool {
		return slices.Contains(policies(ds), 2) && len(revoked(ds)) >= 2
	})
	// Nothing twice, nothing missed.
	checkFeed(t, ds, []uint64{1, 2}, []string{"k1"}, []string{"s1", "s2"})

	// What was stored before the crash is still there for a late joiner.
	late := openBus(t, url, Options{})
	lf := follow(t, late)
	caughtUp(t, late)
	checkFeed(t, lf.deliveries(), []uint64{2}, []string{"k1"}, []string{"s1", "s2"})
	for _, d := range lf.deliveries() {
		if d.origin != "pub" {
			t.Errorf("%s event: origin %q, want pub", d.e.Kind, d.origin)
		}
	}
}

package natsbus_test

import (
	"context"
	"log/slog"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/natsbus"
	"github.com/cordon-dev/cordon/internal/token"
)

// A follower hears every event of the feed, and knows when it has caught
// up. (A gate follows the bus through gate.NewFollower with
// FollowerConfig.Bus, which applies each event to its State.) Not run: it
// needs a NATS server.
func ExampleBus_Follow() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.Default()

	const accessTTL = 15 * time.Minute
	bus, err := natsbus.Open(ctx, "nats://127.0.0.1:4222?stream=CORDON_FEED&prefix=cordon", natsbus.Options{
		// A revocation must outlive the last access token of its session.
		RevocationTTL: accessTTL + token.Leeway,
		Log:           log,
		Origin:        "gate-eu-1",
	})
	if err != nil {
		log.Error("open the bus", "err", err)
		return
	}
	defer bus.Close()

	var version atomic.Uint64 // of the last policy heard
	go func() {
		<-bus.CaughtUp()
		log.Info("caught up", "policy", version.Load())
	}()
	err = bus.Follow(ctx, func(e feed.Event, origin string) {
		if e.Policy != nil {
			version.Store(e.Policy.Version)
		}
		log.Info("feed event", "kind", e.Kind, "origin", origin)
	})
	log.Info("feed ended", "err", err)
}

package natsbus_test

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/gate"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/natsbus"
	"github.com/cordon-dev/cordon/internal/token"
)

// A gate keeps its State current from the bus, and reports ready once it
// has caught up. (Not run: it needs a NATS server.)
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

	st := gate.NewState("https://id.example.com", "api")
	go func() {
		<-bus.CaughtUp()
		log.Info("caught up", "policy", st.PolicyVersion(), "ready", st.Ready())
	}()
	err = bus.Follow(ctx, func(e feed.Event, origin string) {
		if err := st.Apply(e); err != nil {
			log.Error("apply feed event", "kind", e.Kind, "origin", origin, "err", err)
		}
	})
	log.Info("feed ended", "err", err)
}

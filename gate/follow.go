package gate

import (
	"context"
	"log/slog"
	"strings"

	"github.com/cordon-dev/cordon/internal/feed"
)

// Follow keeps st current from a cordon server's policy feed
// (GET {serverURL}/v1/gate/feed, authenticated by an admin token with scope
// gate) until ctx ends, reconnecting and resuming on its own. While the
// server is unreachable st keeps what it holds, so a Gate on it keeps
// enforcing the last policy it saw. It returns ctx's error.
func Follow(ctx context.Context, st *State, serverURL, token string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &feed.Client{URL: strings.TrimRight(serverURL, "/") + "/v1/gate/feed", Token: token, Log: log}
	return c.Run(ctx, func(e feed.Event) {
		if err := st.Apply(e); err != nil {
			log.Error("cordon gate: apply feed event", "kind", e.Kind, "err", err)
		}
	})
}

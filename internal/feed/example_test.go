package feed_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/cordon-dev/cordon/internal/feed"
)

// The control plane publishes each change after committing it; a gate
// follows with a Client and gets the snapshot first, then every change.
func Example() {
	hub := feed.NewHub(func(context.Context) (feed.Event, error) {
		return feed.Event{Policy: &feed.Policy{Version: 1}}, nil
	}, 0)
	srv := httptest.NewServer(feed.Handler(hub, slog.New(slog.DiscardHandler)))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	gate := &feed.Client{URL: srv.URL, Token: "gate-token"}
	got := make(chan feed.Event, 10)
	done := make(chan error)
	go func() { done <- gate.Run(ctx, func(e feed.Event) { got <- e }) }()

	e := <-got
	fmt.Println(e.Kind, e.Seq, e.Policy.Version)
	hub.Publish(feed.Event{Kind: feed.KindPolicy, Policy: &feed.Policy{Version: 2}})
	e = <-got
	fmt.Println(e.Kind, e.Seq, e.Policy.Version)

	cancel()
	fmt.Println(<-done)
	// Output:
	// snapshot 0 1
	// policy 1 2
	// context canceled
}

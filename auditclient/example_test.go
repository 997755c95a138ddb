package auditclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/cordon-dev/cordon/auditclient"
)

// A support service reports each look at a user's data. Reads are sent
// and left to the batcher; an export is recorded before the data leaves,
// so it is durable in cordon's log first. On shutdown Close sends what is
// queued.
func Example() {
	// A real cordon audit API on a temporary SQLite store stands in for
	// https://cordon.internal:8080 here.
	dir, _ := os.MkdirTemp("", "auditclient-example-")
	defer os.RemoveAll(dir)
	srv, stop, err := startCordon(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	ctx := context.Background()
	c, err := auditclient.New(auditclient.Config{
		Server: srv.url,
		Token:  srv.token, // an admin token with the scope audit:write
		Log:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			log.Printf("audit events not committed: %v", err)
		}
	}()

	// In a request handler: queue, and learn the outcome later (or never
	// wait, and let Flush and Close report failures).
	p, err := c.Send(ctx, auditclient.Event{
		Principal:  "svc-support",
		Action:     auditclient.ActionRead,
		Subject:    "alice",
		Categories: []string{"profile", "email"},
		Purpose:    "TICKET-4411 req=7f3a9c", // an id of the access tells it from a retried duplicate
		Source:     "support-7",
	})
	if err != nil {
		log.Fatal(err) // the event is invalid, the buffer stayed full, or the client is closed
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		i, err := p.Wait(ctx)
		var refused *auditclient.Error
		switch {
		case errors.As(err, &refused):
			log.Printf("cordon refused the event's %s: %s", refused.Field, refused.Message)
		case err != nil:
			log.Printf("read not recorded: %v", err)
		default:
			fmt.Printf("read recorded at index %d\n", i)
		}
	}()

	// Before an export: only go on once the export is on record.
	index, err := c.Record(ctx, auditclient.Event{
		Principal:  "svc-support",
		Action:     auditclient.ActionExport,
		Subject:    "alice",
		Categories: []string{"listening_history"},
		Purpose:    "GDPR-ACCESS-2231",
	})
	if err != nil {
		log.Fatalf("export not recorded, not exporting: %v", err)
	}
	<-done
	fmt.Printf("export recorded at index %d of cordon's audit log\n", index)
	// Output:
	// read recorded at index 0
	// export recorded at index 1 of cordon's audit log
}

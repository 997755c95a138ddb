package auditclient_test

import (
	"context"
	"errors"
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
	ctx := context.Background()
	c, err := auditclient.New(auditclient.Config{
		Server: "http://cordon:8080",
		Token:  os.Getenv("CORDON_AUDIT_TOKEN"), // an admin token with the scope audit:write
		Log:    slog.Default(),
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
	go func() {
		if _, err := p.Wait(ctx); err != nil {
			var refused *auditclient.Error
			if errors.As(err, &refused) {
				log.Printf("cordon refused the event's %s: %s", refused.Field, refused.Message)
			}
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
	log.Printf("export recorded at index %d of cordon's audit log", index)
}

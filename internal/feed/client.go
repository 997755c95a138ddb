package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"sync/atomic"
	"time"
)

// Client defaults.
const (
	DefaultMinBackoff  = 50 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	DefaultIdleTimeout = 45 * time.Second // three missed pings
)

// errIdle ends a connection that went silent: a half-open TCP connection
// (a server host that vanished, a NAT that forgot us) never reports an
// error on its own, and the gate would keep an ever older policy.
var errIdle = errors.New("feed: no bytes from the server within the idle timeout")

// Client follows the feed from an enforcement point. Run reconnects for as
// long as its context lives, resuming after the last event it applied, so
// the caller sees every event once and in order, or a snapshot that
// replaces what it held. While the control plane is unreachable nothing is
// applied and the caller keeps enforcing what it has: fail static.
//
// Set the exported fields before Run and leave them; a Client must not be
// copied after first use. Connected, LastEventAt and LastEventID may be
// called from any goroutine.
type Client struct {
	// URL of the feed, e.g. http://control:8080/v1/gate/feed.
	URL string
	// Token is sent as "Authorization: Bearer <Token>" when set.
	Token string
	// HTTP sends the requests (http.DefaultClient when nil). Its Timeout
	// must be zero, since a stream lives for hours; IdleTimeout bounds a
	// silent one instead.
	HTTP *http.Client
	// Log receives reconnects and refusals (discarded when nil).
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the jittered exponential wait
	// between attempts (DefaultMinBackoff, DefaultMaxBackoff). A refused
	// token is retried every MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout is how long a connection may bring no bytes at all, not
	// even a ping, before it is taken for dead (DefaultIdleTimeout). Keep it
	// a few times the server's ping interval.
	IdleTimeout time.Duration

	connected   atomic.Bool
	lastEventAt atomic.Int64 // Unix nanoseconds; 0 before the first
	lastID      atomic.Pointer[string]
}

// Connected reports whether a stream is open right now.
func (c *Client) Connected() bool { return c.connected.Load() }

// LastEventAt returns when the last event or ping arrived (zero before the
// first): how stale the caller's view of the policy may be.
func (c *Client) LastEventAt() time.Time {
	ns := c.lastEventAt.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// LastEventID returns the id of the last event applied, which the next
// connection resumes after.
func (c *Client) LastEventID() string {
	if p := c.lastID.Load(); p != nil {
		return *p
	}
	return ""
}

// Run connects, calls apply for each event in order, and reconnects with
// backoff whenever the stream ends, until ctx ends; it then returns
// ctx.Err(). apply runs on Run's goroutine: while it runs, no more events
// are read, and one that stalls long enough is dropped by the server and
// resumed later. Run must not be called twice at once.
func (c *Client) Run(ctx context.Context, apply func(Event)) error {
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	minB, maxB := c.MinBackoff, c.MaxBackoff
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	if minB <= 0 {
		minB = min(DefaultMinBackoff, maxB)
	}
	maxB = max(maxB, minB)

	attempt := 0
	for {
		applied, err := c.stream(ctx, apply)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if applied {
			attempt = 0
		}
		var delay time.Duration
		var se *statusError
		if errors.As(err, &se) && (se.status == http.StatusUnauthorized || se.status == http.StatusForbidden) {
			// Backing off harder would not help: only the operator can
			// fix the token, and the gate should notice soon after.
			delay = maxB
			log.ErrorContext(ctx, "feed: control plane refused the gate's token", "url", c.URL, "err", err, "retry_in", delay)
		} else {
			delay = backoff(minB, maxB, attempt)
			attempt++
			log.WarnContext(ctx, "feed: stream ended; reconnecting", "url", c.URL, "err", err,
				"retry_in", delay, "last_event_id", c.LastEventID())
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff returns the wait before the next attempt: doubling from minB up
// to maxB, with the upper half jittered so that gates cut off together do
// not all come back in the same instant.
func backoff(minB, maxB time.Duration, attempt int) time.Duration {
	d := minB
	for range attempt {
		if d >= maxB/2 {
			d = maxB
			break
		}
		d *= 2
	}
	d = min(d, maxB)
	return d/2 + rand.N(d/2+1)
}

// statusError is an answer other than 200.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("feed: server answered %d: %s", e.status, e.body)
}

// stream runs one connection; applied reports whether any event arrived,
// which makes the next reconnect quick again.
func (c *Client) stream(ctx context.Context, apply func(Event)) (applied bool, err error) {
	idle := c.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The watchdog covers the wait for the answer too: a server that
	// accepts and then says nothing is as dead as one that went silent.
	watchdog := time.AfterFunc(idle, func() { cancel(errIdle) })
	defer watchdog.Stop()
	defer func() {
		if errors.Is(context.Cause(ctx), errIdle) {
			err = errIdle
		}
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-store")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if id := c.LastEventID(); id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, &statusError{status: resp.StatusCode, body: string(body)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, fmt.Errorf("feed: server answered content type %q, not an event stream", mt)
	}

	c.connected.Store(true)
	defer c.connected.Store(false)
	p := newSSEParser(&idleReader{r: resp.Body, watchdog: watchdog, idle: idle})
	p.onComment = func([]byte) { c.lastEventAt.Store(time.Now().UnixNano()) }
	for {
		ev, err := p.next()
		if err != nil {
			return applied, err
		}
		var e Event
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			// Skipping it would leave a gap; reconnecting after the last
			// good event keeps enforcing what we have and asks again.
			return applied, fmt.Errorf("feed: decode event %q: %w", ev.ID, err)
		}
		if e.Kind == "" {
			e.Kind = ev.Type
		}
		apply(e)
		applied = true
		if ev.ID != "" {
			c.lastID.Store(&ev.ID)
		}
		c.lastEventAt.Store(time.Now().UnixNano())
		watchdog.Reset(idle) // a slow apply is not a silent server
	}
}

// idleReader re-arms the watchdog whenever bytes arrive.
type idleReader struct {
	r        io.Reader
	watchdog *time.Timer
	idle     time.Duration
}

func (r *idleReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.watchdog.Reset(r.idle)
	}
	return n, err
}

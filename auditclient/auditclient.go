// Package auditclient reports data-access events to cordon's audit log
// (POST /audit/v1/events) from a Go service. Send checks an event, queues
// it and returns at once with a Pending; one goroutine per Client groups
// queued events into batches (by size, or after FlushInterval), posts one
// batch at a time, so events keep the order they were sent in, and
// retries a batch that met a transient failure until it is committed.
//
//	c, err := auditclient.New(auditclient.Config{Server: "http://cordon:8080", Token: token})
//	…
//	p, err := c.Send(ctx, auditclient.Event{Principal: "svc-support", Action: auditclient.ActionRead,
//		Subject: "alice", Categories: []string{"email"}, Purpose: "TICKET-4411"})
//	…
//	defer c.Close(ctx) // sends what is queued, as long as ctx allows
//
// # Durability
//
// An event is durable once its Pending's Wait returns its index (or
// Record returns): cordon answers a batch only after the transaction
// that appends it has committed to its store, so the event survives a
// crash of the cordon process or of its machine, at that index of the log
// (PostgreSQL commits durably by default; cordon commits audit appends to
// SQLite with synchronous=FULL). The checkpoint
// that signs it, which makes later tampering evident, follows within the
// server's checkpoint interval (cordon serve --audit-checkpoint-every and
// --audit-checkpoint-interval). Until then the event lives only in this
// process's memory: if the reporting process dies, events it has queued
// are lost. Flush and Close return once every event sent before them is
// committed or refused, and say whether any was not committed.
//
// # Failures
//
// Transient failures (no answer, a 5xx, 408 or 429) are retried with the
// same batch after a backoff that doubles from MinBackoff to MaxBackoff,
// with jitter, or after the server's Retry-After when that is longer. They
// are retried for as long as the Client is open: while cordon is down
// events wait in the buffer, and Send waits once MaxBuffered are waiting.
//
// Any other 4xx is a refusal and is never retried. cordon takes a batch
// all or nothing and names the first event it refuses; the client then
// refuses that event, and any other event of the batch the same answer
// shows bad (the same unknown category, a time as far in the future), and
// sends the rest again at once, so one bad event costs the others
// nothing. Their Waits return an *Error naming the field. A refusal of the
// request as a whole (401 or 403: the token; 404: no audit API at that
// address) refuses every event of the batch; later batches are still
// tried.
//
// # Duplicates
//
// Delivery is exactly once against cordon. Every attempt at a batch
// carries the same Idempotency-Key (its request id, also sent as
// X-Request-Id): if the connection fails after cordon has committed a
// batch but before its answer arrives, the retry appends nothing and is
// answered with the indexes of the first commit. cordon remembers a key
// for a day (auditlog.DefaultBatchWindow); a retry later than that — a
// client held for a day behind a dead network — would append again. A
// batch split after a refusal is a new batch with a new key. Events equal
// in every field are still equal entries: when two real accesses must be
// told from one, put an id of the access in Purpose or Source.
package auditclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for Config.
const (
	DefaultMaxBatch      = 1000
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMaxBuffered   = 100_000
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
)

// Config is what a Client is built from. Only Server and Token are
// required.
type Config struct {
	// Server is cordon's base URL, e.g. "http://cordon:8080".
	Server string
	// Token is an admin token with the scope audit:write.
	Token string
	// HTTPClient sends the requests; nil means one on
	// http.DefaultTransport.
	HTTPClient *http.Client
	// MaxBatch is the most events one request carries: DefaultMaxBatch
	// when 0, at most MaxBatch. A batch is also kept within the server's
	// 8 MiB body limit.
	MaxBatch int
	// FlushInterval is how long an event may wait for its batch to fill
	// before it is sent anyway: DefaultFlushInterval when 0. Flush,
	// Record and Close send at once. While a batch is in flight the next
	// one fills regardless.
	FlushInterval time.Duration
	// MaxBuffered bounds the events sent and not yet committed or
	// refused, and so the memory the client holds (about 500 bytes an
	// event): DefaultMaxBuffered when 0, at least MaxBatch. Send waits
	// while it is reached.
	MaxBuffered int
	// MinBackoff and MaxBackoff bound the wait before a retry
	// (DefaultMinBackoff and DefaultMaxBackoff when 0). A server's
	// Retry-After is honoured up to 5 minutes even beyond MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt: DefaultTimeout when 0.
	Timeout time.Duration
	// Log receives retries, refusals and possible duplicates; nil
	// discards them. It is given no token and of an event only the name
	// of a refused field.
	Log *slog.Logger
}

// LogValue keeps the token out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("server", c.Server), slog.String("token", "[redacted]"),
		slog.Int("max_batch", c.MaxBatch), slog.Duration("flush_interval", c.FlushInterval),
		slog.Int("max_buffered", c.MaxBuffered))
}

// String keeps the token out of fmt output.
func (c Config) String() string {
	return fmt.Sprintf("{Server:%s Token:[redacted] MaxBatch:%d FlushInterval:%s MaxBuffered:%d}",
		c.Server, c.MaxBatch, c.FlushInterval, c.MaxBuffered)
}

// GoString keeps the token out of %#v output.
func (c Config) GoString() string { return "auditclient.Config" + c.String() }

// Client reports events to one cordon server. It is safe for concurrent
// use. Close it: its goroutine runs until then.
type Client struct {
	url        string
	token      string
	http       *http.Client
	log        *slog.Logger
	maxBatch   int
	maxBuf     int
	interval   time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	timeout    time.Duration

	// abort ends when Close gives up: it cancels the request in flight
	// and any wait for a retry.
	abort   context.Context
	cancel  context.CancelCauseFunc
	wake    chan struct{} // the sender's doorbell: events, a flush, Close
	stopped chan struct{} // closed when the sender has returned

	mu       sync.Mutex
	queue    []*item // sent and not yet in a batch, in order
	queued   int     // bytes of queue's encodings
	buffered int     // len(queue) plus the batch in flight
	lastSeq  uint64  // the seq of the last event sent; they start at 1
	resolved uint64  // every event up to this seq is committed or refused
	flushTo  uint64  // events up to this seq go without waiting
	closed   bool
	room     chan struct{} // closed, and replaced, when buffered falls
	flushes  []*flushPoint // Flush calls waiting, by upto
	tail     failures      // failures after the last flush point that no Flush has reported
}

// item is one event on its way.
type item struct {
	seq  uint64
	json []byte
	at   time.Time // when it was queued
	p    *Pending
}

// flushPoint is where one or more Flush calls wait: for every event up to
// upto to be resolved. It collects the failures among them that no
// earlier Flush reported.
type flushPoint struct {
	upto    uint64
	f       failures
	waiters int
	done    chan struct{}
}

// New checks c and starts the client's sender. It does not contact the
// server.
func New(c Config) (*Client, error) {
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("auditclient: server %q is not an http or https URL", c.Server)
	}
	if c.Token == "" {
		return nil, errors.New("auditclient: no token; cordon needs an admin token with the scope audit:write")
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxBatch < 0 || c.MaxBatch > MaxBatch {
		return nil, fmt.Errorf("auditclient: MaxBatch %d is outside 1 to %d", c.MaxBatch, MaxBatch)
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = max(DefaultMaxBuffered, c.MaxBatch)
	}
	if c.MaxBuffered < c.MaxBatch {
		return nil, fmt.Errorf("auditclient: MaxBuffered %d is less than MaxBatch %d", c.MaxBuffered, c.MaxBatch)
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		return nil, fmt.Errorf("auditclient: MaxBackoff %s is less than MinBackoff %s", c.MaxBackoff, c.MinBackoff)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	abort, cancel := context.WithCancelCause(context.Background())
	cl := &Client{
		url: strings.TrimRight(c.Server, "/") + "/audit/v1/events", token: c.Token, http: c.HTTPClient, log: c.Log,
		maxBatch: c.MaxBatch, maxBuf: c.MaxBuffered, interval: c.FlushInterval,
		minBackoff: c.MinBackoff, maxBackoff: c.MaxBackoff, timeout: c.Timeout,
		abort: abort, cancel: cancel, wake: make(chan struct{}, 1), stopped: make(chan struct{}),
		room: make(chan struct{}),
	}
	go cl.run()
	return cl, nil
}

// Pending is an event sent and not yet known to be committed.
type Pending struct {
	done  chan struct{}
	index uint64
	err   error
}

// Wait returns the event's index in the log once its batch is committed:
// the event is then durable. It returns an error when the event was
// refused (an *Error), abandoned by Close (ErrClosed, ErrUnconfirmed), or
// when ctx ends first; in that last case the event is still on its way
// and a later Wait may return its index. With a ctx that has ended Wait
// does not block.
func (p *Pending) Wait(ctx context.Context) (uint64, error) {
	select {
	case <-p.done:
		return p.index, p.err
	default:
	}
	select {
	case <-p.done:
		return p.index, p.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Done is closed when the event is committed or has failed; Wait then
// says which.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Send checks e, queues it and returns at once. A zero e.Time becomes the
// current time. An event the client can tell is invalid is refused here
// with an *Error naming the field; the server's category set and clock
// are checked when the batch arrives. While MaxBuffered events are
// waiting Send waits for room until ctx ends, then returns an error
// wrapping ErrFull; with a ctx that has ended it never waits. After Close
// it returns ErrClosed.
func (c *Client) Send(ctx context.Context, e Event) (*Pending, error) {
	return c.send(ctx, e, false)
}

// Record sends e at once, without waiting for a batch to fill, and
// returns its index when it is committed: on return without error e is
// durable. If ctx ends first the event is still sent.
func (c *Client) Record(ctx context.Context, e Event) (uint64, error) {
	p, err := c.send(ctx, e, true)
	if err != nil {
		return 0, err
	}
	return p.Wait(ctx)
}

func (c *Client) send(ctx context.Context, e Event, now bool) (*Pending, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b, err := e.encode()
	if err != nil {
		return nil, err
	}
	it := &item{json: b, p: &Pending{done: make(chan struct{})}}
	c.mu.Lock()
	for c.buffered >= c.maxBuf && !c.closed {
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %d events are waiting for cordon: %w", ErrFull, c.maxBuf, ctx.Err())
		}
		c.mu.Lock()
	}
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.lastSeq++
	it.seq, it.at = c.lastSeq, time.Now()
	c.queue = append(c.queue, it)
	c.queued += len(b)
	c.buffered++
	if now {
		c.flushTo = max(c.flushTo, it.seq)
	}
	// The sender needs to hear of the first event (to time the interval
	// from it), of a full batch, and of a flush.
	ring := now || len(c.queue) == 1 || len(c.queue) >= c.maxBatch || c.queued+len(c.queue) >= maxBody
	c.mu.Unlock()
	if ring {
		c.ring()
	}
	return it.p, nil
}

func (c *Client) ring() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Flush sends every event sent before it at once and returns when each
// is committed or has failed. It returns nil when all of them were
// committed. Otherwise it returns an error that counts the failures and
// wraps the first (an *Error for a refusal); each event's Wait says
// which. A failure is reported by the first Flush to cover it, so with
// one goroutine calling Send and Flush in turn, a nil Flush means every
// event since the previous Flush is durable. If ctx ends first Flush
// returns its error, and the events are still on their way.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	upto := c.lastSeq
	if upto <= c.resolved {
		f := c.tail
		c.tail = failures{}
		c.mu.Unlock()
		return f.err()
	}
	var p *flushPoint
	if n := len(c.flushes); n > 0 && c.flushes[n-1].upto == upto {
		p = c.flushes[n-1]
	} else {
		// The tail's failures are all of events up to upto.
		p = &flushPoint{upto: upto, f: c.tail, done: make(chan struct{})}
		c.tail = failures{}
		c.flushes = append(c.flushes, p)
	}
	p.waiters++
	c.flushTo = max(c.flushTo, upto)
	c.mu.Unlock()
	c.ring()

	select {
	case <-p.done:
		return p.f.err()
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-p.done:
		return p.f.err()
	default:
	}
	p.waiters--
	if p.waiters == 0 {
		// Hand the failures on to the next Flush to cover them.
		k := slices.Index(c.flushes, p)
		c.flushes = slices.Delete(c.flushes, k, k+1)
		if k < len(c.flushes) {
			c.flushes[k].f.merge(p.f)
		} else {
			c.tail.merge(p.f)
		}
	}
	return ctx.Err()
}

// Close stops taking events, sends every event already sent, and stops
// the client's goroutine. It waits as long as ctx allows: when ctx ends
// first it cancels the request in flight and fails the events not yet
// committed (ErrClosed for those not sent, ErrUnconfirmed for a batch
// that was in flight). It returns nil when every event was committed and
// reported; else an error like Flush's, counting the failures no Flush
// has reported.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.flushTo = c.lastSeq
		close(c.room) // Sends waiting for room return ErrClosed
		c.room = make(chan struct{})
	}
	c.mu.Unlock()
	c.ring()
	select {
	case <-c.stopped:
	case <-ctx.Done():
		c.cancel(fmt.Errorf("close gave up: %w", context.Cause(ctx)))
		<-c.stopped
	}
	c.cancel(ErrClosed) // the sender has returned; this only frees the context
	c.mu.Lock()
	f := c.tail
	c.tail = failures{}
	c.mu.Unlock()
	return f.err()
}

package auditclient

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	randv2 "math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxRetryAfter caps a server's Retry-After, so a wrong header cannot
// park the client for hours.
const maxRetryAfter = 5 * time.Minute

// run is the sender: it takes batches off the queue and delivers them,
// one at a time, until the client is closed and the queue is empty, or
// Close gives up.
func (c *Client) run() {
	defer close(c.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch, wait, stop := c.next()
		if stop {
			return
		}
		if batch != nil {
			c.deliver(batch)
			continue
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-c.wake:
		case <-timer.C:
		case <-c.abort.Done():
		}
		timer.Stop()
	}
}

// next returns the next batch to send; or, when none is due, how long
// until the oldest event's interval ends (0: until rung); or stop.
func (c *Client) next() (batch []*item, wait time.Duration, stop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := context.Cause(c.abort); err != nil {
		if len(c.queue) > 0 {
			c.log.Error("audit client closed with events not sent", "events", len(c.queue), "err", err)
			c.resolveLocked(c.queue, fmt.Errorf("%w before the event was sent: %w", ErrClosed, err))
			c.doneLocked(c.queue)
			c.queue, c.queued = nil, 0
		}
		return nil, 0, true
	}
	if len(c.queue) == 0 {
		return nil, 0, c.closed
	}
	full := len(c.queue) >= c.maxBatch || c.queued+len(c.queue) >= maxBody
	if !full && !c.closed && c.queue[0].seq > c.flushTo {
		if d := time.Until(c.queue[0].at.Add(c.interval)); d > 0 {
			return nil, d, false
		}
	}
	n, size := 0, 1 // the array's brackets, less the comma the first event does not need
	for n < len(c.queue) && n < c.maxBatch && size+len(c.queue[n].json)+1 <= maxBody {
		size += len(c.queue[n].json) + 1
		n++
	}
	n = max(n, 1)
	batch = slices.Clone(c.queue[:n])
	clear(c.queue[:n])
	c.queue = c.queue[n:]
	for _, it := range batch {
		c.queued -= len(it.json)
	}
	return batch, 0, false
}

// deliver sends batch until every event of it is committed or has
// failed, then frees its room.
func (c *Client) deliver(batch []*item) {
	work := [][]*item{batch}
	for len(work) > 0 {
		b := work[0]
		work = work[1:]
		a := c.attempt(b)
		switch {
		case a.aborted != nil:
			if a.unsure {
				c.resolve(b, fmt.Errorf("%w: %w", ErrUnconfirmed, a.aborted))
			} else {
				c.resolve(b, fmt.Errorf("%w before the event was committed: %w", ErrClosed, a.aborted))
			}
			for _, rest := range work {
				c.resolve(rest, fmt.Errorf("%w before the event was sent: %w", ErrClosed, a.aborted))
			}
			c.log.Error("audit client closed with events not committed", "request_id", a.id,
				"events", len(b)+countItems(work), "unconfirmed", a.unsure, "err", a.aborted)
			work = nil
		case a.unconfirmed != nil:
			c.log.Error("audit batch answered, but not with its indexes", "request_id", a.id, "events", len(b), "err", a.unconfirmed)
			c.resolve(b, a.unconfirmed)
		case a.refusal == nil:
			for i, it := range b {
				it.p.index = a.first + uint64(i)
				close(it.p.done)
			}
			if a.unsure && !a.replayed {
				c.log.Warn("audit batch committed after an attempt whose answer was lost, by a server that keeps no idempotency key; its events may be stored twice",
					"request_id", a.id, "first_index", a.first, "last_index", a.first+uint64(len(b))-1)
			}
		default:
			work = append(c.refused(b, a.id, a.refusal), work...)
		}
	}
	c.mu.Lock()
	c.doneLocked(batch)
	c.mu.Unlock()
}

// doneLocked notes that every event of batch, the oldest outstanding, is
// resolved: it frees their room and ends the Flushes they complete. c.mu
// is held.
func (c *Client) doneLocked(batch []*item) {
	c.buffered -= len(batch)
	c.resolved = batch[len(batch)-1].seq
	close(c.room)
	c.room = make(chan struct{})
	for len(c.flushes) > 0 && c.flushes[0].upto <= c.resolved {
		close(c.flushes[0].done)
		c.flushes = c.flushes[1:]
	}
}

func countItems(work [][]*item) int {
	n := 0
	for _, b := range work {
		n += len(b)
	}
	return n
}

// refused fails the events of b that the refusal r is about and returns
// what is left to send again.
func (c *Client) refused(b []*item, id string, r *refusal) [][]*item {
	i, field := r.event()
	if i < 0 || i >= len(b) {
		if r.err.Code == codeTooLarge && len(b) > 1 {
			// A server whose limit is below ours: halve until it fits.
			c.log.Warn("audit batch too large for the server; splitting it", "request_id", id, "events", len(b))
			return [][]*item{b[:len(b)/2], b[len(b)/2:]}
		}
		c.log.Error("audit batch refused", "request_id", id, "events", len(b),
			"status", r.err.Status, "code", r.err.Code, "message", r.err.Message)
		c.resolve(b, r.err)
		return nil
	}
	e := *r.err
	e.Field = field
	e.Message = strings.TrimPrefix(e.Message, "event "+strconv.Itoa(i)+": ")
	bad := map[int]*Error{i: &e}
	// Events before i passed the server's checks; later ones that fail
	// the same check are refused with it rather than one request each.
	var be Event
	if json.Unmarshal(b[i].json, &be) != nil {
		be = Event{}
	}
	for k := i + 1; k < len(b); k++ {
		if f, ok := sameFault(be, field, b[k].json); ok {
			ek := e
			ek.Field = f
			bad[k] = &ek
		}
	}
	c.log.Error("audit events refused", "request_id", id, "events", len(bad),
		"status", e.Status, "code", e.Code, "field", field, "message", e.Message)
	var rest []*item
	for k, it := range b {
		if err, ok := bad[k]; ok {
			c.resolve([]*item{it}, err)
		} else {
			rest = append(rest, it)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return [][]*item{rest}
}

// sameFault reports whether other fails the check that refused bad's
// field, and names other's field. Only two checks depend on the server
// (Send made the rest): its category set, and its clock, which it reads
// once per batch, so an event at least as late as a refused one is
// refused too.
func sameFault(be Event, field string, other []byte) (string, bool) {
	var oe Event
	if be.Time.IsZero() || json.Unmarshal(other, &oe) != nil {
		return "", false
	}
	if field == "time" {
		return "time", !oe.Time.Before(be.Time)
	}
	j, ok := index(field, "categories")
	if !ok || j >= len(be.Categories) {
		return "", false
	}
	m := slices.Index(oe.Categories, be.Categories[j])
	if m < 0 {
		return "", false
	}
	return "categories[" + strconv.Itoa(m) + "]", true
}

// index parses "name[N]" and returns N.
func index(s, name string) (int, bool) {
	s, ok := strings.CutPrefix(s, name+"[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// resolve fails items with err.
func (c *Client) resolve(items []*item, err error) {
	c.mu.Lock()
	c.resolveLocked(items, err)
	c.mu.Unlock()
}

// resolveLocked fails items with err and counts them for the Flush that
// will report them; c.mu is held.
func (c *Client) resolveLocked(items []*item, err error) {
	for _, it := range items {
		it.p.err = err
		close(it.p.done)
		// The first Flush waiting for this event reports it.
		if k, _ := slices.BinarySearchFunc(c.flushes, it.seq, func(p *flushPoint, seq uint64) int {
			return cmp.Compare(p.upto, seq)
		}); k < len(c.flushes) {
			c.flushes[k].f.add(err)
		} else {
			c.tail.add(err)
		}
	}
}

// outcome is how a batch's delivery ended.
type outcome struct {
	id          string
	first       uint64   // the first event's index, when committed
	refusal     *refusal // a 4xx other than 408 and 429
	unconfirmed error    // an answer that is not cordon's
	aborted     error    // Close gave up
	// unsure: an attempt sent the whole request and got no answer, so
	// the server may have committed it.
	unsure bool
	// replayed: the server answered from an earlier attempt's commit.
	replayed bool
}

// refusal is a 4xx answer.
type refusal struct {
	err   *Error
	field string // as the server named it, e.g. "events[3].categories[0]"
}

// event returns the index of the event the refusal names, or -1, and the
// field within it.
func (r *refusal) event() (int, string) {
	s, ok := strings.CutPrefix(r.field, "events[")
	if !ok {
		return -1, ""
	}
	num, rest, ok := strings.Cut(s, "]")
	if !ok {
		return -1, ""
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 {
		return -1, ""
	}
	return i, strings.TrimPrefix(rest, ".")
}

// attempt posts b, retrying transient failures, until an answer settles
// it or Close gives up.
func (c *Client) attempt(b []*item) outcome {
	body := make([]byte, 0, 2+len(b)*(len(b[0].json)+1))
	body = append(body, '[')
	for i, it := range b {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, it.json...)
	}
	body = append(body, ']')
	o := outcome{id: requestID()}
	for n := 0; ; n++ {
		r := c.post(body, o.id)
		var retryAfter time.Duration
		switch {
		case r.err != nil:
			o.unsure = o.unsure || r.wrote
			if err := context.Cause(c.abort); err != nil {
				o.aborted = err
				return o
			}
			c.log.Warn("audit batch not delivered; retrying", "request_id", o.id, "events", len(b), "attempt", n+1, "err", r.err)
		case r.status == http.StatusOK:
			first, replayed, err := committed(r.body, len(b))
			if err != nil {
				o.unconfirmed = err
			} else {
				o.first, o.replayed = first, replayed
			}
			return o
		case r.status >= 500 || r.status == http.StatusTooManyRequests || r.status == http.StatusRequestTimeout:
			// A gateway's 502 or 504 may come after cordon committed.
			if r.status == http.StatusBadGateway || r.status == http.StatusGatewayTimeout {
				o.unsure = true
			}
			retryAfter = parseRetryAfter(r.header.Get("Retry-After"))
			e, _ := answerError(r.status, r.body)
			c.log.Warn("audit batch not delivered; retrying", "request_id", o.id, "events", len(b), "attempt", n+1,
				"status", r.status, "code", e.Code, "message", e.Message)
		default:
			e, field := answerError(r.status, r.body)
			o.refusal = &refusal{err: e, field: field}
			return o
		}
		wait := max(c.backoff(n), retryAfter)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.abort.Done():
			t.Stop()
			o.aborted = context.Cause(c.abort)
			return o
		}
	}
}

// backoff is the wait before retry n+1: doubling from minBackoff, capped
// at maxBackoff, with the upper half random so that clients that failed
// together do not retry together.
func (c *Client) backoff(n int) time.Duration {
	d := c.maxBackoff
	if n < 32 && c.minBackoff<<n < c.maxBackoff && c.minBackoff<<n > 0 {
		d = c.minBackoff << n
	}
	return d/2 + randv2.N(d/2+1)
}

// parseRetryAfter reads a Retry-After of seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

// committed reads the answer to a committed batch of n events.
func committed(body []byte, n int) (first uint64, replayed bool, err error) {
	var a struct {
		Accepted   *int    `json:"accepted"`
		FirstIndex *uint64 `json:"first_index"`
		LastIndex  *uint64 `json:"last_index"`
		Replayed   bool    `json:"replayed"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Accepted == nil || a.FirstIndex == nil || a.LastIndex == nil {
		return 0, false, fmt.Errorf("%w: the server answered 200 without the ingest answer", ErrUnconfirmed)
	}
	if *a.Accepted != n || *a.LastIndex-*a.FirstIndex != uint64(n-1) {
		return 0, false, fmt.Errorf("%w: the server accepted %d events at %d..%d of a batch of %d",
			ErrUnconfirmed, *a.Accepted, *a.FirstIndex, *a.LastIndex, n)
	}
	return *a.FirstIndex, a.Replayed, nil
}

// answerError reads cordon's JSON error and the field as the server named
// it; another body (a proxy's page) gives the status text.
func answerError(status int, body []byte) (*Error, string) {
	var b struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Field   string `json:"field"`
	}
	if json.Unmarshal(body, &b) != nil || b.Error == "" {
		b.Error, b.Message, b.Field = "http_"+strconv.Itoa(status), http.StatusText(status), ""
	}
	return &Error{Status: status, Code: b.Error, Message: b.Message}, b.Field
}

// response is one attempt's result.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error
	wrote  bool // the whole request was written
}

func (c *Client) post(body []byte, id string) response {
	ctx, cancel := context.WithTimeout(c.abort, c.timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return response{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("X-Request-Id", id)
	// The same key on every attempt at one batch: a retry after a lost
	// answer is answered from the first commit and appends nothing.
	req.Header.Set("Idempotency-Key", id)
	req.Header.Set("User-Agent", "cordon-auditclient")
	resp, err := c.http.Do(req)
	if err != nil {
		return response{err: err, wrote: wrote.Load()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if resp.StatusCode == http.StatusOK {
			// Committed, but the indexes are lost: sending again would
			// store the batch twice for certain. committed says so.
			return response{status: http.StatusOK}
		}
		return response{err: fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err), wrote: true}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data, wrote: true}
}

// requestID names a batch in both sides' logs; cordon takes it as the
// request's id.
func requestID() string {
	var b [8]byte
	rand.Read(b[:])
	return "audit-" + hex.EncodeToString(b[:])
}

package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReportCapacity is the number of reports a Reporter holds unless
// told otherwise; past it, reports are counted as dropped.
const DefaultReportCapacity = 4096

// DefaultReportEvery is how often a Reporter sends what it holds.
const DefaultReportEvery = 2 * time.Second

// maxReportBatch is the most reports the server takes in one batch
// (campaign.MaxGateReports).
const maxReportBatch = 1000

// recentSlots sizes the table of (campaign, session) pairs reported
// lately, so a client retrying a denied request does not queue a report
// per request: 64K slots of 8 bytes, in sets of four.
const recentSlots = 1 << 16

// ReporterConfig says where a Reporter sends what the gate enforced.
type ReporterConfig struct {
	// Server is the cordon server that counts the reports, at POST
	// {Server}/v1/gate/reports; Token is an admin token with scope gate
	// (the one a Follower reads the feed with).
	Server string
	Token  string
	// Capacity bounds the reports held between sends
	// (DefaultReportCapacity when zero).
	Capacity int
	// Every is how often the reports are sent (DefaultReportEvery when
	// zero); a full batch is sent at once.
	Every time.Duration
	// Client sends the batches; one with a 10 s timeout when nil.
	Client *http.Client
	// Log receives failed sends; nothing when nil.
	Log *slog.Logger
}

// ReporterStats counts what a Reporter did.
type ReporterStats struct {
	// Sent is the reports the server took (counted or refused).
	Sent int64
	// Refused is the reports the server did not count (a campaign or a
	// session it does not know, an outcome it would not give).
	Refused int64
	// Dropped is the reports not kept because the buffer was full.
	Dropped int64
	// Pending is the reports held now.
	Pending int
}

type report struct {
	Campaign string `json:"campaign"`
	Session  string `json:"session"`
	Outcome  string `json:"outcome"`
	h        uint64
}

// Reporter tells the control plane what a Gate enforced — each campaign
// denial and each flexible upgrade prompt — so a campaign's progress does
// not depend on apps calling the server after a refusal. It is given to a
// Gate through Options.Reporter and runs with Run.
//
// Memory is bounded: at most Capacity reports are held (a full buffer
// counts what it drops, and the count travels with the next batch), and
// a fixed table remembers the pairs reported lately so a client retrying
// a refused request costs a hash and an atomic read. Batches go out every
// Every (2 s), so a denial reaches progress a few seconds late at most. A
// batch that cannot be sent is kept for the next try as far as the buffer
// allows. Safe for concurrent use.
type Reporter struct {
	url    string
	token  string
	client *http.Client
	log    *slog.Logger
	every  time.Duration
	cap    int
	seed   maphash.Seed

	recent [recentSlots]atomic.Uint64

	mu      sync.Mutex
	buf     []report
	dropped int64 // since the last batch the server took
	kick    chan struct{}

	sent, refused, droppedTotal atomic.Int64
}

// NewReporter returns a Reporter that sends to cfg.Server.
func NewReporter(cfg ReporterConfig) (*Reporter, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("gate: ReporterConfig.Server must be an http(s) URL")
	}
	r := &Reporter{
		url: strings.TrimRight(cfg.Server, "/") + "/v1/gate/reports", token: cfg.Token,
		client: cfg.Client, log: cfg.Log, every: cfg.Every, cap: cfg.Capacity,
		seed: maphash.MakeSeed(), kick: make(chan struct{}, 1),
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: 10 * time.Second}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.every <= 0 {
		r.every = DefaultReportEvery
	}
	if r.cap <= 0 {
		r.cap = DefaultReportCapacity
	}
	return r, nil
}

// hash is never 0, which marks an empty slot.
func (r *Reporter) hash(campaign, session string, prompted bool) uint64 {
	h := maphash.String(r.seed, session)
	h ^= (maphash.String(r.seed, campaign) + 0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	if prompted {
		h = ^h
	}
	return h | 1
}

// Record notes that campaign denied (prompted false) or prompted session.
// It never blocks on the network.
func (r *Reporter) Record(campaign, session string, prompted bool) {
	h := r.hash(campaign, session, prompted)
	// Four slots per pair (a 4-way set in one cache line), so busy pairs
	// that share a set do not evict each other on every request.
	set := r.recent[h%recentSlots&^3:][:4]
	slot := &set[(h>>32)&3]
	for i := range set {
		switch v := set[i].Load(); v {
		case h:
			return // reported lately
		case 0:
			slot = &set[i]
		}
	}
	outcome := "denied"
	if prompted {
		outcome = "prompted"
	}
	r.mu.Lock()
	if len(r.buf) >= r.cap {
		r.dropped++
		r.mu.Unlock()
		r.droppedTotal.Add(1)
		return
	}
	slot.Store(h)
	r.buf = append(r.buf, report{Campaign: campaign, Session: session, Outcome: outcome, h: h})
	full := len(r.buf) >= maxReportBatch
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// Stats returns what the Reporter has done so far.
func (r *Reporter) Stats() ReporterStats {
	r.mu.Lock()
	n := len(r.buf)
	r.mu.Unlock()
	return ReporterStats{Sent: r.sent.Load(), Refused: r.refused.Load(), Dropped: r.droppedTotal.Load(), Pending: n}
}

// Run sends the reports every Every until ctx ends, then once more
// (within 2 s) so a gate shutting down loses as little as it can.
func (r *Reporter) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = r.Flush(fctx)
			cancel()
			return
		case <-t.C:
		case <-r.kick:
		}
		if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("gate reports not sent; kept for the next try", "err", err)
		}
	}
}

// Flush sends every report held now, in batches the server takes.
func (r *Reporter) Flush(ctx context.Context) error {
	for {
		r.mu.Lock()
		n := min(len(r.buf), maxReportBatch)
		dropped := r.dropped
		if n == 0 && dropped == 0 {
			r.mu.Unlock()
			return nil
		}
		batch := make([]report, n)
		copy(batch, r.buf[:n])
		r.buf = append(r.buf[:0], r.buf[n:]...)
		r.dropped = 0
		r.mu.Unlock()

		refused, err := r.send(ctx, batch, dropped)
		var perm *refusedBatch
		if errors.As(err, &perm) {
			// The server will never take this batch (a token without
			// scope gate, a revoked one): keeping it would only fill
			// the buffer. It is dropped and counted.
			r.droppedTotal.Add(int64(len(batch)))
			r.forget(batch)
			r.mu.Lock()
			r.dropped += dropped + int64(len(batch))
			r.mu.Unlock()
			return err
		}
		if err != nil {
			r.putBack(batch, dropped)
			return err
		}
		r.sent.Add(int64(len(batch)))
		r.refused.Add(int64(refused))
		if n < maxReportBatch {
			return nil
		}
	}
}

// putBack keeps a batch that could not be sent, as far as the buffer
// allows; what does not fit is dropped, and forgotten by the table of
// recent pairs so a later request reports it again.
func (r *Reporter) putBack(batch []report, dropped int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	room := max(0, r.cap-len(r.buf))
	keep := batch[:min(room, len(batch))]
	r.buf = append(keep[:len(keep):len(keep)], r.buf...)
	lost := batch[len(keep):]
	r.forget(lost)
	r.dropped += dropped + int64(len(lost))
	r.droppedTotal.Add(int64(len(lost)))
}

// send posts one batch and returns how many reports the server refused.
func (r *Reporter) send(ctx context.Context, batch []report, dropped int64) (int, error) {
	body, err := json.Marshal(struct {
		Reports []report `json:"reports"`
		Dropped int64    `json:"dropped"`
	}{batch, dropped})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("gate reports: the server answered %d: %s", resp.StatusCode, bytes.TrimSpace(data[:min(len(data), 200)]))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
			return 0, &refusedBatch{err}
		}
		return 0, err
	}
	var res struct {
		Refused []json.RawMessage `json:"refused"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return 0, fmt.Errorf("gate reports: unreadable answer: %w", err)
	}
	return len(res.Refused), nil
}

// refusedBatch is a batch the server refused for good (a 4xx other than
// 408 and 429): sending it again would be refused again.
type refusedBatch struct{ err error }

func (e *refusedBatch) Error() string { return e.err.Error() }
func (e *refusedBatch) Unwrap() error { return e.err }

// forget removes reports from the table of pairs reported lately, so a
// later request reports them again.
func (r *Reporter) forget(reports []report) {
	for _, b := range reports {
		for i := range 4 {
			r.recent[b.h%recentSlots&^3+uint64(i)].CompareAndSwap(b.h, 0)
		}
	}
}

package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/ssf"
)

// Webhook delivers new alerts to a receiver, signed the way Standard
// Webhooks (standardwebhooks.com) sign: headers webhook-id,
// webhook-timestamp (Unix seconds) and webhook-signature "v1,BASE64", the
// HMAC-SHA256 under the shared secret of "ID.TIMESTAMP.BODY". No Go
// library for the scheme is among the vetted modules; it is a dozen lines
// over crypto/hmac.
//
// Delivery is queued and retried with backoff in a goroutine of its own,
// so neither detection nor the store waits for the receiver. The URL
// policy is Shared Signals' push policy (package ssf): https on the open
// network, every connection's address checked after DNS.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	clock  clock.Clock
	log    *slog.Logger
	queue  chan delivery
	// Backoff is the first retry's delay, doubled for each next one.
	backoff time.Duration
	tries   int

	delivered, failed atomic.Int64
}

type delivery struct {
	id   string
	body []byte
}

// SecretPrefix begins a Standard Webhooks secret: whsec_ then base64.
const SecretPrefix = "whsec_"

// ParseSecret reads a Standard Webhooks secret (whsec_BASE64, at least 24
// bytes once decoded).
func ParseSecret(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(strings.TrimSpace(s), SecretPrefix)
	if !ok {
		return nil, errors.New("a webhook secret begins whsec_ (whsec_ then base64 of 24 to 64 random bytes)")
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("the webhook secret after whsec_ is not base64: %v", err)
	}
	if len(b) < 24 || len(b) > 64 {
		return nil, fmt.Errorf("the webhook secret is %d bytes; 24 to 64 are accepted", len(b))
	}
	return b, nil
}

// WebhookConfig is what a Webhook is built from.
type WebhookConfig struct {
	URL    string
	Secret []byte
	// Policy is the push policy (ssf.Policy{AllowHTTP} lets tests use a
	// loopback http:// receiver).
	Policy ssf.Policy
	Clock  clock.Clock
	Log    *slog.Logger
	// Tries bounds the deliveries of one alert (5); Backoff is the first
	// retry's delay (1 s), doubling.
	Tries   int
	Backoff time.Duration
}

// NewWebhook checks the URL against the push policy and returns a webhook;
// Run delivers.
func NewWebhook(c WebhookConfig) (*Webhook, error) {
	if err := ssf.CheckEndpoint(c.URL, c.Policy); err != nil {
		var e *cordon.Error
		if errors.As(err, &e) {
			return nil, fmt.Errorf("--alert-webhook: %s", strings.ReplaceAll(e.Message, "endpoint_url", "the webhook URL"))
		}
		return nil, fmt.Errorf("--alert-webhook: %w", err)
	}
	if len(c.Secret) == 0 {
		return nil, errors.New("--alert-webhook needs a secret (CORDON_ALERT_WEBHOOK_SECRET=whsec_…)")
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Tries <= 0 {
		c.Tries = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	return &Webhook{url: c.URL, secret: c.Secret, client: ssf.PushClient(c.Policy, 10*time.Second), clock: c.Clock, log: c.Log,
		queue: make(chan delivery, 1024), backoff: c.Backoff, tries: c.Tries}, nil
}

// Event is the body a receiver gets.
type Event struct {
	Type  string        `json:"type"` // "alert.raised"
	At    time.Time     `json:"timestamp"`
	Alert *cordon.Alert `json:"data"`
}

// Send queues a new alert and returns at once; a full queue drops it
// (logged; the alert is stored, and cordon alert list shows it).
func (w *Webhook) Send(a *cordon.Alert) {
	body, err := json.Marshal(Event{Type: "alert.raised", At: w.clock.Now().UTC(), Alert: a})
	if err != nil {
		return
	}
	select {
	case w.queue <- delivery{id: "msg_" + a.ID + "_" + strconv.FormatInt(a.Version, 10), body: body}:
	default:
		w.failed.Add(1)
		w.log.Error("alert webhook queue full; alert not delivered", "alert", a.ID)
	}
}

// Delivered and Failed count deliveries.
func (w *Webhook) Delivered() int64 { return w.delivered.Load() }
func (w *Webhook) Failed() int64    { return w.failed.Load() }

// Sign returns the webhook-signature value of a message.
func Sign(secret []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Run delivers until ctx ends.
func (w *Webhook) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-w.queue:
			w.deliver(ctx, d)
		}
	}
}

// deliver posts one message, retrying a network error, a 429 or a 5xx
// with doubling delays; a 4xx other than 429 is the receiver's refusal
// and is not retried.
func (w *Webhook) deliver(ctx context.Context, d delivery) {
	wait := w.backoff
	for try := 1; ; try++ {
		status, err := w.post(ctx, d)
		if err == nil && status/100 == 2 {
			w.delivered.Add(1)
			return
		}
		final := try >= w.tries || (err == nil && status/100 == 4 && status != http.StatusTooManyRequests)
		if final {
			w.failed.Add(1)
			w.log.Error("alert webhook gave up", "id", d.id, "tries", try, "status", status, "err", err)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait *= 2
	}
}

func (w *Webhook) post(ctx context.Context, d delivery) (int, error) {
	ts := w.clock.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", d.id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(w.secret, d.id, ts, d.body))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Package outbox delivers email durably: callers enqueue messages under
// an idempotency key (one message per key, ever), and a worker on each
// node claims due messages from the store under a lease, sends them
// through an SMTP relay (package mail), and records the outcome — sent,
// retried later with exponential backoff after a 4xx answer or a broken
// connection, or failed for good after a 5xx answer, with the relay's
// reason kept.
//
// The guarantee: a message is never lost (it stays in the store until
// sent or failed; a worker that dies mid-send leaves a lease that
// expires, and any node's worker takes the message over) and never sent
// twice for one key, except in one window: the relay accepted the
// message (250 after DATA) and the worker died before the store recorded
// it. The worker records the acceptance as soon as the relay has
// answered (the DATA answer, then QUIT's), so the window is one QUIT
// round trip and one store write long; a copy sent in it carries the same
// Message-ID (derived from the key), which mail clients use to fold
// duplicates.
package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/mail"
)

// Sender sends one email; *mail.Sender is one. A failure that is a
// *mail.Error with Permanent set is given up; any other is retried.
type Sender interface {
	Send(ctx context.Context, m mail.Message) error
}

// Renderer completes a message just before it is sent, for content that
// must not rest in the store (a reset link's secret). It returns the
// text to send. An error wrapping ErrGiveUp gives the message up with
// that reason; any other is retried later, like a relay's 4xx.
type Renderer func(ctx context.Context, m *cordon.MailMessage) (text string, err error)

// ErrGiveUp, wrapped by a Renderer's error, says the message must not be
// sent at all (its account is gone, its campaign ended).
var ErrGiveUp = errors.New("not sent")

// Config is an outbox and its worker. Store is required; without a
// Sender messages are queued and counted but nobody sends them (a node
// with no relay configured).
type Config struct {
	Store  cordon.MailStore
	Sender Sender
	Clock  clock.Clock
	Log    *slog.Logger
	// Owner names this worker in leases; default a random id.
	Owner string
	// Domain is the right side of Message-IDs; default "cordon.invalid".
	Domain string
	// Rate bounds sends per second across the worker; 0 is unbounded.
	Rate float64
	// Lease is how long a claim lasts (default 2 min). SendTimeout is
	// the longest one send may take (mail.Config.Timeout, default 30 s):
	// a message is sent only while its lease has at least that long to
	// run, so no other node can claim it during the send. Lease must be
	// at least twice SendTimeout.
	Lease, SendTimeout time.Duration
	// Batch is how many messages one claim takes (default 32); Parallel
	// how many are sent at once (default 4).
	Batch, Parallel int
	// Poll is how often an idle worker looks for due messages (default
	// 2 s); Enqueue on this outbox wakes it at once.
	Poll time.Duration
	// Backoff is the first retry's delay, doubling per attempt up to
	// MaxBackoff (defaults 30 s and 1 h); MaxAttempts gives up (default
	// 12, about a day).
	Backoff, MaxBackoff time.Duration
	MaxAttempts         int
	// Renderers complete messages by kind: the key's text before the
	// first ':' ("reset").
	Renderers map[string]Renderer
}

// Outbox enqueues, counts and (Run) delivers. Safe for concurrent use.
type Outbox struct {
	cfg  Config
	wake chan struct{}

	limMu sync.Mutex
	next  time.Time // the earliest time the next send may start
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Outbox, error) {
	if cfg.Store == nil {
		return nil, errors.New("outbox: a store is required")
	}
	if cfg.Rate < 0 {
		return nil, errors.New("outbox: the rate must not be negative")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Owner == "" {
		cfg.Owner = cordon.NewID("w")
	}
	if cfg.Domain == "" {
		cfg.Domain = "cordon.invalid"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Lease, 2*time.Minute)
	def(&cfg.SendTimeout, 30*time.Second)
	if cfg.Lease < 2*cfg.SendTimeout {
		return nil, fmt.Errorf("outbox: a lease of %v is too short for sends of up to %v", cfg.Lease, cfg.SendTimeout)
	}
	def(&cfg.Poll, 2*time.Second)
	def(&cfg.Backoff, 30*time.Second)
	def(&cfg.MaxBackoff, time.Hour)
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.Rate > 0 {
		// Claim no more than the rate lets leave within a quarter lease.
		cfg.Batch = max(1, min(cfg.Batch, int(cfg.Rate*cfg.Lease.Seconds()/4)))
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	return &Outbox{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Message is an email to enqueue.
type Message struct {
	// Key is the idempotency key, kind:object:account by convention
	// ("notice:n-1:u-2", "reset:c-3:u-2"): a second Enqueue with a key
	// already stored, in any state, does nothing.
	Key      string
	To       string
	Subject  string
	Text     string
	Language string
}

// MaxText bounds a message's text.
const MaxText = 64 << 10

// Enqueue stores messages, all or none, and returns how many were new.
// Each is checked as the relay would build it, so a message that could
// never be sent is refused now rather than failed later.
func (o *Outbox) Enqueue(ctx context.Context, ms []Message) (int, error) {
	now := o.cfg.Clock.Now()
	rows := make([]*cordon.MailMessage, 0, len(ms))
	for _, m := range ms {
		if err := cordon.CheckMailKey(m.Key); err != nil {
			return 0, err
		}
		if len(m.Text) > MaxText || len(m.Subject) > 998 {
			return 0, cordon.FieldError(cordon.ECodeInvalid, "text", "message %s is too long", m.Key)
		}
		if _, err := mail.Build("cordon <noreply@cordon.invalid>", o.mailMessage(m.Key, m.To, m.Subject, m.Text, m.Language, now)); err != nil {
			return 0, cordon.FieldError(cordon.ECodeInvalid, "message", "message %s: %v", m.Key, err)
		}
		rows = append(rows, &cordon.MailMessage{Key: m.Key, To: m.To, Subject: m.Subject, Text: m.Text, Language: m.Language, CreatedAt: now})
	}
	n, err := o.cfg.Store.EnqueueMail(ctx, rows)
	if err == nil && n > 0 {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return n, err
}

// Counts returns the progress of the messages whose key starts with
// prefix ("notice:n-1:").
func (o *Outbox) Counts(ctx context.Context, prefix string) (cordon.MailCounts, error) {
	return o.cfg.Store.MailCounts(ctx, prefix)
}

// MessageID is the Message-ID of the message with key: stable, so a copy
// resent in the at-least-once window is recognisably the same message.
func (o *Outbox) MessageID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]) + "@" + o.cfg.Domain
}

func (o *Outbox) mailMessage(key, to, subject, text, lang string, at time.Time) mail.Message {
	return mail.Message{To: to, Subject: subject, Text: text, Language: lang, ID: o.MessageID(key), Date: at}
}

// Run delivers until ctx ends. Sends in flight when it ends are cut;
// their messages go back to the queue (or, if the worker cannot record
// that, their leases expire) and are sent by the next worker.
func (o *Outbox) Run(ctx context.Context) error {
	if o.cfg.Sender == nil {
		o.cfg.Log.Info("outbox: no SMTP relay configured; emails stay queued")
		return nil
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
		case <-t.C:
		}
		n, err := o.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			o.cfg.Log.Warn("outbox: claim", "err", err)
		}
		wait := o.cfg.Poll
		if n == o.cfg.Batch {
			wait = 0 // more may be due
		}
		t.Reset(wait)
	}
}

// RunOnce claims one batch of due messages and sends it, and returns how
// many it claimed.
func (o *Outbox) RunOnce(ctx context.Context) (int, error) {
	if o.cfg.Sender == nil {
		return 0, errors.New("outbox: no sender")
	}
	ms, err := o.cfg.Store.ClaimMail(ctx, o.cfg.Owner, o.cfg.Clock.Now(), o.cfg.Lease, o.cfg.Batch)
	if err != nil {
		return 0, err
	}
	work := make(chan *cordon.MailMessage)
	var wg sync.WaitGroup
	for range min(o.cfg.Parallel, len(ms)) {
		wg.Go(func() {
			for m := range work {
				o.deliver(ctx, m)
			}
		})
	}
	for _, m := range ms {
		work <- m
	}
	close(work)
	wg.Wait()
	return len(ms), nil
}

// wait holds a send until the rate allows it.
func (o *Outbox) wait(ctx context.Context) error {
	if o.cfg.Rate == 0 {
		return nil
	}
	o.limMu.Lock()
	now := time.Now()
	start := o.next
	if start.Before(now) {
		start = now
	}
	o.next = start.Add(time.Duration(float64(time.Second) / o.cfg.Rate))
	o.limMu.Unlock()
	d := time.Until(start)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (o *Outbox) deliver(ctx context.Context, m *cordon.MailMessage) {
	// The outcome is recorded even when ctx ended mid-send: a message
	// must go back to the queue (or stay sent) whatever stopped us.
	rec := context.WithoutCancel(ctx)
	if err := o.wait(ctx); err != nil {
		o.retry(rec, m, 0, "worker stopped before sending")
		return
	}
	// The claim must outlast the send, or another node could take the
	// message over mid-send and send it too: a message whose lease is
	// nearly spent (a slow batch, a stalled relay) goes back, due now.
	if o.cfg.Clock.Now().Add(o.cfg.SendTimeout).After(m.LeaseUntil) {
		o.retry(rec, m, 0, "claim ran out before sending; put back")
		return
	}
	text := m.Text
	kind, _, _ := strings.Cut(m.Key, ":")
	if r := o.cfg.Renderers[kind]; r != nil {
		t, err := r(ctx, m)
		if err != nil && ctx.Err() != nil {
			// Cut mid-render by a stopping worker: like a cut send, due
			// again at once. Checked before the renderer's verdict, which
			// a cut query can garble (database/sql may answer ErrNoRows
			// for a cancelled read, and "not found" is a give-up).
			o.retry(rec, m, 0, "worker stopped mid-render; put back")
			return
		}
		if errors.Is(err, ErrGiveUp) {
			o.fail(rec, m, err.Error())
			return
		}
		if err != nil {
			o.retry(rec, m, o.backoff(m.Attempts), "not rendered: "+err.Error())
			return
		}
		text = t
		// Rendering waits on the store (the one writer, its busy
		// timeout): the claim must still outlast the send after it.
		if left := m.LeaseUntil.Sub(o.cfg.Clock.Now()); left < o.cfg.SendTimeout {
			o.retry(rec, m, 0, "claim ran out while rendering; put back")
			return
		}
	}
	err := o.cfg.Sender.Send(ctx, o.mailMessage(m.Key, m.To, m.Subject, text, m.Language, o.cfg.Clock.Now()))
	if err == nil {
		o.sent(rec, m)
		return
	}
	var me *mail.Error
	reason := err.Error()
	if errors.As(err, &me) {
		reason = me.Error()
		if me.Permanent {
			o.fail(rec, m, reason)
			return
		}
	}
	if ctx.Err() != nil {
		// The worker is stopping and cut this send: not the relay's
		// failure, so no attempt's backoff; the next worker takes it
		// at once (the relay may have it already: the at-least-once
		// window the package doc names).
		o.retry(rec, m, 0, "worker stopped mid-send; put back")
		return
	}
	if m.Attempts >= o.cfg.MaxAttempts {
		o.fail(rec, m, fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, reason))
		return
	}
	o.retry(rec, m, o.backoff(m.Attempts), reason)
}

// backoff is the delay after the attempt-th failure: Backoff doubled per
// attempt, capped, with up to a fifth added at random so the retries of
// one outage do not all fall on one instant.
func (o *Outbox) backoff(attempt int) time.Duration {
	d := o.cfg.Backoff
	for i := 1; i < attempt && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// sent records an acceptance; a store that fails is asked again a few
// times, since until it answers, a crash would send the message again.
func (o *Outbox) sent(ctx context.Context, m *cordon.MailMessage) {
	var err error
	for i := range 5 {
		if err = o.cfg.Store.MarkMailSent(ctx, m.Key, o.cfg.Clock.Now()); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	o.cfg.Log.Error("outbox: a sent message was not recorded; it will be sent again when its lease expires", "key", m.Key, "err", err)
}

func (o *Outbox) retry(ctx context.Context, m *cordon.MailMessage, after time.Duration, reason string) {
	if err := o.cfg.Store.RetryMail(ctx, m.Key, o.cfg.Owner, o.cfg.Clock.Now().Add(after), reason); err != nil {
		o.cfg.Log.Warn("outbox: retry not recorded; the lease will expire", "key", m.Key, "err", err)
	}
}

func (o *Outbox) fail(ctx context.Context, m *cordon.MailMessage, reason string) {
	o.cfg.Log.Warn("outbox: message given up", "key", m.Key, "reason", reason)
	if err := o.cfg.Store.FailMail(ctx, m.Key, o.cfg.Owner, reason); err != nil {
		o.cfg.Log.Warn("outbox: failure not recorded", "key", m.Key, "err", err)
	}
}

// Enqueuer is what QueueAccounts queues into: an Outbox.
type Enqueuer interface {
	Enqueue(ctx context.Context, ms []Message) (int, error)
}

// Accounts reads the accounts QueueAccounts writes to.
type Accounts interface {
	AccountByID(ctx context.Context, id string) (*cordon.Account, error)
}

// queueBatch is how many messages QueueAccounts enqueues at once.
const queueBatch = 500

// QueueAccounts queues msg(account) for every account of ids that is
// still there, has an address and is not locked, in batches; queued is
// how many were new (a key queued before adds nothing), without how many
// accounts had no address or a lock.
func QueueAccounts(ctx context.Context, o Enqueuer, accounts Accounts, ids []string, msg func(*cordon.Account) Message) (queued, without int, err error) {
	var batch []Message
	flush := func() error {
		n, err := o.Enqueue(ctx, batch)
		queued += n
		batch = batch[:0]
		return err
	}
	for _, id := range ids {
		a, err := accounts.AccountByID(ctx, id)
		if errors.Is(err, cordon.ErrNotFound) {
			continue
		}
		if err != nil {
			return queued, without, err
		}
		if a.Email == "" || !a.LockedAt.IsZero() {
			without++
			continue
		}
		batch = append(batch, msg(a))
		if len(batch) == queueBatch {
			if err := flush(); err != nil {
				return queued, without, err
			}
		}
	}
	if len(batch) > 0 {
		err = flush()
	}
	return queued, without, err
}

// Package ssf makes cordon an OpenID Shared Signals transmitter (SSF 1.0):
// receivers configure streams, and cordon sends them RFC 8417 security
// event tokens — CAEP session-revoked and credential-change, RISC
// account-credential-change-required — by push (RFC 8935) or poll (RFC
// 8936), signed with the key that signs access tokens.
//
// Events are read from the store, not from the code paths that cause them:
// every tick the transmitter reads the sessions revoked since its cursor
// (RevokedSince), so a revocation made by any node, by any path, is
// transmitted, and a restart re-reads a window instead of losing what was
// in flight. Each SET is signed once and kept in the store's outbox with a
// jti derived from the stream and the event, so reading an event twice
// enqueues it once and a retry resends the same bytes.
package ssf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// Config tunes a Transmitter. Zero fields take the defaults.
type Config struct {
	// Issuer is cordon's issuer: the SETs' iss and the iss of subjects.
	Issuer string
	// Keys returns the key set that signs.
	Keys func() *token.KeySet
	// Policy is the push endpoint policy.
	Policy Policy
	// Tick is how often the transmitter reads new events and pushes
	// (default 1 s).
	Tick time.Duration
	// Lookback is how far back a starting transmitter reads revocations
	// (default 10 minutes): what a restart inside it missed is sent.
	Lookback time.Duration
	// QueueLimit bounds each stream's undelivered SETs (default 10,000);
	// beyond it the oldest are dropped and counted.
	QueueLimit int
	// StreamsPerOwner bounds the streams one token may hold (default 10).
	StreamsPerOwner int
	// Keep is how long a delivered SET's jti is remembered (default 24 h).
	Keep time.Duration
	// Backoff is the first retry delay after a transient push failure
	// (default 1 s), doubling per attempt up to MaxBackoff (default 5 min).
	Backoff, MaxBackoff time.Duration
	// PushTimeout bounds one push (default 10 s).
	PushTimeout time.Duration
	// Campaigns returns the enforcing policy, for the admissions of
	// password_reset and reauth campaigns; nil sends none.
	Campaigns PolicyFunc
	// Client sends pushes; nil builds one that enforces Policy at every
	// connection and follows no redirect.
	Client *http.Client
}

// Transmitter is the Shared Signals service: streams, events, delivery.
type Transmitter struct {
	store cordon.Store
	clock clock.Clock
	log   *slog.Logger
	cfg   Config

	mu       sync.Mutex
	cursor   time.Time
	recent   map[string]time.Time // session ids handled, by revocation time
	verified map[string]time.Time // stream id to last verification
	// admLook is when admissions were last looked for, admCursor the
	// time up to which they were.
	admLook, admCursor time.Time
	// pwCursor is the time up to which password changes were read.
	pwCursor time.Time
	wake     chan struct{}
}

// New returns a transmitter; Run starts its work.
func New(store cordon.Store, clk clock.Clock, log *slog.Logger, cfg Config) *Transmitter {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = 10 * time.Minute
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 10000
	}
	if cfg.StreamsPerOwner <= 0 {
		cfg.StreamsPerOwner = 10
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 24 * time.Hour
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = PushClient(cfg.Policy, cfg.PushTimeout)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Transmitter{store: store, clock: clk, log: log, cfg: cfg, cursor: clk.Now().Add(-cfg.Lookback),
		admCursor: clk.Now().Add(-cfg.Lookback), pwCursor: clk.Now().Add(-cfg.Lookback), recent: map[string]time.Time{}, verified: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// PushClient returns the HTTP client pushes go through: every connection's
// address (after DNS) is checked against p, no proxy from the environment
// (it would hide the address), no redirects (a 3xx is the receiver's
// answer, not a new target).
func PushClient(p Policy, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		return dialAllowed(address, p)
	}}
	tr := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Run reads events and pushes until ctx ends.
func (t *Transmitter) Run(ctx context.Context) {
	tick := time.NewTicker(t.cfg.Tick)
	defer tick.Stop()
	lastPrune := time.Time{}
	for {
		if err := t.Step(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("shared signals step failed", "err", err)
		}
		if now := t.clock.Now(); now.Sub(lastPrune) > time.Hour {
			if _, err := t.store.PruneSSF(ctx, now.Add(-t.cfg.Keep)); err == nil {
				lastPrune = now
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-t.wake:
		}
	}
}

// Step reads new events into the outboxes and pushes what is due, once.
func (t *Transmitter) Step(ctx context.Context) error {
	all, err := t.store.SSFStreams(ctx, "")
	if err != nil {
		return err
	}
	streams, err := t.owned(ctx, all)
	if err != nil {
		return err
	}
	if err := t.collect(ctx, streams); err != nil {
		return err
	}
	if err := t.credentials(ctx, streams); err != nil {
		return err
	}
	if err := t.admissions(ctx, streams); err != nil {
		return err
	}
	// Streams are pushed side by side: a slow receiver does not hold the
	// others back.
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		if s.Delivery == cordon.SSFDeliveryPush && s.Status == cordon.SSFEnabled {
			wg.Go(func() { errs[i] = t.push(ctx, s) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// owned keeps the streams whose owner still holds a usable token with
// the ssf scope. A stream outlives nothing of its owner: once every
// token of that name is revoked, expired or without the scope, its
// stream is queued and sent nothing (a stolen ssf token's stream would
// otherwise go on receiving every user's events after the revocation).
// Events in between are not kept for it; a token issued again under the
// name resumes it from then on.
func (t *Transmitter) owned(ctx context.Context, streams []*cordon.SSFStream) ([]*cordon.SSFStream, error) {
	if len(streams) == 0 {
		return nil, nil
	}
	toks, err := t.store.AdminTokens(ctx)
	if err != nil {
		return nil, err
	}
	now := t.clock.Now()
	owners := map[string]bool{}
	for _, a := range toks {
		if a.Usable(now) && a.HasScope(cordon.ScopeSSF) {
			owners[a.Name] = true
		}
	}
	kept := streams[:0:0]
	for _, s := range streams {
		if owners[s.Owner] {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

func (t *Transmitter) nudge() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// overlap is how far before its cursor each read starts again: a
// revocation committed late with an earlier time (another node's clock, a
// slow commit) is still read; the jti makes a second read harmless.
const overlap = 5 * time.Second

// collect turns revocations since the cursor into SETs for every stream
// that requested them.
func (t *Transmitter) collect(ctx context.Context, streams []*cordon.SSFStream) error {
	t.mu.Lock()
	since := t.cursor.Add(-overlap)
	if len(streams) == 0 {
		// Nobody to tell: a deployment without receivers reads nothing.
		t.cursor = t.clock.Now()
		t.mu.Unlock()
		return nil
	}
	t.mu.Unlock()
	revs, err := t.store.RevokedSince(ctx, since)
	if err != nil {
		return err
	}
	var sets []signal
	newest := since
	for _, r := range revs {
		if r.RevokedAt.After(newest) {
			newest = r.RevokedAt
		}
		t.mu.Lock()
		_, done := t.recent[r.SessionID]
		t.mu.Unlock()
		if done {
			continue
		}
		s, err := t.store.SessionByID(ctx, r.SessionID)
		if err != nil {
			return err
		}
		sets = append(sets, sessionSignals(s)...)
	}
	if len(sets) > 0 {
		if err := t.enqueueAll(ctx, streams, sets); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range revs {
		t.recent[r.SessionID] = r.RevokedAt
	}
	if newest.After(t.cursor) {
		t.cursor = newest
	}
	for id, at := range t.recent {
		if at.Before(t.cursor.Add(-2 * overlap)) {
			delete(t.recent, id)
		}
	}
	return nil
}

// signal is one event about one subject, before it is addressed to a
// stream and signed.
type signal struct {
	key   string // stable: the same event read twice has the same key
	typ   string
	txn   string
	sub   map[string]any
	event map[string]any
}

// initiators says who ended a session, in CAEP's initiating_entity.
var initiators = map[string]string{
	cordon.RevokeLogout:         "user",
	cordon.RevokeUser:           "user",
	cordon.RevokePasswordChange: "user",
	cordon.RevokeAdmin:          "admin",
	cordon.RevokeAccountLocked:  "admin",
	cordon.RevokeAccountDeleted: "admin",
	cordon.RevokeRefreshReuse:   "policy",
}

func sessionSignals(s *cordon.Session) []signal {
	who, ok := initiators[s.RevokeReason]
	if !ok || s.RevokedAt.IsZero() {
		return nil // expired sessions: nothing a receiver must act on
	}
	at := s.RevokedAt.Unix()
	txn := "rev." + s.ID
	if s.RevokeReason == cordon.RevokePasswordChange {
		// One password change ends several sessions: their SETs and the
		// credential change share one transaction id.
		txn = passwordTxn(s.AccountID, s.RevokedAt)
	}
	return []signal{{
		key: "session-revoked/" + s.ID, typ: EventSessionRevoked, txn: txn,
		sub: map[string]any{"format": "complex",
			"session": map[string]any{"format": "opaque", "id": s.ID},
			"user":    map[string]any{"format": "iss_sub", "sub": s.AccountID}},
		event: map[string]any{"event_timestamp": at, "initiating_entity": who,
			"reason_admin": map[string]string{"en": s.RevokeReason}},
	}}
}

// passwordTxn names one password change: its credential-change and the
// session-revoked SETs of the sessions it ended share it.
func passwordTxn(account string, at time.Time) string {
	return fmt.Sprintf("pw.%s.%d", account, at.UnixMicro())
}

func credentialSignal(c cordon.PasswordChange) signal {
	txn := passwordTxn(c.AccountID, c.At)
	return signal{
		key: "credential-change/" + txn, typ: EventCredentialChange, txn: txn,
		sub:   map[string]any{"format": "iss_sub", "sub": c.AccountID},
		event: map[string]any{"event_timestamp": c.At.Unix(), "credential_type": "password", "change_type": "update", "initiating_entity": "user"},
	}
}

// maxChanges bounds the password changes read per step; more wait for the
// next.
const maxChanges = 1000

// credentials turns password changes since the cursor into
// credential-change SETs. A change is read again within the overlap; its
// jti (from the account and the change's time) keeps it one SET.
func (t *Transmitter) credentials(ctx context.Context, streams []*cordon.SSFStream) error {
	t.mu.Lock()
	since := t.pwCursor.Add(-overlap)
	if len(streams) == 0 {
		t.pwCursor = t.clock.Now()
		t.mu.Unlock()
		return nil
	}
	t.mu.Unlock()
	changes, err := t.store.PasswordsChangedSince(ctx, since, maxChanges)
	if err != nil || len(changes) == 0 {
		return err
	}
	sigs := make([]signal, 0, len(changes))
	for _, c := range changes {
		sigs = append(sigs, credentialSignal(c))
	}
	if err := t.enqueueAll(ctx, streams, sigs); err != nil {
		return err
	}
	t.mu.Lock()
	if last := changes[len(changes)-1].At; last.After(t.pwCursor) {
		t.pwCursor = last
	}
	t.mu.Unlock()
	return nil
}

// enqueueAll signs each signal for each stream that wants it and adds it
// to the stream's outbox. Disabled streams drop; paused ones queue.
func (t *Transmitter) enqueueAll(ctx context.Context, streams []*cordon.SSFStream, sigs []signal) error {
	var errs []error
	for _, s := range streams {
		if s.Status == cordon.SSFDisabled {
			continue
		}
		var evs []*cordon.SSFEvent
		for _, g := range sigs {
			if !slices.Contains(Delivered(s), g.typ) {
				continue
			}
			e, err := t.sign(s, g)
			if err != nil {
				return err
			}
			evs = append(evs, e)
		}
		if len(evs) == 0 {
			continue
		}
		dropped, err := t.store.EnqueueSSF(ctx, s.ID, evs, t.cfg.QueueLimit)
		if errors.Is(err, cordon.ErrNotFound) {
			continue // deleted meanwhile
		}
		if dropped > 0 {
			t.log.Warn("shared signals queue full: oldest SETs dropped", "stream", s.ID, "dropped", dropped)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Delivered is what a stream gets: the requested events cordon supports.
func Delivered(s *cordon.SSFStream) []string {
	out := []string{}
	for _, e := range s.EventsRequested {
		if slices.Contains(Supported, e) && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// JTI is the stable id of an event on a stream.
func JTI(streamID, key string) string {
	h := sha256.Sum256([]byte(streamID + "\x00" + key))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

func (t *Transmitter) sign(s *cordon.SSFStream, g signal) (*cordon.SSFEvent, error) {
	now := t.clock.Now()
	sub := g.sub
	// Subjects name cordon's issuer: fill it in at signing.
	sub = withIssuer(sub, t.cfg.Issuer)
	claims := map[string]any{
		"iss":    t.cfg.Issuer,
		"aud":    s.Audience,
		"iat":    now.Unix(),
		"jti":    JTI(s.ID, g.key),
		"sub_id": sub,
		"events": map[string]any{g.typ: g.event},
	}
	if g.txn != "" {
		claims["txn"] = g.txn
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	ks := t.cfg.Keys()
	if ks == nil {
		return nil, errors.New("ssf: no signing key")
	}
	set, err := ks.SignSET(payload)
	if err != nil {
		return nil, err
	}
	return &cordon.SSFEvent{StreamID: s.ID, JTI: claims["jti"].(string), SET: set, CreatedAt: now}, nil
}

func withIssuer(sub map[string]any, iss string) map[string]any {
	out := make(map[string]any, len(sub))
	for k, v := range sub {
		if m, ok := v.(map[string]any); ok {
			v = withIssuer(m, iss)
		}
		out[k] = v
	}
	if out["format"] == "iss_sub" {
		out["iss"] = iss
	}
	return out
}

// push delivers the stream's due SETs one at a time, oldest first.
func (t *Transmitter) push(ctx context.Context, s *cordon.SSFStream) error {
	// The lease outlasts one push's timeout, so a node that dies mid-push
	// leaves the SET to be retried, and no other node pushes it meanwhile.
	lease := t.cfg.PushTimeout + 5*time.Second
	begun := time.Now()
	for range 10 {
		evs, err := t.store.PendingSSF(ctx, s.ID, t.clock.Now(), 50, lease)
		if err != nil || len(evs) == 0 {
			return err
		}
		for i, e := range evs {
			if time.Since(begun) > t.cfg.PushTimeout {
				// A slow receiver costs a round about one timeout, not
				// one per SET; what it claimed waits for its lease.
				return nil
			}
			if err := t.pushOne(ctx, s, e); err != nil {
				if ctx.Err() != nil {
					// The node is stopping: it gives back what it claimed
					// and did not settle (the push cut short included:
					// a receiver dedupes a SET by its jti), so a restart
					// or another node sends them at once, not after the
					// lease.
					t.release(s, evs[i:])
				}
				return err
			}
		}
	}
	return nil
}

// Outcomes of one push.
func (t *Transmitter) pushOne(ctx context.Context, s *cordon.SSFStream, e *cordon.SSFEvent) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.EndpointURL, strings.NewReader(e.SET))
	if err != nil {
		_, err = t.store.SettleSSF(ctx, s.ID, []string{e.JTI}, t.clock.Now(), "bad endpoint: "+err.Error())
		return err
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	if s.Authorization != "" {
		req.Header.Set("Authorization", s.Authorization)
	}
	resp, err := t.cfg.Client.Do(req)
	now := t.clock.Now()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return t.retry(ctx, s, e, now, "push failed: "+scrub(err.Error()))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusAccepted:
		_, err := t.store.SettleSSF(ctx, s.ID, []string{e.JTI}, now, "")
		return err
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return t.retry(ctx, s, e, now, fmt.Sprintf("receiver answered %d", resp.StatusCode))
	default:
		// RFC 8935 §2.3: a 400 says why in {err, description}; the SET
		// will never be accepted, so it is given up on and the reason kept.
		msg := fmt.Sprintf("receiver answered %d", resp.StatusCode)
		var why struct {
			Err         string `json:"err"`
			Description string `json:"description"`
		}
		if json.Unmarshal(body, &why) == nil && why.Err != "" {
			msg += ": " + scrub(why.Err)
			if why.Description != "" {
				msg += " (" + scrub(why.Description) + ")"
			}
		}
		t.log.Warn("shared signals push refused: SET given up", "stream", s.ID, "jti", e.JTI, "why", msg)
		_, err := t.store.SettleSSF(ctx, s.ID, []string{e.JTI}, now, msg)
		return err
	}
}

// release makes claimed events due now again, on a context of its own
// (the node's is done), within a second.
func (t *Transmitter) release(s *cordon.SSFStream, evs []*cordon.SSFEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	now := t.clock.Now()
	for _, e := range evs {
		if err := t.store.DeferSSF(ctx, s.ID, e.JTI, now, now, ""); err != nil && !errors.Is(err, cordon.ErrNotFound) {
			t.log.Warn("shared signals: give back a claimed SET", "stream", s.ID, "jti", e.JTI, "err", err)
			return
		}
	}
}

func (t *Transmitter) retry(ctx context.Context, s *cordon.SSFStream, e *cordon.SSFEvent, now time.Time, why string) error {
	d := t.cfg.Backoff << min(e.Attempts, 20)
	if d > t.cfg.MaxBackoff || d <= 0 {
		d = t.cfg.MaxBackoff
	}
	return t.store.DeferSSF(ctx, s.ID, e.JTI, now.Add(d), now, why)
}

// scrub keeps a receiver's words printable and short.
func scrub(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		if b.Len() >= 200 {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

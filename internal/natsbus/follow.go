package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cordon-dev/cordon/internal/feed"
)

// catchUpPoll is how often Follow asks the server whether a stream's
// catch-up is over when no delivered message has said so: when the last
// retained revocations expire during the catch-up, no message arrives
// that is the last one pending.
const catchUpPoll = 250 * time.Millisecond

// Follow hands apply every event of the feed until ctx ends, and returns
// ctx's error (ErrClosed when the Bus is closed first). It first delivers
// the catch-up — the latest policy, the latest keys and every revocation
// still retained — then live events as they are published; CaughtUp is
// closed once the catch-up is delivered, Ready once a policy and keys and
// the revocations stored before them are. Events of one kind arrive in the
// order they were stored; every revocation arrives, while a policy or key
// set that a newer one replaced before this follower read it is skipped.
// Calls to apply are serialised, and none is made after Follow returns.
// origin is the publisher's Options.Origin ("" if it had none).
//
// While NATS is unreachable nothing is delivered; once it is back, Follow
// resumes after the last event it delivered. An event published twice (a
// retried Publish) is delivered twice; gate.State.Apply takes that in its
// stride. An event that cannot be decoded is logged and skipped. Follow
// returns an error at once if it cannot create its consumers (NATS
// unreachable at that moment); the caller retries.
func (b *Bus) Follow(ctx context.Context, apply func(e feed.Event, origin string)) error {
	if b.closed() {
		return ErrClosed
	}
	subj, ok := b.current()
	if !ok {
		dep, err := b.awaitAnnounced(ctx)
		if err != nil {
			return err
		}
		b.setDeployment(dep)
		subj, _ = b.current()
		go b.watchAnnounced(ctx, dep)
	}
	f := &follower{bus: b, apply: apply, held: make(chan struct{}), quit: make(chan struct{})}
	srcs := []*source{
		{f: f, stream: b.names.latest, filter: subj.feed, kinds: map[string]string{
			subj.policy: feed.KindPolicy,
			subj.keys:   feed.KindKeys,
		}},
		{f: f, stream: b.names.revoke, filter: subj.revoked, kinds: map[string]string{
			subj.revoked: feed.KindRevoke,
		}},
	}
	f.pending = len(srcs)
	f.revoke = srcs[1]
	defer f.stop(srcs)

	ended := make(chan *source, len(srcs))
	for _, s := range srcs {
		if err := s.start(ctx); err != nil {
			return b.wrap("follow "+s.stream, err)
		}
		go func() {
			<-s.cc.Closed()
			ended <- s
		}()
	}
	go f.pollCatchUp(ctx, srcs)
	go f.settle(ctx)

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return ErrClosed
	case s := <-ended:
		if b.closed() {
			return ErrClosed
		}
		return fmt.Errorf("natsbus: follow %s: the consumer stopped (connection closed)", s.stream)
	}
}

// follower is one Follow call.
type follower struct {
	bus   *Bus
	apply func(feed.Event, string)

	mu      sync.Mutex // serialises apply; guards the fields below and each source's
	stopped bool
	pending int // sources not yet caught up

	// What Bus.Ready waits for besides the catch-up.
	policy, keys bool          // a policy, keys delivered
	held         chan struct{} // closed once both are
	revoke       *source
	synced       bool   // every revocation stored before held is delivered
	mark         uint64 // once marked: synced when revoke.lastSeq reaches it
	marked       bool
	quit         chan struct{} // closed by stop
}

// source is one stream that a follower reads.
type source struct {
	f      *follower
	stream string
	filter string            // the one subject filter (nats-server 2.9 takes one)
	kinds  map[string]string // subject → the event kind it carries
	cons   jetstream.Consumer
	cc     jetstream.ConsumeContext

	caught  bool
	lastSeq uint64 // stream sequence of the last message handled
}

func (s *source) start(ctx context.Context) error {
	b := s.f.bus
	cons, err := b.js.OrderedConsumer(ctx, s.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		FilterSubjects: []string{s.filter},
	})
	if err != nil {
		return err
	}
	s.cons = cons
	if cons.CachedInfo().NumPending == 0 {
		s.f.mu.Lock()
		s.f.caughtUpLocked(s)
		s.f.mu.Unlock()
	}
	s.cc, err = cons.Consume(s.handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !b.closed() {
			b.log.Warn("natsbus: follow", "stream", s.stream, "err", err)
		}
	}))
	return err
}

func (s *source) handle(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		s.f.bus.log.Error("natsbus: follow: message without metadata", "stream", s.stream, "err", err)
		return
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	s.lastSeq = md.Sequence.Stream
	if e, ok := s.decode(msg, md.Sequence.Stream); ok {
		f.apply(e, msg.Headers().Get(OriginHeader))
		f.deliveredLocked(e.Kind)
	}
	if md.NumPending == 0 {
		f.caughtUpLocked(s)
	}
	if s == f.revoke && f.marked && !f.synced && s.lastSeq >= f.mark {
		f.syncedLocked()
	}
}

// deliveredLocked notes that an event of kind was delivered, and closes
// held once a policy and keys have been.
func (f *follower) deliveredLocked(kind string) {
	switch kind {
	case feed.KindPolicy:
		f.policy = true
	case feed.KindKeys:
		f.keys = true
	default:
		return
	}
	select {
	case <-f.held:
	default:
		if f.policy && f.keys {
			close(f.held)
		}
	}
}

func (f *follower) syncedLocked() {
	f.synced = true
	f.readyLocked()
}

// readyLocked closes the Bus's Ready once this follower has delivered
// the catch-up and is synced (see settle).
func (f *follower) readyLocked() {
	if f.synced && f.pending == 0 {
		f.bus.readyOnce.Do(func() { close(f.bus.ready) })
	}
}

// settle waits until the follower has delivered a policy and keys, then
// until it has delivered every revocation stored before them; it is what
// makes Bus.Ready sound. The policy and keys come on one consumer and the
// revocations on another, and nothing orders the two deliveries. But the
// last revocation stored on this deployment's subject, asked for after
// the policy and keys were delivered, is at or after every revocation
// stored before them, and the follower is synced once it has handled
// that sequence (or at once when none is stored). A publisher stores a
// snapshot's revocations before its policy and keys (Publish), so they
// are among them. The messages delivered cannot say as much: one sent
// with nothing pending may have been sent before the revocations were
// stored. (Assumes a stream of one replica, or a leader that answers:
// a lagging replica could answer before it holds the revocation.)
func (f *follower) settle(ctx context.Context) {
	if !await(ctx, f, f.held) {
		return
	}
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	var logged time.Time
	for {
		f.mu.Lock()
		over := f.synced || f.stopped
		f.mu.Unlock()
		if over {
			return
		}
		last, found, err := f.lastRevocation(ctx)
		if err != nil {
			if ctx.Err() == nil && time.Since(logged) >= time.Minute {
				f.bus.log.Warn("natsbus: cannot read the last revocation stored; the gate stays not ready until it can", "err", err)
				logged = time.Now()
			}
		} else {
			f.mu.Lock()
			switch {
			case f.stopped || f.synced:
			case !found || f.revoke.lastSeq >= last:
				// Nothing of this deployment's is stored (all expired),
				// or everything up to the last is handled.
				f.syncedLocked()
			case !f.marked:
				// The first answer is enough: handle ends it. A later one
				// would move the mark ahead under steady revocations.
				// Should the marked revocation expire before it is
				// delivered, a later one ends it, or none is left and
				// the next round finds nothing stored.
				f.mark, f.marked = last, true
			}
			f.mu.Unlock()
		}
		if !await(ctx, f, t.C) {
			return
		}
	}
}

// await waits for c and reports whether it came before the follower
// ended (ctx, the Bus closed, or Follow returned).
func await[T any](ctx context.Context, f *follower, c <-chan T) bool {
	select {
	case <-ctx.Done():
		return false
	case <-f.bus.done:
		return false
	case <-f.quit:
		return false
	case <-c:
		return true
	}
}

// infoTimeout bounds each question to the server while following: an
// answer lost to a reconnect must not hang the question for good (an
// ordered consumer's Info holds the consumer's lock while it waits, and
// no message is handed over meanwhile).
const infoTimeout = 5 * time.Second

// lastRevocation asks the server for the stream sequence of the last
// revocation stored on this deployment's subject; found is false when
// none is (none published, or every one expired). The subject, not the
// consumer's account (its Delivered.Stream runs past the last message of
// the subject, to the stream's end: other deployments' revocations, or a
// first sequence moved on by expiry), is what a follower will be handed.
func (f *follower) lastRevocation(ctx context.Context) (seq uint64, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	st, err := f.bus.js.Stream(ctx, f.revoke.stream)
	if err != nil {
		return 0, false, err
	}
	m, err := st.GetLastMsgForSubject(ctx, f.revoke.filter)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return m.Sequence, true, nil
}

func (s *source) decode(msg jetstream.Msg, seq uint64) (feed.Event, bool) {
	log := s.f.bus.log
	kind, ok := s.kinds[msg.Subject()]
	if !ok {
		log.Error("natsbus: follow: message on an unexpected subject", "stream", s.stream, "seq", seq, "subject", msg.Subject())
		return feed.Event{}, false
	}
	var e feed.Event
	if err := json.Unmarshal(msg.Data(), &e); err != nil {
		log.Error("natsbus: follow: undecodable event", "stream", s.stream, "seq", seq, "err", err)
		return feed.Event{}, false
	}
	if e.Kind != kind {
		log.Error("natsbus: follow: event of the wrong kind for its subject", "stream", s.stream, "seq", seq,
			"subject", msg.Subject(), "kind", e.Kind)
		return feed.Event{}, false
	}
	return e, true
}

func (f *follower) caughtUpLocked(s *source) {
	if s.caught {
		return
	}
	s.caught = true
	f.pending--
	if f.pending == 0 {
		f.bus.catchOnce.Do(func() { close(f.bus.caughtUp) })
		f.readyLocked()
	}
}

// pollCatchUp covers what the messages cannot say: a source is caught up
// when the server has nothing pending for its consumer and every message
// the consumer was sent has been handled.
func (f *follower) pollCatchUp(ctx context.Context, srcs []*source) {
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.bus.done:
			return
		case <-t.C:
		}
		waiting := 0
		for _, s := range srcs {
			f.mu.Lock()
			caught, stopped := s.caught, f.stopped
			f.mu.Unlock()
			if stopped {
				return
			}
			if caught {
				continue
			}
			waiting++
			ictx, cancel := context.WithTimeout(ctx, infoTimeout)
			info, err := s.cons.Info(ictx)
			cancel()
			if err != nil || info.NumPending != 0 {
				continue
			}
			f.mu.Lock()
			if info.Delivered.Consumer == 0 || info.Delivered.Stream <= s.lastSeq {
				f.caughtUpLocked(s)
				waiting--
			}
			f.mu.Unlock()
		}
		if waiting == 0 {
			return
		}
	}
}

// stop ends the consumers and waits for a running apply; none starts
// after. The server-side consumers are deleted while the connection is
// up; otherwise the server drops them after their inactivity threshold.
func (f *follower) stop(srcs []*source) {
	for _, s := range srcs {
		if s.cc != nil {
			s.cc.Stop()
		}
	}
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	close(f.quit)
	if f.bus.closed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, s := range srcs {
		if s.cons == nil {
			continue
		}
		if info := s.cons.CachedInfo(); info != nil {
			err := f.bus.js.DeleteConsumer(ctx, s.stream, info.Name)
			if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				f.bus.log.Debug("natsbus: follow: delete consumer", "stream", s.stream, "err", err)
			}
		}
	}
}

// announcePoll is how often a follower without a deployment looks for one
// announced on the bus, while none is.
const announcePoll = 500 * time.Millisecond

// awaitAnnounced returns the deployment announced on the bus, waiting for
// a cordon serve to announce one if none has: a gate may start first.
func (b *Bus) awaitAnnounced(ctx context.Context) (string, error) {
	t := time.NewTicker(announcePoll)
	defer t.Stop()
	logged := false
	for {
		dep, err := b.announced(ctx)
		switch {
		case err == nil:
			b.log.Info("natsbus: following the announced deployment", "deployment", dep)
			return dep, nil
		case errors.Is(err, jetstream.ErrMsgNotFound):
			if !logged {
				b.log.Warn("natsbus: no deployment announced on the bus yet; waiting for a cordon serve", "subject", b.names.directory())
				logged = true
			}
		default:
			b.log.Warn("natsbus: read the announced deployment", "err", err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-b.done:
			return "", ErrClosed
		case <-t.C:
		}
	}
}

// supersededPoll is how often a follower that took the announced
// deployment checks whether another has been announced since.
const supersededPoll = 5 * time.Second

// watchAnnounced notices when a deployment other than dep is announced
// on the bus while this follower follows dep: a new deployment started
// on the same bus URL. The follower keeps following dep (its policy
// versions cannot be compared with the new one's, and a gate keeps the
// highest it has seen), logs the change once and reports it through
// Superseded, so its owner can fail readiness until it is restarted.
func (b *Bus) watchAnnounced(ctx context.Context, dep string) {
	t := time.NewTicker(supersededPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.done:
			return
		case <-t.C:
		}
		now, err := b.announced(ctx)
		if err != nil || now == dep {
			continue
		}
		if b.superseded.Swap(&now) == nil {
			b.log.Error("natsbus: another deployment was announced on this bus; still following the old one: restart to follow the new one, or pin one with deployment= in the bus URL",
				"following", dep, "announced", now)
		}
	}
}

// Superseded returns the deployment announced on the bus since this
// follower took the announced one, or "" while it is still the current
// one (and always for a Bus with a deployment of its own or pinned by
// the URL).
func (b *Bus) Superseded() string {
	if p := b.superseded.Load(); p != nil {
		return *p
	}
	return ""
}

// The waits Retry is given by whoever follows a bus for good: the first
// after a failure, and the most it doubles to.
const (
	RetryFirst = 250 * time.Millisecond
	RetryMost  = 15 * time.Second
)

// Retry runs follow (a Follow of some Bus) until ctx ends or the Bus is
// closed, and returns ctx's error or ErrClosed. A follow that fails (NATS
// away when it makes its consumers, or a consumer that stopped) is logged
// with what and tried again, after a wait that starts at first and
// doubles up to most; a follow that ran longer than most had been
// following, so the wait starts over. Whoever follows a bus for good
// needs this: Follow's own reconnects end with its consumers.
func Retry(ctx context.Context, log *slog.Logger, what string, first, most time.Duration, follow func(context.Context) error) error {
	wait := first
	for {
		began := time.Now()
		err := follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrClosed) {
			return err
		}
		if time.Since(began) > most {
			wait = first
		}
		log.Error(what+"; trying again", "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}

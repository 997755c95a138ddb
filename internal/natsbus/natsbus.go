// Package natsbus carries the policy feed (feed.Event: policy versions,
// session revocations, key sets) over NATS JetStream, so that any number
// of cordon servers publish to, and any number of gates follow, one
// durable log instead of each gate holding an SSE stream to one server.
//
// # What a follower must get
//
// A gate that starts late or reconnects needs the latest policy and the
// latest keys whatever their age, and every revocation still in force —
// and nothing else: older policies and keys are dead weight, and a
// revocation matters only until its session's last access token expires.
//
// # Two streams, because retention differs by kind
//
// JetStream's limits (MaxMsgsPerSubject, MaxAge) hold for a whole stream,
// not per subject, and the two halves of the feed need opposite ones:
//
//   - NAME_LATEST holds PREFIX.feed.policy and PREFIX.feed.keys with
//     MaxMsgsPerSubject 1 and no MaxAge: the latest of each, kept forever,
//     the older ones dropped as the new one lands.
//   - NAME_REVOKE holds PREFIX.feed.revoke with no per-subject limit and
//     MaxAge = Options.RevocationTTL: every revocation, each dropped once
//     no token it refuses can still be valid.
//
// One stream cannot do both: a per-subject limit of 1 would keep only the
// last revocation, and a MaxAge would one day drop the only policy. Per-
// message TTLs (nats-server 2.11) would allow one stream, but the server
// that this project runs on (Debian's, 2.9) has none, and two streams are
// no harder to follow. A KV bucket is a stream like NAME_LATEST under
// another API, but a KV put carries no headers, and the publishing node's
// id travels as the Cordon-Origin header; so NAME_LATEST is a plain
// stream, read the same way as NAME_REVOKE.
//
// # Publishing
//
// Publish returns once the server has acknowledged the event as stored:
// the caller's change is committed and must not be lost with this process.
// A policy is written compare-and-set on its subject's last sequence, and
// only if its version is newer than the stored one: two servers that
// commit versions 5 and 6 and publish them in the wrong order leave 6,
// not 5, for the next late joiner (live followers ignore the older one
// anyway, see gate.State.Apply).
//
// # Following
//
// Follow reads each stream with an ordered consumer from its first
// message: that is the catch-up (the latest policy and keys, the retained
// revocations), and the same consumer then delivers live events. An
// ordered consumer tracks the last stream sequence it delivered and, when
// the connection drops, the server restarts or a heartbeat goes missing,
// recreates itself from the next sequence: no revocation is missed or
// delivered twice (one that outlived RevocationTTL while the follower was
// away refuses no valid token any more). A policy or key set that a newer one replaced before
// a follower read it (a follower away, or a few milliseconds behind) is
// skipped, never the newer one: each is the whole of its part of the
// state. Within a kind events arrive in stream order; across kinds there
// is no order to keep, since each kind changes its own part of a gate's
// state.
//
// The Bus's connection reconnects forever. While NATS is away a Publish
// fails at once with ErrNotConnected (nothing is buffered to be sent
// later behind the caller's back), and a follower keeps what it holds:
// fail static, as with the SSE feed.
//
// Deleting the streams while gates follow them restarts the sequences
// under their feet, and a gate would wait for the sequence after its last
// one: restart the gates after recreating the streams.
package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cordon-dev/cordon/internal/feed"
)

// Defaults of the bus URL's parameters.
const (
	DefaultStream = "CORDON_FEED"
	DefaultPrefix = "cordon"
)

// OriginHeader is the message header that names the node that published
// an event (Options.Origin).
const OriginHeader = "Cordon-Origin"

// Errors that a caller may act on.
var (
	// ErrClosed is returned by Publish and Follow on a closed Bus.
	ErrClosed = errors.New("natsbus: bus closed")
	// ErrNotConnected is returned by a Publish made while the connection
	// is down: the event was not sent. Publish it again, or a snapshot,
	// once the connection is back.
	ErrNotConnected = errors.New("natsbus: not connected to NATS")
)

// Options configure a Bus.
type Options struct {
	// RevocationTTL is how long a revocation is kept for followers that
	// join later: at least the access-token lifetime plus token.Leeway,
	// since a revoked session's last token stays valid that long. Every
	// Open sets the stream's MaxAge to it, so all nodes of a deployment
	// must agree. Required.
	RevocationTTL time.Duration
	// Log receives connection changes and events that cannot be read
	// (discarded when nil).
	Log *slog.Logger
	// Origin names this node. It is sent with every event published, and
	// handed to Follow's callback, so a node can skip its own events.
	Origin string
}

// Bus is one connection to the feed's streams. Publish and Follow may be
// called from any goroutine, any number of times.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	latest jetstream.Stream
	names  names
	log    *slog.Logger
	origin string

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	caughtUp  chan struct{}
	catchOnce sync.Once
}

// names are the streams and subjects of one deployment.
type names struct {
	servers        string // for nats.Connect: one URL or a comma-separated list
	latest, revoke string // streams
	policy, keys   string // subjects on latest
	revoked        string // subject on revoke
}

// parseURL splits a bus URL such as
// nats://host:4222?stream=NAME&prefix=cordon into the servers to dial and
// the names to use. An unknown parameter is an error rather than ignored:
// a misspelt stream= would silently join another deployment's feed.
func parseURL(raw string) (names, error) {
	servers, query, _ := strings.Cut(raw, "?")
	if servers == "" {
		return names{}, errors.New("natsbus: empty bus URL")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return names{}, fmt.Errorf("natsbus: bus URL parameters: %w", err)
	}
	stream, prefix := DefaultStream, DefaultPrefix
	for k, v := range q {
		switch k {
		case "stream":
			stream = v[len(v)-1]
		case "prefix":
			prefix = v[len(v)-1]
		default:
			return names{}, fmt.Errorf("natsbus: unknown bus URL parameter %q (want stream or prefix)", k)
		}
	}
	if !validStream(stream) {
		return names{}, fmt.Errorf("natsbus: stream name %q: want letters, digits, - and _", stream)
	}
	if !validPrefix(prefix) {
		return names{}, fmt.Errorf("natsbus: subject prefix %q: want dot-separated tokens without spaces or wildcards", prefix)
	}
	return names{
		servers: servers,
		latest:  stream + "_LATEST",
		revoke:  stream + "_REVOKE",
		policy:  prefix + ".feed." + feed.KindPolicy,
		keys:    prefix + ".feed." + feed.KindKeys,
		revoked: prefix + ".feed." + feed.KindRevoke,
	}, nil
}

func validStream(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func validPrefix(p string) bool {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return false
		}
	}
	return true
}

// Open connects to the NATS server(s) of url and creates or updates the
// feed's two streams, so the first node to start needs no setup step and
// every node may run it. url is nats://host:port (or a comma-separated
// list) with optional parameters stream (DefaultStream) and prefix
// (DefaultPrefix); deployments or tests that share a server use their
// own. ctx bounds the stream setup; the connection then reconnects
// forever, until Close.
func Open(ctx context.Context, url string, opts Options) (*Bus, error) {
	n, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if opts.RevocationTTL <= 0 {
		return nil, errors.New("natsbus: Options.RevocationTTL must be positive")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := "cordon"
	if opts.Origin != "" {
		name += " " + opts.Origin
	}
	dial := 2 * time.Second
	if d, ok := ctx.Deadline(); ok {
		dial = max(time.Until(d), time.Millisecond)
	}
	nc, err := nats.Connect(n.servers,
		nats.Name(name),
		nats.Timeout(dial),
		nats.MaxReconnects(-1),
		// A gate should be back within about a second of the server.
		nats.ReconnectWait(500*time.Millisecond),
		// Find a half-open connection in 30 s rather than the default 4 min.
		nats.PingInterval(10*time.Second),
		nats.MaxPingsOutstanding(2),
		// No buffering while reconnecting: a Publish then fails at once
		// with ErrNotConnected rather than wait out its deadline and be
		// sent, or not, after it reported failure.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("natsbus: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("natsbus: reconnected", "server", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Error("natsbus: connection error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect: %w", err)
	}
	b, err := open(ctx, nc, n, log, opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

func open(ctx context.Context, nc *nats.Conn, n names, log *slog.Logger, opts Options) (*Bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	latest, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              n.latest,
		Description:       "cordon feed: the latest policy and key set",
		Subjects:          []string{n.policy, n.keys},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: stream %s: %w", n.latest, err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              n.revoke,
		Description:       "cordon feed: session revocations still in force",
		Subjects:          []string{n.revoked},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            opts.RevocationTTL,
		MaxMsgsPerSubject: -1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
	}); err != nil {
		return nil, fmt.Errorf("natsbus: stream %s: %w", n.revoke, err)
	}
	return &Bus{
		nc:       nc,
		js:       js,
		latest:   latest,
		names:    n,
		log:      log,
		origin:   opts.Origin,
		done:     make(chan struct{}),
		caughtUp: make(chan struct{}),
	}, nil
}

// Close closes the connection. Follow calls return ErrClosed, and so does
// every later Publish. It is safe to call more than once.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		close(b.done)
		b.nc.Close()
	})
	return nil
}

func (b *Bus) closed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// CaughtUp is closed once a Follow on this Bus has delivered the catch-up:
// the latest policy and keys and every revocation retained when it began.
// A gate may report ready then.
func (b *Bus) CaughtUp() <-chan struct{} { return b.caughtUp }

// Publish stores e on the feed and returns once the server has
// acknowledged it. A policy event replaces the stored policy unless that
// one has the same or a newer version, in which case Publish does nothing
// and returns nil; a keys event replaces the stored keys; a revoke event
// is added to the revocations (one without sessions is not sent). A
// snapshot is published as its three parts: a node that could not
// publish for a while can publish its whole state to make up for it.
//
// The error is ErrClosed on a closed Bus and ErrNotConnected while the
// connection is down. A Publish that failed otherwise (a timeout) may
// still have been stored; publishing again is harmless, since a policy
// is stored once per version and followers take repeated keys and
// revocations as no change.
func (b *Bus) Publish(ctx context.Context, e feed.Event) error {
	if b.closed() {
		return ErrClosed
	}
	switch e.Kind {
	case feed.KindPolicy:
		if e.Policy == nil {
			return fmt.Errorf("natsbus: policy event %s:%d has no policy", e.Epoch, e.Seq)
		}
		return b.publishPolicy(ctx, e)
	case feed.KindKeys:
		if len(e.JWKS) == 0 {
			return fmt.Errorf("natsbus: keys event %s:%d has no keys", e.Epoch, e.Seq)
		}
		return b.publish(ctx, b.names.keys, b.names.latest, e)
	case feed.KindRevoke:
		if len(e.Revoked) == 0 {
			return nil
		}
		return b.publish(ctx, b.names.revoked, b.names.revoke, e)
	case feed.KindSnapshot:
		parts := []feed.Event{e, e, e}
		parts[0].Kind, parts[0].Revoked, parts[0].JWKS = feed.KindPolicy, nil, nil
		parts[1].Kind, parts[1].Revoked, parts[1].Policy = feed.KindKeys, nil, nil
		parts[2].Kind, parts[2].Policy, parts[2].JWKS = feed.KindRevoke, nil, nil
		for _, p := range parts {
			if err := b.Publish(ctx, p); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("natsbus: event %s:%d has unknown kind %q", e.Epoch, e.Seq, e.Kind)
	}
}

// casAttempts bounds the compare-and-set loop of publishPolicy; each lost
// race means another server stored a policy in between, so a handful
// settles any real contention.
const casAttempts = 8

func (b *Bus) publishPolicy(ctx context.Context, e feed.Event) error {
	for range casAttempts {
		var last uint64
		m, err := b.latest.GetLastMsgForSubject(ctx, b.names.policy)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return b.wrap("read the stored policy", err)
		default:
			var held feed.Event
			if err := json.Unmarshal(m.Data, &held); err == nil && held.Policy != nil &&
				held.Policy.Version >= e.Policy.Version {
				b.log.Debug("natsbus: policy not published: the stored one is as new",
					"version", e.Policy.Version, "stored", held.Policy.Version)
				return nil
			}
			last = m.Sequence
		}
		err = b.publish(ctx, b.names.policy, b.names.latest, e, jetstream.WithExpectLastSequencePerSubject(last))
		if !wrongLastSequence(err) {
			return err
		}
	}
	return fmt.Errorf("natsbus: publish policy version %d: lost %d races to other publishers", e.Policy.Version, casAttempts)
}

func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func (b *Bus) publish(ctx context.Context, subject, stream string, e feed.Event, opts ...jetstream.PublishOpt) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("natsbus: encode %s event: %w", e.Kind, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	if b.origin != "" {
		msg.Header.Set(OriginHeader, b.origin)
	}
	// WithExpectStream: a subject captured by some other stream must fail,
	// not be acknowledged into a stream that followers do not read.
	opts = append(opts, jetstream.WithExpectStream(stream))
	if _, err := b.js.PublishMsg(ctx, msg, opts...); err != nil {
		return b.wrap("publish "+e.Kind, err)
	}
	return nil
}

// wrap names what failed, as ErrClosed when Close raced the call and as
// ErrNotConnected when the connection was down.
func (b *Bus) wrap(what string, err error) error {
	switch {
	case b.closed() || errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w (%s)", ErrClosed, what)
	case errors.Is(err, nats.ErrReconnectBufExceeded) || !b.nc.IsConnected():
		return fmt.Errorf("%w (%s: %v)", ErrNotConnected, what, err)
	default:
		return fmt.Errorf("natsbus: %s: %w", what, err)
	}
}

// Connected reports whether the connection to NATS is up right now.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

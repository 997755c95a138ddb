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
//   - NAME_LATEST holds PREFIX.DEPLOYMENT.latest.policy and
//     PREFIX.DEPLOYMENT.latest.keys with MaxMsgsPerSubject 1 and no
//     MaxAge: the latest of each, kept forever, the older ones dropped as
//     the new one lands; and PREFIX.deployment, the deployment a cordon
//     serve announced last.
//   - NAME_REVOKE holds PREFIX.DEPLOYMENT.revoke with no per-subject limit
//     and MaxAge = Options.RevocationTTL: every revocation, each dropped
//     once no token it refuses can still be valid.
//
// # Deployments
//
// A deployment (the nodes of one store) has an id made at its first start
// and kept in its store; its subjects are named for it. Policy versions
// are the store's, so a second deployment on the same bus URL — or the
// same one reset — starts again at 1: on shared subjects it would be
// stale against the first one's forever. A follower takes its deployment
// from the URL (deployment=) or, without one, the one announced last;
// it keeps following that one and reports a later announcement through
// Superseded.
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
// anyway, see gate.State.Apply). An older version is answered with a
// StaleError, never dropped in silence: it is a race the publisher
// ignores, or its store's version went backwards (a restore from a
// backup), which the publisher heals by raising its version past the
// bus's.
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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// Deployment is the id of the deployment this node belongs to (made at
	// its first start and kept in its store). Its events go on subjects
	// named for it, so a deployment never reads another's (a second one on
	// the same NATS, or the same one reset or restored), and Open announces
	// it as the bus's current deployment, which followers without a
	// deployment follow. Required to Publish; a follower leaves it empty
	// and takes the URL's deployment= or the announced one.
	Deployment string
}

// StaleError is what Publish answers when the bus holds a newer policy of
// the same deployment than the one published: the store's policy version
// went backwards (a restore from a backup), and followers, which keep
// the highest version they have seen, would ignore this policy and every
// change after it until the store's version passed Stored again. The
// publisher must raise its version past Stored and publish again.
type StaleError struct {
	Published, Stored uint64
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("natsbus: policy version %d is older than version %d on the bus: the store's version went backwards", e.Published, e.Stored)
}

// Bus is one connection to the feed's streams. Publish and Follow may be
// called from any goroutine, any number of times.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	latest jetstream.Stream
	names  names
	dep    string   // this publisher's (or pinned follower's) deployment; "" until resolved
	subj   subjects // dep's subjects
	log    *slog.Logger
	origin string

	depMu      sync.Mutex             // guards dep and subj once Follow may resolve them
	superseded atomic.Pointer[string] // a deployment announced after the one followed

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	caughtUp  chan struct{}
	catchOnce sync.Once
	ready     chan struct{}
	readyOnce sync.Once
}

// names are the streams a bus URL names, and where its deployments'
// subjects live.
type names struct {
	servers        string // for nats.Connect: one URL or a comma-separated list
	latest, revoke string // streams
	prefix         string // of every subject
	deployment     string // the URL's deployment=, if any
}

// directory is the subject (on latest) that holds the deployment a
// cordon serve last announced on this bus.
func (n names) directory() string { return n.prefix + ".deployment" }

// subjects are one deployment's subjects.
type subjects struct {
	policy, keys string // on latest
	revoked      string // on revoke
	feed         string // policy and keys, for a follower's filter
}

func (n names) subjects(deployment string) subjects {
	// Policy and keys share a token under which a follower's one filter
	// (…latest.*) is a subset of the stream's subjects, as nats-server
	// 2.9 requires.
	base := n.prefix + "." + deployment
	return subjects{
		policy:  base + ".latest." + feed.KindPolicy,
		keys:    base + ".latest." + feed.KindKeys,
		revoked: base + "." + feed.KindRevoke,
		feed:    base + ".latest.*",
	}
}

// parseURL splits a bus URL such as
// nats://host:4222?stream=NAME&prefix=cordon&deployment=d-… into the
// servers to dial and the names to use. An unknown parameter is an error
// rather than ignored: a misspelt stream= would silently join another
// deployment's feed.
func parseURL(raw string) (names, error) {
	servers, query, _ := strings.Cut(raw, "?")
	if servers == "" {
		return names{}, errors.New("natsbus: empty bus URL")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return names{}, fmt.Errorf("natsbus: bus URL parameters: %w", err)
	}
	stream, prefix, deployment := DefaultStream, DefaultPrefix, ""
	for k, v := range q {
		switch k {
		case "stream":
			stream = v[len(v)-1]
		case "prefix":
			prefix = v[len(v)-1]
		case "deployment":
			deployment = v[len(v)-1]
			if !ValidDeployment(deployment) {
				return names{}, fmt.Errorf("natsbus: deployment %q: want up to 64 letters, digits, - and _", deployment)
			}
		default:
			return names{}, fmt.Errorf("natsbus: unknown bus URL parameter %q (want stream, prefix or deployment)", k)
		}
	}
	if !validStream(stream) {
		return names{}, fmt.Errorf("natsbus: stream name %q: want letters, digits, - and _", stream)
	}
	if !validPrefix(prefix) {
		return names{}, fmt.Errorf("natsbus: subject prefix %q: want dot-separated tokens without spaces or wildcards", prefix)
	}
	return names{
		servers:    servers,
		latest:     stream + "_LATEST",
		revoke:     stream + "_REVOKE",
		prefix:     prefix,
		deployment: deployment,
	}, nil
}

// ValidDeployment reports whether id can name a deployment on the bus: one
// subject token of up to 64 letters, digits, - and _.
func ValidDeployment(id string) bool {
	return id != "" && len(id) <= 64 && validStream(id)
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
	all := n.subjects("*")
	latest, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              n.latest,
		Description:       "cordon feed: the latest policy and key set of each deployment, and the current deployment",
		Subjects:          []string{all.feed, n.directory()},
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
		Subjects:          []string{all.revoked},
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
	b := &Bus{
		nc:       nc,
		js:       js,
		latest:   latest,
		names:    n,
		log:      log,
		origin:   opts.Origin,
		done:     make(chan struct{}),
		caughtUp: make(chan struct{}),
		ready:    make(chan struct{}),
	}
	switch {
	case opts.Deployment != "":
		if !ValidDeployment(opts.Deployment) {
			return nil, fmt.Errorf("natsbus: deployment %q: want up to 64 letters, digits, - and _", opts.Deployment)
		}
		if n.deployment != "" && n.deployment != opts.Deployment {
			return nil, fmt.Errorf("natsbus: the bus URL names deployment %s, but this store belongs to deployment %s", n.deployment, opts.Deployment)
		}
		b.setDeployment(opts.Deployment)
		if err := b.announce(ctx); err != nil {
			return nil, err
		}
	case n.deployment != "":
		b.setDeployment(n.deployment)
	}
	return b, nil
}

func (b *Bus) setDeployment(dep string) {
	b.depMu.Lock()
	defer b.depMu.Unlock()
	b.dep = dep
	b.subj = b.names.subjects(dep)
}

// current is the deployment's subjects, and whether there is one yet.
func (b *Bus) current() (subjects, bool) {
	b.depMu.Lock()
	defer b.depMu.Unlock()
	return b.subj, b.dep != ""
}

// Deployment is the deployment this Bus publishes or follows; "" for a
// follower before Follow found the announced one.
func (b *Bus) Deployment() string {
	b.depMu.Lock()
	defer b.depMu.Unlock()
	return b.dep
}

// announcement is the message on the directory subject.
type announcement struct {
	Deployment string `json:"deployment"`
	Origin     string `json:"origin,omitempty"`
}

// announce makes this publisher's deployment the bus's current one: the
// one followers without a deployment of their own follow.
func (b *Bus) announce(ctx context.Context) error {
	data, _ := json.Marshal(announcement{Deployment: b.dep, Origin: b.origin})
	if _, err := b.js.Publish(ctx, b.names.directory(), data, jetstream.WithExpectStream(b.names.latest)); err != nil {
		return fmt.Errorf("natsbus: announce deployment %s: %w", b.dep, err)
	}
	return nil
}

// announced reads the deployment last announced on the bus;
// jetstream.ErrMsgNotFound when none was.
func (b *Bus) announced(ctx context.Context) (string, error) {
	m, err := b.latest.GetLastMsgForSubject(ctx, b.names.directory())
	if err != nil {
		return "", err
	}
	var a announcement
	if err := json.Unmarshal(m.Data, &a); err != nil || !ValidDeployment(a.Deployment) {
		return "", fmt.Errorf("natsbus: the deployment announced on %s is unreadable", b.names.directory())
	}
	return a.Deployment, nil
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
// A gate must wait for Ready instead: on an empty bus the catch-up is
// over at once, before any policy or keys.
func (b *Bus) CaughtUp() <-chan struct{} { return b.caughtUp }

// Ready is closed once a Follow on this Bus has delivered the catch-up, a
// policy and keys, and every revocation stored before it had delivered
// both: a gate may report ready then, and not before, since the policy
// and keys come on one stream and the revocations on another, in no order
// between them.
//
// Why that is every revocation that goes with them: Publish stores a
// snapshot's revocations before its policy and keys, and returns only
// once each part is stored, so they are in the stream before the policy
// or keys that make the follower hold both were even sent. Follow then
// asks the server, after it delivered those, what its revocation consumer
// has left (see follower.settle): a question asked after the policy and
// keys were delivered counts every revocation stored before them,
// whatever the order in which the two consumers deliver.
func (b *Bus) Ready() <-chan struct{} { return b.ready }

// Publish stores e on the feed and returns once the server has
// acknowledged it. A policy event replaces the stored policy unless that
// one has the same or a newer version, in which case Publish does nothing
// and returns nil; a keys event replaces the stored keys; a revoke event
// is added to the revocations (one without sessions is not sent). A
// snapshot is published as its three parts, the revocations first: a node
// that could not publish for a while can publish its whole state to make
// up for it, and a gate that holds the policy and keys of a snapshot can
// know it holds its revocations too (see Ready).
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
	subj, ok := b.current()
	if !ok {
		return errors.New("natsbus: Publish needs a deployment (Options.Deployment)")
	}
	switch e.Kind {
	case feed.KindPolicy:
		if e.Policy == nil {
			return fmt.Errorf("natsbus: policy event %s:%d has no policy", e.Epoch, e.Seq)
		}
		return b.publishPolicy(ctx, subj, e)
	case feed.KindKeys:
		if len(e.JWKS) == 0 {
			return fmt.Errorf("natsbus: keys event %s:%d has no keys", e.Epoch, e.Seq)
		}
		return b.publish(ctx, subj.keys, b.names.latest, e)
	case feed.KindRevoke:
		// In messages of revokeChunk: a mass revocation (a campaign's
		// cohort) in one message would pass NATS's payload limit (1 MiB
		// by default, about 12,000 revocations) and be refused whole.
		for chunk := range slices.Chunk(e.Revoked, revokeChunk) {
			part := e
			part.Revoked = chunk
			if err := b.publish(ctx, subj.revoked, b.names.revoke, part); err != nil {
				return err
			}
		}
		return nil
	case feed.KindSnapshot:
		// The revocations first, each part stored before the next is sent:
		// Ready relies on it.
		parts := []feed.Event{e, e, e}
		parts[0].Kind, parts[0].Policy, parts[0].JWKS = feed.KindRevoke, nil, nil
		parts[1].Kind, parts[1].Revoked, parts[1].JWKS = feed.KindPolicy, nil, nil
		parts[2].Kind, parts[2].Revoked, parts[2].Policy = feed.KindKeys, nil, nil
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

// revokeChunk is the most revocations one message carries: about 250
// KiB, well under NATS's default 1 MiB payload limit.
const revokeChunk = 2048

// casAttempts bounds the compare-and-set loop of publishPolicy; each lost
// race means another server stored a policy in between, so a handful
// settles any real contention.
const casAttempts = 8

func (b *Bus) publishPolicy(ctx context.Context, subj subjects, e feed.Event) error {
	for range casAttempts {
		var last uint64
		m, err := b.latest.GetLastMsgForSubject(ctx, subj.policy)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return b.wrap("read the stored policy", err)
		default:
			var held feed.Event
			if err := json.Unmarshal(m.Data, &held); err == nil && held.Policy != nil {
				switch {
				case held.Policy.Version > e.Policy.Version:
					return &StaleError{Published: e.Policy.Version, Stored: held.Policy.Version}
				case held.Policy.Version == e.Policy.Version:
					b.log.Debug("natsbus: policy not published: the stored one is the same version",
						"version", e.Policy.Version)
					return nil
				}
			}
			last = m.Sequence
		}
		err = b.publish(ctx, subj.policy, b.names.latest, e, jetstream.WithExpectLastSequencePerSubject(last))
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

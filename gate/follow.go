package gate

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/natsbus"
)

// FollowerConfig says where a Follower reads the policy feed: from a
// cordon server (Server and Token) or from NATS JetStream (Bus).
type FollowerConfig struct {
	// Server is the cordon server whose feed, GET {Server}/v1/gate/feed,
	// is followed; Token is an admin token with scope gate.
	Server string
	Token  string
	// Bus, instead, is the nats:// URL of the feed that cordon serve
	// --bus publishes. A gate on a bus needs the issuer cordon serve
	// signs as (NewState's issuer), since it has no server URL to take
	// it from.
	Bus string
	// RevocationTTL is, on a bus, how long revocations are kept for late
	// followers: the servers' access-token lifetime plus token leeway
	// (16 minutes when zero, cordon serve's). Every node of a deployment
	// must agree.
	RevocationTTL time.Duration
	// Log receives connection changes and events that cannot be applied;
	// nothing when nil.
	Log *slog.Logger
}

// DefaultRevocationTTL is cordon serve's access-token lifetime (15
// minutes) plus the minute of clock skew verifiers allow past exp.
const DefaultRevocationTTL = 15*time.Minute + time.Minute

// Follower keeps a State current from the policy feed, reconnecting and
// resuming on its own. While the feed is unreachable the State keeps
// what it holds, so a Gate on it keeps enforcing the last policy it saw.
type Follower struct {
	st   *State
	log  *slog.Logger
	sse  *feed.Client // following a server
	bus  *natsbus.Bus // or a bus
	last atomic.Int64 // Unix ns of the last bus event

	// follow is bus.Follow (a test's stand-in otherwise), tried again
	// after retry, doubled at each failure in a row up to retryMax.
	follow          func(context.Context, func(feed.Event, string)) error
	retry, retryMax time.Duration
}

// NewFollower returns a Follower that feeds st from what cfg names. On a
// bus it connects at once (and fails if it cannot); Close releases the
// connection.
func NewFollower(ctx context.Context, st *State, cfg FollowerConfig) (*Follower, error) {
	f := &Follower{st: st, log: cfg.Log}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Bus != "" {
		ttl := cfg.RevocationTTL
		if ttl == 0 {
			ttl = DefaultRevocationTTL
		}
		bus, err := natsbus.Open(ctx, cfg.Bus, natsbus.Options{RevocationTTL: ttl, Log: f.log, Origin: "gate"})
		if err != nil {
			return nil, err
		}
		f.bus = bus
		f.follow, f.retry, f.retryMax = bus.Follow, natsbus.RetryFirst, natsbus.RetryMost
		// Not ready before the bus is (Bus.Ready): the policy and keys may come
		// before the revocations (see State.behind). A State that is
		// ready already (a Follower made again) keeps deciding on what
		// it holds, as it would while a feed is away.
		if !st.Ready() {
			st.behind.Store(true)
		}
		return f, nil
	}
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("gate: FollowerConfig.Server must be an http(s) URL")
	}
	f.sse = &feed.Client{URL: strings.TrimRight(cfg.Server, "/") + "/v1/gate/feed", Token: cfg.Token, Log: f.log}
	return f, nil
}

// Run follows the feed until ctx ends (and returns its error) or, on a
// bus, until Close (natsbus.ErrClosed). A Follow of the bus that fails
// (NATS away when it makes its consumers, or a consumer that stopped) is
// logged and tried again, after a wait that doubles up to 15 seconds: a
// gate that gave up would stay catching_up, or stale, for good.
func (f *Follower) Run(ctx context.Context) error {
	if f.bus == nil {
		return f.sse.Run(ctx, f.apply)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-f.bus.Ready():
			f.st.behind.Store(false)
		case <-done:
		}
	}()
	apply := func(e feed.Event, _ string) {
		f.last.Store(time.Now().UnixNano())
		f.apply(e)
	}
	return natsbus.Retry(ctx, f.log, "gate: follow the bus", f.retry, f.retryMax, func(ctx context.Context) error { return f.follow(ctx, apply) })
}

func (f *Follower) apply(e feed.Event) {
	if err := f.st.apply(e); err != nil {
		f.log.Error("apply feed event", "kind", e.Kind, "seq", e.Seq, "err", err)
		return
	}
	f.log.Debug("feed event", "kind", e.Kind, "seq", e.Seq, "policy_version", f.st.PolicyVersion())
}

// Connected reports whether the feed is connected now.
func (f *Follower) Connected() bool {
	if f.bus != nil {
		return f.bus.Connected()
	}
	return f.sse.Connected()
}

// LastEvent is when the feed last said anything (an event, or a ping from
// a server; a bus sends no pings): how stale the State may be. The zero
// time before the first.
func (f *Follower) LastEvent() time.Time {
	if f.bus != nil {
		if ns := f.last.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
		return time.Time{}
	}
	return f.sse.LastEventAt()
}

// Close releases the bus connection, if any. Run returns soon after.
func (f *Follower) Close() error {
	if f.bus != nil {
		return f.bus.Close()
	}
	return nil
}

// Follow keeps st current from a cordon server's policy feed
// (GET {serverURL}/v1/gate/feed, authenticated by an admin token with scope
// gate) until ctx ends, reconnecting and resuming on its own: a Follower
// of the server, run. It returns ctx's error.
func Follow(ctx context.Context, st *State, serverURL, token string, log *slog.Logger) error {
	f, err := NewFollower(ctx, st, FollowerConfig{Server: serverURL, Token: token, Log: log})
	if err != nil {
		return err
	}
	return f.Run(ctx)
}

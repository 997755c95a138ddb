package gate

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/token"
)

// An upgraded connection (a WebSocket, or any protocol switched to by
// Upgrade) is decided once, when it opens; after that the bytes flow
// without requests for the gate to judge. So the gate keeps each one it
// let through and decides it again:
//
//   - whenever the State changes (a revocation, a new policy, new keys),
//     from the State's Apply;
//   - every tunnelRecheck, because a ramp admits more users as time
//     passes with no event at all;
//   - when its access token expires (exp plus token.Leeway, the verifier's
//     own bound): a tunnel lives no longer than the token that opened it.
//
// A tunnel that would now be refused is closed. The gate cannot write a
// protocol's own goodbye (a WebSocket close frame) without owning its
// framing, which it does not; the app sees the connection end and, on
// reconnecting, gets the refusal with its reason.
const tunnelRecheck = time.Minute

type tunnels struct {
	mu    sync.Mutex
	set   map[*tunnel]struct{}
	watch sync.Once // registers the Gate with its State on the first tunnel
}

type tunnel struct {
	g     *Gate
	conn  net.Conn
	sess  cordon.Session
	facts cordon.ClientFacts
	kid   string
	until int64 // Unix ns: exp + token.Leeway
	timer *time.Timer
}

// watchUpgrade wraps w so that a connection hijacked through it (a
// handler answering 101 Switching Protocols) is kept as a tunnel.
//
// What the tunnel is decided on again is read anew from the request
// rather than carried in the Identity, which every request allocates:
// an upgrade is rare, and its token is in the cache (or verifies again).
func (g *Gate) watchUpgrade(w http.ResponseWriter, r *http.Request, id *Identity) (http.ResponseWriter, error) {
	tok, _ := bearer(r.Header) // Decide has read them all
	facts, _ := clientfacts.FromHeader(r.Header)
	now := g.clock()
	keys := g.st.keys.Load()
	var e *entry
	if g.cache != nil {
		if e = g.cache.get(g.cache.hash(tok), tok); e != nil && !e.valid(now.UnixNano(), keys) {
			e = nil
		}
	}
	if e == nil {
		var err error
		// The keys changed under the request: refuse rather than open
		// a tunnel nothing watches.
		if e, err = g.verify(tok, 0, keys, now); err != nil {
			return nil, err
		}
	}
	return &upgradeWriter{ResponseWriter: w, g: g, t: tunnel{
		g: g, sess: e.session, facts: facts, kid: headerKID(tok),
		until: id.Expiry.Add(token.Leeway).UnixNano(),
	}}, nil
}

// upgradeWriter is the ResponseWriter of an allowed Upgrade request.
// Hijack is the one method it changes; Unwrap lets http.ResponseController
// reach the rest.
type upgradeWriter struct {
	http.ResponseWriter
	g *Gate
	t tunnel
}

func (u *upgradeWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// Hijack takes over the connection, as http.Hijacker, and keeps it as a
// tunnel until it is closed.
func (u *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(u.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	t := u.t // a copy: the writer may be hijacked once only, but be safe
	t.conn = c
	u.g.tunnels.open(&t)
	return &tunnelConn{Conn: c, t: &t}, rw, nil
}

// tunnelConn forgets its tunnel when whoever hijacked it closes it.
type tunnelConn struct {
	net.Conn
	t *tunnel
}

func (c *tunnelConn) Close() error {
	c.t.g.tunnels.forget(c.t)
	return c.Conn.Close()
}

func (ts *tunnels) open(t *tunnel) {
	g := t.g
	ts.watch.Do(func() { g.st.onChange(g.recheckTunnels) })
	ts.mu.Lock()
	if ts.set == nil {
		ts.set = make(map[*tunnel]struct{})
	}
	ts.set[t] = struct{}{}
	ts.mu.Unlock()
	t.arm(g.clock().UnixNano())
}

func (ts *tunnels) forget(t *tunnel) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.set, t)
	if t.timer != nil {
		t.timer.Stop()
	}
}

// Tunnels is how many upgraded connections the gate holds open.
func (g *Gate) Tunnels() int {
	g.tunnels.mu.Lock()
	defer g.tunnels.mu.Unlock()
	return len(g.tunnels.set)
}

// arm schedules the tunnel's next check: at its token's end, or in
// tunnelRecheck, whichever comes first.
func (t *tunnel) arm(now int64) {
	d := time.Duration(t.until - now)
	if d > tunnelRecheck {
		d = tunnelRecheck
	}
	t.g.tunnels.mu.Lock()
	defer t.g.tunnels.mu.Unlock()
	if _, open := t.g.tunnels.set[t]; !open {
		return
	}
	if t.timer == nil {
		t.timer = time.AfterFunc(d, t.recheck)
	} else {
		t.timer.Reset(d)
	}
}

func (t *tunnel) recheck() {
	now := t.g.clock()
	if !t.g.check(t, now) {
		return
	}
	t.arm(now.UnixNano())
}

// recheckTunnels decides every tunnel again; the State calls it after
// each change.
func (g *Gate) recheckTunnels() {
	g.tunnels.mu.Lock()
	if len(g.tunnels.set) == 0 {
		g.tunnels.mu.Unlock()
		return
	}
	ts := make([]*tunnel, 0, len(g.tunnels.set))
	for t := range g.tunnels.set {
		ts = append(ts, t)
	}
	g.tunnels.mu.Unlock()
	now := g.clock()
	for _, t := range ts {
		g.check(t, now)
	}
}

// check decides t at now as a new request from it would be, and closes
// it if that would be refused. It reports whether t stays open.
func (g *Gate) check(t *tunnel, now time.Time) bool {
	ns := now.UnixNano()
	reason := ""
	switch pol, keys := g.st.policy.Load(), g.st.keys.Load(); {
	case ns > t.until:
		reason = "token_expired"
	case g.st.revoked.has(t.sess.ID, ns):
		reason = decision.ReasonSessionRevoked
	case t.kid != "" && !keyHeld(keys, t.kid):
		reason = "key_withdrawn"
	case pol != nil:
		if d := decision.Decide(&decision.Input{Session: &t.sess, Client: t.facts, Now: now, Policy: pol}); d.Outcome == decision.Deny {
			reason = d.Reason
		}
	}
	if reason == "" {
		return true
	}
	g.tunnels.forget(t)
	g.log.Info("gate: closing an upgraded connection", "reason", reason, "session", t.sess.ID)
	t.conn.Close()
	return false
}

func keyHeld(keys *token.PublicKeys, kid string) bool {
	_, ok := keys.PublicKey(kid)
	return ok
}

// Package throttle slows down password guessing at login without letting an
// attacker lock the real user out.
//
// Failed logins are counted per source address (an IPv4 address, or the
// /64 an IPv6 client sits in) and per account. Past a free budget every
// further failure doubles the wait before the next attempt, up to a cap.
// NIST SP 800-63B allows no more than 100 consecutive failures on an
// account; from the 100th on, an account gets one attempt per five minutes
// until a success, slowed to a crawl rather than locked, since a lock is
// itself an attack on the owner. Counts are forgotten after a quiet period.
//
// Lockout is avoided the way OWASP suggests: an (account, device) or
// (account, address) pair that logged in successfully in the last 30 days
// is known, and attempts from a known pair skip the account's wait. They
// count instead against a small budget of the pair's own. So credential
// stuffing against one account from many addresses slows every stranger
// while the owner's phone and home network still get in. A known device
// skips its address's wait too: behind a carrier NAT or a corporate proxy
// thousands share one address, and strangers failing there must not lock
// out an owner whose device got in before.
//
// An attempt takes its slot before the password is hashed (Check returns
// an Attempt, resolved after the hash): attempts in flight count as
// failures, so concurrent guesses get no more evaluations than sequential
// ones.
//
// The known pairs also say where an account has been seen, for a ramp
// that admits accounts seen from somewhere new first: Attempt.Unusual at
// login, Seen at a refresh (see Seen for why a refresh judges the address
// alone, by its network, and never teaches a new one).
//
// State is in memory and per process: a restart forgets it, and each
// process of a fleet throttles on its own, so an attacker spread over n
// processes gets up to n times the budget. Memory is bounded by
// Config.MaxEntries per table.
package throttle

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Policy is how one kind of key is slowed down. The wait after n
// consecutive failures is nothing while n <= Free, then Delay, doubling with
// each further failure up to MaxDelay; from HardLimit failures on it is at
// least HardDelay.
type Policy struct {
	// Free is how many failures in a row cost nothing, so that typos and a
	// forgotten password are never slowed down.
	Free int
	// Delay is the wait after the first failure beyond Free.
	Delay time.Duration
	// MaxDelay caps the doubling, so a user who keeps trying is never
	// told to come back tomorrow.
	MaxDelay time.Duration
	// HardLimit, if not zero, is the number of consecutive failures from
	// which the wait is at least HardDelay, however far MaxDelay is.
	HardLimit int
	// HardDelay is the wait from HardLimit failures on.
	HardDelay time.Duration
	// Forget is how long after its last failure a key is forgotten, so a
	// user who failed last week starts afresh.
	Forget time.Duration
}

// Config sets the policies. A Policy or a number left zero takes its value
// from DefaultConfig, so a zero Config never means "no throttling".
type Config struct {
	// Address slows down each source address, whatever accounts it tries:
	// it is what stops password spraying. A success does not reset it,
	// since an attacker could log into an account of their own to do so.
	Address Policy
	// Account slows down attempts on one account from strangers, i.e.
	// from pairs that are not known. A success resets it.
	Account Policy
	// Known slows down attempts from one known pair; a success resets it.
	// It has a hard limit too, so that no way into an account escapes the
	// 100-failure ceiling.
	Known Policy
	// KnownFor is how long after its last success a pair stays known.
	KnownFor time.Duration
	// KnownPerAccount bounds the known pairs of one account; a new one
	// replaces the one that succeeded longest ago. The bound keeps one
	// account logging in with ever new device ids from growing memory.
	KnownPerAccount int
	// BusyWait is the longest Check waits for attempts in flight to be
	// resolved when they hold every slot a key has left (zero: 2 s, the
	// hasher's own queue wait; negative: no wait, refuse at once).
	BusyWait time.Duration
	// MaxEntries bounds each of the four tables: addresses, accounts,
	// accounts with known pairs, and the account ids of those (Seen).
	// Measured: an address or account entry takes some 140 bytes, so the
	// default bounds each of those tables near 140 MB; an account with a
	// known device and address some 300 bytes, more with more pairs, up
	// to KnownPerAccount, and its id some 160 bytes more (130 of table,
	// the id's 28-byte string).
	MaxEntries int
}

// DefaultConfig returns the policies cordon runs with.
func DefaultConfig() Config {
	return Config{
		Address: Policy{Free: 20, Delay: time.Second, MaxDelay: 15 * time.Minute, Forget: time.Hour},
		Account: Policy{Free: 5, Delay: time.Second, MaxDelay: time.Minute,
			HardLimit: 100, HardDelay: 5 * time.Minute, Forget: 24 * time.Hour},
		Known: Policy{Free: 10, Delay: time.Second, MaxDelay: time.Minute,
			HardLimit: 100, HardDelay: 5 * time.Minute, Forget: 24 * time.Hour},
		KnownFor:        30 * 24 * time.Hour,
		KnownPerAccount: 16,
		BusyWait:        2 * time.Second,
		MaxEntries:      1_000_000,
	}
}

// Keys name what one login attempt counts against.
type Keys struct {
	// Account is the username, normalised as the account store compares
	// it; it is lower-cased again here so that case variants of one name
	// share one budget. Use it for unknown usernames too.
	Account string
	// Address is the client's address as AddressKey returns it; a raw
	// host:port or a bare IP is reduced the same way. Behind a reverse
	// proxy it must be the address the proxy reports, not the proxy's.
	Address string
	// Device is the device id from the Cordon-Client header, or "". The
	// client asserts it and it is no secret: an attacker who learns a
	// known device id gets that pair's budget, which is no larger than
	// the account's.
	Device string
}

// Throttle counts failed logins. Call Check before verifying a password,
// then Fail or Succeed with the same Keys. It is safe for concurrent use.
//
// A Check that lets an attempt through while a key is past its free budget
// reserves that key's next slot, so many concurrent requests cannot all
// slip through the moment a wait ends.
type Throttle struct {
	cfg Config
	clk clock.Clock

	// One mutex: a Check or Fail is a few map operations, far below the
	// cost of the password hash that follows, and one lock lets a Check
	// consult and reserve several tables at once.
	mu        sync.Mutex
	addresses *table[string, counter]
	accounts  *table[string, counter]
	// known is keyed by account, so that logging into one account from
	// ever new device ids churns only that account's pairs and cannot
	// push other accounts' pairs out.
	known *table[string, knownSet]
	// ids maps an account id to the key of its known pairs (Keys.Account):
	// a refresh knows its account by id only (Seen). Set by SucceedAs.
	ids *table[string, string]
	// released, when not nil, is closed at the next release of a slot,
	// waking the Checks that wait for one.
	released chan struct{}
}

// New returns a Throttle that reads the time from clk.
func New(cfg Config, clk clock.Clock) *Throttle {
	def := DefaultConfig()
	if cfg.Address == (Policy{}) {
		cfg.Address = def.Address
	}
	if cfg.Account == (Policy{}) {
		cfg.Account = def.Account
	}
	if cfg.Known == (Policy{}) {
		cfg.Known = def.Known
	}
	if cfg.KnownFor <= 0 {
		cfg.KnownFor = def.KnownFor
	}
	if cfg.KnownPerAccount <= 0 {
		cfg.KnownPerAccount = def.KnownPerAccount
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = def.MaxEntries
	}
	if cfg.BusyWait == 0 {
		cfg.BusyWait = def.BusyWait
	}
	return &Throttle{
		cfg:       cfg,
		clk:       clk,
		addresses: newTable[string, counter](cfg.Address.Forget, cfg.MaxEntries),
		accounts:  newTable[string, counter](cfg.Account.Forget, cfg.MaxEntries),
		known:     newTable[string, knownSet](cfg.KnownFor, cfg.MaxEntries),
		ids:       newTable[string, string](cfg.KnownFor, cfg.MaxEntries),
	}
}

// Check reports whether a login attempt with k may go ahead: an Attempt,
// or a *cordon.Error with code cordon.ECodeThrottled and RetryAfter set to
// the whole seconds to wait (cordon.ECodeOverloaded when attempts in
// flight held every slot for Config.BusyWait). Resolve every Attempt it returns with exactly
// one of Fail, Succeed or Cancel.
//
// An attempt it lets through holds a slot of each key it counts against
// until it is resolved: it counts as a failure in flight, so that while
// n attempts are in flight a key with f failures lets another through only
// if f+n failures would still be within the free budget. Concurrent
// guesses are thus evaluated no more than sequential ones would be.
//
// The attempt must wait for its address and, unless it comes from a known
// pair, for the account. From known pairs it waits only if every known
// pair it matches must; from a known device it does not wait for its
// address either, so a crowd of strangers failing behind one carrier NAT
// or corporate proxy cannot lock out an owner whose device logged in
// before. (A known address pair is no such proof: everyone behind that
// NAT shares it.)
func (t *Throttle) Check(ctx context.Context, k Keys) (*Attempt, error) {
	k = normalize(k)
	var timeout <-chan time.Time
	for {
		a, busy, err := t.try(k)
		if busy == nil {
			return a, err
		}
		// Only attempts in flight stand in the way: wait for one to be
		// resolved (a success frees its slot, a failure may start a
		// wait), so a crowd of correct logins behind one address queues
		// for a moment instead of being refused.
		if timeout == nil {
			if t.cfg.BusyWait < 0 {
				return nil, busyErr()
			}
			tm := time.NewTimer(t.cfg.BusyWait)
			defer tm.Stop()
			timeout = tm.C
		}
		select {
		case <-busy:
		case <-timeout:
			return nil, busyErr()
		case <-ctx.Done():
			return nil, busyErr()
		}
	}
}

// try is one round of Check. busy, when not nil, says that only attempts
// in flight stand in the way, and is closed when one is resolved.
func (t *Throttle) try(k Keys) (a *Attempt, busy <-chan struct{}, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clk.Now().UnixNano() // under the lock, so stamps reach the tables in order

	known := t.knownPairs(k, now)
	var wait time.Duration
	var full bool
	var addr, acct *counter
	if known[0] == nil {
		addr = t.addresses.get(k.Address, now)
		wait = addr.wait(now, &t.cfg.Address)
		full = addr.full(now, &t.cfg.Address)
	}
	var clear [2]bool // the known pairs that would let it through
	if known[0] == nil && known[1] == nil {
		acct = t.accounts.get(k.Account, now)
		wait = max(wait, acct.wait(now, &t.cfg.Account))
		full = full || acct.full(now, &t.cfg.Account)
	} else {
		kw := knownWait(known, now, &t.cfg.Known)
		wait = max(wait, kw)
		if kw == 0 {
			for i, c := range known {
				clear[i] = c != nil && c.wait(now, &t.cfg.Known) == 0 && !c.full(now, &t.cfg.Known)
			}
			full = full || clear == [2]bool{}
		}
	}
	if wait > 0 {
		return nil, nil, throttled(wait)
	}
	if full {
		if t.released == nil {
			t.released = make(chan struct{})
		}
		return nil, t.released, nil
	}

	a = &Attempt{t: t, k: k}
	if known[0] == nil {
		if addr == nil {
			addr = t.addresses.touch(k.Address, now)
		}
		addr.reserve(now, &t.cfg.Address)
		a.addr = true
	}
	if known[0] == nil && known[1] == nil {
		if acct == nil {
			acct = t.accounts.touch(k.Account, now)
		}
		acct.reserve(now, &t.cfg.Account)
		a.acct = true
		a.unusual = t.knowsAny(k.Account, now)
	}
	for i, c := range known {
		if clear[i] { // a waiting pair is not what let it through
			c.reserve(now, &t.cfg.Known)
			a.pairs[i] = true
		}
	}
	return a, nil, nil
}

// An Attempt is a login attempt Check let through, holding a slot of the
// keys it counts against until Fail, Succeed or Cancel resolves it. The
// first call resolves it; later ones do nothing.
type Attempt struct {
	t     *Throttle
	k     Keys // normalised
	addr  bool // holds a slot of the address
	acct  bool // holds a slot of the account
	pairs [2]bool
	// unusual: neither the device nor the address is known for the
	// account, though others are (see Unusual).
	unusual bool
	done    atomic.Bool
}

// Unusual reports whether the attempt came from neither a device nor an
// address the account logged in from in the last Config.KnownFor, while
// the account has logged in from some: somewhere new for an account this
// process knows. An account it knows nothing of (a first login, or after
// a restart, since the known pairs live in memory) is never unusual, so
// a restart does not make every login look new.
func (a *Attempt) Unusual() bool { return a != nil && a.unusual }

// knowsAny reports whether the account has a pair known at now; t.mu is
// held.
func (t *Throttle) knowsAny(account string, now int64) bool {
	set := t.known.get(account, now)
	if set == nil {
		return false
	}
	for i := range set.pairs {
		if now-set.pairs[i].since < int64(t.cfg.KnownFor) {
			return true
		}
	}
	return false
}

// The networks a refresh is judged by (Seen): an IPv4 client by its /24,
// an IPv6 client by its /48, a site's usual assignment, which holds the
// /64 its failures are counted by and the /56 many ISPs delegate.
const (
	placeBits4 = 24
	placeBits6 = 48
)

// Seen judges a successful refresh of the account whose id is accountID
// from address (as Keys.Address): it reports whether that is somewhere
// new for the account, and keeps the account's known addresses there
// known for another Config.KnownFor.
//
// Call it only once the refresh token proved the session: it is how a
// stolen session used from an attacker's network is seen, and a refresh
// that failed proves nothing, so it must neither count nor teach.
//
// The address alone decides: a refresh's device id is the session's own,
// which whoever stole the session replays. And the address is judged by
// its network, the /24 of an IPv4 address or the /48 of an IPv6 one, wider
// than the keys failures are counted by (an IPv4 address, an IPv6 /64):
// without a device to vouch for it, a phone moving through its carrier's
// address pool, or a home its ISP renumbered, would look new at every
// refresh. The width's cost: an attacker inside the network of one of the
// account's known addresses is not seen, and the account keeps its place
// in the ramp. A false sighting's cost: the account is admitted early,
// its user asked to log in again sooner.
//
// It is unusual when the account has known addresses and none is in the
// address's network. An account this process knows no address of (no
// password login here within Config.KnownFor, a restart, an id no
// SucceedAs linked) is never unusual, as at login; nor is an address that
// is not an IP (a Unix socket).
//
// A refresh never makes a new address known: a known pair's logins skip
// the account's wait, and only the password proves the owner is there,
// so a stolen refresh token must not buy the attacker's address that.
// From a known network it renews the known addresses in that network
// (their failures stay), so the owner's own refreshes keep home known
// between logins.
func (t *Throttle) Seen(accountID, address string) (unusual bool) {
	if t == nil || accountID == "" {
		return false
	}
	key := AddressKey(address)
	place, ok := placeOf(key)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clk.Now().UnixNano()
	acct := t.ids.get(accountID, now)
	if acct == nil {
		return false
	}
	set := t.known.get(*acct, now)
	if set == nil {
		return false
	}
	var known, here bool
	for i := range set.pairs {
		kp := &set.pairs[i]
		if kp.device || now-kp.since >= int64(t.cfg.KnownFor) {
			continue
		}
		known = true
		if kp.other == key || inPlace(place, kp.other) {
			here = true
			kp.since = now
		}
	}
	if here {
		t.known.touch(*acct, now)
		t.ids.touch(accountID, now)
	}
	return known && !here
}

// placeOf returns the network of an address key that Seen judges by, and
// false when the key is not an IP address or a prefix.
func placeOf(key string) (netip.Prefix, bool) {
	a, ok := keyAddr(key)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := placeBits6
	if a.Is4() {
		bits = placeBits4
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

// inPlace reports whether the address key k is inside place.
func inPlace(place netip.Prefix, k string) bool {
	a, ok := keyAddr(k)
	return ok && place.Contains(a)
}

// keyAddr reads an address key: an IPv4 address or an IPv6 prefix.
func keyAddr(k string) (netip.Addr, bool) {
	if strings.IndexByte(k, '/') >= 0 {
		p, err := netip.ParsePrefix(k)
		return p.Addr(), err == nil
	}
	a, err := netip.ParseAddr(k)
	return a.Unmap(), err == nil
}

// Fail records that the password was wrong or the username unknown, as
// Throttle.Fail does, and gives the slots back.
func (a *Attempt) Fail() {
	if a == nil || a.done.Swap(true) {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	a.release(a.t.clk.Now().UnixNano())
	a.t.fail(a.k)
}

// Succeed records a successful login, as Throttle.Succeed does, and gives
// the slots back.
func (a *Attempt) Succeed() { a.SucceedAs("") }

// SucceedAs is Succeed for the account whose id is accountID: it also
// remembers that the known pairs of the attempt's Keys.Account are that
// account's, so that Seen, given the id, finds them. Use it once the
// password proved the account ("" remembers nothing).
func (a *Attempt) SucceedAs(accountID string) {
	if a == nil || a.done.Swap(true) {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	now := a.t.clk.Now().UnixNano()
	a.release(now)
	a.t.succeed(a.k)
	if accountID != "" && a.t.known.get(a.k.Account, now) != nil {
		*a.t.ids.touch(accountID, now) = a.k.Account
	}
}

// Cancel gives the slots back without a verdict: the attempt never
// checked a password (the hasher was overloaded, the store failed).
func (a *Attempt) Cancel() {
	if a == nil || a.done.Swap(true) {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	a.release(a.t.clk.Now().UnixNano())
}

// releaseIn gives back a slot of key k in tb, dropping an entry left
// with neither failures nor slots: Check creates one for every attempt,
// and an attempt that did not fail must leave nothing behind.
func releaseIn(tb *table[string, counter], k string, now int64) {
	c := tb.get(k, now)
	c.unreserve()
	if c != nil && c.fails == 0 && c.pending == 0 {
		tb.delete(k)
	}
}

// release gives back the slots a holds; t.mu is held. A key evicted or
// forgotten meanwhile has nothing to give back.
func (a *Attempt) release(now int64) {
	t := a.t
	if t.released != nil {
		close(t.released)
		t.released = nil
	}
	if a.addr {
		releaseIn(t.addresses, a.k.Address, now)
	}
	if a.acct {
		releaseIn(t.accounts, a.k.Account, now)
	}
	if a.pairs == [2]bool{} {
		return
	}
	set := t.known.get(a.k.Account, now)
	if set == nil {
		return
	}
	for i, p := range pairsOf(a.k) {
		if a.pairs[i] {
			if kp := set.find(p); kp != nil {
				kp.c.unreserve()
			}
		}
	}
}

// Fail records a failed attempt with k: a wrong password, or a username
// that does not exist, so that an attacker cannot tell the two apart by
// how they are slowed down. It counts against the address and against
// either the account or, for an attempt from known pairs, those pairs.
//
// Use it for an attempt that holds no slot; an Attempt from Check is
// resolved with its own Fail.
func (t *Throttle) Fail(k Keys) {
	k = normalize(k)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail(k)
}

// fail is Fail on a normalised k; t.mu is held.
func (t *Throttle) fail(k Keys) {
	now := t.clk.Now().UnixNano()

	t.addresses.touch(k.Address, now).fail(now, &t.cfg.Address)
	known := t.knownPairs(k, now)
	if known[0] == nil && known[1] == nil {
		t.accounts.touch(k.Account, now).fail(now, &t.cfg.Account)
		return
	}
	for _, c := range known {
		c.fail(now, &t.cfg.Known)
	}
}

// Succeed records a successful login with k: it resets the account and
// the pairs of k, and makes the pairs known for Config.KnownFor. The
// address keeps its count.
func (t *Throttle) Succeed(k Keys) {
	k = normalize(k)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.succeed(k)
}

// succeed is Succeed on a normalised k; t.mu is held.
func (t *Throttle) succeed(k Keys) {
	now := t.clk.Now().UnixNano()

	t.accounts.delete(k.Account)
	pairs := pairsOf(k)
	if pairs == [2]pair{} {
		return
	}
	set := t.known.touch(k.Account, now)
	for _, p := range pairs {
		if p != (pair{}) {
			set.succeed(p, now, t.cfg.KnownPerAccount)
		}
	}
}

// knownPairs returns the counters of the device pair and the address pair
// of k if they are known now, with failures older than Known.Forget
// forgotten; a pair that is not known is nil. The pointers are valid until
// the lock is released.
func (t *Throttle) knownPairs(k Keys, now int64) [2]*counter {
	var known [2]*counter
	set := t.known.get(k.Account, now)
	if set == nil {
		return known
	}
	for i, p := range pairsOf(k) {
		if p == (pair{}) {
			continue
		}
		if kp := set.find(p); kp != nil && now-kp.since < int64(t.cfg.KnownFor) {
			if now-kp.c.last >= int64(t.cfg.Known.Forget) {
				kp.c = counter{pending: kp.c.pending}
			}
			known[i] = &kp.c
		}
	}
	return known
}

// knownWait is the wait of the least throttled known pair: the owner on a
// known device and a known network gets in if either is clear, so an
// attacker who learnt the device id cannot shut out the owner at home.
func knownWait(known [2]*counter, now int64, p *Policy) time.Duration {
	wait := time.Duration(-1)
	for _, c := range known {
		if c == nil {
			continue
		}
		if w := c.wait(now, p); wait < 0 || w < wait {
			wait = w
		}
	}
	return max(wait, 0)
}

// pair is an account's device id or address key; the zero pair is none.
type pair struct {
	device bool // whether other is a device id rather than an address key
	other  string
}

// pairsOf returns the device pair and the address pair of k.
func pairsOf(k Keys) [2]pair {
	var ps [2]pair
	if k.Device != "" {
		ps[0] = pair{device: true, other: k.Device}
	}
	if k.Address != "" {
		ps[1] = pair{other: k.Address}
	}
	return ps
}

// knownSet is the pairs of one account that logged in successfully.
type knownSet struct {
	pairs []knownPair
}

type knownPair struct {
	pair
	since int64 // unix nanoseconds of the last success
	c     counter
}

func (s *knownSet) find(p pair) *knownPair {
	for i := range s.pairs {
		if s.pairs[i].pair == p {
			return &s.pairs[i]
		}
	}
	return nil
}

// succeed makes p known as of now, resetting its failures. A full set
// gives up its pair that succeeded longest ago (an expired one, if any).
func (s *knownSet) succeed(p pair, now int64, limit int) {
	if kp := s.find(p); kp != nil {
		kp.since, kp.c = now, counter{pending: kp.c.pending}
		return
	}
	kp := knownPair{pair: p, since: now}
	if len(s.pairs) < limit {
		s.pairs = append(s.pairs, kp)
		return
	}
	oldest := 0
	for i := range s.pairs {
		if s.pairs[i].since < s.pairs[oldest].since {
			oldest = i
		}
	}
	s.pairs[oldest] = kp
}

// counter is the failure state of one key. Its methods treat a nil
// counter as a key with no failures.
type counter struct {
	fails int
	last  int64 // unix nanoseconds of the last failure
	next  int64 // unix nanoseconds before which no attempt goes through
	// pending is how many attempts Check let through that are not
	// resolved yet: failures, for all Check knows.
	pending int
}

// wait returns how long an attempt must wait for c.
func (c *counter) wait(now int64, p *Policy) time.Duration {
	if c == nil || now >= c.next {
		return 0
	}
	// Bounded so that a wall clock stepped backwards cannot hold a user
	// off for longer than the policy ever would.
	return min(time.Duration(c.next-now), max(p.MaxDelay, p.HardDelay))
}

// full reports whether the attempts in flight on c, were they all to
// fail, would leave no slot free now.
func (c *counter) full(now int64, p *Policy) bool {
	return c != nil && c.pending > 0 && now >= c.next && p.delay(c.fails+c.pending) > 0
}

// reserve takes the next slot of a key that is past its free budget for
// the attempt now let through; a failure then extends the wait, a success
// of the account removes it.
func (c *counter) reserve(now int64, p *Policy) {
	if c == nil {
		return
	}
	c.pending++
	if d := p.delay(c.fails); d > 0 {
		c.next = now + int64(d)
	}
}

// unreserve gives back a slot reserve took.
func (c *counter) unreserve() {
	if c != nil && c.pending > 0 {
		c.pending--
	}
}

func (c *counter) fail(now int64, p *Policy) {
	if c == nil {
		return
	}
	c.fails++
	c.last = now
	c.next = now + int64(p.delay(c.fails))
}

// delay returns the wait after fails consecutive failures.
func (p *Policy) delay(fails int) time.Duration {
	var d time.Duration
	if fails > p.Free {
		d = p.Delay
		for i := p.Free + 1; i < fails && d > 0 && d < p.MaxDelay; i++ {
			d *= 2
		}
		d = min(d, p.MaxDelay)
	}
	if p.HardLimit > 0 && fails >= p.HardLimit {
		d = max(d, p.HardDelay)
	}
	return d
}

// busyErr answers an attempt that found every slot of a key held by
// attempts in flight for longer than BusyWait: nothing failed yet, the
// server is busy evaluating, so it is an overload, not a throttle.
func busyErr() error {
	return &cordon.Error{
		Code:       cordon.ECodeOverloaded,
		Message:    "login servers are busy; retry shortly",
		RetryAfter: 1,
	}
}

func throttled(wait time.Duration) error {
	secs := int((wait + time.Second - 1) / time.Second)
	when := fmt.Sprintf("%d s", secs)
	if secs >= 120 {
		when = fmt.Sprintf("%d min", (secs+59)/60)
	}
	return &cordon.Error{
		Code:       cordon.ECodeThrottled,
		Message:    "too many failed logins; try again in " + when,
		RetryAfter: secs,
	}
}

func normalize(k Keys) Keys {
	k.Account = strings.ToLower(k.Account)
	k.Address = AddressKey(k.Address)
	return k
}

// AddressKey returns the key that counts failures of the client at
// remoteAddr, an http.Request.RemoteAddr ("host:port") or a bare IP: an
// IPv4 address as it is, an IPv6 address reduced to its /64, since one
// subscriber or host is usually given a whole /64 and could otherwise
// rotate through 2^64 addresses. IPv4-mapped IPv6 counts as IPv4 and zones
// are dropped. A key it returned is returned unchanged. Anything else is
// returned as given, so that an empty RemoteAddr (a Unix socket, say) is
// still a key, shared by every such client.
func AddressKey(remoteAddr string) string {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remoteAddr); err != nil {
		p, err := netip.ParsePrefix(remoteAddr)
		if err != nil || !p.Addr().Is6() {
			return remoteAddr
		}
		a = p.Addr()
	}
	a = a.Unmap().WithZone("")
	var buf [48]byte
	var k []byte
	if a.Is4() {
		k = a.AppendTo(buf[:0])
	} else {
		k = netip.PrefixFrom(a, 64).Masked().AppendTo(buf[:0])
	}
	if string(k) == remoteAddr {
		return remoteAddr // a key already (a refresh's, reduced by the caller): no copy
	}
	return string(k)
}

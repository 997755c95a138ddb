package gate

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
	"github.com/cordon-dev/cordon/internal/wire"
)

// State is what an enforcement point knows: the compiled policy, the
// public keys that verify access tokens, and the sessions revoked since
// their tokens were issued. The feed keeps it current through Apply (a
// Follower, or Follow, does it); any
// number of Gates read it.
//
// Reads never take a lock except one shard of the revocation set, and
// only when that set is not empty: the policy and the keys are
// immutable values behind atomic pointers, swapped whole. Apply calls are
// serialised. A reader may see one event half applied (a snapshot's new
// policy with the old keys for an instant); each part is consistent.
type State struct {
	issuer, audience string

	mu     sync.Mutex // serialises apply
	policy atomic.Pointer[decision.Policy]
	// notices are the denial notices of the policy held: swapped with it.
	notices atomic.Pointer[wire.Notices]
	keys    atomic.Pointer[token.PublicKeys]
	updated atomic.Int64 // Unix ns of the last event taken; 0 never
	// behind is set while a bus Follower of a State not yet ready has not
	// delivered a policy and keys and every revocation stored before them
	// (natsbus.Bus.Ready: the latest policy and keys come on one stream,
	// the revocations in force on another, in no order between them). The
	// State is not ready until then, whatever it holds: a gate with the
	// policy and keys but not yet every revocation would let a revoked
	// session through.
	behind  atomic.Bool
	revoked revocations
	watch   []func() // called after each change, under mu
}

// NewState returns an empty State for tokens issued by issuer for
// audience. It is not Ready until a snapshot (or a policy and a keys
// event) has been applied. It panics if issuer or audience is empty: a
// gate that checked neither would accept tokens meant for others.
func NewState(issuer, audience string) *State {
	if issuer == "" || audience == "" {
		panic("gate: NewState needs an issuer and an audience")
	}
	s := &State{issuer: issuer, audience: audience}
	s.revoked.init()
	return s
}

// apply is Apply for an event of the feed as the module reads it.
func (s *State) apply(e feed.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	switch e.Kind {
	case feed.KindSnapshot:
		if e.Policy == nil {
			return fmt.Errorf("gate: snapshot %s:%d has no policy", e.Epoch, e.Seq)
		}
		p, err := compile(e.Policy, now)
		if err != nil {
			return err
		}
		keys, err := token.ParseJWKS(e.JWKS)
		if err != nil {
			return fmt.Errorf("gate: snapshot %s:%d: %w", e.Epoch, e.Seq, err)
		}
		// The keys go last: a new State decides nothing before it holds
		// a policy and keys, so it must not hold them before the
		// revocations and notices that go with them (a revoked session
		// would pass in between).
		s.revoked.replace(e.Revoked)
		s.policy.Store(p)
		s.notices.Store(wire.CompileNotices(e.Policy.Notices))
		s.keys.Store(keys)
	case feed.KindPolicy:
		if e.Policy == nil {
			return fmt.Errorf("gate: policy event %s:%d has no policy", e.Epoch, e.Seq)
		}
		if cur := s.policy.Load(); cur == nil || e.Policy.Version > cur.Version {
			p, err := compile(e.Policy, now)
			if err != nil {
				return err
			}
			s.policy.Store(p)
			s.notices.Store(wire.CompileNotices(e.Policy.Notices))
		}
	case feed.KindRevoke:
		s.revoked.add(e.Revoked)
	case feed.KindKeys:
		keys, err := token.ParseJWKS(e.JWKS)
		if err != nil {
			return fmt.Errorf("gate: keys event %s:%d: %w", e.Epoch, e.Seq, err)
		}
		s.keys.Store(keys)
	default:
		return fmt.Errorf("gate: event %s:%d has unknown kind %q", e.Epoch, e.Seq, e.Kind)
	}
	// An ignored stale policy counts too: it shows the feed is alive.
	s.updated.Store(now.UnixNano())
	for _, f := range s.watch {
		f()
	}
	return nil
}

// onChange registers f to be called after every event Apply takes, in
// the order of the events. f must not call apply.
func (s *State) onChange(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch = append(s.watch, f)
}

func compile(p *feed.Policy, now time.Time) (*decision.Policy, error) {
	cp, err := decision.Compile(p.DomainCampaigns(), p.Version, now)
	if err != nil {
		return nil, fmt.Errorf("gate: policy version %d: %w", p.Version, err)
	}
	return cp, nil
}

// until is the last instant a revocation is enforced, in Unix ns: its
// Until plus token.Leeway, because the verifier accepts a token through
// that long past its exp, and a revoked session's last token must not
// slip through in that minute. A revocation without an Until is kept
// until the next snapshot: refusing too long is the safe side.
func until(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return t.Add(token.Leeway).UnixNano()
}

// Ready reports whether the State holds a policy and keys, and its
// Follower has delivered everything its feed held when it started; until
// then a Gate answers 503 not_ready rather than guess.
func (s *State) Ready() bool {
	return s.policy.Load() != nil && s.keys.Load() != nil && !s.behind.Load()
}

// PolicyVersion is the version of the policy held, 0 before the first.
func (s *State) PolicyVersion() uint64 {
	if p := s.policy.Load(); p != nil {
		return p.Version
	}
	return 0
}

// Updated is when the State last took an event; the zero time if never.
// An enforcement point that fails static reports how stale it is by it.
func (s *State) Updated() time.Time {
	if n := s.updated.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Revoked reports whether the session's tokens are refused at now: from
// the revoke event through its Until plus a minute (the clock skew the
// verifier allows an expired token). An entry past that is dropped
// as it is found.
func (s *State) Revoked(sid string, now time.Time) bool {
	return s.revoked.has(sid, now.UnixNano())
}

// Sweep drops the revocations that ended before now and returns how
// many. A Gate calls it about once a minute; entries are also dropped
// when a lookup finds them expired.
func (s *State) Sweep(now time.Time) int { return s.revoked.sweep(now.UnixNano()) }

// revocations is the set of revoked sessions. It is read on every
// request and written by the feed a few times a minute, so each of its
// shards is an immutable map behind an atomic pointer, copied on write: a
// lookup is a pointer load and a map read, with nothing written that
// another core would have to fetch back. A write copies one shard (1/32
// of a set that stays small: an entry lives only as long as the session's
// last token could).
type revocations struct {
	n      atomic.Int64 // entries in all shards; lookups skip the set when 0
	shards [revShards]revShard
}

const revShards = 32

type revShard struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]int64]
}

func (r *revocations) init() {
	for i := range r.shards {
		r.shards[i].m.Store(&map[string]int64{})
	}
}

func revShardOf(sid string) uint64 { return decision.AccountHash(sid) % revShards }

func (r *revocations) has(sid string, now int64) bool {
	if r.n.Load() == 0 {
		return false
	}
	sh := &r.shards[revShardOf(sid)]
	u, ok := (*sh.m.Load())[sid]
	if !ok {
		return false
	}
	if now <= u {
		return true
	}
	sh.rewrite(&r.n, func(m map[string]int64) bool {
		u, ok := m[sid]
		return ok && now > u
	}, func(m map[string]int64) { delete(m, sid) })
	return false
}

// rewrite replaces the shard's map by a copy that change has modified, if
// need says the current map needs it. It returns the change in size.
// n, the number of entries in all shards, never drops below the true
// count, so a lookup that finds n zero may skip the set.
func (sh *revShard) rewrite(n *atomic.Int64, need func(map[string]int64) bool, change func(map[string]int64)) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := *sh.m.Load()
	if need != nil && !need(old) {
		return 0
	}
	m := make(map[string]int64, len(old))
	for k, v := range old {
		m[k] = v
	}
	change(m)
	sh.swap(n, old, m)
	return len(m) - len(old)
}

// swap publishes m in place of old (the shard's lock held).
func (sh *revShard) swap(n *atomic.Int64, old, m map[string]int64) {
	d := int64(len(m) - len(old))
	if d > 0 {
		n.Add(d)
	}
	sh.m.Store(&m)
	if d < 0 {
		n.Add(d)
	}
}

// add revokes the sessions of list until their Until.
func (r *revocations) add(list []feed.Revocation) {
	for i, rs := range byShard(list) {
		if len(rs) == 0 {
			continue
		}
		r.shards[i].rewrite(&r.n, nil, func(m map[string]int64) { merge(m, rs) })
	}
}

// replace makes list the whole set. Each shard changes at once, so a
// session revoked before and after is refused throughout.
func (r *revocations) replace(list []feed.Revocation) {
	for i, rs := range byShard(list) {
		m := make(map[string]int64, len(rs))
		merge(m, rs)
		sh := &r.shards[i]
		sh.mu.Lock()
		sh.swap(&r.n, *sh.m.Load(), m)
		sh.mu.Unlock()
	}
}

// merge adds rs to m, keeping the later end of a session listed twice.
func merge(m map[string]int64, rs []feed.Revocation) {
	for _, rv := range rs {
		if u, ok := m[rv.SessionID]; !ok || until(rv.Until) > u {
			m[rv.SessionID] = until(rv.Until)
		}
	}
}

func byShard(list []feed.Revocation) [revShards][]feed.Revocation {
	var out [revShards][]feed.Revocation
	for _, rv := range list {
		if rv.SessionID != "" {
			i := revShardOf(rv.SessionID)
			out[i] = append(out[i], rv)
		}
	}
	return out
}

func (r *revocations) sweep(now int64) int {
	expired := func(m map[string]int64) bool {
		for _, u := range m {
			if now > u {
				return true
			}
		}
		return false
	}
	dropped := 0
	for i := range r.shards {
		dropped -= r.shards[i].rewrite(&r.n, expired, func(m map[string]int64) {
			for sid, u := range m {
				if now > u {
					delete(m, sid)
				}
			}
		})
	}
	return dropped
}

// session builds the session a token vouches for. A gate has no session
// row: the token's claims are the session's facts as of its issue.
func session(c *token.Claims) cordon.Session {
	return cordon.Session{
		ID:        c.SessionID,
		AccountID: c.Subject,
		AuthTime:  c.AuthTime,
		Facts:     cordon.ClientFacts{Platform: c.Platform, Version: c.Version, Source: c.Source},
	}
}

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
)

// State is what an enforcement point knows: the compiled policy, the
// public keys that verify access tokens, and the sessions revoked since
// their tokens were issued. The feed keeps it current through Apply; any
// number of Gates read it.
//
// Reads never take a lock except one shard of the revocation set, and
// only when that set is not empty: the policy and the keys are
// immutable values behind atomic pointers, swapped whole. Apply calls are
// serialised. A reader may see one event half applied (a snapshot's new
// policy with the old keys for an instant); each part is consistent.
type State struct {
	issuer, audience string

	mu      sync.Mutex // serialises Apply
	policy  atomic.Pointer[decision.Policy]
	keys    atomic.Pointer[token.PublicKeys]
	updated atomic.Int64 // Unix ns of the last event taken; 0 never
	revoked revocations
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

// Apply takes one event of the feed, in the order the feed sent them:
//
//   - snapshot replaces everything: the policy (whatever its version),
//     the keys and the revocation set;
//   - policy compiles and swaps in the new policy if its version is newer
//     than the one held, and is ignored otherwise (a replay or a reorder);
//   - revoke adds the sessions, each refused until its Until;
//   - keys swaps the public key set.
//
// Only active campaigns enforce (decision.Compile drops the others), so a
// policy without a cancelled campaign restores access at once. An event
// that cannot be applied (no policy in a snapshot, a JWKS that does not
// parse, an unknown kind) is an error and leaves the State as it was: the
// gate keeps enforcing what it last knew.
func (s *State) Apply(e feed.Event) error {
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
		s.policy.Store(p)
		s.keys.Store(keys)
		s.revoked.replace(e.Revoked)
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
		}
	case feed.KindRevoke:
		for _, r := range e.Revoked {
			s.revoked.add(r.SessionID, until(r.Until))
		}
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
	return nil
}

func compile(p *feed.Policy, now time.Time) (*decision.Policy, error) {
	cp, err := decision.Compile(p.DomainCampaigns(), p.Version, now)
	if err != nil {
		return nil, fmt.Errorf("gate: policy version %d: %w", p.Version, err)
	}
	return cp, nil
}

// until is a revocation's end in Unix ns. A revocation without one is
// kept until the next snapshot: refusing too long is the safe side.
func until(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Ready reports whether the State holds a policy and keys; until then a
// Gate answers 503 not_ready rather than guess.
func (s *State) Ready() bool { return s.policy.Load() != nil && s.keys.Load() != nil }

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

// Revoked reports whether the session's tokens are refused at now. An
// entry past its Until is dropped as it is found.
func (s *State) Revoked(sid string, now time.Time) bool {
	return s.revoked.has(sid, now.UnixNano())
}

// Sweep drops the revocations that ended by now and returns how many. A
// Gate calls it about once a minute; entries are also dropped when a
// lookup finds them expired.
func (s *State) Sweep(now time.Time) int { return s.revoked.sweep(now.UnixNano()) }

// revocations is the set of revoked sessions, sharded so that lookups on
// different sessions rarely meet on a lock. It stays small: an entry
// lives only as long as the session's last token could.
type revocations struct {
	n      atomic.Int64 // entries in all shards; lookups skip the set when 0
	shards [revShards]revShard
}

const revShards = 32

type revShard struct {
	mu sync.RWMutex
	m  map[string]int64 // session id → Unix ns until which it is refused
	_  [32]byte         // keeps neighbouring shards' locks off one cache line
}

func (r *revocations) init() {
	for i := range r.shards {
		r.shards[i].m = map[string]int64{}
	}
}

func (r *revocations) shard(sid string) *revShard {
	return &r.shards[decision.AccountHash(sid)%revShards]
}

func (r *revocations) has(sid string, now int64) bool {
	if r.n.Load() == 0 {
		return false
	}
	sh := r.shard(sid)
	sh.mu.RLock()
	u, ok := sh.m[sid]
	sh.mu.RUnlock()
	if !ok {
		return false
	}
	if now < u {
		return true
	}
	sh.mu.Lock()
	if u2, ok := sh.m[sid]; ok && now >= u2 {
		delete(sh.m, sid)
		r.n.Add(-1)
	}
	sh.mu.Unlock()
	return false
}

func (r *revocations) add(sid string, u int64) {
	if sid == "" {
		return
	}
	sh := r.shard(sid)
	sh.mu.Lock()
	old, ok := sh.m[sid]
	if !ok {
		r.n.Add(1)
	}
	if !ok || u > old {
		sh.m[sid] = u
	}
	sh.mu.Unlock()
}

func (r *revocations) replace(list []feed.Revocation) {
	var next [revShards]map[string]int64
	for i := range next {
		next[i] = map[string]int64{}
	}
	for _, rv := range list {
		if rv.SessionID == "" {
			continue
		}
		m := next[decision.AccountHash(rv.SessionID)%revShards]
		if u := until(rv.Until); u > m[rv.SessionID] {
			m[rv.SessionID] = u
		}
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		r.n.Add(int64(len(next[i]) - len(sh.m)))
		sh.m = next[i]
		sh.mu.Unlock()
	}
}

func (r *revocations) sweep(now int64) int {
	dropped := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for sid, u := range sh.m {
			if now >= u {
				delete(sh.m, sid)
				dropped++
			}
		}
		sh.mu.Unlock()
	}
	r.n.Add(-int64(dropped))
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

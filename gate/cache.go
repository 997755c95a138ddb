package gate

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync/atomic"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// entry is a verified token as the hot path needs it. It is immutable
// once published, so readers need no lock.
type entry struct {
	h   uint64 // the token's hash under the cache's seed
	tok string // the token: a hit needs the very token, not just its hash
	// from and until bound, in Unix ns, when the verifier would accept the
	// token (iat/nbf and exp, each with token.Leeway): a hit outside them
	// is a miss, so the cache never answers what Verify would refuse.
	from, until int64
	// keys is the key set the token was verified under; kid and pub name
	// the key, so that after a key event a hit still needs that key
	// published.
	keys    *token.PublicKeys
	kid     string
	pub     crypto.PublicKey
	session cordon.Session
	expiry  int64 // exp, Unix ns, for Identity
	// client is the Cordon-Client value facts were parsed from, when memo
	// (the header had at most one line). An install sends the same header
	// with every request, so a hit with the same value skips the parse.
	client string
	memo   bool
	facts  cordon.ClientFacts
	// ext is set for a token of a trusted external issuer (external.go):
	// its session has no facts, and its key is the issuer's.
	ext *ExternalToken
}

// valid reports whether the entry may answer at now under the key set
// cur.
func (e *entry) valid(now int64, cur *token.PublicKeys) bool {
	if now < e.from || now > e.until {
		return false
	}
	if e.ext != nil {
		return e.ext.KeyPublished()
	}
	if e.keys == cur {
		return true
	}
	k, ok := cur.PublicKey(e.kid)
	if !ok {
		return false
	}
	eq, ok := k.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(e.pub)
}

// tokenCache is a bounded set-associative cache of verified tokens: a
// token's hash picks one set of `ways` slots, a lookup reads at most that
// many atomic pointers, and an insert replaces an empty or unusable slot,
// else the entry of the set that expires first (the least worth keeping).
// Lookups and inserts are O(1) and take no lock; hits write nothing, so
// cores that read the same entries do not fight over cache lines. Two
// inserts racing for a slot may lose one entry, which costs a later
// verification and nothing else.
type tokenCache struct {
	seed  maphash.Seed
	sets  uint64
	slots []atomic.Pointer[entry]
}

const ways = 8

// newTokenCache returns a cache of at least size entries (rounded up to a
// multiple of ways), or nil for size ≤ 0.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	sets := (size + ways - 1) / ways
	return &tokenCache{seed: maphash.MakeSeed(), sets: uint64(sets), slots: make([]atomic.Pointer[entry], sets*ways)}
}

// hash is the token's 64-bit hash under the cache's random seed: several
// times cheaper than SHA-256 over a ~700-byte token. Collisions cost only a
// miss, since a hit also compares the whole token, and the random seed
// keeps anyone from aiming tokens at one set.
func (c *tokenCache) hash(tok string) uint64 { return maphash.String(c.seed, tok) }

func (c *tokenCache) set(h uint64) []atomic.Pointer[entry] {
	// The high word of a 64×64 product maps a uniform hash onto
	// [0, sets) without a division.
	i, _ := bits.Mul64(h, c.sets)
	return c.slots[i*ways : i*ways+ways]
}

func (c *tokenCache) get(h uint64, tok string) *entry {
	s := c.set(h)
	for i := range s {
		if e := s[i].Load(); e != nil && e.h == h && e.tok == tok {
			return e
		}
	}
	return nil
}

// put stores e, replacing an entry of the same key, an empty slot, an
// entry no longer valid at now, or else the one that expires first.
func (c *tokenCache) put(e *entry, now int64) {
	s := c.set(e.h)
	victim := 0
	var soonest int64
	for i := range s {
		o := s[i].Load()
		if o == nil || (o.h == e.h && o.tok == e.tok) || now > o.until {
			victim = i
			break
		}
		if i == 0 || o.until < soonest {
			victim, soonest = i, o.until
		}
	}
	s[victim].Store(e)
}

// len counts the entries held (for tests).
func (c *tokenCache) len() int {
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

// headerKID returns the kid of a compact JWS that the verifier has
// accepted. go-jose refuses duplicate and reads case-sensitive keys, so
// an exact lookup in a map sees the kid it saw.
func headerKID(tok string) string {
	// cordon's own header is read without a parser; the JSON decode
	// below cost the cold path a map and a dozen allocations.
	if kid := token.OwnKeyID(tok); kid != "" {
		return kid
	}
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return ""
	}
	var h map[string]json.RawMessage
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	var kid string
	if json.Unmarshal(h["kid"], &kid) != nil {
		return ""
	}
	return kid
}

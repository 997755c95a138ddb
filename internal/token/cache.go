package token

import (
	"crypto"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync/atomic"
)

// DefaultCacheSize is how many verified tokens a Verifier's cache keeps by
// default: a token is about 1 KiB with its claims, so some 64 MiB when full.
const DefaultCacheSize = 1 << 16

// verified is a token whose signature held, as the cache keeps it. It is
// immutable once published.
type verified struct {
	h   uint64
	tok string // the whole token: a hit needs the very bytes, not their hash
	// from and until bound, in Unix ns, when check would accept the claims
	// (iat and nbf, exp, each with Leeway): outside them a hit is a miss,
	// and the full check says why the token is refused.
	from, until int64
	kid         string
	pub         crypto.PublicKey
	claims      *Claims
}

// verifiedCache is a bounded set-associative cache (the gate's design): a
// token's seeded hash picks a set of cacheWays slots, lookups and inserts
// take no lock, and an insert replaces an empty, expired or else the
// soonest-expiring slot. Only tokens whose signature held are inserted, so
// nobody can fill it without a valid token for each slot.
type verifiedCache struct {
	seed  maphash.Seed
	sets  uint64
	slots []atomic.Pointer[verified]
}

const cacheWays = 8

func newVerifiedCache(size int) *verifiedCache {
	sets := (size + cacheWays - 1) / cacheWays
	return &verifiedCache{seed: maphash.MakeSeed(), sets: uint64(sets), slots: make([]atomic.Pointer[verified], sets*cacheWays)}
}

func (c *verifiedCache) set(h uint64) []atomic.Pointer[verified] {
	i, _ := bits.Mul64(h, c.sets)
	return c.slots[i*cacheWays : i*cacheWays+cacheWays]
}

// get returns the claims of tok if it was verified before, may be accepted
// at now, and its key is still the one keys publishes under its kid (a key
// retired past its publication, or replaced, turns the entry into a miss).
func (c *verifiedCache) get(tok string, now int64, keys Keys) *Claims {
	h := maphash.String(c.seed, tok)
	s := c.set(h)
	for i := range s {
		e := s[i].Load()
		if e == nil || e.h != h || e.tok != tok {
			continue
		}
		if now < e.from || now > e.until {
			return nil
		}
		k, ok := keys.PublicKey(e.kid)
		if !ok {
			return nil
		}
		if eq, ok := k.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(e.pub) {
			return nil
		}
		return e.claims
	}
	return nil
}

// put keeps a verified token; c must not be changed afterwards.
func (c *verifiedCache) put(tok string, cl *Claims, kid string, pub crypto.PublicKey, now int64) {
	from := cl.IssuedAt
	if cl.NotBefore.After(from) {
		from = cl.NotBefore
	}
	e := &verified{h: maphash.String(c.seed, tok), tok: strings.Clone(tok), kid: kid, pub: pub, claims: cl,
		from: from.Add(-Leeway).UnixNano(), until: cl.Expiry.Add(Leeway).UnixNano()}
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

package gate

import (
	"crypto"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/token"
)

// countingKeys counts the key lookups of a verifier: one per Verify that
// gets as far as the signature.
type countingKeys struct {
	inner token.Keys
	n     atomic.Int64
}

func (c *countingKeys) PublicKey(kid string) (crypto.PublicKey, bool) {
	c.n.Add(1)
	return c.inner.PublicKey(kid)
}

// countVerifies makes f's gate verify through a counter.
func countVerifies(f *fixture) *countingKeys {
	c := &countingKeys{inner: token.KeysFunc(f.st.currentKeys)}
	f.g.verifier = token.NewVerifier(c, issuer, audience)
	return c
}

// TestCacheHitSkipsVerify checks a cached token is not verified again,
// whatever Cordon-Client header comes with it, and that the cache is
// keyed by the token's SHA-256.
func TestCacheHitSkipsVerify(t *testing.T) {
	tests := []struct {
		name      string
		cacheSize int
		want      int64 // verifications for 5 requests
	}{
		{"default cache", 0, 1},
		{"small cache", 8, 1},
		{"no cache", -1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{CacheSize: tt.cacheSize})
			verifies := countVerifies(f)
			tok := f.token(claims())
			clients := []string{androidPlay, androidPlay, `platform=android, version="8.6.0", source=play`, "", androidPlay}
			for i, c := range clients {
				if got := f.do(bearerOf(tok), c); got.code != 200 {
					t.Fatalf("request %d: %d %s", i, got.code, got.body)
				}
			}
			if n := verifies.n.Load(); n != tt.want {
				t.Errorf("%d verifications, want %d", n, tt.want)
			}
			if f.g.cache != nil && f.g.cache.get(f.g.cache.hash(tok), tok) == nil {
				t.Errorf("the token is not cached under its SHA-256")
			}
		})
	}
}

// TestCacheNeverOutlivesTheToken checks a cached token answers exactly
// while the verifier would accept it (exp and iat with token.Leeway).
func TestCacheNeverOutlivesTheToken(t *testing.T) {
	f := newFixture(t, Options{})
	verifies := countVerifies(f)
	tok := bearerOf(f.token(claims())) // issued at base, expires at base+ttl
	steps := []struct {
		name     string
		at       time.Time
		code     int
		message  string
		verifies int64 // cumulative
	}{
		{"fresh", base, 200, "", 1},
		{"cached", base.Add(time.Minute), 200, "", 1},
		{"at exp plus leeway", base.Add(ttl + token.Leeway), 200, "", 1},
		{"a second later", base.Add(ttl + token.Leeway + time.Second), 401, "token expired", 2},
		{"still refused", base.Add(ttl + time.Hour), 401, "token expired", 3},
	}
	for _, s := range steps {
		f.now.Store(s.at.UnixNano())
		got := f.do(tok, androidPlay)
		if got.code != s.code || got.err.Message != s.message {
			t.Errorf("%s: %d %s", s.name, got.code, got.body)
		}
		if n := verifies.n.Load(); n != s.verifies {
			t.Errorf("%s: %d verifications, want %d", s.name, n, s.verifies)
		}
	}

	// A clock set back before the token's issue (less leeway) misses too.
	tok2 := bearerOf(f.token(claims()))
	f.do(tok2, androidPlay)
	f.advance(-token.Leeway - time.Second)
	if got := f.do(tok2, androidPlay); got.code != 401 || got.err.Message != "token issued in the future" {
		t.Errorf("before iat: %d %s", got.code, got.body)
	}
}

// TestCacheBounded checks the cache holds no more than its size, however
// many tokens pass, and that evicted tokens still verify.
func TestCacheBounded(t *testing.T) {
	f := newFixture(t, Options{CacheSize: 64})
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = bearerOf(f.token(claims(func(c *token.Claims) { c.SessionID = fmt.Sprintf("s-%d", i) })))
	}
	for round := range 2 {
		for i, tok := range toks {
			if got := f.do(tok, androidPlay); got.code != 200 {
				t.Fatalf("round %d token %d: %d %s", round, i, got.code, got.body)
			}
		}
	}
	if n := f.g.cache.len(); n > 64 || n < 32 {
		t.Errorf("cache holds %d entries, want at most 64 (and most slots used)", n)
	}
}

// TestCacheEviction checks what an insert into a full set replaces.
func TestCacheEviction(t *testing.T) {
	mk := func(i int, until int64) *entry {
		e := &entry{until: until}
		e.h, e.tok = uint64(i)*0x9e3779b97f4a7c15, fmt.Sprint("token-", i)
		return e
	}
	full := []int64{500, 400, 100, 800, 700, 600, 300, 200}
	tests := []struct {
		name      string
		untils    []int64
		now       int64
		wantGone  int // index of the entry replaced; -1 none
		replacing int // -1: a new key; else the index whose key it reuses
	}{
		{"an empty slot", full[:ways-1], 0, -1, -1},
		{"the one expiring first", full, 0, 2, -1},
		{"an expired one", full, 450, 1, -1},
		{"the same key", full, 0, 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTokenCache(ways) // one set: every key lands in it
			es := make([]*entry, len(tt.untils))
			for i, u := range tt.untils {
				es[i] = mk(i, u)
				c.put(es[i], 0)
			}
			if n := c.len(); n != len(es) {
				t.Fatalf("%d entries after %d puts", n, len(es))
			}
			in := mk(100, 1000)
			if tt.replacing >= 0 {
				in.h, in.tok = es[tt.replacing].h, es[tt.replacing].tok
			}
			c.put(in, tt.now)
			if n := c.len(); n != ways {
				t.Errorf("%d entries, want %d", n, ways)
			}
			for i, e := range es {
				got := c.get(e.h, e.tok)
				switch {
				case i == tt.wantGone && got == e:
					t.Errorf("entry %d (until %d) was kept", i, e.until)
				case i != tt.wantGone && got != e:
					t.Errorf("entry %d (until %d) was evicted", i, e.until)
				}
			}
			if c.get(in.h, in.tok) != in {
				t.Errorf("the new entry is not found")
			}
		})
	}
	if newTokenCache(0) != nil || newTokenCache(-5) != nil {
		t.Errorf("a cache of size ≤ 0 is not off")
	}
	if c := newTokenCache(100_000); len(c.slots) < 100_000 || len(c.slots) >= 100_000+ways {
		t.Errorf("a cache of 100,000 has %d slots", len(c.slots))
	}
}

// TestCacheMemoisesOneLineClients checks the Cordon-Client memo of a
// cache entry: a header sent in two lines is parsed (joined) each time
// and never answers for a request with another header, or none.
func TestCacheMemoisesOneLineClients(t *testing.T) {
	f := newFixture(t, Options{})
	tok := bearerOf(f.token(claims()))
	steps := []struct {
		name    string
		client  string
		extra   []string
		version string
	}{
		{"two lines first", "", []string{"Cordon-Client", "platform=android", "Cordon-Client", `version="8.7.0"`}, "8.7.0"},
		{"then none", "", nil, "8.4.1"},
		{"then one line", `platform=android, version="8.8.0"`, nil, "8.8.0"},
		{"then none again", "", nil, "8.4.1"},
		{"then a bad one", "platform=amiga", nil, ""},
	}
	for _, s := range steps {
		got := f.do(tok, s.client, s.extra...)
		switch {
		case s.version == "" && got.code != 400:
			t.Errorf("%s: %d %s", s.name, got.code, got.body)
		case s.version != "" && (got.id == nil || got.id.Version != s.version):
			t.Errorf("%s: %d %s, identity %+v, want version %s", s.name, got.code, got.body, got.id, s.version)
		}
	}
}

package password

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// A Family is a hash scheme at one cost: what a verify of such a hash
// costs in time. "argon2id-m19456-t2-p1" or "bcrypt-12".
type Family string

// Scheme returns the part of encoded that fixes its cost, with salt and
// key cut off: "$argon2id$v=19$m=19456,t=2,p=1$" or "$2b$12$". Stores
// group their hashes by it (see SchemeSQL); FamilyOf reads it.
func Scheme(encoded string) string {
	if isBcrypt(encoded) && len(encoded) >= 7 {
		return encoded[:7]
	}
	// $argon2id$v=19$m=…,t=…,p=…$salt$key: drop the last two fields.
	s := strings.TrimRight(encoded, b64Alphabet)
	s = strings.TrimRight(s, "$")
	return strings.TrimRight(s, b64Alphabet)
}

// b64Alphabet is the PHC base64 alphabet (standard, no padding).
const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// FamilyOf returns the family of a scheme or a whole encoded hash, or ""
// if it is neither bcrypt nor argon2id within the decoder's bounds.
func FamilyOf(scheme string) Family {
	if isBcrypt(scheme) {
		if len(scheme) < 7 || !isDigit(scheme[4]) || !isDigit(scheme[5]) || scheme[6] != '$' {
			return ""
		}
		cost := int(scheme[4]-'0')*10 + int(scheme[5]-'0')
		if cost < bcrypt.MinCost || cost > maxBcryptCost {
			return ""
		}
		return Family("bcrypt-" + strconv.Itoa(cost))
	}
	p, ok := schemeParams(scheme)
	if !ok {
		return ""
	}
	return argonFamily(p)
}

func argonFamily(p Params) Family {
	return Family("argon2id-m" + strconv.FormatUint(uint64(p.MemoryKiB), 10) + "-t" +
		strconv.FormatUint(uint64(p.Time), 10) + "-p" + strconv.FormatUint(uint64(p.Threads), 10))
}

// schemeParams reads the cost of an argon2id scheme or hash by decoding
// it with a stand-in salt and key when they are absent.
func schemeParams(scheme string) (Params, bool) {
	s := scheme
	if strings.HasSuffix(s, "$") { // the scheme alone: "$argon2id$v=19$m=…$"
		s += "AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	}
	h, err := decodePHC(s)
	if err != nil {
		return Params{}, false
	}
	return h.params, true
}

// dummies are the hashes VerifyDummy verifies against: one per family
// present among the accounts, weighted by how many accounts have it.
type dummies struct {
	fams   []Family // sorted, so a username's pick depends only on the counts
	counts []int
	total  int
	hashes map[Family]string
}

// dummyState is the Hasher's part for unknown usernames.
type dummyState struct {
	key    [32]byte // keys the pick of a family for a username
	mu     sync.Mutex
	counts map[Family]int // guarded by mu
	cur    atomic.Pointer[dummies]
	// verifies counts verifications by family, dummy ones included, so
	// that neither metrics nor tests can tell them from real ones.
	verifies sync.Map // Family → *atomic.Int64
}

// SetSchemes tells the hasher how many accounts hold each hash scheme (as
// Scheme returns it), so that VerifyDummy costs what verifying a real
// account's hash would. It replaces what it was told before. Unknown
// schemes are ignored; with none known the dummy is the hasher's own
// argon2id.
func (h *Hasher) SetSchemes(counts map[string]int) {
	fams := make(map[Family]int, len(counts))
	for s, n := range counts {
		if f := FamilyOf(s); f != "" && n > 0 {
			fams[f] += n
		}
	}
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	h.d.counts = fams
	h.installDummies()
}

// AddScheme counts n more accounts holding a hash of encoded's scheme
// (an import, a new account); n may be negative (a rehash moved one away).
func (h *Hasher) AddScheme(encoded string, n int) {
	f := FamilyOf(Scheme(encoded))
	if f == "" {
		return
	}
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if h.d.counts == nil {
		h.d.counts = make(map[Family]int)
	}
	h.d.counts[f] = max(h.d.counts[f]+n, 0)
	if h.d.counts[f] == 0 {
		delete(h.d.counts, f)
	}
	h.installDummies()
}

// installDummies rebuilds the dummy set from the counts; h.d.mu is held.
func (h *Hasher) installDummies() {
	old := h.d.cur.Load()
	next := &dummies{hashes: make(map[Family]string, len(h.d.counts))}
	next.fams = slices.Sorted(maps.Keys(h.d.counts))
	for _, f := range next.fams {
		n := h.d.counts[f]
		next.counts = append(next.counts, n)
		next.total += n
		if old != nil && old.hashes[f] != "" {
			next.hashes[f] = old.hashes[f]
			continue
		}
		next.hashes[f] = dummyHash(f)
	}
	h.d.cur.Store(next)
}

// dummyHash makes a hash of family f that no password matches: random
// salt and key for argon2id; for bcrypt a cheap cost-4 hash of a random
// password with its cost field rewritten, which verifies at the full cost
// (bcrypt reads the cost from the string) without paying it here.
func dummyHash(f Family) string {
	if c, ok := strings.CutPrefix(string(f), "bcrypt-"); ok {
		enc, err := bcrypt.GenerateFromPassword(randomBytes(32), bcrypt.MinCost)
		if err != nil {
			panic("password: bcrypt dummy: " + err.Error())
		}
		if len(c) == 1 {
			c = "0" + c
		}
		return string(enc[:4]) + c + string(enc[6:])
	}
	var p Params
	if _, err := parseArgonFamily(string(f), &p); err != nil {
		return ""
	}
	p = p.withDefaults()
	return phc{params: p, salt: randomBytes(p.SaltLen), key: randomBytes(p.KeyLen)}.encode()
}

// parseArgonFamily parses an argon2id family name back into its parameters.
func parseArgonFamily(f string, p *Params) (int, error) {
	rest, ok := strings.CutPrefix(f, "argon2id-m")
	if !ok {
		return 0, errMalformedFamily
	}
	m, rest, _ := strings.Cut(rest, "-t")
	t, threads, _ := strings.Cut(rest, "-p")
	mv, err1 := strconv.ParseUint(m, 10, 32)
	tv, err2 := strconv.ParseUint(t, 10, 32)
	pv, err3 := strconv.ParseUint(threads, 10, 8)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, errMalformedFamily
	}
	p.MemoryKiB, p.Time, p.Threads = uint32(mv), uint32(tv), uint8(pv)
	return 3, nil
}

var errMalformedFamily = malformed("not a hash family")

// dummyFor picks the hash an unknown username is verified against. The
// pick is a keyed hash of the username key over the families present,
// weighted by their account counts: stable, so asking again about one
// name always costs the same (a name whose cost varied would be unknown),
// secret, so nobody can tell which names cost which, and distributed like
// the real accounts, so a cost says nothing about whether a name exists.
func (h *Hasher) dummyFor(usernameKey string) string {
	d := h.d.cur.Load()
	if d == nil || d.total == 0 {
		return ""
	}
	mac := hmac.New(sha256.New, h.d.key[:])
	mac.Write([]byte(usernameKey))
	x := binary.BigEndian.Uint64(mac.Sum(nil)) % uint64(d.total)
	for i, n := range d.counts {
		if x < uint64(n) {
			return d.hashes[d.fams[i]]
		}
		x -= uint64(n)
	}
	return d.hashes[d.fams[len(d.fams)-1]]
}

// countVerify records one verification of a hash of family f.
func (h *Hasher) countVerify(f Family) {
	c, ok := h.d.verifies.Load(f)
	if !ok {
		c, _ = h.d.verifies.LoadOrStore(f, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
}

// Verifications returns how many verifications ran per hash family since
// the hasher started, dummy ones counted under the family they imitate.
func (h *Hasher) Verifications() map[Family]int64 {
	out := make(map[Family]int64)
	h.d.verifies.Range(func(k, v any) bool {
		out[k.(Family)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// VerifyDummy does the work of verifying a wrong password against the
// hash an account named usernameKey (cordon.UsernameKey) would most
// plausibly have, given the families present (SetSchemes), and throws the
// answer away. Call it when the username is unknown so the answer takes as
// long as for a wrong password, and answer exactly as for one. Its error
// is Verify's overload error: pass it on just as Verify's, or an
// overloaded server would tell known users from unknown.
func (h *Hasher) VerifyDummy(ctx context.Context, password, usernameKey string) error {
	enc := h.dummyFor(usernameKey)
	if enc == "" {
		if err := h.acquire(ctx); err != nil {
			return err
		}
		defer h.release()
		h.countVerify(argonFamily(h.params))
		verifyArgon2id(password, h.dummy)
		return nil
	}
	_, _, err := h.Verify(ctx, password, enc)
	return err
}

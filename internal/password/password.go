// Package password hashes and verifies passwords and decides which new
// passwords are acceptable.
//
// Hashes are argon2id PHC strings at OWASP ASVS 5.0's minimum parameters;
// bcrypt hashes imported from a previous system still verify and are flagged
// for rehashing. Every hash and verify takes a slot from a bounded semaphore,
// because each costs a 19 MiB buffer and a login storm must turn into quick
// "overloaded" answers rather than unbounded memory. Policy follows NIST SP
// 800-63B: a length range counted in code points after NFKC, a blocklist of
// common passwords, and no composition rules.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Params are argon2id's cost parameters and output sizes.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8
	SaltLen   uint32 // bytes
	KeyLen    uint32 // bytes
}

// DefaultParams returns t=2, m=19 MiB, p=1 with a 16-byte salt and a 32-byte
// key: the minimum OWASP ASVS 5.0 (Appendix C) accepts for argon2id. Raise
// memory before time when the servers can afford it.
func DefaultParams() Params {
	return Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Validate reports whether p is within the bounds this package accepts when
// it decodes a stored hash, so every hash it writes can be read back.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB:
		// RFC 9106 §3.1 asks for at least 8 KiB per lane.
		return fmt.Errorf("argon2id memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxMemoryKiB)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length %d out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// withDefaults fills each zero field from DefaultParams.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.MemoryKiB == 0 {
		p.MemoryKiB = d.MemoryKiB
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// Limits bound how much hashing a Hasher does at once. Each running hash
// holds Params.MemoryKiB of memory, so MaxConcurrent × MemoryKiB is the
// ceiling on what hashing can allocate.
type Limits struct {
	// MaxConcurrent is how many hashes or verifies run at once; zero means
	// runtime.GOMAXPROCS(0)*2.
	MaxConcurrent int
	// MaxQueue is how many callers may wait for a slot; beyond it callers
	// are refused at once. Zero means 64; negative means none may wait.
	MaxQueue int
	// QueueWait is the longest a caller waits for a slot; zero means 2s.
	QueueWait time.Duration
}

// Hasher hashes and verifies passwords under Limits. It is safe for
// concurrent use.
type Hasher struct {
	params Params
	// slots holds the start time of each slot taken. A release takes
	// the oldest out, not necessarily its own: the sum of (release −
	// start) over all releases is still the slots' busy time, which is
	// all Load reports.
	slots     chan time.Time
	maxQueue  int64
	queueWait time.Duration
	inFlight  atomic.Int64
	waiting   atomic.Int64
	done      atomic.Int64 // slots released
	busy      atomic.Int64 // nanoseconds slots were held, summed
	shed      atomic.Int64 // callers refused for a full queue or a long wait
	// dummy is verified against by VerifyDummy while no families are
	// known: the hasher's own params with a random salt and key, so the
	// work equals a real verify's.
	dummy phc
	d     dummyState
}

// NewHasher returns a Hasher that writes hashes with p. Zero fields of p
// take DefaultParams' values and zero fields of cfg their documented
// defaults. It panics if p, so filled, fails Validate: params come from
// code or validated settings, and a hasher that writes hashes it cannot
// read back must never start.
func NewHasher(p Params, cfg Limits) *Hasher {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		panic("password: invalid params: " + err.Error())
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = runtime.GOMAXPROCS(0) * 2
	}
	switch {
	case cfg.MaxQueue == 0:
		cfg.MaxQueue = 64
	case cfg.MaxQueue < 0:
		cfg.MaxQueue = 0
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = 2 * time.Second
	}
	h := &Hasher{
		params:    p,
		slots:     make(chan time.Time, cfg.MaxConcurrent),
		maxQueue:  int64(cfg.MaxQueue),
		queueWait: cfg.QueueWait,
		dummy: phc{
			params: p,
			salt:   randomBytes(p.SaltLen),
			key:    randomBytes(p.KeyLen),
		},
	}
	copy(h.d.key[:], randomBytes(32))
	return h
}

// Params returns the parameters new hashes are written with.
func (h *Hasher) Params() Params { return h.params }

// InFlight returns how many hashes or verifies are running now.
func (h *Hasher) InFlight() int { return int(h.inFlight.Load()) }

// Queue returns how many callers may wait for a slot, and for how long.
func (h *Hasher) Queue() (callers int, wait time.Duration) { return int(h.maxQueue), h.queueWait }

// Waiting returns how many callers are queued for a slot now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// Load is what a hasher has done since it started; two Loads apart in
// time give its throughput and what it refused meanwhile.
type Load struct {
	// Done counts the hashes and verifies (dummies included) that held a
	// slot, and Busy the time they held it, summed over slots.
	Done int64
	Busy time.Duration
	// Shed counts callers answered overloaded: the queue was full or the
	// wait for a slot too long (not callers that went away).
	Shed int64
	// Slots is how many may hash at once; Waiting how many wait now.
	Slots, Waiting int
}

// Load returns the hasher's counters now.
func (h *Hasher) Load() Load {
	return Load{Done: h.done.Load(), Busy: time.Duration(h.busy.Load()), Shed: h.shed.Load(), Slots: cap(h.slots), Waiting: h.Waiting()}
}

// Hash returns the argon2id PHC string of the NFKC form of password. The
// password is not checked against a Policy here; callers check first.
// Errors are *cordon.Error with ECodeOverloaded when no slot was had.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := phc{params: h.params, salt: randomBytes(h.params.SaltLen)}
	p.key = idKey(password, p.salt, h.params)
	return p.encode(), nil
}

// Verify reports whether password matches encoded, an argon2id PHC string
// at any parameters or a hash imported from a previous system: bcrypt
// ($2a$, $2b$, $2y$), PBKDF2 ($pbkdf2-sha1|sha256|sha512$, Django's
// pbkdf2_sha256$ and pbkdf2_sha1$) or Firebase's modified scrypt
// ($firebase-scrypt$). When ok, rehash reports that encoded should be
// replaced by Hash(password): always for an imported hash, and for argon2id
// whose parameters differ from the hasher's. rehash is false whenever ok
// is false.
//
// A malformed encoded is an error wrapping ErrMalformedHash: an internal
// fault, never shown to the user as a wrong password. Errors are otherwise
// *cordon.Error with ECodeOverloaded when no slot was had.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	if stored, isImported, err := decodeImported(encoded); isImported {
		return h.verifyImported(ctx, password, stored, err)
	}
	if isBcrypt(encoded) {
		if err := checkBcrypt(encoded); err != nil {
			return false, false, err
		}
		if err := h.acquire(ctx); err != nil {
			return false, false, err
		}
		defer h.release()
		h.countVerify(FamilyOf(encoded))
		ok = verifyBcrypt(password, encoded)
		return ok, ok, nil
	}

	stored, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	h.countVerify(argonFamily(stored.params))
	ok = verifyArgon2id(password, stored)
	return ok, ok && stored.params != h.params, nil
}

func verifyArgon2id(password string, stored phc) bool {
	key := idKey(password, stored.salt, stored.params)
	return subtle.ConstantTimeCompare(key, stored.key) == 1
}

// idKey hashes the NFKC form of password, so that the same text typed on
// keyboards that produce different code points (a ligature, a decomposed
// accent) is one password (NIST SP 800-63B §5.1.1.2). It never truncates.
func idKey(password string, salt []byte, p Params) []byte {
	return argon2.IDKey([]byte(norm.NFKC.String(password)), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
}

// maxBcryptCost bounds imported bcrypt hashes: cost 16 already takes
// seconds, and cost 31 would hold a slot for days.
const maxBcryptCost = 16

func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// checkBcrypt refuses anything but the 60-character modular crypt form:
// x/crypto's parser ignores characters past the hash, so trailing junk
// would otherwise still verify.
func checkBcrypt(encoded string) error {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	if len(encoded) != 60 || !isDigit(encoded[4]) || !isDigit(encoded[5]) || encoded[6] != '$' {
		return malformed("bcrypt hash is not 60 characters in modular crypt form")
	}
	for _, c := range encoded[7:] {
		if !strings.ContainsRune(alphabet, c) {
			return malformed("bcrypt hash has a character outside its base64 alphabet")
		}
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return malformed("bcrypt hash: %v", err)
	}
	if cost > maxBcryptCost {
		return malformed("bcrypt cost %d above %d", cost, maxBcryptCost)
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// verifyBcrypt checks the password as the previous system most likely
// hashed it: its raw bytes (bcrypt implementations hash what they are
// given). It runs bcrypt once, never a second time on the NFKC form: a
// second run would make a wrong password that NFKC changes cost double,
// which tells anyone timing it that the account is an imported one.
// bcrypt reads only the first 72 bytes, which is the old system's limit
// and ours only until the rehash.
func verifyBcrypt(password, encoded string) bool {
	return bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)) == nil
}

// Causes of an overload, kept in cordon.Error.Err for logs.
var (
	errQueueFull = errors.New("password: hashing queue is full")
	errQueueWait = errors.New("password: no hashing slot within the queue wait")
)

func overloaded(cause error) error {
	return &cordon.Error{
		Code:       cordon.ECodeOverloaded,
		Message:    "login servers are busy; retry shortly",
		RetryAfter: 1,
		Err:        cause,
	}
}

// acquire takes a slot, waiting at most queueWait behind at most maxQueue
// others. A caller whose ctx has ended gets no slot even if one is free:
// nobody is left to read the answer.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return overloaded(err)
	}
	select {
	case h.slots <- time.Now():
		h.inFlight.Add(1)
		return nil
	default:
	}

	if h.waiting.Add(1) > h.maxQueue {
		h.waiting.Add(-1)
		h.shed.Add(1)
		return overloaded(errQueueFull)
	}
	defer h.waiting.Add(-1)
	timer := time.NewTimer(h.queueWait)
	defer timer.Stop()
	select {
	case h.slots <- time.Now():
		h.inFlight.Add(1)
		return nil
	case <-timer.C:
		h.shed.Add(1)
		return overloaded(errQueueWait)
	case <-ctx.Done():
		return overloaded(ctx.Err())
	}
}

func (h *Hasher) release() {
	h.inFlight.Add(-1)
	start := <-h.slots
	h.busy.Add(int64(time.Since(start)))
	h.done.Add(1)
}

func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand.Read does not fail on supported platforms (Go 1.24+
		// crashes the program itself), so this is unreachable.
		panic("password: crypto/rand failed: " + err.Error())
	}
	return b
}

// CheckEncoded says whether Verify could check a password against encoded:
// a bcrypt hash in modular crypt form (cost ≤ 16), an argon2id PHC string,
// a PBKDF2 or a Firebase scrypt hash, each within its decoder's bounds.
// Imports call it, so a hash that would fail at every login is refused at
// the door instead.
func CheckEncoded(encoded string) error {
	if isBcrypt(encoded) {
		return checkBcrypt(encoded)
	}
	if _, isImported, err := decodeImported(encoded); isImported {
		return err
	}
	_, err := decodePHC(encoded)
	return err
}

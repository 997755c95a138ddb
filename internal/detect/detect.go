// Package detect finds login abuse as it happens: credential stuffing
// (many accounts, mostly failing, from many addresses), password spraying
// (one password tried against many accounts) and brute force (many
// failures on one account). It sees each login attempt once, keeps a
// sliding window of bounded size, and raises an alert with its evidence
// (counts, addresses, accounts, the window) and the accounts the attack
// reached, which an operator can turn into a campaign's cohort.
//
// A Detector reads no clock (the attempt carries its time) and does no
// I/O; the caller stores and delivers the alerts. Passwords never reach it:
// the caller passes a keyed hash (PasswordKey.Sum), so a sprayed password is
// counted without being kept.
package detect

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Kinds of alert.
const (
	KindStuffing   = "credential_stuffing"
	KindSpraying   = "password_spraying"
	KindBruteForce = "brute_force"
)

// Attempt is one login attempt.
type Attempt struct {
	At time.Time
	// Account is the attempted username's key (cordon.UsernameKey), known
	// or not: stuffing lists mostly name accounts that exist elsewhere.
	Account string
	Address string
	// Password is the keyed hash of the attempted password (PasswordKey).
	Password Hash
	OK       bool
}

// Hash is a keyed hash of a password attempt.
type Hash [16]byte

// PasswordKey hashes attempted passwords with a key of its own, made at
// random for each process: a hash is only compared with hashes of the same
// run, and cannot be tested against a dictionary once the process is gone.
type PasswordKey struct {
	key [32]byte
	// macs keeps keyed HMAC states for reuse: a login then pays the hash
	// and no allocation for the key schedule.
	macs sync.Pool
}

// NewPasswordKey returns a key made from crypto/rand.
func NewPasswordKey() *PasswordKey {
	k := new(PasswordKey)
	rand.Read(k.key[:])
	return k
}

// PasswordKeyOf returns the key derived from a deployment's secret (kept
// in its store, as its other keys are): every node of the deployment, and
// every restart, names a sprayed password alike, and still nobody without
// the secret can test a hash against a dictionary.
func PasswordKeyOf(secret []byte) *PasswordKey {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("cordon detect password key v1"))
	k := new(PasswordKey)
	copy(k.key[:], m.Sum(nil))
	return k
}

// LogValue keeps the key out of logs.
func (k *PasswordKey) LogValue() slog.Value { return slog.StringValue("[detect password key]") }

// Sum returns the keyed hash of password.
func (k *PasswordKey) Sum(password string) Hash {
	m, _ := k.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, k.key[:])
	}
	m.Reset()
	io.WriteString(m, password)
	var buf [sha256.Size]byte
	var h Hash
	copy(h[:], m.Sum(buf[:0]))
	k.macs.Put(m)
	return h
}

// Rules are the thresholds, each over Window.
type Rules struct {
	Window time.Duration
	// Credential stuffing: at least StuffingAccounts distinct accounts
	// failed, from at least StuffingAddresses addresses, with at least
	// StuffingFailureRatio of the window's attempts failing.
	StuffingAccounts     int
	StuffingAddresses    int
	StuffingFailureRatio float64
	// Password spraying: one password failed on at least SprayAccounts
	// distinct accounts.
	SprayAccounts int
	// Brute force: at least BruteFailures failures on one account.
	BruteFailures int
	// Cooldown: an alert of a kind for one key is raised at most once per
	// Cooldown; its evidence keeps growing in the detector meanwhile.
	Cooldown time.Duration
	// MaxAttempts bounds the window's memory: beyond it the oldest
	// attempts are forgotten first (about 100 bytes each).
	MaxAttempts int
}

// DefaultRules suit a consumer service: a stuffing wave tries thousands of
// accounts; a person mistyping a password fails a few times.
func DefaultRules() Rules {
	return Rules{Window: 10 * time.Minute,
		StuffingAccounts: 100, StuffingAddresses: 10, StuffingFailureRatio: 0.8,
		SprayAccounts: 20, BruteFailures: 30, Cooldown: time.Hour, MaxAttempts: 1 << 20}
}

// MaxListed bounds the accounts and addresses an alert lists.
const MaxListed = 1000

// Alert is an attack seen in the window, with its evidence.
type Alert struct {
	Kind string    `json:"kind"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Key is what the alert is about: the account for brute force, a
	// short fingerprint of the sprayed password, "*" for stuffing.
	Key       string `json:"key"`
	Attempts  int    `json:"attempts"`
	Failures  int    `json:"failures"`
	Accounts  int    `json:"accounts"`  // distinct accounts tried
	Addresses int    `json:"addresses"` // distinct addresses used
	// TopAddresses are the addresses with the most failures, at most
	// MaxListed, most first.
	TopAddresses []string `json:"top_addresses"`
	// Reached are the accounts the attack got into: a success from an
	// attacking address (stuffing), with the sprayed password (spraying),
	// or after the failures (brute force). Sorted; at most MaxListed.
	Reached []string `json:"reached"`
	// ReachedTotal counts them all.
	ReachedTotal int `json:"reached_total"`
}

// Detector keeps the window. It is safe for concurrent use. Each attempt
// costs O(1): counters are kept as attempts enter and leave the window, and
// only an alert, which is rare, scans the window for its evidence.
type Detector struct {
	rules Rules

	mu       sync.Mutex
	attempts []Attempt // in arrival order, the window's
	head     int       // attempts[head:] are live
	raised   map[string]time.Time
	pruneAt  int // prune raised when it grows past this

	fails      int                     // failed attempts in the window
	accFails   map[string]int          // failures per account
	addrFails  map[string]int          // failures per address
	pwAccounts map[Hash]map[string]int // failures per account, per password
}

// New returns a detector with rules; zero fields take DefaultRules'.
func New(r Rules) *Detector {
	d := DefaultRules()
	if r.Window > 0 {
		d.Window = r.Window
	}
	if r.StuffingAccounts > 0 {
		d.StuffingAccounts = r.StuffingAccounts
	}
	if r.StuffingAddresses > 0 {
		d.StuffingAddresses = r.StuffingAddresses
	}
	if r.StuffingFailureRatio > 0 {
		d.StuffingFailureRatio = r.StuffingFailureRatio
	}
	if r.SprayAccounts > 0 {
		d.SprayAccounts = r.SprayAccounts
	}
	if r.BruteFailures > 0 {
		d.BruteFailures = r.BruteFailures
	}
	if r.Cooldown > 0 {
		d.Cooldown = r.Cooldown
	}
	if r.MaxAttempts > 0 {
		d.MaxAttempts = r.MaxAttempts
	}
	return &Detector{rules: d, raised: map[string]time.Time{}, pruneAt: 1024,
		accFails: map[string]int{}, addrFails: map[string]int{}, pwAccounts: map[Hash]map[string]int{}}
}

// Rules returns the rules in force.
func (d *Detector) Rules() Rules { return d.rules }

// Observe records an attempt and returns the alerts it raises (usually
// none). A failed attempt can raise any kind; a successful one adds the
// account to what an attack under way reached, and raises nothing.
func (d *Detector) Observe(a Attempt) []Alert {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(a.At)
	if len(d.attempts)-d.head >= d.rules.MaxAttempts {
		d.drop()
	}
	d.attempts = append(d.attempts, a)
	if a.OK {
		return nil
	}
	d.count(a, 1)
	var out []Alert
	if al, ok := d.bruteForce(a); ok {
		out = append(out, al)
	}
	if al, ok := d.spraying(a); ok {
		out = append(out, al)
	}
	if al, ok := d.stuffing(a); ok {
		out = append(out, al)
	}
	return out
}

// count adds (by 1) or removes (by -1) a failed attempt from the counters.
func (d *Detector) count(a Attempt, by int) {
	d.fails += by
	bump(d.accFails, a.Account, by)
	bump(d.addrFails, a.Address, by)
	m := d.pwAccounts[a.Password]
	if m == nil {
		m = map[string]int{}
		d.pwAccounts[a.Password] = m
	}
	bump(m, a.Account, by)
	if len(m) == 0 {
		delete(d.pwAccounts, a.Password)
	}
}

func bump(m map[string]int, k string, by int) {
	if n := m[k] + by; n > 0 {
		m[k] = n
	} else {
		delete(m, k)
	}
}

// drop takes the oldest attempt out of the window.
func (d *Detector) drop() {
	if old := d.attempts[d.head]; !old.OK {
		d.count(old, -1)
	}
	d.attempts[d.head] = Attempt{}
	d.head++
}

// expire drops attempts older than the window and compacts the slice
// once half of it is dead.
func (d *Detector) expire(now time.Time) {
	cut := now.Add(-d.rules.Window)
	for d.head < len(d.attempts) && d.attempts[d.head].At.Before(cut) {
		d.drop()
	}
	if d.head > 0 && d.head >= len(d.attempts)/2 {
		d.attempts = append(d.attempts[:0], d.attempts[d.head:]...)
		d.head = 0
	}
}

// raise reports whether an alert for key may be raised at now.
func (d *Detector) raise(key string, now time.Time) bool {
	if at, ok := d.raised[key]; ok && now.Sub(at) < d.rules.Cooldown {
		return false
	}
	d.raised[key] = now
	if len(d.raised) > d.pruneAt {
		// Forget cooled-down keys now and then, not on every attempt.
		for k, at := range d.raised {
			if now.Sub(at) >= d.rules.Cooldown {
				delete(d.raised, k)
			}
		}
		d.pruneAt = max(1024, 2*len(d.raised))
	}
	return true
}

// live is the window's attempts.
func (d *Detector) live() []Attempt { return d.attempts[d.head:] }

// bruteForce: the account's failures in the window.
func (d *Detector) bruteForce(a Attempt) (Alert, bool) {
	if d.accFails[a.Account] < d.rules.BruteFailures || !d.raise(KindBruteForce+"/"+a.Account, a.At) {
		return Alert{}, false
	}
	return d.evidence(KindBruteForce, a.Account, a.At, func(x Attempt) bool { return x.Account == a.Account },
		func(x Attempt, _ map[string]int) bool { return x.Account == a.Account }), true
}

// spraying: the distinct accounts this password failed on.
func (d *Detector) spraying(a Attempt) (Alert, bool) {
	key := fingerprint(a.Password)
	if len(d.pwAccounts[a.Password]) < d.rules.SprayAccounts || !d.raise(KindSpraying+"/"+key, a.At) {
		return Alert{}, false
	}
	return d.evidence(KindSpraying, key, a.At, func(x Attempt) bool { return x.Password == a.Password },
		func(x Attempt, _ map[string]int) bool { return x.Password == a.Password }), true
}

// stuffing: many accounts failing from many addresses, mostly failures.
func (d *Detector) stuffing(a Attempt) (Alert, bool) {
	live := len(d.attempts) - d.head
	if len(d.accFails) < d.rules.StuffingAccounts || len(d.addrFails) < d.rules.StuffingAddresses ||
		float64(d.fails) < d.rules.StuffingFailureRatio*float64(live) || !d.raise(KindStuffing, a.At) {
		return Alert{}, false
	}
	// A success counts as reached when its address failed in the window:
	// the list was tried from there.
	return d.evidence(KindStuffing, "*", a.At, func(Attempt) bool { return true },
		func(x Attempt, failsAt map[string]int) bool { return failsAt[x.Address] > 0 }), true
}

// evidence builds an alert over the window's attempts that match. A
// successful one counts as reached when it comes after a matching failure
// and reached says so, given the failures per address so far.
func (d *Detector) evidence(kind, key string, now time.Time, match func(Attempt) bool, reached func(Attempt, map[string]int) bool) Alert {
	al := Alert{Kind: kind, Key: key, To: now}
	accounts := map[string]struct{}{}
	failsAt := map[string]int{}
	got := map[string]struct{}{}
	for _, x := range d.live() {
		if !match(x) {
			continue
		}
		if al.Attempts == 0 {
			al.From = x.At
		}
		al.Attempts++
		accounts[x.Account] = struct{}{}
		if !x.OK {
			al.Failures++
			failsAt[x.Address]++
			continue
		}
		if al.Failures > 0 && reached(x, failsAt) {
			got[x.Account] = struct{}{}
		}
		if _, ok := failsAt[x.Address]; !ok {
			failsAt[x.Address] = 0
		}
	}
	al.Accounts, al.Addresses, al.ReachedTotal = len(accounts), len(failsAt), len(got)
	for acct := range got {
		al.Reached = append(al.Reached, acct)
	}
	slices.Sort(al.Reached)
	al.Reached = al.Reached[:min(len(al.Reached), MaxListed)]
	for addr, n := range failsAt {
		if n > 0 {
			al.TopAddresses = append(al.TopAddresses, addr)
		}
	}
	slices.SortFunc(al.TopAddresses, func(a, b string) int {
		if failsAt[a] != failsAt[b] {
			return failsAt[b] - failsAt[a]
		}
		if a < b {
			return -1
		}
		return 1
	})
	al.TopAddresses = al.TopAddresses[:min(len(al.TopAddresses), MaxListed)]
	return al
}

// Reached returns the accounts an attack has reached so far, recomputed
// over the window: an alert's list grows while the attack goes on (a
// success after the alert was raised). kind and key are the alert's.
func (d *Detector) Reached(kind, key string, now time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	var al Alert
	switch kind {
	case KindBruteForce:
		al = d.evidence(kind, key, now, func(x Attempt) bool { return x.Account == key },
			func(x Attempt, _ map[string]int) bool { return x.Account == key })
	case KindSpraying:
		al = d.evidence(kind, key, now, func(x Attempt) bool { return fingerprint(x.Password) == key },
			func(Attempt, map[string]int) bool { return true })
	case KindStuffing:
		al = d.evidence(kind, key, now, func(Attempt) bool { return true },
			func(x Attempt, failsAt map[string]int) bool { return failsAt[x.Address] > 0 })
	default:
		return nil
	}
	return al.Reached
}

// Fingerprint names a sprayed password in an alert without revealing it:
// the first 6 bytes of its keyed hash, in hex.
func Fingerprint(h Hash) string { return fingerprint(h) }

func fingerprint(h Hash) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 12)
	for i := range 6 {
		b[2*i], b[2*i+1] = hexdigits[h[i]>>4], hexdigits[h[i]&15]
	}
	return string(b)
}

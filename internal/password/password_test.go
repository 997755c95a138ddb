package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// cheap keeps the suite fast; DefaultParams is exercised once, in
// TestDefaultParams, and in the benchmarks.
var cheap = Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

func newCheap(t *testing.T) *Hasher {
	t.Helper()
	return NewHasher(cheap, Limits{})
}

func mustHash(t *testing.T, h *Hasher, pw string) string {
	t.Helper()
	enc, err := h.Hash(t.Context(), pw)
	if err != nil {
		t.Fatalf("Hash(%q): %v", pw, err)
	}
	return enc
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := newCheap(t)
	const pw = "correct horse battery staple"
	enc := mustHash(t, h, pw)
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(enc, want) {
		t.Errorf("Hash = %q, want prefix %q", enc, want)
	}
	if again := mustHash(t, h, pw); again == enc {
		t.Errorf("two hashes of one password are equal (%q): salt not random", enc)
	}

	ok, rehash, err := h.Verify(t.Context(), pw, enc)
	if err != nil || !ok || rehash {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(t.Context(), "correct horse battery stapler", enc)
	if err != nil || ok || rehash {
		t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify(t.Context(), "", enc)
	if err != nil || ok {
		t.Errorf("Verify(empty password) = %v, %v; want false, nil", ok, err)
	}
	if h.InFlight() != 0 || h.Waiting() != 0 {
		t.Errorf("after the calls InFlight = %d, Waiting = %d; want 0, 0", h.InFlight(), h.Waiting())
	}
}

func TestDefaultParams(t *testing.T) {
	h := NewHasher(DefaultParams(), Limits{})
	enc := mustHash(t, h, "correct horse battery staple")
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(enc, want) {
		t.Fatalf("Hash = %q, want prefix %q", enc, want)
	}
	stored, err := decodePHC(enc)
	if err != nil {
		t.Fatalf("decodePHC(Hash): %v", err)
	}
	if len(stored.salt) != 16 || len(stored.key) != 32 {
		t.Errorf("salt, key lengths = %d, %d; want 16, 32", len(stored.salt), len(stored.key))
	}
	ok, rehash, err := h.Verify(t.Context(), "correct horse battery staple", enc)
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if err := h.VerifyDummy(t.Context(), "anything", "nobody"); err != nil {
		t.Errorf("VerifyDummy: %v", err)
	}
}

func TestNewHasherDefaults(t *testing.T) {
	h := NewHasher(Params{}, Limits{})
	if got, want := h.Params(), DefaultParams(); got != want {
		t.Errorf("Params() = %+v, want %+v", got, want)
	}
	if got, want := cap(h.slots), runtime.GOMAXPROCS(0)*2; got != want {
		t.Errorf("MaxConcurrent = %d, want %d", got, want)
	}
	if h.maxQueue != 64 || h.queueWait != 2*time.Second {
		t.Errorf("MaxQueue, QueueWait = %d, %v; want 64, 2s", h.maxQueue, h.queueWait)
	}
	if got := NewHasher(cheap, Limits{MaxQueue: -1}).maxQueue; got != 0 {
		t.Errorf("MaxQueue -1 gives queue %d, want 0", got)
	}
	if h.dummy.params != h.params {
		t.Errorf("dummy params %+v, want the hasher's %+v", h.dummy.params, h.params)
	}
}

func TestNewHasherPanicsOnInvalidParams(t *testing.T) {
	for name, p := range map[string]Params{
		"memory below 8 KiB per lane": {Time: 1, MemoryKiB: 15, Threads: 2},
		"key too short":               {Time: 1, MemoryKiB: 64, KeyLen: 8},
		"salt too short":              {Time: 1, MemoryKiB: 64, SaltLen: 4},
		"memory above bound":          {Time: 1, MemoryKiB: maxMemoryKiB + 1},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHasher(%+v) did not panic", p)
				}
			}()
			NewHasher(p, Limits{})
		})
	}
}

func TestVerifyBcryptImport(t *testing.T) {
	h := newCheap(t)
	gen := func(pw string) string {
		t.Helper()
		b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("bcrypt: %v", err)
		}
		return string(b)
	}
	const pw = "hunter2-but-longer"
	a := gen(pw) // x/crypto writes $2a$
	long72 := strings.Repeat("x", 72)
	tests := []struct {
		name     string
		password string
		encoded  string
		want     bool
	}{
		{"2a right", pw, a, true},
		{"2a wrong", pw + "!", a, false},
		// $2b$ and $2y$ name the same algorithm as $2a$ for these inputs.
		{"2b right", pw, "$2b$" + a[4:], true},
		{"2y right", pw, "$2y$" + a[4:], true},
		{"2y wrong", "nope", "$2y$" + a[4:], false},
		// The old system read only 72 bytes; the user still types them all.
		{"bytes past 72 ignored", long72 + "tail", gen(long72), true},
		// Old system hashed raw bytes: the raw try matches.
		{"raw ligature", "ﬁnance-2024", gen("ﬁnance-2024"), true},
		// bcrypt runs once, on the raw bytes: a second run on the NFKC
		// form would make imported accounts slower to refuse than others.
		{"nfkc ligature not tried", "ﬁnance-2024", gen("finance-2024"), false},
		// We never de-normalise, so this import needs the ligature.
		{"plain against raw ligature", "finance-2024", gen("ﬁnance-2024"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), tt.password, tt.encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.want || rehash != tt.want {
				t.Errorf("Verify = %v, %v; want %v, %v (rehash whenever a bcrypt hash verifies)", ok, rehash, tt.want, tt.want)
			}
		})
	}
}

func TestVerifyRehashOnParamChange(t *testing.T) {
	old := NewHasher(cheap, Limits{})
	enc := mustHash(t, old, "correct horse battery staple")
	tests := []struct {
		name   string
		params Params
		want   bool
	}{
		{"same", cheap, false},
		{"more time", Params{Time: 2, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more memory", Params{Time: 1, MemoryKiB: 128, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more threads", Params{Time: 1, MemoryKiB: 64, Threads: 2, SaltLen: 16, KeyLen: 32}, true},
		{"longer salt", Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 32, KeyLen: 32}, true},
		{"longer key", Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 64}, true},
		// The operator's params win even when the stored ones cost more.
		{"less memory", Params{Time: 1, MemoryKiB: 32, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHasher(tt.params, Limits{})
			ok, rehash, err := h.Verify(t.Context(), "correct horse battery staple", enc)
			if err != nil || !ok || rehash != tt.want {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
			ok, rehash, err = h.Verify(t.Context(), "wrong", enc)
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newCheap(t)
	good := mustHash(t, h, "pw")
	salt := strings.Split(good, "$")[4]
	key := strings.Split(good, "$")[5]
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, encoded string
	}{
		{"empty", ""},
		{"plain text", "pw"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"params reordered", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"keyid", "$argon2id$v=19$m=64,t=1,p=1,keyid=abc$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"threads overflow", "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"huge time", "$argon2id$v=19$m=64,t=4294967295,p=1$" + salt + "$" + key},
		{"4 TiB memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{"memory below 8 per lane", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key},
		// An empty tag would compare equal to every password's.
		{"empty key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10]},
		{"empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"padded base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"line break in salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt[:4] + "\n" + salt[4:] + "$" + key},
		{"bad base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "!"},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"extra field", good + "$extra"},
		{"trailing space", good + " "},
		{"bcrypt 2x", "$2x$" + string(bc[4:])},
		{"bcrypt 2", "$2$" + string(bc[4:])},
		{"bcrypt truncated", string(bc[:59])},
		{"bcrypt trailing junk", string(bc) + "junk"},
		{"bcrypt bad character", string(bc[:59]) + "!"},
		{"bcrypt cost 31", "$2a$31$" + string(bc[7:])},
		{"bcrypt cost 03", "$2a$03$" + string(bc[7:])},
		{"bcrypt cost +5", "$2a$+5$" + string(bc[7:])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), "pw", tt.encoded)
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify err = %v, want ErrMalformedHash", err)
			}
			if ok || rehash {
				t.Errorf("Verify = %v, %v; want false, false", ok, rehash)
			}
			if code := cordon.ErrorCode(err); code != cordon.ECodeInternal {
				t.Errorf("ErrorCode = %q, want %q", code, cordon.ECodeInternal)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error %q quotes the stored hash", err)
			}
		})
	}
	if h.InFlight() != 0 {
		t.Errorf("InFlight = %d after malformed hashes, want 0", h.InFlight())
	}
}

func TestNFKC(t *testing.T) {
	h := newCheap(t)
	tests := []struct {
		name, set, login string
	}{
		{"ligature then letters", "ﬁnance-report", "finance-report"},
		{"letters then ligature", "finance-report", "ﬁnance-report"},
		{"composed then decomposed", "\u00c5ngstr\u00f6m-unit", "A\u030angstro\u0308m-unit"},
		{"decomposed then composed", "A\u030angstro\u0308m-unit", "\u00c5ngstr\u00f6m-unit"},
		{"fullwidth", "ｐａｓｓｐｈｒａｓｅ", "passphrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := mustHash(t, h, tt.set)
			ok, _, err := h.Verify(t.Context(), tt.login, enc)
			if err != nil || !ok {
				t.Errorf("Verify(%q) against Hash(%q) = %v, %v; want true, nil", tt.login, tt.set, ok, err)
			}
		})
	}
	// Normalisation must not make distinct passwords equal.
	enc := mustHash(t, h, "Angstrom-unit")
	if ok, _, _ := h.Verify(t.Context(), "\u00c5ngstrom-unit", enc); ok {
		t.Error("Å verified against a hash of A")
	}
}

// wantOverloaded fails unless err is the overload error with a Retry-After.
func wantOverloaded(t *testing.T, err error) {
	t.Helper()
	var ce *cordon.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *cordon.Error", err)
	}
	if ce.Code != cordon.ECodeOverloaded || ce.RetryAfter < 1 || ce.Message != "login servers are busy; retry shortly" {
		t.Errorf("err = %+v, want code %q, RetryAfter >= 1 and the busy message", ce, cordon.ECodeOverloaded)
	}
}

// TestOverload holds the only slot while a storm of callers arrives: one
// may queue, every other must be refused at once, and the queued one runs
// when the slot frees.
func TestOverload(t *testing.T) {
	h := NewHasher(cheap, Limits{MaxConcurrent: 1, MaxQueue: 1, QueueWait: time.Minute})
	enc := mustHash(t, h, "pw")
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}

	const callers = 64
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			var err error
			switch i % 3 {
			case 0:
				_, err = h.Hash(t.Context(), "pw")
			case 1:
				_, _, err = h.Verify(t.Context(), "pw", enc)
			case 2:
				err = h.VerifyDummy(t.Context(), "pw", "nobody")
			}
			errs <- err
		})
	}
	for range callers - 1 {
		err := <-errs
		wantOverloaded(t, err)
		if !errors.Is(err, errQueueFull) {
			t.Errorf("err = %v, want the queue-full cause", err)
		}
	}
	if h.InFlight() != 1 || h.Waiting() != 1 {
		t.Errorf("with the slot held InFlight = %d, Waiting = %d; want 1, 1", h.InFlight(), h.Waiting())
	}
	h.release()
	if err := <-errs; err != nil {
		t.Errorf("queued caller: %v, want success once the slot freed", err)
	}
	// Load: the first hash, the held slot and the queued caller took a
	// slot; every refused caller was shed.
	if l := h.Load(); l.Done != 3 || l.Shed != callers-1 || l.Slots != 1 || l.Waiting != 0 || l.Busy <= 0 {
		t.Errorf("Load = %+v, want Done 3, Shed %d, Slots 1, Waiting 0, Busy > 0", l, callers-1)
	}
	wg.Wait()
	if h.InFlight() != 0 || h.Waiting() != 0 {
		t.Errorf("at rest InFlight = %d, Waiting = %d; want 0, 0", h.InFlight(), h.Waiting())
	}
}

func TestOverloadQueueWait(t *testing.T) {
	h := NewHasher(cheap, Limits{MaxConcurrent: 1, MaxQueue: 1, QueueWait: 10 * time.Millisecond})
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer h.release()
	_, err := h.Hash(t.Context(), "pw")
	wantOverloaded(t, err)
	if !errors.Is(err, errQueueWait) {
		t.Errorf("err = %v, want the queue-wait cause", err)
	}
}

func TestOverloadNoQueue(t *testing.T) {
	h := NewHasher(cheap, Limits{MaxConcurrent: 1, MaxQueue: -1, QueueWait: time.Minute})
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer h.release()
	_, err := h.Hash(t.Context(), "pw")
	wantOverloaded(t, err)
}

func TestCancelledContext(t *testing.T) {
	h := newCheap(t)
	enc := mustHash(t, h, "pw")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := h.Hash(ctx, "pw")
	wantOverloaded(t, err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Hash err = %v, want it to wrap context.Canceled", err)
	}
	_, _, err = h.Verify(ctx, "pw", enc)
	wantOverloaded(t, err)
	wantOverloaded(t, h.VerifyDummy(ctx, "pw", "nobody"))
	if h.InFlight() != 0 {
		t.Errorf("InFlight = %d, want 0: a cancelled caller took a slot", h.InFlight())
	}
}

func TestContextEndsWhileQueued(t *testing.T) {
	h := NewHasher(cheap, Limits{MaxConcurrent: 1, MaxQueue: 1, QueueWait: time.Minute})
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer h.release()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	_, err := h.Hash(ctx, "pw")
	wantOverloaded(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if h.Waiting() != 0 {
		t.Errorf("Waiting = %d after the caller left, want 0", h.Waiting())
	}
}

package password

import (
	"testing"

	"golang.org/x/crypto/argon2"
)

const benchPassword = "correct horse battery staple"

// BenchmarkHash and BenchmarkRawArgon2id should agree within noise: the
// semaphore, salt, normalisation and encoding must cost nothing next to
// argon2id itself.
func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams(), Limits{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(b.Context(), benchPassword); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawArgon2id(b *testing.B) {
	p := DefaultParams()
	salt := make([]byte, p.SaltLen)
	b.ReportAllocs()
	for b.Loop() {
		argon2.IDKey([]byte(benchPassword), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultParams(), Limits{})
	enc, err := h.Hash(b.Context(), benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(b.Context(), benchPassword, enc); !ok || err != nil {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}

// BenchmarkVerifyParallel runs GOMAXPROCS verifiers against the default
// MaxConcurrent of twice that, so it measures throughput, not refusals.
func BenchmarkVerifyParallel(b *testing.B) {
	h := NewHasher(DefaultParams(), Limits{})
	enc, err := h.Hash(b.Context(), benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := h.Verify(b.Context(), benchPassword, enc); !ok || err != nil {
				b.Errorf("Verify = %v, %v", ok, err)
				return
			}
		}
	})
}

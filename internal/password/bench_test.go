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

// The imported families' verifies, each at the cost its system writes by
// default today, against BenchmarkVerify (argon2id at the project's
// parameters). Each is one right-password verify through the Hasher.
func BenchmarkVerifyImported(b *testing.B) {
	for _, c := range []struct{ name, password, encoded string }{
		{"keycloak-pbkdf2-sha256-27500", "correct horse battery staple", "$pbkdf2-sha256$i=27500$MDEyMzQ1Njc4OWFiY2RlZg$DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w"},
		{"keycloak-pbkdf2-sha256-600000-256bit", "password", "$pbkdf2-sha256$i=600000$TmFDbC0xNi1ieXRlcy0hIQ$R3K0/qHCuFj0pqALWIndrmFtzZPOjfRkzMtPRcizJmE"},
		{"keycloak-pbkdf2-sha512-210000", "correct horse battery staple", "$pbkdf2-sha512$i=210000$MDEyMzQ1Njc4OWFiY2RlZg$MZzEtPw1Mpo77OdkGORTt/WiKyi/IN4Pp7hkbe0Q3XA3UZDbcRp8xYlF0PyZjEAiIQyB3nj1YwWHidBrQxTKDw"},
		{"django-pbkdf2-sha256-1000000", "correct horse battery staple", "pbkdf2_sha256$1000000$Q2mYzU0rsTpOu7xJbGwpUe$A4lqm9Qh2uGMxBIBdJP4qCezGgVf7KSK9rvjfdQ0GYc="},
		{"firebase-scrypt-r8-ln14", "user1password", "$firebase-scrypt$ln=14,r=8,ss=Bw,sk=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA$42xEC+ixf3L2lw$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ"},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := NewHasher(DefaultParams(), Limits{})
			b.ReportAllocs()
			for b.Loop() {
				if ok, _, err := h.Verify(b.Context(), c.password, c.encoded); !ok || err != nil {
					b.Fatalf("Verify = %v, %v", ok, err)
				}
			}
		})
	}
}

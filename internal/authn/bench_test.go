package authn

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/pgtest"
	"github.com/cordon-dev/cordon/internal/postgres"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/throttle"
	"golang.org/x/crypto/argon2"
)

const (
	benchUser     = "bench@example.com"
	benchPassword = "correct horse battery staple"
)

var benchClient = cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, Device: "d-bench"}

// newBenchService builds a Service as cmd/cordon wires it — a SQLite file,
// the default argon2id parameters, the default throttle, the real clock —
// without campaigns, and creates one account. Everything is built inside
// the benchmark, so plain go test pays nothing for this file.
func newBenchService(b *testing.B) *Service {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "cordon.db"))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	return newBenchServiceOn(b, db)
}

// newPostgresBenchService is newBenchService on PostgreSQL, in a schema of
// the benchmark's own.
func newPostgresBenchService(b *testing.B) *Service {
	b.Helper()
	db, err := postgres.Open(context.Background(), pgtest.URL(b))
	if err != nil {
		b.Fatalf("postgres.Open: %v", err)
	}
	return newBenchServiceOn(b, db)
}

func newBenchServiceOn(b *testing.B, db cordon.Store) *Service {
	b.Helper()
	ctx := context.Background()
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	s, err := New(ctx, Deps{
		Store:    db,
		Hasher:   password.NewHasher(password.DefaultParams(), password.Limits{}),
		Policy:   password.DefaultPolicy(),
		Throttle: throttle.New(throttle.DefaultConfig(), clock.Real{}),
		Clock:    clock.Real{},
	}, DefaultConfig())
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	if _, err := s.CreateAccount(ctx, benchUser, benchPassword); err != nil {
		b.Fatalf("CreateAccount: %v", err)
	}
	return s
}

// benchAddress is the i-th of 16M client addresses, so no address comes
// near its throttle budget however long a benchmark runs.
func benchAddress(i uint64) string {
	return fmt.Sprintf("10.%d.%d.%d", byte(i>>16), byte(i>>8), byte(i))
}

// BenchmarkLogin is one successful password login: throttle check,
// account read, argon2id verify, the session and refresh-token write, and
// the signed access token. Its baseline is BenchmarkLoginRawArgon2id; the
// difference is what a login costs beyond the hash.
func BenchmarkLogin(b *testing.B) { benchLogin(b, newBenchService(b)) }

// BenchmarkLoginPostgres is BenchmarkLogin on PostgreSQL.
func BenchmarkLoginPostgres(b *testing.B) { benchLogin(b, newPostgresBenchService(b)) }

func benchLogin(b *testing.B, s *Service) {
	ctx := b.Context()
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		i++
		if _, err := s.Login(ctx, LoginRequest{Username: benchUser, Password: benchPassword, Client: benchClient, Address: benchAddress(i)}); err != nil {
			b.Fatalf("Login: %v", err)
		}
	}
}

// BenchmarkLoginRawArgon2id is argon2id alone at the default parameters,
// as password.BenchmarkRawArgon2id measures it, here so that the ratio
// to BenchmarkLogin comes from one package run.
func BenchmarkLoginRawArgon2id(b *testing.B) {
	p := password.DefaultParams()
	salt := make([]byte, p.SaltLen)
	b.ReportAllocs()
	for b.Loop() {
		argon2.IDKey([]byte(benchPassword), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	}
}

// BenchmarkLoginParallel logs in from GOMAXPROCS goroutines. The hasher
// admits twice that many at once, so nothing is refused as overloaded;
// the session writes queue on the one writer connection.
func BenchmarkLoginParallel(b *testing.B) { benchLoginParallel(b, newBenchService(b)) }

// BenchmarkLoginParallelPostgres is BenchmarkLoginParallel on PostgreSQL.
func BenchmarkLoginParallelPostgres(b *testing.B) { benchLoginParallel(b, newPostgresBenchService(b)) }

func benchLoginParallel(b *testing.B, s *Service) {
	ctx := b.Context()
	var n atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := LoginRequest{Username: benchUser, Password: benchPassword, Client: benchClient, Address: benchAddress(n.Add(1))}
			if _, err := s.Login(ctx, req); err != nil {
				b.Errorf("Login: %v", err)
				return
			}
		}
	})
}

// BenchmarkRefresh rotates one session's refresh token again and again,
// each op presenting the token the previous one returned, as a client
// does: the rotation transaction, the decision and a signed access token.
func BenchmarkRefresh(b *testing.B) { benchRefresh(b, newBenchService(b)) }

// BenchmarkRefreshPostgres is BenchmarkRefresh on PostgreSQL.
func BenchmarkRefreshPostgres(b *testing.B) { benchRefresh(b, newPostgresBenchService(b)) }

func benchRefresh(b *testing.B, s *Service) {
	ctx := b.Context()
	t, err := s.Login(ctx, LoginRequest{Username: benchUser, Password: benchPassword, Client: benchClient, Address: benchAddress(0)})
	if err != nil {
		b.Fatalf("Login: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if t, err = s.Refresh(ctx, t.RefreshToken, benchClient, benchAddress(0)); err != nil {
			b.Fatalf("Refresh: %v", err)
		}
	}
}

// BenchmarkAuthenticate is what every /v1/* request with an access token
// costs before its handler, without HTTP: the JWT check, the session read
// and the decision.
func BenchmarkAuthenticate(b *testing.B) {
	s := newBenchService(b)
	ctx := b.Context()
	t, err := s.Login(ctx, LoginRequest{Username: benchUser, Password: benchPassword, Client: benchClient, Address: benchAddress(0)})
	if err != nil {
		b.Fatalf("Login: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, t.AccessToken, benchClient); err != nil {
			b.Fatalf("Authenticate: %v", err)
		}
	}
}

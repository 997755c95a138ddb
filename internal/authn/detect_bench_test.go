package authn

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/detect"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/sqlite"
	"github.com/cordon-dev/cordon/internal/throttle"
)

// noRaise counts what the watcher would store (the benchmark's logins
// raise nothing).
type noRaise struct{ n int }

func (r *noRaise) Raise(context.Context, *cordon.Alert) (bool, error) { r.n++; return true, nil }

// BenchmarkLoginDetection is one successful login with login-abuse
// detection wired as cmd/cordon wires it (a keyed hash of the password,
// queued to the watcher, whose detector runs in its own goroutine) and
// without. hash=cheap (argon2id at 1 pass over 64 KiB, in-memory store)
// makes the login itself cheap, so what detection adds shows; the
// argon2id pair is the login as deployed (default parameters, SQLite).
func BenchmarkLoginDetection(b *testing.B) {
	cheap := password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
	for _, v := range []struct {
		name   string
		params password.Params
		store  func(b *testing.B) cordon.Store
	}{
		{"hash=cheap", cheap, func(*testing.B) cordon.Store { return memstore.New() }},
		{"hash=argon2id", password.DefaultParams(), func(b *testing.B) cordon.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "cordon.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db
		}},
	} {
		for _, on := range []bool{false, true} {
			name := v.name + "/detect=off"
			if on {
				name = v.name + "/detect=on"
			}
			b.Run(name, func(b *testing.B) {
				d := Deps{Store: v.store(b), Hasher: password.NewHasher(v.params, password.Limits{}), Policy: password.DefaultPolicy(),
					Throttle: throttle.New(throttle.DefaultConfig(), clock.Real{}), Clock: clock.Real{}}
				var w *alert.Watcher
				if on {
					w = alert.NewWatcher(detect.New(detect.DefaultRules()), &noRaise{}, nil)
					ctx, cancel := context.WithCancel(context.Background())
					b.Cleanup(cancel)
					go w.Run(ctx)
					d.Detect, d.PasswordKey = w, detect.NewPasswordKey()
				}
				s, err := New(context.Background(), d, DefaultConfig())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.CreateAccount(context.Background(), benchUser, benchPassword); err != nil {
					b.Fatal(err)
				}
				benchLogin(b, s)
				if w != nil {
					if err := w.Sync(context.Background()); err != nil {
						b.Fatal(err)
					}
					if w.Dropped() > 0 {
						b.ReportMetric(float64(w.Dropped()), "dropped")
					}
				}
			})
		}
	}
}

// BenchmarkLoginDetectionPath is what detection adds to the login's own
// goroutine: the keyed hash of the password and the enqueue (the
// watcher's goroutine drains the queue meanwhile).
func BenchmarkLoginDetectionPath(b *testing.B) {
	w := alert.NewWatcher(detect.New(detect.DefaultRules()), &noRaise{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	s := &Service{clock: clock.Real{}, detect: w, pwKey: detect.NewPasswordKey()}
	req := LoginRequest{Username: benchUser, Password: benchPassword, Address: "198.51.100.7"}
	b.ReportAllocs()
	for b.Loop() {
		s.observe(benchUser, req, true)
	}
	b.StopTimer()
	if err := w.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.Dropped()), "dropped")
}

package conformance

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func offlineTests() []subtest {
	return []subtest{
		{"CreateAndByHash", testGrantRoundTrip},
		{"UnknownHash", func(t *testing.T, s cordon.Store) {
			if _, err := s.OfflineGrantByHash(context.Background(), newHash()); !errors.Is(err, cordon.ErrNotFound) {
				t.Errorf("unknown grant: got %v, want ErrNotFound", err)
			}
		}},
		{"DuplicateHash", func(t *testing.T, s cordon.Store) {
			g := newGrant(t, s)
			if err := s.CreateOfflineGrant(context.Background(), g); !errors.Is(err, cordon.ErrAlreadyExists) {
				t.Errorf("same hash twice: got %v, want ErrAlreadyExists", err)
			}
		}},
		{"UnknownSession", func(t *testing.T, s cordon.Store) {
			a := mustCreateAccount(t, s, "grant-nosession")
			g := &cordon.OfflineGrant{Hash: newHash(), AccountID: a.ID, SessionID: "s-missing", IssuedAt: at(0), ExpiresAt: at(time.Hour)}
			if err := s.CreateOfflineGrant(context.Background(), g); !errors.Is(err, cordon.ErrNotFound) {
				t.Errorf("grant for a missing session: got %v, want ErrNotFound", err)
			}
		}},
	}
}

func newGrant(t *testing.T, s cordon.Store) *cordon.OfflineGrant {
	t.Helper()
	a := mustCreateAccount(t, s, "grant-owner")
	sess, _ := mustCreateSession(t, s, a.ID, at(0))
	g := &cordon.OfflineGrant{Hash: newHash(), AccountID: a.ID, SessionID: sess.ID,
		Facts:    cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "play", Device: "d-1"},
		AuthTime: at(-time.Hour).In(elsewhere()), IssuedAt: at(time.Minute).In(elsewhere()), ExpiresAt: at(30 * 24 * time.Hour)}
	if err := s.CreateOfflineGrant(context.Background(), g); err != nil {
		t.Fatalf("CreateOfflineGrant: %v", err)
	}
	return g
}

func testGrantRoundTrip(t *testing.T, s cordon.Store) {
	g := newGrant(t, s)
	got, err := s.OfflineGrantByHash(context.Background(), g.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccountID != g.AccountID || got.SessionID != g.SessionID || got.Facts != g.Facts ||
		!got.AuthTime.Equal(g.AuthTime) || !got.IssuedAt.Equal(g.IssuedAt) || !got.ExpiresAt.Equal(g.ExpiresAt) {
		t.Errorf("grant round trip: got %+v, want %+v", got, g)
	}
	if got.IssuedAt.Location() != time.UTC {
		t.Errorf("IssuedAt comes back in %v, want UTC", got.IssuedAt.Location())
	}
}

func resetTests() []subtest {
	return []subtest{
		{"ConsumeOnce", func(t *testing.T, s cordon.Store) {
			ctx := context.Background()
			a := mustCreateAccount(t, s, "resetter")
			r := &cordon.PasswordReset{Hash: newHash(), AccountID: a.ID, CampaignID: "c-1", CreatedAt: at(0), ExpiresAt: at(10 * time.Minute)}
			if err := s.CreatePasswordReset(ctx, r); err != nil {
				t.Fatal(err)
			}
			got, err := s.ConsumePasswordReset(ctx, r.Hash, at(time.Minute))
			if err != nil || got.AccountID != a.ID || got.CampaignID != "c-1" || !got.UsedAt.Equal(at(time.Minute)) {
				t.Fatalf("first consume: %+v, %v", got, err)
			}
			if _, err := s.ConsumePasswordReset(ctx, r.Hash, at(2*time.Minute)); !errors.Is(err, cordon.ErrNotFound) {
				t.Errorf("second consume: got %v, want ErrNotFound", err)
			}
		}},
		{"Expired", func(t *testing.T, s cordon.Store) {
			ctx := context.Background()
			a := mustCreateAccount(t, s, "late")
			r := &cordon.PasswordReset{Hash: newHash(), AccountID: a.ID, CampaignID: "c-1", CreatedAt: at(0), ExpiresAt: at(10 * time.Minute)}
			if err := s.CreatePasswordReset(ctx, r); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ConsumePasswordReset(ctx, r.Hash, at(10*time.Minute)); !errors.Is(err, cordon.ErrNotFound) {
				t.Errorf("consume at expiry: got %v, want ErrNotFound", err)
			}
		}},
		{"Unknown", func(t *testing.T, s cordon.Store) {
			if _, err := s.ConsumePasswordReset(context.Background(), newHash(), at(0)); !errors.Is(err, cordon.ErrNotFound) {
				t.Errorf("unknown: got %v, want ErrNotFound", err)
			}
		}},
	}
}

// testResetRace: 16 goroutines consume one permission; exactly one wins.
func testResetRace(t *testing.T, s cordon.Store) {
	ctx := context.Background()
	a := mustCreateAccount(t, s, "racer")
	r := &cordon.PasswordReset{Hash: newHash(), AccountID: a.ID, CampaignID: "c-1", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	if err := s.CreatePasswordReset(ctx, r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var wins atomic.Int32
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ConsumePasswordReset(ctx, r.Hash, at(time.Minute))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, cordon.ErrNotFound):
				t.Errorf("concurrent consume: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent consumes of one permission won, want exactly 1", wins.Load())
	}
}

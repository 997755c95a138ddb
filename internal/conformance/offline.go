package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func offlineTests() []subtest {
	return []subtest{
		{"CreateAndByHash", testGrantRoundTrip},
		{"RevokedSince", testRevokedSince},
		{"PeekRefreshToken", testPeek},
		{"ExpireSessions", testExpireSessions},
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
		{"DeleteAllOfAnAccount", func(t *testing.T, s cordon.Store) {
			ctx := t.Context()
			a, b := mustCreateAccount(t, s, "alice"), mustCreateAccount(t, s, "bob")
			var hashes [][]byte
			for _, id := range []string{a.ID, a.ID, b.ID} {
				r := &cordon.PasswordReset{Hash: newHash(), AccountID: id, CampaignID: "c-1", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
				if err := s.CreatePasswordReset(ctx, r); err != nil {
					t.Fatal(err)
				}
				hashes = append(hashes, r.Hash)
			}
			if err := s.DeletePasswordResets(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
			for i, h := range hashes[:2] {
				_, err := s.ConsumePasswordReset(ctx, h, at(time.Minute))
				checkErr(t, fmt.Sprintf("alice's permission %d after DeletePasswordResets", i), err, cordon.ErrNotFound)
			}
			if _, err := s.ConsumePasswordReset(ctx, hashes[2], at(time.Minute)); err != nil {
				t.Errorf("bob's permission after alice's were deleted: %v", err)
			}
			if err := s.DeletePasswordResets(ctx, "u-nobody"); err != nil {
				t.Errorf("DeletePasswordResets of an account with none: %v", err)
			}
		}},
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

func testRevokedSince(t *testing.T, s cordon.Store) {
	ctx := context.Background()
	a := mustCreateAccount(t, s, "revokee")
	var ids []string
	for i := range 3 {
		sess, _ := mustCreateSession(t, s, a.ID, at(time.Duration(i)*time.Minute))
		ids = append(ids, sess.ID)
	}
	for i, id := range ids[:2] {
		if err := s.RevokeSession(ctx, id, cordon.RevokeLogout, at(time.Duration(10+i)*time.Minute).In(elsewhere())); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		since time.Time
		want  []string
	}{
		{"all", at(0), ids[:2]},
		{"at the second", at(11 * time.Minute), ids[1:2]},
		{"after both", at(12 * time.Minute), nil},
	} {
		got, err := s.RevokedSince(ctx, tc.since)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, r := range got {
			gotIDs = append(gotIDs, r.SessionID)
			if r.RevokedAt.Location() != time.UTC {
				t.Errorf("%s: RevokedAt in %v, want UTC", tc.name, r.RevokedAt.Location())
			}
		}
		if fmt.Sprint(gotIDs) != fmt.Sprint(tc.want) {
			t.Errorf("%s: RevokedSince = %v, want %v", tc.name, gotIDs, tc.want)
		}
	}
}

func testPeek(t *testing.T, s cordon.Store) {
	ctx := context.Background()
	a := mustCreateAccount(t, s, "peeker")
	sess, rt := mustCreateSession(t, s, a.ID, at(0))
	got, err := s.PeekRefreshToken(ctx, rt.Hash, at(time.Minute))
	if err != nil || got.ID != sess.ID {
		t.Fatalf("peek: %+v, %v", got, err)
	}
	// Peeking spends nothing: the token still rotates.
	next := &cordon.RefreshToken{Hash: newHash(), CreatedAt: at(2 * time.Minute), IdleExpiresAt: at(time.Hour)}
	if _, err := s.RotateRefreshToken(ctx, rt.Hash, next, at(2*time.Minute)); err != nil {
		t.Fatalf("rotate after peek: %v", err)
	}
	if _, err := s.PeekRefreshToken(ctx, rt.Hash, at(3*time.Minute)); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("peek of a spent token: %v, want ErrNotFound", err)
	}
	if _, err := s.PeekRefreshToken(ctx, next.Hash, at(2*time.Hour)); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("peek of an expired token: %v, want ErrNotFound", err)
	}
	if _, err := s.PeekRefreshToken(ctx, newHash(), at(0)); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("peek of an unknown token: %v, want ErrNotFound", err)
	}
}

func testExpireSessions(t *testing.T, s cordon.Store) {
	ctx := context.Background()
	a := mustCreateAccount(t, s, "expirer")
	short, srt := mustCreateSession(t, s, a.ID, at(0))
	long, lrt := mustCreateSession(t, s, a.ID, at(0))
	// Keep the long one alive by rotating it far into the future.
	next := &cordon.RefreshToken{Hash: newHash(), CreatedAt: at(time.Minute), IdleExpiresAt: at(1000 * time.Hour)}
	if _, err := s.RotateRefreshToken(ctx, lrt.Hash, next, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	end := srt.IdleExpiresAt
	if srt.AbsoluteExpiresAt.Before(end) {
		end = srt.AbsoluteExpiresAt
	}
	if n, err := s.ExpireSessions(ctx, end.Add(-time.Microsecond), 100); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: %d, %v; want 0", n, err)
	}
	if n, err := s.ExpireSessions(ctx, end, 100); err != nil || n != 1 {
		t.Fatalf("sweep at expiry: %d, %v; want 1", n, err)
	}
	got, _ := s.SessionByID(ctx, short.ID)
	if got.Live() || got.RevokeReason != cordon.RevokeExpired {
		t.Errorf("swept session: live %v reason %q, want revoked as %q", got.Live(), got.RevokeReason, cordon.RevokeExpired)
	}
	if got, _ := s.SessionByID(ctx, long.ID); !got.Live() {
		t.Errorf("a rotated session was swept")
	}
	if n, err := s.LiveSessionCount(ctx); err != nil || n != 1 {
		t.Errorf("live sessions after the sweep: %d, %v; want 1", n, err)
	}
}

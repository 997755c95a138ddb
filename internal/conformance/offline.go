package conformance

import (
	"context"
	"errors"
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

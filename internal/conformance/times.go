package conformance

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func timeTests() []subtest {
	return []subtest{{"RoundTripInUTC", testTimeRoundTrip}}
}

// testTimeRoundTrip stores, through every method that takes a time, an
// instant with microseconds given in a zone other than UTC, and wants the
// same instant back, in UTC.
func testTimeRoundTrip(t *testing.T, s cordon.Store) {
	zones := []*time.Location{elsewhere(), time.FixedZone("y", -(9*3600 + 30*60)), time.UTC}
	tests := []struct {
		name string
		// roundTrip stores when and returns the time the store gives back.
		roundTrip func(t *testing.T, when time.Time) time.Time
	}{
		{"Account.CreatedAt", func(t *testing.T, when time.Time) time.Time {
			a := newAccount(cordon.NewID("name"))
			a.CreatedAt = when
			return storeAccount(t, s, a).CreatedAt
		}},
		{"Account.PasswordChangedAt", func(t *testing.T, when time.Time) time.Time {
			a := newAccount(cordon.NewID("name"))
			a.PasswordChangedAt = when
			return storeAccount(t, s, a).PasswordChangedAt
		}},
		{"ImportAccounts", func(t *testing.T, when time.Time) time.Time {
			a := newAccount(cordon.NewID("name"))
			a.PasswordChangedAt = when
			if _, err := s.ImportAccounts(t.Context(), []*cordon.Account{a}); err != nil {
				t.Fatalf("ImportAccounts: %v", err)
			}
			return mustAccount(t, s, a.ID).PasswordChangedAt
		}},
		{"SetPasswordHash", func(t *testing.T, when time.Time) time.Time {
			a := mustCreateAccount(t, s, cordon.NewID("name"))
			if err := s.SetPasswordHash(t.Context(), a.ID, "$argon2id$new", true, when); err != nil {
				t.Fatalf("SetPasswordHash: %v", err)
			}
			return mustAccount(t, s, a.ID).PasswordChangedAt
		}},
		{"Session.AuthTime", func(t *testing.T, when time.Time) time.Time {
			sess := newSession(mustCreateAccount(t, s, cordon.NewID("name")).ID, at(0))
			sess.AuthTime = when
			return storeSession(t, s, sess).AuthTime
		}},
		{"Session.CreatedAt", func(t *testing.T, when time.Time) time.Time {
			sess := newSession(mustCreateAccount(t, s, cordon.NewID("name")).ID, when)
			return storeSession(t, s, sess).CreatedAt
		}},
		{"Session.LastSeenAt", func(t *testing.T, when time.Time) time.Time {
			sess := newSession(mustCreateAccount(t, s, cordon.NewID("name")).ID, at(0))
			sess.LastSeenAt = when
			return storeSession(t, s, sess).LastSeenAt
		}},
		{"ListSessions", func(t *testing.T, when time.Time) time.Time {
			a := mustCreateAccount(t, s, cordon.NewID("name"))
			storeSession(t, s, newSession(a.ID, when))
			got, err := s.ListSessions(t.Context(), a.ID)
			if err != nil || len(got) != 1 {
				t.Fatalf("ListSessions: got %d sessions, %v; want 1, nil", len(got), err)
			}
			return got[0].CreatedAt
		}},
		{"UpdateSessionFacts", func(t *testing.T, when time.Time) time.Time {
			sess, _ := mustCreateSession(t, s, mustCreateAccount(t, s, cordon.NewID("name")).ID, at(0))
			if err := s.UpdateSessionFacts(t.Context(), sess.ID, sess.Facts, when); err != nil {
				t.Fatalf("UpdateSessionFacts: %v", err)
			}
			return mustSession(t, s, sess.ID).LastSeenAt
		}},
		{"RevokeSession", func(t *testing.T, when time.Time) time.Time {
			sess, _ := mustCreateSession(t, s, mustCreateAccount(t, s, cordon.NewID("name")).ID, at(0))
			if err := s.RevokeSession(t.Context(), sess.ID, cordon.RevokeUser, when); err != nil {
				t.Fatalf("RevokeSession: %v", err)
			}
			return mustSession(t, s, sess.ID).RevokedAt
		}},
		{"RevokeAccountSessions", func(t *testing.T, when time.Time) time.Time {
			a := mustCreateAccount(t, s, cordon.NewID("name"))
			sess, _ := mustCreateSession(t, s, a.ID, at(0))
			if _, err := s.RevokeAccountSessions(t.Context(), a.ID, "", cordon.RevokeAdmin, when); err != nil {
				t.Fatalf("RevokeAccountSessions: %v", err)
			}
			return mustSession(t, s, sess.ID).RevokedAt
		}},
		{"RotateRefreshToken sets the family's absolute expiry", func(t *testing.T, when time.Time) time.Time {
			sess := newSession(mustCreateAccount(t, s, cordon.NewID("name")).ID, at(0))
			rt := newRefreshToken(sess.ID, at(0))
			rt.AbsoluteExpiresAt = when.Add(absoluteTTL)
			if err := s.CreateSession(t.Context(), sess, rt); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			next := mustRotate(t, s, rt.Hash, at(time.Hour))
			return next.AbsoluteExpiresAt.Add(-absoluteTTL)
		}},
		{"SigningKey.CreatedAt", func(t *testing.T, when time.Time) time.Time {
			keys := addKeys(t, s, when)
			return signingKey(t, s, keys[0].ID).CreatedAt
		}},
		{"SigningKey.RetiredAt", func(t *testing.T, when time.Time) time.Time {
			keys := addKeys(t, s, when.Add(-time.Hour), when)
			return signingKey(t, s, keys[0].ID).RetiredAt
		}},
		{"AdminToken.CreatedAt", func(t *testing.T, when time.Time) time.Time {
			tok := newAdminToken(cordon.NewID("name"), cordon.ScopeAll)
			tok.CreatedAt = when
			if err := s.CreateAdminToken(t.Context(), tok); err != nil {
				t.Fatalf("CreateAdminToken: %v", err)
			}
			return mustAdminToken(t, s, tok.Hash).CreatedAt
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, loc := range zones {
				want := at(time.Hour).In(loc)
				var d diff
				d.time(tt.name, tt.roundTrip(t, want), want)
				if d != nil {
					t.Errorf("stored in zone %s: %s", loc, d)
				}
			}
		})
	}
}

func storeAccount(t *testing.T, s cordon.Store, a *cordon.Account) *cordon.Account {
	t.Helper()
	if err := s.CreateAccount(t.Context(), a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return mustAccount(t, s, a.ID)
}

func mustAccount(t *testing.T, s cordon.Store, id string) *cordon.Account {
	t.Helper()
	a, err := s.AccountByID(t.Context(), id)
	if err != nil {
		t.Fatalf("AccountByID(%q): %v", id, err)
	}
	return a
}

func storeSession(t *testing.T, s cordon.Store, sess *cordon.Session) *cordon.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess, newRefreshToken(sess.ID, sess.CreatedAt)); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return mustSession(t, s, sess.ID)
}

// signingKey returns the stored key with id.
func signingKey(t *testing.T, s cordon.Store, id string) *cordon.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	for _, k := range keys {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("SigningKeys: no key %q", id)
	return nil
}

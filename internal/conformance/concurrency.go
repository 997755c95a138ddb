package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// RunConcurrencyTests checks the contract's promises under concurrent
// callers, each subtest on its own store from newStore: one refresh token
// rotated by many callers at once has at most one winner, one username
// claimed by many has exactly one owner, and writers on unrelated rows all
// succeed (a backend's locking never leaks out as an error).
func RunConcurrencyTests(t *testing.T, newStore func(t *testing.T) cordon.Store) {
	t.Helper()
	run(t, newStore, append([]subtest{
		{"RotateOneTokenRace", testRotateRace},
		{"CreateOneUsernameRace", testCreateAccountRace},
		{"ManyAccountsAtOnce", testManyWriters},
		{"ConsumeOneResetRace", testResetRace},
		{"ClaimMailRace", testMailClaimRace},
	}, slices.Concat(fleetConcurrencyTests(), progressConcurrencyTests(), adminConcurrencyTests(), incidentConcurrencyTests(), noticeConcurrencyTests(), alertConcurrencyTests(), tierConcurrencyTests())...))
	t.Run("Audit", func(t *testing.T) {
		RunAuditConcurrencyTests(t, func(t *testing.T) cordon.AuditStore { return newStore(t) })
	})
}

// race runs f(0) … f(n-1) in n goroutines released together, and returns
// their errors by index.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testRotateRace(t *testing.T, s cordon.Store) {
	const n = 20
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	sess, rt := mustCreateSession(t, s, a.ID, at(0))
	now := at(time.Hour)
	nexts := make([]*cordon.RefreshToken, n)
	for i := range nexts {
		nexts[i] = nextToken(now)
	}

	errs := race(n, func(i int) error {
		_, err := s.RotateRefreshToken(ctx, rt.Hash, nexts[i], now)
		return err
	})

	wins, reused := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, cordon.ErrRefreshReused):
			reused++
		case errors.Is(err, cordon.ErrNotFound):
		default:
			t.Errorf("rotation %d: got error %v, want nil, ErrRefreshReused or ErrNotFound", i, err)
		}
	}
	if wins > 1 {
		t.Errorf("%d of %d rotations of one token succeeded, want at most 1", wins, n)
	}
	// A lost race counts as reuse: the family is revoked.
	if reused > 0 {
		got := mustSession(t, s, sess.ID)
		if got.Live() || got.RevokeReason != cordon.RevokeRefreshReuse {
			t.Errorf("session after %d reuses: got live %t, reason %q; want revoked for %q", reused, got.Live(), got.RevokeReason, cordon.RevokeRefreshReuse)
		}
	}
}

func testCreateAccountRace(t *testing.T, s cordon.Store) {
	const n = 16
	ctx := t.Context()
	// One username, typed four ways.
	spellings := []string{"Mallory", "mallory", "MALLORY", "Ｍａｌｌｏｒｙ"}
	errs := race(n, func(i int) error {
		return s.CreateAccount(ctx, newAccount(spellings[i%len(spellings)]))
	})

	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, cordon.ErrAlreadyExists):
			t.Errorf("CreateAccount %d: got error %v, want nil or ErrAlreadyExists", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d CreateAccount calls for one username succeeded, want exactly 1", wins, n)
	}
	if got, err := s.CountAccounts(ctx); err != nil || got != 1 {
		t.Errorf("CountAccounts: got %d, %v; want 1, nil", got, err)
	}
}

// testManyWriters has many callers each run a user's whole life on their
// own account at once: every call must succeed.
func testManyWriters(t *testing.T, s cordon.Store) {
	const n = 64
	ctx := t.Context()
	errs := race(n, func(i int) error { return lifecycle(ctx, s, fmt.Sprintf("user-%02d", i)) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("user %d: %v", i, err)
		}
	}
	if got, err := s.CountAccounts(ctx); err != nil || got != n {
		t.Errorf("CountAccounts: got %d, %v; want %d, nil", got, err, n)
	}
}

// lifecycle signs a user up, logs in on two devices, refreshes, lists,
// revokes one session and then the rest, reading between writes.
func lifecycle(ctx context.Context, s cordon.Store, username string) error {
	const sessions, rotations = 2, 3
	a := newAccount(username)
	if err := s.CreateAccount(ctx, a); err != nil {
		return fmt.Errorf("CreateAccount: %w", err)
	}
	if _, err := s.AccountByUsername(ctx, username); err != nil {
		return fmt.Errorf("AccountByUsername: %w", err)
	}
	var ids []string
	for j := range sessions {
		sess := newSession(a.ID, at(time.Duration(j)*time.Minute))
		rt := newRefreshToken(sess.ID, sess.CreatedAt)
		if err := s.CreateSession(ctx, sess, rt); err != nil {
			return fmt.Errorf("CreateSession: %w", err)
		}
		ids = append(ids, sess.ID)
		hash := rt.Hash
		for k := range rotations {
			now := sess.CreatedAt.Add(time.Duration(k+1) * time.Hour)
			next := nextToken(now)
			got, err := s.RotateRefreshToken(ctx, hash, next, now)
			if err != nil {
				return fmt.Errorf("RotateRefreshToken %d of session %d: %w", k, j, err)
			}
			if got.ID != sess.ID {
				return fmt.Errorf("RotateRefreshToken: got session %q, want %q", got.ID, sess.ID)
			}
			hash = next.Hash
		}
		if err := s.UpdateSessionFacts(ctx, sess.ID, sess.Facts, at(6*time.Hour)); err != nil {
			return fmt.Errorf("UpdateSessionFacts: %w", err)
		}
	}
	if got, err := s.ListSessions(ctx, a.ID); err != nil || len(got) != sessions {
		return fmt.Errorf("ListSessions: got %d sessions, %v; want %d, nil", len(got), err, sessions)
	}
	if err := s.SetPasswordHash(ctx, a.ID, "$argon2id$rehashed", false, at(7*time.Hour)); err != nil {
		return fmt.Errorf("SetPasswordHash: %w", err)
	}
	if err := s.RevokeSession(ctx, ids[0], cordon.RevokeLogout, at(8*time.Hour)); err != nil {
		return fmt.Errorf("RevokeSession: %w", err)
	}
	revoked, err := s.RevokeAccountSessions(ctx, a.ID, "", cordon.RevokePasswordChange, at(9*time.Hour))
	if err != nil {
		return fmt.Errorf("RevokeAccountSessions: %w", err)
	}
	if len(revoked) != sessions-1 {
		return fmt.Errorf("RevokeAccountSessions: got %d ids, want %d", len(revoked), sessions-1)
	}
	if got, err := s.ListSessions(ctx, a.ID); err != nil || len(got) != 0 {
		return fmt.Errorf("ListSessions after revoking all: got %d sessions, %v; want none, nil", len(got), err)
	}
	return nil
}

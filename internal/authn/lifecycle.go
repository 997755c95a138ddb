package authn

import (
	"context"
	"errors"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// errAccountLocked answers the right password of a locked account. Only
// someone who knows the password learns of the lock: a wrong one answers
// invalid_credentials as for any account, after the same password check.
var errAccountLocked = cordon.Errorf(cordon.ECodeAccountLocked, "this account is locked; contact support")

// refuseLocked refuses a login of a locked account. It runs after the
// password was checked, so it tells nothing to a guesser.
func refuseLocked(acct *cordon.Account) error {
	if !acct.LockedAt.IsZero() {
		return errAccountLocked
	}
	return nil
}

// confirmOpen closes the race between a login and a lock or deletion of
// its account: the login read the account before the lock committed, the
// lock revoked the sessions that existed when it committed, so a session
// stored after that is caught here, by reading the account again after
// the session was stored, and revoked like the others.
func (s *Service) confirmOpen(ctx context.Context, sess *cordon.Session) error {
	acct, err := s.store.AccountByID(ctx, sess.AccountID)
	reason := cordon.RevokeAccountLocked
	switch {
	case errors.Is(err, cordon.ErrNotFound):
		reason = cordon.RevokeAccountDeleted
	case err != nil:
		return err
	case acct.LockedAt.IsZero():
		return nil
	}
	now := s.clock.Now()
	if err := s.store.RevokeSession(ctx, sess.ID, reason, now); err != nil {
		return err
	}
	s.revoked(now, sess.ID)
	if reason == cordon.RevokeAccountDeleted {
		return errInvalidCredentials
	}
	return errAccountLocked
}

// LockAccount locks an account (admin): no login until it is unlocked,
// and every session ends now, reported to enforcement points like any
// revocation.
func (s *Service) LockAccount(ctx context.Context, accountID string) ([]string, error) {
	now := s.clock.Now()
	ids, err := s.store.LockAccount(ctx, accountID, now)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no account %q", accountID)
	}
	s.revoked(now, ids...)
	return ids, err
}

// UnlockAccount lets a locked account log in again (admin). Its ended
// sessions stay ended.
func (s *Service) UnlockAccount(ctx context.Context, accountID string) error {
	err := s.store.UnlockAccount(ctx, accountID)
	if errors.Is(err, cordon.ErrNotFound) {
		return cordon.Errorf(cordon.ECodeNotFound, "no account %q", accountID)
	}
	return err
}

// DeleteAccount deletes an account (admin): its sessions end (reported to
// enforcement points), its refresh tokens, offline grants, reset
// permissions and password are erased, and its username stays taken.
func (s *Service) DeleteAccount(ctx context.Context, accountID string) ([]string, error) {
	now := s.clock.Now()
	ids, err := s.store.DeleteAccount(ctx, accountID, now)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no account %q", accountID)
	}
	s.revoked(now, ids...)
	return ids, err
}

// ListAccounts returns one page of accounts (admin).
func (s *Service) ListAccounts(ctx context.Context, q cordon.AccountQuery) ([]*cordon.Account, error) {
	return s.store.ListAccounts(ctx, q)
}

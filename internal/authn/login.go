package authn

import (
	"context"
	"errors"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/detect"
	"github.com/cordon-dev/cordon/internal/throttle"
)

// checkLogin throttles and checks a login's password. It answers the
// account and whether its hash should be rehashed, or
// errInvalidCredentials alike for an unknown user and a wrong password:
// the same answer, the same throttling, and the same work, since an
// unknown user is verified against a dummy hash of a family present among
// the accounts (see password.Hasher.VerifyDummy).
//
// The throttle's slot is taken before any hash runs and resolved after,
// so concurrent guesses are counted as they are evaluated, not after.
func (s *Service) checkLogin(ctx context.Context, req LoginRequest) (*cordon.Account, bool, error) {
	key := cordon.UsernameKey(req.Username)
	attempt, err := s.throttle.Check(ctx, throttle.Keys{Account: key, Address: req.Address, Device: req.Client.Device})
	if err != nil {
		// A guess the throttle refused is still a guess: detection counts it.
		if cordon.ErrorCode(err) == cordon.ECodeThrottled {
			s.observe(key, req, false)
		}
		return nil, false, err
	}
	acct, err := s.store.AccountByUsername(ctx, req.Username)
	if errors.Is(err, cordon.ErrNotFound) {
		if err := s.hasher.VerifyDummy(ctx, req.Password, key); err != nil {
			attempt.Cancel()
			return nil, false, err
		}
		attempt.Fail()
		s.observe(key, req, false)
		return nil, false, errInvalidCredentials
	}
	if err != nil {
		attempt.Cancel()
		return nil, false, err
	}
	ok, rehash, err := s.hasher.Verify(ctx, req.Password, acct.PasswordHash)
	if err != nil {
		attempt.Cancel()
		return nil, false, err
	}
	if !ok {
		attempt.Fail()
		s.observe(key, req, false)
		return nil, false, errInvalidCredentials
	}
	attempt.SucceedAs(acct.ID) // a refresh knows the account by id (throttle.Seen)
	s.observe(key, req, true)
	// The password, from somewhere new for this account: a ramp that puts
	// unusual addresses first admits the account early (campaign.Service
	// only queues it). It can only bring an admission forward.
	if u, ok := s.campaigns.(unusualSink); ok && attempt.Unusual() {
		u.SeenUnusual(acct.ID)
	}
	// Only someone who knows the password learns the account is locked.
	if err := refuseLocked(acct); err != nil {
		return nil, false, err
	}
	return acct, rehash, nil
}

// unusualSink is what a Campaigns may also be: told of accounts that log
// in, or refresh a session, from somewhere new (campaign.Service is).
type unusualSink interface{ SeenUnusual(accountID string) }

// observe hands a login attempt to detection: the account's key, the
// client's address, whether the password was right, and a keyed hash of
// the attempted password (never the password). It queues and returns.
func (s *Service) observe(key string, req LoginRequest, ok bool) {
	if s.detect == nil {
		return
	}
	// The address as the throttle counts it (an IPv6 client by its /64):
	// one host rotating through its /64 is one address to detection too,
	// so neither its count of networks nor the accounts it reached can be
	// spread over 2^64 addresses.
	s.detect.Observe(detect.Attempt{At: s.clock.Now(), Account: key, Address: throttle.AddressKey(req.Address), Password: s.pwKey.Sum(req.Password), OK: ok})
}

// schemeCounter is a store that can count its accounts per password hash
// scheme; both backends can.
type schemeCounter interface {
	PasswordSchemes(ctx context.Context) (map[string]int, error)
}

// loadSchemes tells the hasher which hash families the accounts hold, so
// an unknown username costs what a real account's wrong password does
// (an imported bcrypt-12 account takes some 250 ms, argon2id some 30).
// It reads every account row once, at start; creations, imports and
// rehashes keep the counts current after that.
func (s *Service) loadSchemes(ctx context.Context) error {
	sc, ok := s.store.(schemeCounter)
	if !ok {
		return nil
	}
	counts, err := sc.PasswordSchemes(ctx)
	if err != nil {
		return err
	}
	s.hasher.SetSchemes(counts)
	return nil
}

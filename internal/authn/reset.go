package authn

import (
	"context"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/token"
)

// ResetTTL is how long a password-reset permission given at login holds.
const ResetTTL = 10 * time.Minute

// ResetRequiredError is a login with the right password that must set a
// new one first (a password_reset campaign admitted the account). It
// carries a single-use reset token good only for POST /v1/password/reset.
type ResetRequiredError struct {
	Decision   decision.Decision
	ResetToken string
	ExpiresIn  int
	// Problem, when set, says why a reset attempt was refused; the
	// ResetToken is then a fresh one to retry with.
	Problem error
}

func (e *ResetRequiredError) Error() string { return "password_reset_required: " + e.Decision.Message }

// requireReset answers a login that a password_reset campaign holds back.
func (s *Service) requireReset(ctx context.Context, acct *cordon.Account, d decision.Decision, problem error) error {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	plain, hash := token.NewSecret("crs_")
	r := &cordon.PasswordReset{Hash: hash, AccountID: acct.ID, CampaignID: d.Campaign, CreatedAt: now, ExpiresAt: now.Add(ResetTTL)}
	if err := s.store.CreatePasswordReset(ctx, r); err != nil {
		return err
	}
	// The login stands in for a session: count the account as blocked once.
	s.campaigns.Blocked(ctx, d, &cordon.Session{ID: "login-" + acct.ID, AccountID: acct.ID})
	return &ResetRequiredError{Decision: d, ResetToken: plain, ExpiresIn: int(ResetTTL / time.Second), Problem: problem}
}

// ResetPassword spends a reset token from a login, sets the new password,
// ends every session of the account, and opens a new one.
func (s *Service) ResetPassword(ctx context.Context, resetToken, newPassword string, client cordon.ClientFacts) (*Tokens, error) {
	if resetToken == "" || newPassword == "" {
		return nil, cordon.Errorf(cordon.ECodeInvalid, "reset_token and new_password are required")
	}
	if len(resetToken) > maxRefreshBytes {
		return nil, cordon.FieldError(cordon.ECodeInvalidToken, "reset_token", "the reset token is invalid, used or expired; log in again")
	}
	if err := s.policy.Check(newPassword, ""); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	r, err := s.store.ConsumePasswordReset(ctx, token.HashSecret(resetToken), now)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.FieldError(cordon.ECodeInvalidToken, "reset_token", "the reset token is invalid, used or expired; log in again")
	}
	if err != nil {
		return nil, err
	}
	acct, err := s.store.AccountByID(ctx, r.AccountID)
	if err != nil {
		return nil, err
	}
	d := decision.Decision{Outcome: decision.Deny, Reason: decision.ReasonPasswordResetRequired, Campaign: r.CampaignID,
		Message: cordon.KindPasswordReset.MustRules().Message}
	if err := s.policy.Check(newPassword, acct.Username); err != nil {
		return nil, s.requireReset(ctx, acct, d, err)
	}
	// The point of the campaign is a password the breach did not see.
	if same, _, err := s.hasher.Verify(ctx, newPassword, acct.PasswordHash); err != nil {
		return nil, err
	} else if same {
		return nil, s.requireReset(ctx, acct, d, cordon.FieldError(cordon.ECodeWeakPassword, "new_password", "the new password must differ from the old one"))
	}
	h, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetPasswordHash(ctx, acct.ID, h, true, now); err != nil {
		return nil, err
	}
	s.campaigns.PasswordSet(ctx, acct.ID)
	ids, err := s.store.RevokeAccountSessions(ctx, acct.ID, "", cordon.RevokePasswordChange, now)
	if err != nil {
		return nil, err
	}
	s.revoked(now, ids...)
	return s.openSession(ctx, acct, client)
}

package authn

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"fmt"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/token"
)

// ResetTTL is how long a password-reset permission given at login holds.
const ResetTTL = 10 * time.Minute

// EmailResetTTL is how long a reset link sent by email holds.
const EmailResetTTL = 30 * time.Minute

// Reset token prefixes. The prefix is part of the hashed secret, so a
// login's token cannot be passed off as an emailed one.
const (
	loginResetPrefix = "crs_"
	emailResetPrefix = "cre_"
)

// errResetToken is the one answer to every reset token that is not good
// now (unknown, used, expired, or of the wrong kind for its campaign).
var errResetToken = cordon.FieldError(cordon.ECodeInvalidToken, "reset_token", "the reset token is invalid, used or expired; log in again, or use the newest link sent by email")

// ResetRequiredError is a login with the right password that must set a
// new one first (a password_reset campaign admitted the account). It
// carries a single-use reset token good only for POST /v1/password/reset
// — except for a campaign with verify: email, where the password proves
// nothing: ResetToken is then empty and ByEmail set (the link was sent).
type ResetRequiredError struct {
	Decision   decision.Decision
	ResetToken string
	ExpiresIn  int
	ByEmail    bool
	// Problem, when set, says why a reset attempt was refused; the
	// ResetToken is then a fresh one to retry with.
	Problem error
}

func (e *ResetRequiredError) Error() string { return "password_reset_required: " + e.Decision.Message }

// requireReset answers a login that a password_reset campaign holds back.
func (s *Service) requireReset(ctx context.Context, acct *cordon.Account, d decision.Decision, problem error) error {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	if s.campaigns.Policy().ResetByEmail(d.Campaign) {
		// The old password is what may have leaked: it earns no token.
		s.campaigns.Blocked(ctx, d, &cordon.Session{ID: "login-" + acct.ID, AccountID: acct.ID})
		if s.onEmail != nil {
			s.onEmail(ctx, d.Campaign, acct)
		}
		return &ResetRequiredError{Decision: d, ByEmail: true, Problem: problem}
	}
	plain, hash := token.NewSecret(loginResetPrefix)
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
		return nil, errResetToken
	}
	if err := s.policy.Check(newPassword, ""); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	hash := token.HashSecret(resetToken)
	r, err := s.store.ConsumePasswordReset(ctx, hash, now)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, errResetToken
	}
	if err != nil {
		return nil, err
	}
	// The store found the row by this hash; compare it again in constant
	// time so no backend's lookup is the only check.
	if subtle.ConstantTimeCompare(r.Hash, hash) != 1 {
		return nil, errResetToken
	}
	byEmail := strings.HasPrefix(resetToken, emailResetPrefix)
	pol := s.campaigns.Policy()
	if !byEmail && pol.ResetByEmail(r.CampaignID) {
		// A login's token for a campaign that became verify: email (or
		// was made so): the old password that earned it proves nothing.
		return nil, errResetToken
	}
	acct, err := s.store.AccountByID(ctx, r.AccountID)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, errResetToken
	}
	if err != nil {
		return nil, err
	}
	if byEmail {
		// A link holds only while what it was sent for does: its campaign
		// still asks for an emailed reset, and the account is unlocked and
		// still has an address (changing it deletes the account's links).
		if !pol.ResetByEmail(r.CampaignID) || !acct.LockedAt.IsZero() || acct.Email == "" {
			return nil, errResetToken
		}
	} else if d, err := s.resetRequired(ctx, acct, client); err != nil {
		return nil, err
	} else if d.Outcome == decision.Deny && pol.ResetByEmail(d.Campaign) {
		// A login's token from before a verify: email campaign reached
		// the account: that campaign distrusts the password it was
		// earned with.
		return nil, errResetToken
	}
	d := decision.Decision{Outcome: decision.Deny, Reason: decision.ReasonPasswordResetRequired, Campaign: r.CampaignID,
		Message: cordon.KindPasswordReset.MustRules().Message}
	retry := func(problem error) error {
		if byEmail {
			// The link was spent on a refused password: give its holder
			// another to retry with, expiring when the link did — a
			// retry must never make a link outlive its 30 minutes.
			left := r.ExpiresAt.Sub(now)
			if left <= 0 {
				return errResetToken
			}
			plain, err := s.newEmailReset(ctx, acct.ID, r.CampaignID, r.ExpiresAt)
			if err != nil {
				return err
			}
			return &ResetRequiredError{Decision: d, ResetToken: plain, ExpiresIn: int(left / time.Second), Problem: problem}
		}
		return s.requireReset(ctx, acct, d, problem)
	}
	if err := s.policy.Check(newPassword, acct.Username); err != nil {
		return nil, retry(err)
	}
	// The point of the campaign is a password the breach did not see.
	if same, _, err := s.hasher.Verify(ctx, newPassword, acct.PasswordHash); err != nil {
		return nil, err
	} else if same {
		return nil, retry(cordon.FieldError(cordon.ECodeWeakPassword, "new_password", "the new password must differ from the old one"))
	}
	h, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetPasswordHash(ctx, acct.ID, h, true, now); err != nil {
		return nil, err
	}
	// No other link or token sent before may set another password.
	if err := s.store.DeletePasswordResets(ctx, acct.ID); err != nil {
		return nil, err
	}
	if byEmail {
		s.campaigns.EmailReset(ctx, r.CampaignID, acct.ID)
	}
	s.campaigns.PasswordSet(ctx, acct.ID)
	ids, err := s.store.RevokeAccountSessions(ctx, acct.ID, "", cordon.RevokePasswordChange, now)
	if err != nil {
		return nil, err
	}
	s.revoked(now, ids...)
	return s.openSession(ctx, acct, client)
}

// newEmailReset stores the token of a reset link expiring at expires.
func (s *Service) newEmailReset(ctx context.Context, accountID, campaignID string, expires time.Time) (string, error) {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	plain, hash := token.NewSecret(emailResetPrefix)
	r := &cordon.PasswordReset{Hash: hash, AccountID: accountID, CampaignID: campaignID, CreatedAt: now, ExpiresAt: expires.UTC().Truncate(time.Microsecond)}
	if err := s.store.CreatePasswordReset(ctx, r); err != nil {
		return "", err
	}
	return plain, nil
}

// ErrNoResetLink says a reset link must not be sent (any more): the
// account is gone, locked, or has another address now, or the campaign
// is no longer an active verify: email campaign.
var ErrNoResetLink = errors.New("no reset link for this account and campaign now")

// EmailResetLink issues the single-use token of a reset link for the
// account, bound to the campaign, to be sent to the address to. Only the
// token's hash is stored; it expires after EmailResetTTL. It refuses
// (ErrNoResetLink, wrapped) unless the campaign is an active verify:
// email password_reset campaign and the account is live, unlocked and
// still has the address to — an address changed after the link was
// queued never receives it.
func (s *Service) EmailResetLink(ctx context.Context, campaignID, accountID, to string) (string, error) {
	pol := s.campaigns.Policy()
	if !pol.ResetByEmail(campaignID) {
		return "", fmt.Errorf("%w: campaign %s is not an active verify: email campaign", ErrNoResetLink, campaignID)
	}
	acct, err := s.store.AccountByID(ctx, accountID)
	if errors.Is(err, cordon.ErrNotFound) {
		return "", fmt.Errorf("%w: the account is gone", ErrNoResetLink)
	}
	if err != nil {
		return "", err
	}
	switch {
	case !acct.LockedAt.IsZero():
		return "", fmt.Errorf("%w: the account is locked", ErrNoResetLink)
	case acct.Email == "" || acct.Email != to:
		return "", fmt.Errorf("%w: the account's email address changed since the link was queued", ErrNoResetLink)
	}
	return s.newEmailReset(ctx, acct.ID, campaignID, s.clock.Now().Add(EmailResetTTL))
}

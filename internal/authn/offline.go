package authn

import (
	"context"
	"errors"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/token"
)

// OfflineTTL is how long an offline grant lets content play offline.
const OfflineTTL = 30 * 24 * time.Hour

// maxGrantBytes bounds a presented grant; ours are about 47 bytes.
const maxGrantBytes = 512

// IssueOfflineGrant gives the caller's install a grant to play downloaded
// content offline, bound to its account, session and device.
//
// An offline_rekey campaign that waits for a prerequisite this install
// still owes (an upgrade it has not logged in on, a new login) refuses the
// grant with what to do first (decision.DecideDownload): a grant issued
// now would outlive the re-key that waits for the install.
func (s *Service) IssueOfflineGrant(ctx context.Context, p *Principal) (string, time.Time, error) {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	if d := decision.DecideDownload(&decision.Input{Session: p.Session, Client: p.Client, Now: now, Policy: s.campaigns.Policy()}); d.Outcome == decision.Deny {
		return "", time.Time{}, &DeniedError{Decision: d}
	}
	plain, hash := token.NewSecret("cog_")
	g := &cordon.OfflineGrant{Hash: hash, AccountID: p.Session.AccountID, SessionID: p.Session.ID, Facts: p.Session.Facts,
		AuthTime: p.Session.AuthTime, IssuedAt: now, ExpiresAt: now.Add(OfflineTTL)}
	if err := s.store.CreateOfflineGrant(ctx, g); err != nil {
		return "", time.Time{}, err
	}
	s.campaigns.OfflineRenewed(ctx, p.Session)
	return plain, g.ExpiresAt, nil
}

// OfflineCheck is the answer to an offline-grant check-in.
type OfflineCheck struct {
	Decision  decision.Decision
	ExpiresAt time.Time
}

// CheckOfflineGrant says whether a grant still holds. A grant issued
// before its user's admission into an offline_rekey campaign, a grant whose
// session has ended, a grant presented from another device and an expired
// grant all answer offline_grant_revoked: the client must download again.
func (s *Service) CheckOfflineGrant(ctx context.Context, grant string, client cordon.ClientFacts) (*OfflineCheck, error) {
	if grant == "" || len(grant) > maxGrantBytes {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "grant", "grant is required and must be a grant this server issued")
	}
	g, err := s.store.OfflineGrantByHash(ctx, token.HashSecret(grant))
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no such offline grant")
	}
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	revoked := func(msg string) *OfflineCheck {
		return &OfflineCheck{Decision: decision.Decision{Outcome: decision.Deny, Reason: decision.ReasonOfflineGrantRevoked, Message: msg}, ExpiresAt: g.ExpiresAt}
	}
	if !now.Before(g.ExpiresAt) {
		return revoked("this offline grant has expired; download again"), nil
	}
	// A grant bound to a device needs that device: a check-in that names
	// none (no Cordon-Client at all) is not the install that holds it.
	if g.Facts.Device != "" && client.Device != g.Facts.Device {
		return revoked("this offline grant belongs to another device; download again"), nil
	}
	sess, err := s.store.SessionByID(ctx, g.SessionID)
	if err != nil {
		return nil, err
	}
	if !sess.Live() {
		return revoked("the session this grant was issued to has ended; log in and download again"), nil
	}
	d := decision.DecideOffline(&decision.OfflineInput{AccountID: g.AccountID, Facts: g.Facts, AuthTime: g.AuthTime, Client: client, Issued: g.IssuedAt, Now: now, Policy: s.campaigns.Policy()})
	if d.Outcome == decision.Deny && d.Campaign != "" {
		s.campaigns.Blocked(ctx, d, sess)
	}
	return &OfflineCheck{Decision: d, ExpiresAt: g.ExpiresAt}, nil
}

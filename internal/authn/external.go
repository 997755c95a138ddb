package authn

import (
	"context"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/token"
)

// decideExternal is Decide for a token of a trusted external issuer
// (Deps.Issuers): POST /v1/decide and introspection answer for the users
// of the identity provider the company already runs. The session is one
// authentication at the provider, "ISSUER#SUB@AUTH_TIME", which cordon
// does not store: nothing in it can be revoked by session, and it has no
// facts at login, so it is judged on the policy's Unproven form (every
// protecting cohort holds it, whatever the request claims; the claim
// counts for upgrades alone).
func (s *Service) decideExternal(ctx context.Context, tok string, client cordon.ClientFacts) (*Principal, error) {
	now := s.clock.Now()
	t, err := s.issuers.Verify(ctx, tok, now)
	if err != nil {
		return nil, err
	}
	sess := &cordon.Session{ID: t.SessionID(), AccountID: issuers.SubjectID(t.Issuer, t.Subject), AuthTime: t.AuthTime,
		Facts: cordon.ClientFacts{Platform: client.Platform, Version: client.Version, Source: client.Source}}
	d := decision.Decide(&decision.Input{Session: sess, Client: client, Now: now, Policy: s.campaigns.Policy().Unproven()})
	switch {
	case d.Campaign == "":
	case d.Outcome == decision.Deny:
		s.campaigns.Blocked(ctx, d, sess)
	case d.Upgrade != nil:
		s.campaigns.Prompted(ctx, d, sess)
	}
	c := &token.Claims{Issuer: t.Issuer, Subject: t.Subject, Audience: t.Audience, ClientID: t.ClientID, SessionID: t.SID,
		IssuedAt: t.IssuedAt, NotBefore: t.NotBefore, Expiry: t.Expiry, AuthTime: t.AuthTime, ID: t.ID}
	return &Principal{Claims: c, Session: sess, Decision: d, Client: client}, nil
}

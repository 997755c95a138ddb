package authn

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/token"
)

// Revoke is RFC 7009 token revocation: it ends the session the token
// belongs to, whichever kind of token it is, and tells enforcement points
// as logout does.
//
// A refresh token ends its session: its family is the session. An access
// token ends its session too: cordon's access tokens are self-contained,
// so the only way to stop one is to stop its session, and a client that
// revokes a token it lost means "nobody may use this any more" — revoking
// the access token alone would leave the refresh token minting new ones.
// It grants nothing new: whoever holds a valid access token can already
// POST /v1/logout with it. An expired access token ends nothing, so a token
// found in an old log cannot end the session of a user who has moved on.
//
// Unknown, invalid, expired or spent tokens, and sessions already ended,
// are not errors (RFC 7009 §2.2): the answer must not tell a prober which
// tokens exist. A session a campaign denies can still be revoked. Only a
// store failure is returned.
func (s *Service) Revoke(ctx context.Context, tok string) error {
	if tok == "" || len(tok) > token.MaxTokenSize {
		return nil
	}
	now := s.clock.Now()
	// The two kinds cannot be confused: an access token is a compact JWS
	// (two dots), a refresh token an opaque secret without dots. So the
	// token_type_hint is not needed (RFC 7009 §2.1 lets it be ignored).
	var (
		sess *cordon.Session
		err  error
	)
	if strings.Contains(tok, ".") {
		sess, err = s.accessSession(ctx, tok, now)
	} else {
		sess, err = s.store.PeekRefreshToken(ctx, token.HashSecret(tok), now)
	}
	if errors.Is(err, cordon.ErrNotFound) || (err == nil && (sess == nil || !sess.Live())) {
		return nil
	}
	if err != nil {
		return err
	}
	err = s.store.RevokeSession(ctx, sess.ID, cordon.RevokeLogout, now)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.revoked(now, sess.ID)
	return nil
}

// accessSession returns the session of a valid access token; ErrNotFound
// when the token does not verify or its session is gone.
func (s *Service) accessSession(ctx context.Context, tok string, now time.Time) (*cordon.Session, error) {
	c, err := s.verifier.Verify(tok, now)
	if err != nil {
		return nil, cordon.ErrNotFound
	}
	sess, err := s.store.SessionByID(ctx, c.SessionID)
	if err == nil && sess.AccountID != c.Subject {
		return nil, cordon.ErrNotFound
	}
	return sess, err
}

// Introspection is what RFC 7662 introspection says about a token.
type Introspection struct {
	// Active is true for a valid access token of a live session that the
	// decision engine allows now.
	Active bool
	// Claims and Session are set when the token verified and its session
	// exists, active or not.
	Claims  *token.Claims
	Session *cordon.Session
	// Decision is the decision for the request the caller forwards (its
	// Cordon-Client claims, if any); meaningful when Session is set.
	Decision decision.Decision
}

// Introspect is RFC 7662 introspection for backends that cannot verify a
// JWT themselves: the same checks as Authenticate (signature, issuer,
// audience, expiry, a live session, the campaigns), answered as a value.
// client is what the app's request claims, forwarded by the backend.
//
// Only access tokens can be active. A refresh token never reaches a
// resource server, and answering for one would let any holder of an
// introspection credential test stolen refresh tokens for liveness
// without spending them; it answers inactive like any unknown string.
func (s *Service) Introspect(ctx context.Context, tok string, client cordon.ClientFacts) (*Introspection, error) {
	p, err := s.Decide(ctx, tok, client)
	if e, ok := errors.AsType[*cordon.Error](err); ok && e.Code == cordon.ECodeInvalidToken {
		return &Introspection{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Introspection{Active: p.Decision.Outcome == decision.Allow, Claims: p.Claims, Session: p.Session, Decision: p.Decision}, nil
}

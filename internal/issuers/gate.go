package issuers

import (
	"context"
	"strconv"
	"time"

	"github.com/cordon-dev/cordon/gate"
)

// VerifyExternal is Verify in the form a gate takes (gate.Options.External):
// a *Set is a gate.ExternalVerifier.
func (s *Set) VerifyExternal(ctx context.Context, tok string, now time.Time) (*gate.ExternalToken, error) {
	t, err := s.Verify(ctx, tok, now)
	if err != nil {
		return nil, err
	}
	return t.External(), nil
}

// External is t as a gate sees it.
func (t *Token) External() *gate.ExternalToken {
	return &gate.ExternalToken{
		Issuer:       t.Issuer,
		Subject:      t.Subject,
		AccountID:    SubjectID(t.Issuer, t.Subject),
		SessionID:    t.SessionID(),
		AuthTime:     t.AuthTime,
		IssuedAt:     t.IssuedAt,
		NotBefore:    t.NotBefore,
		Expiry:       t.Expiry,
		KeyPublished: t.Key.Published,
	}
}

// SessionID names one authentication at the provider: the subject and
// auth_time ("ISSUER#SUB@UNIX"). Every token of one login, refreshed or
// not, has it; a re-authentication starts another.
func (t *Token) SessionID() string {
	return SubjectID(t.Issuer, t.Subject) + "@" + strconv.FormatInt(t.AuthTime.Unix(), 10)
}

var _ gate.ExternalVerifier = (*Set)(nil)

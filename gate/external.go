package gate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// ExternalVerifier verifies the tokens of trusted external OpenID
// providers (the identity provider a company already runs), so the gate
// enforces campaigns on users cordon never logged in. cordon gate wires
// one from its --trusted-issuer flags (internal/issuers); code outside
// the module may write its own. Implementations must be safe for
// concurrent use.
type ExternalVerifier interface {
	// Trusts reports whether tok claims (unverified) to come from one of
	// its issuers. It only picks the verifier: cordon's own, or Verify.
	Trusts(tok string) bool
	// VerifyExternal checks tok at now. It may fetch the issuer's keys
	// (bounded; ctx is the request's). A refusal should be a *Error of
	// code invalid_token saying what is wrong.
	VerifyExternal(ctx context.Context, tok string, now time.Time) (*ExternalToken, error)
}

// ExternalToken is what a verified external token proves: who the user
// is (Issuer, Subject) and when the provider last authenticated them —
// nothing about the install, which no one recorded at login.
type ExternalToken struct {
	Issuer  string
	Subject string
	// AccountID is the (Issuer, Subject) pair as one id, "ISSUER#SUB":
	// what campaigns' cohorts (subjects), ramps and the audit log name.
	AccountID string
	// SessionID names one authentication at the provider: the account
	// id and auth_time.
	SessionID string
	// AuthTime is auth_time, else iat. A refresh at the provider keeps it,
	// so only a real re-authentication satisfies a reauth campaign.
	AuthTime  time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	// KeyPublished reports whether the key that verified the token is
	// still published; a cached verification is used only while it is.
	KeyPublished func() bool
}

// verifyExternal checks a token the cache could not answer with the
// external verifier and returns the entry that would cache it. Its
// session has no facts: decide judges it on the policy's Unproven form,
// with the request's claimed facts for upgrades alone.
func (g *Gate) verifyExternal(ctx context.Context, tok string, h uint64, now time.Time) (*entry, error) {
	if !g.external.Trusts(tok) {
		return nil, errForeignIssuer
	}
	x, err := g.external.VerifyExternal(ctx, tok, now)
	if err != nil {
		return nil, err
	}
	if x.AccountID == "" || x.SessionID == "" || x.AuthTime.IsZero() || x.Expiry.IsZero() || x.KeyPublished == nil {
		return nil, cordon.Errorf(cordon.ECodeInternal, "external verifier returned an incomplete token")
	}
	e := &entry{
		session: cordon.Session{ID: x.SessionID, AccountID: x.AccountID, AuthTime: x.AuthTime},
		expiry:  x.Expiry.UnixNano(),
		ext:     x,
	}
	if g.cache != nil {
		from := x.IssuedAt
		if x.NotBefore.After(from) {
			from = x.NotBefore
		}
		e.h, e.tok = h, strings.Clone(tok)
		e.from = math.MinInt64 // no iat nor nbf: valid from the start
		if !from.IsZero() {
			e.from = from.Add(-token.Leeway).UnixNano()
		}
		e.until = x.Expiry.Add(token.Leeway).UnixNano()
	}
	return e, nil
}

// errForeignIssuer refuses a token that names (unverified) neither the
// gate's issuer nor a trusted one: with external issuers configured, the
// operator's first question about a refusal is whose token it was, and
// cordon's verifier would name the first check it failed instead
// (typically the algorithm). A refusal may rest on unverified claims.
var errForeignIssuer = cordon.Errorf(cordon.ECodeInvalidToken, "token was issued by someone else")

// foreign reports whether tok's payload names an issuer other than the
// gate's (the caller has asked the external verifier already).
func (g *Gate) foreign(tok string) bool {
	_, rest, _ := strings.Cut(tok, ".")
	seg, _, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false // malformed: cordon's verifier says so
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	return json.Unmarshal(raw, &c) == nil && c.Issuer != g.st.issuer
}

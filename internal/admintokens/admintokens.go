// Package admintokens is the admin-token service: it authenticates a
// bearer secret for a scope, and mints, finds, revokes, re-times and
// rotates tokens under the delegation rule — a token grants only scopes
// it holds, and acts only on tokens whose every scope it holds, so a
// narrow token can never mint or rotate itself into a "*" secret. Each
// change commits with its audit record in one transaction
// (cordon.Audited). internal/httpapi translates HTTP to these calls; the
// rules live here.
package admintokens

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// Bounds an admin may give a token's times. Longer is a typo.
const (
	MaxTTL   = 10 * 366 * 24 * time.Hour
	MaxGrace = 7 * 24 * time.Hour
	// MaxName bounds a token's name, which is also its audit principal.
	MaxName = 100
)

// SecretPrefix starts every admin token's secret.
const SecretPrefix = "cat_"

// Store is what the service needs of cordon's store.
type Store interface {
	CreateAdminToken(ctx context.Context, t *cordon.AdminToken) error
	AdminTokenByHash(ctx context.Context, hash []byte) (*cordon.AdminToken, error)
	AdminTokenByID(ctx context.Context, id string) (*cordon.AdminToken, error)
	AdminTokens(ctx context.Context) ([]*cordon.AdminToken, error)
	RevokeAdminToken(ctx context.Context, id string, at time.Time) (*cordon.AdminToken, error)
	SetAdminTokenExpiry(ctx context.Context, id string, expiresAt, now time.Time) (*cordon.AdminToken, error)
	RotateAdminToken(ctx context.Context, id string, next *cordon.AdminToken, oldUntil time.Time) (*cordon.AdminToken, error)
}

// Record makes the audit record of a change from what the service says
// happened (purpose); the caller knows who asked and from where. A nil
// Record, or one returning a nil entry, records nothing (a server
// without an audit log).
type Record func(purpose string) (*cordon.AuditEntry, error)

// Service is the admin-token service. It is safe for concurrent use.
type Service struct {
	store Store
	clock clock.Clock
}

// New returns the service over store.
func New(store Store, clk clock.Clock) *Service {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Service{store: store, clock: clk}
}

// Authenticate returns the usable token whose secret is secret, if it
// holds scope. There is no cache: every node reads the shared store, so a
// revocation or an expiry takes effect everywhere at the next request.
func (s *Service) Authenticate(ctx context.Context, secret, scope string) (*cordon.AdminToken, error) {
	at, err := s.store.AdminTokenByHash(ctx, token.HashSecret(secret))
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeInvalidToken, "the admin token is not valid")
	}
	if err != nil {
		return nil, err
	}
	if !at.Usable(s.clock.Now()) {
		return nil, cordon.Errorf(cordon.ECodeInvalidToken, "the admin token is revoked or expired")
	}
	if !at.HasScope(scope) {
		return nil, cordon.Errorf(cordon.ECodeForbidden, "the admin token %q lacks the scope %q", at.Name, scope)
	}
	// A rotated token in its grace keeps working for what it did, but
	// manages no token: rotating a leaked token with a grace must not let
	// the thief rotate the successor away from its owner.
	if at.ReplacedBy != "" && scope == cordon.ScopeTokens {
		return nil, cordon.Errorf(cordon.ECodeForbidden, "the admin token %q was rotated into %s; its grace does not cover managing tokens (use the new secret)", at.Name, at.ReplacedBy)
	}
	return at, nil
}

// Mint is a new token's request.
type Mint struct {
	Name   string
	Scopes []string
	// ExpiresAt is the token's end; zero for none.
	ExpiresAt time.Time
}

// Mint stores a new token for m, with scopes caller holds itself, and
// returns it with its secret, which is shown once and stored only as a
// hash.
func (s *Service) Mint(ctx context.Context, caller *cordon.AdminToken, m Mint, rec Record) (*cordon.AdminToken, string, error) {
	if err := CheckMint(caller, m.Name, m.Scopes); err != nil {
		return nil, "", err
	}
	now := s.clock.Now().UTC()
	if err := checkExpiry(m.ExpiresAt, now, "expires_at"); err != nil {
		return nil, "", err
	}
	plain, hash := token.NewSecret(SecretPrefix)
	at := &cordon.AdminToken{ID: cordon.NewID("t"), Name: m.Name, Hash: hash, Scopes: m.Scopes, CreatedAt: now, ExpiresAt: m.ExpiresAt}
	_, err := audited(ctx, rec, "admin token "+at.ID+" ("+cordon.Short(at.Name)+") created with scopes "+strings.Join(at.Scopes, " "),
		func(ctx context.Context) (struct{}, error) { return struct{}{}, s.store.CreateAdminToken(ctx, at) })
	if errors.Is(err, cordon.ErrAlreadyExists) {
		// The name is the audit principal: it names one token's lineage.
		return nil, "", cordon.FieldError(cordon.ECodeConflict, "name", "an admin token named %q exists already (names are never reused; rotate it instead)", cordon.Short(at.Name))
	}
	if err != nil {
		return nil, "", err
	}
	return at, plain, nil
}

// CheckMint refuses a name or scopes a token may not be minted with, or
// scopes caller may not grant.
func CheckMint(caller *cordon.AdminToken, name string, scopes []string) error {
	if name == "" || len(name) > MaxName || cordon.Printable(name, MaxName) != name {
		return cordon.FieldError(cordon.ECodeUnprocessable, "name", "name is required: at most %d bytes of printable text", MaxName)
	}
	if len(scopes) == 0 {
		return cordon.FieldError(cordon.ECodeUnprocessable, "scopes", "give at least one scope of %v", cordon.Scopes)
	}
	for _, sc := range scopes {
		if !slices.Contains(cordon.Scopes, sc) && sc != cordon.ScopeAll {
			return cordon.FieldError(cordon.ECodeUnprocessable, "scopes", "unknown scope %q; scopes are %v", sc, cordon.Scopes)
		}
		if caller == nil || !caller.HasScope(sc) || (sc == cordon.ScopeAll && !caller.HasScope(cordon.ScopeAll)) {
			return cordon.FieldError(cordon.ECodeForbidden, "scopes", "a token can only grant scopes it holds; it lacks %q", sc)
		}
	}
	return nil
}

// List returns every token, oldest first.
func (s *Service) List(ctx context.Context) ([]*cordon.AdminToken, error) {
	return s.store.AdminTokens(ctx)
}

// Find resolves ref: a token's id, or the name of a token that has not
// been replaced by a rotation.
func (s *Service) Find(ctx context.Context, ref string) (*cordon.AdminToken, error) {
	if strings.HasPrefix(ref, "t-") {
		t, err := s.store.AdminTokenByID(ctx, ref)
		if err == nil || !errors.Is(err, cordon.ErrNotFound) {
			return t, err
		}
	}
	all, err := s.store.AdminTokens(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.Name == ref && t.ReplacedBy == "" {
			return t, nil
		}
	}
	return nil, cordon.Errorf(cordon.ECodeNotFound, "no admin token %q", cordon.Short(ref))
}

// Usable reports whether the token id still authenticates: a stream held
// open by a token checks it, so a revocation closes the stream.
func (s *Service) Usable(ctx context.Context, id string) (bool, error) {
	t, err := s.store.AdminTokenByID(ctx, id)
	if errors.Is(err, cordon.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t.Usable(s.clock.Now()), nil
}

// target finds ref and checks caller may act on it.
func (s *Service) target(ctx context.Context, caller *cordon.AdminToken, ref string) (*cordon.AdminToken, error) {
	t, err := s.Find(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !Covers(caller, t) {
		return nil, cordon.Errorf(cordon.ECodeForbidden, "acting on admin token %q needs every scope it holds (%s)", t.Name, strings.Join(t.Scopes, " "))
	}
	return t, nil
}

// Covers reports whether caller holds every scope of t: acting on a
// token (revoking it, rotating it into a new secret) needs at least the
// power of that token, or a narrow token could mint a "*" secret.
func Covers(caller, t *cordon.AdminToken) bool {
	if caller == nil {
		return false
	}
	for _, sc := range t.Scopes {
		if sc == cordon.ScopeAll && !caller.HasScope(cordon.ScopeAll) || !caller.HasScope(sc) {
			return false
		}
	}
	return true
}

// Revoke revokes ref unless it is the last usable "*" token
// (cordon.ErrLastAdmin); revoking a revoked token changes nothing.
func (s *Service) Revoke(ctx context.Context, caller *cordon.AdminToken, ref string, rec Record) (*cordon.AdminToken, error) {
	t, err := s.target(ctx, caller, ref)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	return audited(ctx, rec, "admin token "+t.ID+" ("+cordon.Short(t.Name)+") revoked", func(ctx context.Context) (*cordon.AdminToken, error) {
		return s.store.RevokeAdminToken(ctx, t.ID, now)
	})
}

// SetExpiry sets ref's end to when, or lifts it for a zero when.
func (s *Service) SetExpiry(ctx context.Context, caller *cordon.AdminToken, ref string, when time.Time, rec Record) (*cordon.AdminToken, error) {
	now := s.clock.Now()
	if err := checkExpiry(when, now, "expires_at"); err != nil {
		return nil, err
	}
	t, err := s.target(ctx, caller, ref)
	if err != nil {
		return nil, err
	}
	what := "never expires"
	if !when.IsZero() {
		what = "expires at " + when.UTC().Format(time.RFC3339)
	}
	return audited(ctx, rec, "admin token "+t.ID+" ("+cordon.Short(t.Name)+") "+what, func(ctx context.Context) (*cordon.AdminToken, error) {
		return s.store.SetAdminTokenExpiry(ctx, t.ID, when, now)
	})
}

// Rotation is the new secret a rotation made, and the token it ended.
type Rotation struct {
	Next   *cordon.AdminToken
	Secret string
	Old    *cordon.AdminToken
}

// Rotate ends ref and makes its successor with the same name and scopes
// and a new secret. The old secret keeps working for grace (at most
// MaxGrace); the new token ends at expires (zero for never).
func (s *Service) Rotate(ctx context.Context, caller *cordon.AdminToken, ref string, expires time.Time, grace time.Duration, rec Record) (*Rotation, error) {
	now := s.clock.Now().UTC()
	if err := checkExpiry(expires, now, "expires_at"); err != nil {
		return nil, err
	}
	if grace < 0 || grace > MaxGrace {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "grace", "grace must be a duration of at most 7d, such as 10m or 1h")
	}
	var until time.Time
	if grace > 0 {
		until = now.Add(grace)
	}
	t, err := s.target(ctx, caller, ref)
	if err != nil {
		return nil, err
	}
	plain, hash := token.NewSecret(SecretPrefix)
	next := &cordon.AdminToken{ID: cordon.NewID("t"), Hash: hash, CreatedAt: now, ExpiresAt: expires}
	old, err := audited(ctx, rec, "admin token "+t.ID+" ("+cordon.Short(t.Name)+") rotated into "+next.ID, func(ctx context.Context) (*cordon.AdminToken, error) {
		return s.store.RotateAdminToken(ctx, t.ID, next, until)
	})
	if err != nil {
		return nil, err
	}
	return &Rotation{Next: next, Secret: plain, Old: old}, nil
}

// checkExpiry refuses an end in the past or more than MaxTTL away; a zero
// end is none.
func checkExpiry(t, now time.Time, field string) error {
	switch {
	case t.IsZero():
		return nil
	case !t.After(now):
		return cordon.FieldError(cordon.ECodeUnprocessable, field, "%s must be in the future", field)
	case t.Sub(now) > MaxTTL:
		return cordon.FieldError(cordon.ECodeUnprocessable, field, "%s is more than ten years away", field)
	}
	return nil
}

// audited runs write with rec's record of purpose, committed together.
func audited[T any](ctx context.Context, rec Record, purpose string, write func(context.Context) (T, error)) (T, error) {
	var e *cordon.AuditEntry
	if rec != nil {
		var err error
		if e, err = rec(purpose); err != nil {
			var zero T
			return zero, err
		}
	}
	return cordon.Audited(ctx, e, write)
}

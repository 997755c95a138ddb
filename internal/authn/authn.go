// Package authn is cordon's account and session service: account
// creation and import, password login, refresh-token rotation, access
// token checks, logout, session listing and revocation, password change,
// and signing-key rotation. It holds the rules; the store keeps the state,
// package password hashes, package token signs, package throttle slows
// guessing, and package decision says whether a live session may proceed.
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/detect"
	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
	"github.com/cordon-dev/cordon/internal/token"
	"golang.org/x/text/unicode/norm"
)

// Config holds the service's lifetimes and names. Zero fields take the
// defaults of DefaultConfig.
type Config struct {
	Issuer   string // iss of access tokens
	Audience string // aud of access tokens
	ClientID string // client_id of access tokens (the first-party app)
	// AccessTTL is the access token lifetime (15 min).
	AccessTTL time.Duration
	// RefreshIdle is how long a refresh token may sit unused (30 days).
	RefreshIdle time.Duration
	// RefreshAbsolute bounds a session's refresh family (90 days).
	RefreshAbsolute time.Duration
	// TokenCache bounds the cache of verified access tokens (their
	// signature and claims, never their session's state): 0 means
	// token.DefaultCacheSize, a negative size turns it off.
	TokenCache int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Issuer:          "http://127.0.0.1:8080",
		Audience:        "cordon",
		ClientID:        "cordon-app",
		AccessTTL:       15 * time.Minute,
		RefreshIdle:     30 * 24 * time.Hour,
		RefreshAbsolute: 90 * 24 * time.Hour,
	}
}

// Service is the account and session service. It is safe for concurrent
// use.
type Service struct {
	store    cordon.Store
	hasher   *password.Hasher
	policy   password.Policy
	throttle *throttle.Throttle
	clock    clock.Clock
	cfg      Config
	log      *slog.Logger

	signer    *token.Signer
	verifier  *token.Verifier
	campaigns Campaigns
	onRevoke  func([]string, time.Time)
	onKeys    func([]byte)
	detect    Detector
	pwKey     *detect.PasswordKey
	onEmail   func(context.Context, string, *cordon.Account)
	issuers   *issuers.Set
}

// Detector hears of every password login attempt, right or wrong, for
// login-abuse detection. Observe must not block or do I/O: it runs on
// the login path (package alert's Watcher queues).
type Detector interface {
	Observe(detect.Attempt)
}

// revoked tells enforcement points about revoked sessions.
func (s *Service) revoked(at time.Time, ids ...string) {
	if s.onRevoke != nil && len(ids) > 0 {
		s.onRevoke(ids, at)
	}
}

// Campaigns is what the service needs of the campaign engine: the current
// compiled policy and a place to report what it enforced.
type Campaigns interface {
	// Policy returns the current policy; never nil.
	Policy() *decision.Policy
	// Blocked records a denial a campaign caused.
	Blocked(ctx context.Context, d decision.Decision, s *cordon.Session)
	// Prompted records a flexible campaign's prompt (an allowed request
	// that carries upgrade advice).
	Prompted(ctx context.Context, d decision.Decision, s *cordon.Session)
	// LoggedIn records a fresh login (it satisfies the reauth campaigns
	// that blocked the account, when the new session is in their cohort).
	LoggedIn(ctx context.Context, s *cordon.Session)
	// PasswordSet records a new password (it satisfies the password_reset
	// campaigns that blocked the account).
	PasswordSet(ctx context.Context, accountID string)
	// EmailReset records that the account set a new password through a
	// link the campaign (verify: email) sent: it counts as reached and
	// satisfied.
	EmailReset(ctx context.Context, campaignID, accountID string)
	// ResetAdmissions returns the password_reset campaigns that have
	// already denied the account.
	ResetAdmissions(ctx context.Context, accountID string) (map[string]bool, error)
	// Upgraded records that a request of the session's install reports a
	// newer app version than the session authenticated with.
	Upgraded(ctx context.Context, s *cordon.Session, client cordon.ClientFacts)
	// OfflineRenewed records a new offline grant (it satisfies offline_rekey
	// campaigns that revoked the account's grants).
	OfflineRenewed(ctx context.Context, s *cordon.Session)
}

// noCampaigns is the policy of a service built without campaigns.
type noCampaigns struct{}

func (noCampaigns) Policy() *decision.Policy                                     { return &decision.Policy{} }
func (noCampaigns) Blocked(context.Context, decision.Decision, *cordon.Session)  {}
func (noCampaigns) Prompted(context.Context, decision.Decision, *cordon.Session) {}
func (noCampaigns) LoggedIn(context.Context, *cordon.Session)                    {}
func (noCampaigns) PasswordSet(context.Context, string)                          {}
func (noCampaigns) EmailReset(context.Context, string, string)                   {}
func (noCampaigns) ResetAdmissions(context.Context, string) (map[string]bool, error) {
	return nil, nil
}
func (noCampaigns) Upgraded(context.Context, *cordon.Session, cordon.ClientFacts) {}
func (noCampaigns) OfflineRenewed(context.Context, *cordon.Session)               {}

// Deps are the parts a Service is built from.
type Deps struct {
	Store    cordon.Store
	Hasher   *password.Hasher
	Policy   password.Policy
	Throttle *throttle.Throttle
	Clock    clock.Clock
	Log      *slog.Logger
	// Campaigns supplies the policy; nil means no campaigns.
	Campaigns Campaigns
	// OnRevoke, when set, hears of every session revocation, so enforcement
	// points that verify access tokens on their own can refuse them too.
	OnRevoke func(sessionIDs []string, at time.Time)
	// OnKeys, when set, hears of every new published key set (JWKS).
	OnKeys func(jwks []byte)
	// Detect, when set, hears of every login attempt; PasswordKey keys
	// the hash of the attempted password it is given (required with it).
	Detect      Detector
	PasswordKey *detect.PasswordKey
	// OnEmailReset, when set, hears of a login held back by a verify:
	// email campaign, so a user whose link expired gets a fresh one (the
	// mail goes to the account's own address, never to the caller).
	OnEmailReset func(ctx context.Context, campaignID string, acct *cordon.Account)
	// Issuers, when set, are the trusted external OpenID providers whose
	// tokens Decide (POST /v1/decide) and Introspect accept (external.go).
	Issuers *issuers.Set
}

// New builds a Service and loads (or, on first start, creates) the
// signing keys.
func New(ctx context.Context, d Deps, cfg Config) (*Service, error) {
	def := DefaultConfig()
	if cfg.Issuer == "" {
		cfg.Issuer = def.Issuer
	}
	if cfg.Audience == "" {
		cfg.Audience = def.Audience
	}
	if cfg.ClientID == "" {
		cfg.ClientID = def.ClientID
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = def.AccessTTL
	}
	if cfg.RefreshIdle <= 0 {
		cfg.RefreshIdle = def.RefreshIdle
	}
	if cfg.RefreshAbsolute <= 0 {
		cfg.RefreshAbsolute = def.RefreshAbsolute
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Campaigns == nil {
		d.Campaigns = noCampaigns{}
	}
	if d.Detect != nil && d.PasswordKey == nil {
		return nil, errors.New("authn: detection needs a password key")
	}
	s := &Service{store: d.Store, hasher: d.Hasher, policy: d.Policy, throttle: d.Throttle, clock: d.Clock, cfg: cfg, log: d.Log, campaigns: d.Campaigns, onRevoke: d.OnRevoke, onKeys: d.OnKeys,
		detect: d.Detect, pwKey: d.PasswordKey, onEmail: d.OnEmailReset, issuers: d.Issuers}
	if err := s.ReloadKeys(ctx); err != nil {
		return nil, err
	}
	if err := s.loadSchemes(ctx); err != nil {
		// A store that cannot be read whole (a damaged page, started with
		// --skip-check) still serves what it can; unknown users then cost
		// an argon2id verify until the counts are known.
		s.log.Warn("count password hash schemes; unknown users will cost an argon2id verify", "err", err)
	}
	return s, nil
}

// Config returns the service's effective configuration.
func (s *Service) Config() Config { return s.cfg }

// ReloadKeys reads the signing keys from the store, creating the first
// one when there is none, and prunes keys no token can need any more.
func (s *Service) ReloadKeys(ctx context.Context) error {
	now := s.clock.Now()
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	if len(keys) == 0 {
		k, err := token.NewSigningKey(now)
		if err != nil {
			return err
		}
		if err := s.store.AddSigningKey(ctx, k); err != nil {
			return fmt.Errorf("store first signing key: %w", err)
		}
		keys = []*cordon.SigningKey{k}
		s.log.Info("created the first signing key", "kid", k.ID)
	}
	ks, err := token.NewKeySet(keys, s.cfg.AccessTTL, now)
	if err != nil {
		return err
	}
	if s.signer == nil {
		s.signer = token.NewSigner(ks, s.cfg.Issuer, []string{s.cfg.Audience}, s.cfg.ClientID, s.cfg.AccessTTL)
		// The signer holds the current key set, so verification follows
		// every rotation.
		s.verifier = token.NewVerifier(s.signer, s.cfg.Issuer, s.cfg.Audience).WithCache(s.cfg.TokenCache)
	} else {
		s.signer.SetKeySet(ks)
	}
	// A retired key is useless once every token it signed has expired.
	cut := now.Add(-s.cfg.AccessTTL - 2*time.Minute)
	if err := s.store.DeleteSigningKeysRetiredBefore(ctx, cut); err != nil {
		s.log.Warn("prune signing keys", "err", err)
	}
	return nil
}

// RotateKeys adds a new signing key; the old one keeps verifying until
// its tokens expire.
func (s *Service) RotateKeys(ctx context.Context) (kid string, err error) {
	k, err := token.NewSigningKey(s.clock.Now())
	if err != nil {
		return "", err
	}
	if err := s.store.AddSigningKey(ctx, k); err != nil {
		return "", err
	}
	if err := s.ReloadKeys(ctx); err != nil {
		return "", err
	}
	if s.onKeys != nil {
		s.onKeys(s.JWKS())
	}
	return k.ID, nil
}

// JWKS returns the published public keys as a JWK Set document.
func (s *Service) JWKS() []byte { return s.signer.KeySet().JWKS() }

// Tokens is what a login or a refresh answers (RFC 6749 §5.1 plus the
// session id).
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	SessionID    string `json:"session_id"`
}

// errInvalidCredentials is the one answer to an unknown user and a wrong
// password alike.
var errInvalidCredentials = cordon.Errorf(cordon.ECodeInvalidCredentials, "the username or password is wrong")

// LoginRequest is one password login.
type LoginRequest struct {
	Username string
	Password string
	Client   cordon.ClientFacts
	// Address is the client's address, for throttling.
	Address string
}

// Login checks a password and opens a session.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*Tokens, error) {
	if req.Username == "" || req.Password == "" {
		return nil, cordon.Errorf(cordon.ECodeInvalid, "username and password are required")
	}
	if len(req.Username) > maxUsernameBytes || len(req.Password) > password.MaxBytes {
		return nil, cordon.Errorf(cordon.ECodeInvalid, "username or password is too long")
	}
	acct, rehash, err := s.checkLogin(ctx, req)
	if err != nil {
		return nil, err
	}
	if rehash {
		s.upgradeHash(ctx, acct, req.Password)
	}
	if d, err := s.resetRequired(ctx, acct, req.Client); err != nil {
		return nil, err
	} else if d.Outcome == decision.Deny {
		return nil, s.requireReset(ctx, acct, d, nil)
	}
	return s.openSession(ctx, acct, req.Client)
}

// resetRequired says whether a login of the account must set a new
// password first. The admission belongs to the account: its sessions live
// since the campaigns began (as they authenticated, ended ones included)
// and the campaigns that already denied it decide,
// so a login that claims another platform, or none, cannot dodge it.
func (s *Service) resetRequired(ctx context.Context, acct *cordon.Account, client cordon.ClientFacts) (decision.Decision, error) {
	pol := s.campaigns.Policy()
	if len(pol.ResetCampaigns()) == 0 {
		return decision.Decision{Outcome: decision.Allow}, nil
	}
	sessions, err := s.store.SessionsSince(ctx, acct.ID, pol.ResetSince())
	if err != nil {
		return decision.Decision{}, err
	}
	admitted, err := s.campaigns.ResetAdmissions(ctx, acct.ID)
	if err != nil {
		return decision.Decision{}, err
	}
	return decision.ResetRequired(&decision.ResetInput{AccountID: acct.ID, Client: client, Sessions: sessions, Admitted: admitted,
		PasswordChangedAt: acct.PasswordChangedAt, Now: s.clock.Now(), Policy: pol}), nil
}

// upgradeHash replaces an imported bcrypt hash, or an argon2id hash with
// outdated parameters, now that the password is known. A failure is
// logged, not returned: the login itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, acct *cordon.Account, pw string) {
	h, err := s.hasher.Hash(ctx, pw)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, acct.ID, h, false, s.clock.Now())
	}
	if err != nil {
		s.log.Warn("password hash upgrade deferred", "account", acct.ID, "err", err)
		return
	}
	s.hasher.AddScheme(acct.PasswordHash, -1)
	s.hasher.AddScheme(h, 1)
	s.log.Info("password hash upgraded", "account", acct.ID)
}

func (s *Service) openSession(ctx context.Context, acct *cordon.Account, facts cordon.ClientFacts) (*Tokens, error) {
	now := s.clock.Now()
	sess := &cordon.Session{ID: cordon.NewID("s"), AccountID: acct.ID, Facts: facts, AuthTime: now, CreatedAt: now, LastSeenAt: now}
	plain, hash := token.NewSecret("crt_")
	rt := &cordon.RefreshToken{Hash: hash, SessionID: sess.ID, CreatedAt: now,
		IdleExpiresAt: now.Add(s.cfg.RefreshIdle), AbsoluteExpiresAt: now.Add(s.cfg.RefreshAbsolute)}
	if rt.IdleExpiresAt.After(rt.AbsoluteExpiresAt) {
		rt.IdleExpiresAt = rt.AbsoluteExpiresAt
	}
	if err := s.store.CreateSession(ctx, sess, rt); err != nil {
		return nil, err
	}
	if err := s.confirmOpen(ctx, sess); err != nil {
		return nil, err
	}
	s.campaigns.LoggedIn(ctx, sess)
	return s.issue(sess, plain, now)
}

func (s *Service) issue(sess *cordon.Session, refresh string, now time.Time) (*Tokens, error) {
	at, err := s.signer.Sign(token.Claims{
		Subject: sess.AccountID, SessionID: sess.ID, IssuedAt: now, NotBefore: now,
		Expiry: now.Add(s.cfg.AccessTTL), AuthTime: sess.AuthTime,
		Platform: sess.Facts.Platform, Version: sess.Facts.Version, Source: sess.Facts.Source,
	})
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	return &Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL / time.Second), RefreshToken: refresh, SessionID: sess.ID}, nil
}

// maxRefreshBytes bounds a presented refresh token; ours are ~47 bytes.
const maxRefreshBytes = 512

// RefreshError is a refused refresh, in RFC 6749 §5.2 terms: Code is the
// OAuth error ("invalid_grant") and Reason says why in cordon's words.
type RefreshError struct {
	Reason  string
	Message string
	// Decision is the campaign decision that refused it, if one did.
	Decision decision.Decision
}

func (e *RefreshError) Error() string { return "invalid_grant: " + e.Reason }

// Refresh exchanges a refresh token for a new pair. The presented token is
// spent whatever happens; presenting a spent token again revokes the
// whole session (RFC 9700 §4.14.2). address is the client's, as for a
// login (LoginRequest.Address): the address the server trusts, never a
// header the client set.
//
// A refresh that succeeds from a network the account is not known at
// (throttle.Seen) is somewhere new, as a login from neither a known
// device nor a known address is: a ramp that puts unusual addresses
// first admits the account early. That is how a stolen session used
// from the attacker's network is seen. A refresh that fails counts for
// nothing, so moving an account forward takes a valid refresh token of
// it.
func (s *Service) Refresh(ctx context.Context, refresh string, client cordon.ClientFacts, address string) (*Tokens, error) {
	if refresh == "" || len(refresh) > maxRefreshBytes {
		return nil, &RefreshError{Reason: "invalid_refresh_token", Message: "the refresh token is invalid, expired or revoked"}
	}
	now := s.clock.Now()
	old := token.HashSecret(refresh)
	// Decide before spending the token: a refresh a campaign refuses must
	// leave it usable, or the retry once the campaign is paused (or the app
	// upgraded) would look like reuse and end the session.
	if cur, err := s.store.PeekRefreshToken(ctx, old, now); err == nil {
		noted := *cur
		s.noteClient(ctx, &noted, client, now)
		if d := s.decide(ctx, &noted, client, now); d.Outcome == decision.Deny {
			return nil, &RefreshError{Reason: d.Reason, Message: d.Message, Decision: d}
		}
	} else if !errors.Is(err, cordon.ErrNotFound) {
		return nil, err
	}
	plain, hash := token.NewSecret("crt_")
	next := &cordon.RefreshToken{Hash: hash, CreatedAt: now, IdleExpiresAt: now.Add(s.cfg.RefreshIdle)}
	sess, err := s.store.RotateRefreshToken(ctx, old, next, now)
	switch {
	case errors.Is(err, cordon.ErrRefreshReused):
		s.log.Warn("refresh token reused; session revoked")
		if sess != nil {
			s.revoked(now, sess.ID)
		}
		return nil, &RefreshError{Reason: cordon.RevokeRefreshReuse, Message: "this refresh token was already used, so the session was ended; please log in again"}
	case errors.Is(err, cordon.ErrNotFound):
		return nil, &RefreshError{Reason: "invalid_refresh_token", Message: "the refresh token is invalid, expired or revoked"}
	case err != nil:
		return nil, err
	}
	s.noteClient(ctx, sess, client, now)
	d := s.decide(ctx, sess, client, now)
	if d.Outcome == decision.Deny {
		return nil, &RefreshError{Reason: d.Reason, Message: d.Message, Decision: d}
	}
	if s.throttle.Seen(sess.AccountID, address) {
		if u, ok := s.campaigns.(unusualSink); ok {
			u.SeenUnusual(sess.AccountID)
		}
	}
	return s.issue(sess, plain, now)
}

// Principal is a request's verified caller.
type Principal struct {
	Claims   *token.Claims
	Session  *cordon.Session
	Decision decision.Decision
	// Client is what the request's Cordon-Client said: a claim.
	Client cordon.ClientFacts
}

// Authenticate verifies an access token and checks its session is still
// live in the store (a signature alone cannot tell a logged-out session).
// It returns the decision for the request; a denied decision is an error.
func (s *Service) Authenticate(ctx context.Context, accessToken string, client cordon.ClientFacts) (*Principal, error) {
	now := s.clock.Now()
	c, err := s.verifier.Verify(accessToken, now)
	if err != nil {
		return nil, err
	}
	sess, err := s.store.SessionByID(ctx, c.SessionID)
	if errors.Is(err, cordon.ErrNotFound) || (err == nil && sess.AccountID != c.Subject) {
		return nil, cordon.Errorf(cordon.ECodeInvalidToken, "the session of this token does not exist")
	}
	if err != nil {
		return nil, err
	}
	s.noteClient(ctx, sess, client, now)
	d := s.decide(ctx, sess, client, now)
	p := &Principal{Claims: c, Session: sess, Decision: d, Client: client}
	if d.Outcome == decision.Deny {
		return p, &DeniedError{Decision: d}
	}
	return p, nil
}

// DeniedError is a request the decision engine refused.
type DeniedError struct{ Decision decision.Decision }

func (e *DeniedError) Error() string { return e.Decision.Reason + ": " + e.Decision.Message }

// decide runs the decision engine on the current policy and reports a
// campaign's denial to the campaign engine.
func (s *Service) decide(ctx context.Context, sess *cordon.Session, client cordon.ClientFacts, now time.Time) decision.Decision {
	d := decision.Decide(&decision.Input{Session: sess, Client: client, Now: now, Policy: s.campaigns.Policy()})
	switch {
	case d.Campaign == "":
	case d.Outcome == decision.Deny:
		s.campaigns.Blocked(ctx, d, sess)
	case d.Upgrade != nil:
		s.campaigns.Prompted(ctx, d, sess)
	}
	return d
}

// Decide is the decision API: it authenticates an access token like
// Authenticate but answers every decision, denials included, as a value.
func (s *Service) Decide(ctx context.Context, accessToken string, client cordon.ClientFacts) (*Principal, error) {
	if s.issuers.Trusts(accessToken) {
		return s.decideExternal(ctx, accessToken, client)
	}
	p, err := s.Authenticate(ctx, accessToken, client)
	var de *DeniedError
	if errors.As(err, &de) {
		return p, nil
	}
	return p, err
}

// noteClient notes an in-place app update: a request from the session's
// platform that reports a newer version than the session authenticated
// with. The session's facts are never rewritten (a protecting campaign
// judges what the session was at login, so no claim moves it out of a
// cohort); only upgrade progress hears of it, since an upgrade campaign
// reads the version a request reports.
func (s *Service) noteClient(ctx context.Context, sess *cordon.Session, c cordon.ClientFacts, now time.Time) {
	if !sess.Live() || c.Platform != sess.Facts.Platform || !newerVersion(c.Version, sess.Facts.Version) {
		return
	}
	s.campaigns.Upgraded(ctx, sess, c)
}

// newerVersion reports whether version a is a strictly newer semantic
// version than b. An unparsable a is never newer; any a is newer than an
// unknown b.
func newerVersion(a, b string) bool {
	va, err := semver.NewVersion(a)
	if err != nil {
		return false
	}
	vb, err := semver.NewVersion(b)
	if err != nil {
		return true
	}
	return va.GreaterThan(vb)
}

// SweepExpired revokes sessions whose refresh family has expired, in
// batches, so previews and aggregates count only sessions that can still
// act. It returns how many it revoked.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.store.ExpireSessions(ctx, s.clock.Now(), 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	now := s.clock.Now()
	if err := s.store.RevokeSession(ctx, p.Session.ID, cordon.RevokeLogout, now); err != nil {
		return err
	}
	s.revoked(now, p.Session.ID)
	return nil
}

// Sessions lists the live sessions of an account.
func (s *Service) Sessions(ctx context.Context, accountID string) ([]*cordon.Session, error) {
	return s.store.ListSessions(ctx, accountID)
}

// RevokeOwnSession ends one of the caller's own sessions. Another
// account's session id answers not found, so ids cannot be probed.
func (s *Service) RevokeOwnSession(ctx context.Context, p *Principal, sessionID string) error {
	sess, err := s.store.SessionByID(ctx, sessionID)
	if errors.Is(err, cordon.ErrNotFound) || (err == nil && sess.AccountID != p.Session.AccountID) {
		return cordon.Errorf(cordon.ECodeNotFound, "no such session")
	}
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if err := s.store.RevokeSession(ctx, sessionID, cordon.RevokeUser, now); err != nil {
		return err
	}
	s.revoked(now, sessionID)
	return nil
}

// ChangePassword sets a new password after checking the current one, and
// ends every other session of the account.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next, address string) error {
	if current == "" || next == "" {
		return cordon.Errorf(cordon.ECodeInvalid, "current_password and new_password are required")
	}
	acct, err := s.store.AccountByID(ctx, p.Session.AccountID)
	if err != nil {
		return err
	}
	keys := throttle.Keys{Account: cordon.UsernameKey(acct.Username), Address: address, Device: p.Session.Facts.Device}
	attempt, err := s.throttle.Check(ctx, keys)
	if err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, current, acct.PasswordHash)
	if err != nil {
		attempt.Cancel()
		return err
	}
	if !ok {
		attempt.Fail()
		return cordon.FieldError(cordon.ECodeForbidden, "current_password", "the current password is wrong")
	}
	attempt.SucceedAs(acct.ID)
	// A password_reset campaign with verify: email holds the account: the
	// old password may be what leaked, so only the emailed link may set
	// a new one.
	if d, err := s.resetRequired(ctx, acct, p.Session.Facts); err != nil {
		return err
	} else if d.Outcome == decision.Deny && s.campaigns.Policy().ResetByEmail(d.Campaign) {
		return cordon.FieldError(cordon.ECodeForbidden, "current_password",
			"a security campaign requires this account to set its password through the link sent to its email address; the current password is not accepted as proof")
	}
	if err := s.policy.Check(next, acct.Username); err != nil {
		return err
	}
	h, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if err := s.store.SetPasswordHash(ctx, acct.ID, h, true, now); err != nil {
		return err
	}
	s.campaigns.PasswordSet(ctx, acct.ID)
	ids, err := s.store.RevokeAccountSessions(ctx, acct.ID, p.Session.ID, cordon.RevokePasswordChange, now)
	s.revoked(now, ids...)
	return err
}

// maxUsernameBytes bounds a username in bytes at login.
const maxUsernameBytes = MaxUsernameBytes

// CheckUsername says whether name may name a new account: see
// PrepareUsername (PRECIS UsernameCaseMapped, one script, no reserved
// prefix), and it must not look like an account id.
func CheckUsername(name string) error {
	if _, err := PrepareUsername(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "u-") && len(name) == 28 {
		return cordon.FieldError(cordon.ECodeUnprocessable, "username", "username must not look like an account id")
	}
	return nil
}

// CreateAccount creates an account with a password and no email address.
func (s *Service) CreateAccount(ctx context.Context, username, pw string) (*cordon.Account, error) {
	return s.CreateAccountEmail(ctx, username, pw, "")
}

// CreateAccountEmail creates an account with a password and an email
// address ("" for none), which must be free.
func (s *Service) CreateAccountEmail(ctx context.Context, username, pw, email string) (*cordon.Account, error) {
	if err := CheckUsername(username); err != nil {
		return nil, err
	}
	email, err := cordon.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := s.checkConfusable(ctx, username); err != nil {
		return nil, err
	}
	if err := s.policy.Check(pw, username); err != nil {
		return nil, err
	}
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	a := &cordon.Account{ID: cordon.NewID("u"), Username: norm.NFC.String(username), PasswordHash: h, PasswordChangedAt: now, CreatedAt: now, Email: email}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, cordon.ErrAlreadyExists) {
			if email != "" {
				if _, err := s.store.AccountByUsername(ctx, username); errors.Is(err, cordon.ErrNotFound) {
					return nil, cordon.FieldError(cordon.ECodeConflict, "email", "the email address belongs to another account")
				}
			}
			return nil, cordon.FieldError(cordon.ECodeConflict, "username", "username %q is taken", username)
		}
		return nil, err
	}
	s.hasher.AddScheme(h, 1)
	return a, nil
}

// SetEmail replaces an account's email address ("" removes it); ctx
// carries the change's audit record.
func (s *Service) SetEmail(ctx context.Context, accountID, email string) (string, error) {
	email, err := cordon.NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	err = s.store.SetAccountEmail(ctx, accountID, email)
	switch {
	case errors.Is(err, cordon.ErrAlreadyExists):
		return "", cordon.FieldError(cordon.ECodeConflict, "email", "the email address belongs to another account")
	case errors.Is(err, cordon.ErrNotFound):
		return "", cordon.Errorf(cordon.ECodeNotFound, "no account %q", accountID)
	}
	return email, err
}

// Account looks an account up by id ("u-...") or username.
func (s *Service) Account(ctx context.Context, ref string) (*cordon.Account, error) {
	if strings.HasPrefix(ref, "u-") {
		a, err := s.store.AccountByID(ctx, ref)
		if err == nil || !errors.Is(err, cordon.ErrNotFound) {
			return a, err
		}
	}
	a, err := s.store.AccountByUsername(ctx, ref)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no account %q", ref)
	}
	return a, err
}

// RevokeSession ends any session (admin).
func (s *Service) RevokeSession(ctx context.Context, sessionID string) error {
	now := s.clock.Now()
	err := s.store.RevokeSession(ctx, sessionID, cordon.RevokeAdmin, now)
	if errors.Is(err, cordon.ErrNotFound) {
		return cordon.Errorf(cordon.ECodeNotFound, "no session %q", sessionID)
	}
	if err == nil {
		s.revoked(now, sessionID)
	}
	return err
}

// RevokeAccountSessions ends every session of an account (admin).
func (s *Service) RevokeAccountSessions(ctx context.Context, accountID string) ([]string, error) {
	now := s.clock.Now()
	ids, err := s.store.RevokeAccountSessions(ctx, accountID, "", cordon.RevokeAdmin, now)
	s.revoked(now, ids...)
	return ids, err
}

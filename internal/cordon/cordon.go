// Package cordon holds the domain of cordon: its types (accounts, sessions,
// client facts, refresh tokens, signing keys, admin tokens), the storage
// contract every backend implements, and the one error type with its fixed
// set of codes. It imports nothing of the project and does no I/O.
package cordon

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Platforms known to cordon. More may be added; an unknown platform in a
// Cordon-Client header is refused so a typo never silently escapes a cohort.
const (
	PlatformAndroid  = "android"
	PlatformIOS      = "ios"
	PlatformDesktop  = "desktop"
	PlatformWeb      = "web"
	PlatformWinPhone = "winphone"
	PlatformTV       = "tv"
	PlatformUnknown  = "unknown"
)

// Install sources. "unknown" stands for side-loaded or not reported.
const (
	SourcePlay      = "play"
	SourceAmazon    = "amazon"
	SourceAppStore  = "appstore"
	SourceMicrosoft = "microsoft"
	SourceOfficial  = "official"
	SourceWeb       = "web"
	SourceUnknown   = "unknown"
)

// Platforms lists every platform a client may report, "unknown" excluded.
var Platforms = []string{PlatformAndroid, PlatformIOS, PlatformDesktop, PlatformWeb, PlatformWinPhone, PlatformTV}

// Sources lists every install source a client may report.
var Sources = []string{SourcePlay, SourceAmazon, SourceAppStore, SourceMicrosoft, SourceOfficial, SourceWeb, SourceUnknown}

// ClientFacts are what an app says about itself in the Cordon-Client header:
// platform, app version, install source and device id.
type ClientFacts struct {
	Platform string `json:"platform"`
	Version  string `json:"version,omitempty"`
	Source   string `json:"source"`
	Device   string `json:"device,omitempty"`
}

// UnknownClient is the facts of a request that sent no Cordon-Client header.
var UnknownClient = ClientFacts{Platform: PlatformUnknown, Source: SourceUnknown}

// Account is a person who can log in.
type Account struct {
	ID       string
	Username string
	// PasswordHash is a PHC string ($argon2id$...) or, for an account
	// imported from another system, a hash of its family (bcrypt, PBKDF2,
	// Firebase scrypt: see password.Families) that is replaced by
	// argon2id at the next successful login.
	PasswordHash      string
	PasswordChangedAt time.Time
	CreatedAt         time.Time
	// LockedAt is when an operator locked the account (no login until it
	// is unlocked); zero while it is not locked.
	LockedAt time.Time
	// Email is the account's address in NormalizeEmail form, "" when it
	// has none. Unique among accounts that are not deleted: it receives
	// password-reset links, so whoever holds it can take the account.
	Email string
}

// Session is one login of one account on one install. Its facts are the
// client facts at login, updated when the app reports a newer version.
type Session struct {
	ID        string
	AccountID string
	Facts     ClientFacts
	// AuthTime is when the user last proved the password (OIDC auth_time).
	AuthTime   time.Time
	CreatedAt  time.Time
	LastSeenAt time.Time
	// RevokedAt is zero while the session is live.
	RevokedAt    time.Time
	RevokeReason string
}

// Live reports whether the session has not been revoked.
func (s *Session) Live() bool { return s.RevokedAt.IsZero() }

// Reasons a session is revoked, recorded on the session.
const (
	RevokeLogout         = "logout"
	RevokeUser           = "user_revoked"
	RevokeAdmin          = "admin_revoked"
	RevokePasswordChange = "password_changed"
	RevokeRefreshReuse   = "refresh_token_reused"
	RevokeExpired        = "expired"
	RevokeAccountLocked  = "account_locked"
	RevokeAccountDeleted = "account_deleted"
)

// RefreshToken is the stored form of an opaque refresh token: only its
// SHA-256 hash is kept. All refresh tokens of a session form one family;
// the session id names the family.
type RefreshToken struct {
	Hash      []byte
	SessionID string
	CreatedAt time.Time
	// IdleExpiresAt bounds how long the token may sit unused.
	IdleExpiresAt time.Time
	// AbsoluteExpiresAt bounds the whole family: rotation never extends it.
	AbsoluteExpiresAt time.Time
	// UsedAt is set when the token has been exchanged; presenting it again
	// is reuse.
	UsedAt time.Time
}

// SigningKey is a private key that signs access tokens. The newest key
// signs; older ones stay published until RetiredAt plus the longest token
// lifetime, so tokens they signed keep verifying.
type SigningKey struct {
	ID         string
	Algorithm  string // "EdDSA"
	PrivateKey []byte // PKCS #8 DER
	CreatedAt  time.Time
	RetiredAt  time.Time // zero while the key signs
}

// AdminToken is a credential for the admin API, stored as a hash.
type AdminToken struct {
	ID        string
	Name      string
	Hash      []byte
	Scopes    []string
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; zero for never.
	ExpiresAt time.Time
	// RevokedAt is when the token was revoked; zero while it is not.
	RevokedAt time.Time
	// ReplacedBy is the id of the token a rotation made in its place.
	ReplacedBy string
}

// Usable reports whether the token may act at now: not revoked and not
// expired.
func (t *AdminToken) Usable(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Admin scopes. ScopeAll grants every scope.
const (
	ScopeAll        = "*"
	ScopeAccounts   = "accounts"
	ScopeSessions   = "sessions"
	ScopeKeys       = "keys"
	ScopeCampaigns  = "campaigns"
	ScopeAuditWrite = "audit:write"
	ScopeAuditRead  = "audit:read"
	// ScopeGate lets an enforcement point read the policy feed.
	ScopeGate = "gate"
	// ScopeTokens lets a token mint admin tokens with scopes it holds.
	ScopeTokens = "tokens"
	// ScopeIntrospect lets a backend introspect access tokens (RFC 7662).
	ScopeIntrospect = "introspect"
	// ScopeIncidents lets a token open and change incidents and read
	// their timelines and summaries.
	ScopeIncidents = "incidents"
)

// ScopeNotices lets a token create, publish and withdraw in-app notices
// and read their reach. Telling users is not enforcing: a communications
// team may hold it without campaigns.
const ScopeNotices = "notices"

// Scopes lists every scope but ScopeAll.
var Scopes = []string{ScopeAccounts, ScopeSessions, ScopeKeys, ScopeCampaigns, ScopeAuditWrite, ScopeAuditRead, ScopeGate, ScopeTokens, ScopeIntrospect, ScopeIncidents, ScopeSSF, ScopeNotices}

// HasScope reports whether the token grants scope.
func (t *AdminToken) HasScope(scope string) bool {
	for _, s := range t.Scopes {
		if s == ScopeAll || s == scope {
			return true
		}
	}
	return false
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns prefix + "-" + 26 characters of crypto randomness (130
// bits, lower-case base32), e.g. "u-3kq...". Prefixes: u account, s
// session, k key, t admin token.
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("cordon: crypto/rand failed: " + err.Error())
	}
	return prefix + "-" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// UsernameKey is the form in which usernames are unique and looked up:
// Unicode NFKC, then lower-cased, so "Alice", "ALICE" and a full-width
// "Ａｌｉｃｅ" are one account. Every backend stores and compares this key.
func UsernameKey(username string) string {
	return strings.ToLower(norm.NFKC.String(username))
}

package cordon

import (
	"context"
	"time"
)

// The storage contract. Every backend (sqlite, postgres) implements these
// interfaces, split by aggregate, and passes the conformance suite. Unless
// a method says otherwise it returns ErrNotFound for a missing row and
// ErrAlreadyExists for a duplicate key, possibly wrapped. All methods are
// safe for concurrent use; each is one transaction.

// AccountStore keeps accounts.
type AccountStore interface {
	// CreateAccount stores a new account; ErrAlreadyExists when the
	// username (compared case-insensitively) or the email is taken.
	CreateAccount(ctx context.Context, a *Account) error
	// ImportAccounts stores many accounts in one transaction. Accounts whose
	// username, or email address, exists already are skipped, not
	// overwritten; it returns how many were created.
	ImportAccounts(ctx context.Context, as []*Account) (created int, err error)
	AccountByID(ctx context.Context, id string) (*Account, error)
	// AccountByUsername looks a username up case-insensitively.
	AccountByUsername(ctx context.Context, username string) (*Account, error)
	// SetPasswordHash replaces the hash. When changed is true the password
	// itself changed (not just its hash parameters) and PasswordChangedAt
	// moves to at.
	SetPasswordHash(ctx context.Context, accountID, hash string, changed bool, at time.Time) error
	CountAccounts(ctx context.Context) (int, error)
	// SetAccountEmail replaces the account's email address (email in
	// NormalizeEmail form, "" to remove it); ErrAlreadyExists when another
	// account that is not deleted has it, ErrNotFound for no live account.
	SetAccountEmail(ctx context.Context, accountID, email string) error
	// LiveAccountIDs maps each ref naming an account that is not deleted
	// (its id, or its username compared case-insensitively; an id wins
	// over a username) to the account id, in one statement however many
	// refs: a campaign's cohort of a million users is one lookup. Refs
	// naming none are absent from the map.
	LiveAccountIDs(ctx context.Context, refs []string) (map[string]string, error)
}

// SessionStore keeps sessions and their refresh-token families.
type SessionStore interface {
	// CreateSession stores a session and its first refresh token.
	CreateSession(ctx context.Context, s *Session, rt *RefreshToken) error
	SessionByID(ctx context.Context, id string) (*Session, error)
	// ListSessions returns the account's live sessions, newest first.
	ListSessions(ctx context.Context, accountID string) ([]*Session, error)
	// SessionsSince returns the account's sessions that were live at or
	// after since: the live ones and those revoked at or after it,
	// newest first. A password_reset campaign judges the account on
	// them, so ending a session in its cohort does not take the account
	// out of it.
	SessionsSince(ctx context.Context, accountID string, since time.Time) ([]*Session, error)
	// UpdateSessionFacts records newer client facts and the time seen.
	UpdateSessionFacts(ctx context.Context, id string, f ClientFacts, seen time.Time) error
	// RevokeSession revokes one session and its refresh tokens. Revoking a
	// revoked session is a no-op that keeps the first reason.
	RevokeSession(ctx context.Context, id, reason string, at time.Time) error
	// RevokeAccountSessions revokes every live session of the account except
	// exceptID (may be empty) and returns their ids.
	RevokeAccountSessions(ctx context.Context, accountID, exceptID, reason string, at time.Time) ([]string, error)
	// RevokedSince returns the sessions revoked at or after t, oldest
	// first: the revocations enforcement points must still hold.
	RevokedSince(ctx context.Context, t time.Time) ([]Revoked, error)
	// RotateRefreshToken exchanges the token with hash old for next, in one
	// transaction where at most one concurrent caller can win:
	//   - unknown hash: ErrNotFound;
	//   - already used (reuse, or a lost race): the session is revoked with
	//     RevokeRefreshReuse, and the revoked session is returned with
	//     ErrRefreshReused (so the caller can tell enforcement points);
	//   - expired (idle or absolute) or session revoked: ErrNotFound;
	//   - otherwise old is marked used, next is stored (next.SessionID and
	//     next.AbsoluteExpiresAt are set from the family) and the session
	//     is returned.
	RotateRefreshToken(ctx context.Context, old []byte, next *RefreshToken, now time.Time) (*Session, error)
	// PeekRefreshToken returns the session of a refresh token that could be
	// exchanged now (unused, unexpired, session live) without spending it;
	// ErrNotFound otherwise. A refresh a campaign refuses must not spend the
	// token, or the retry after the campaign ends would look like reuse.
	PeekRefreshToken(ctx context.Context, hash []byte, now time.Time) (*Session, error)
	// ExpireSessions revokes, with reason RevokeExpired, up to limit live
	// sessions whose refresh family can no longer be used at now (idle or
	// absolute expiry passed), and returns how many it revoked. Their access
	// tokens expired long before, so nobody needs telling.
	ExpireSessions(ctx context.Context, now time.Time, limit int) (int, error)
}

// Revoked is a session revocation.
type Revoked struct {
	SessionID string
	RevokedAt time.Time
}

// KeyStore keeps access-token signing keys and admin tokens.
type KeyStore interface {
	// SigningKeys returns every stored signing key, oldest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// AddSigningKey stores k and retires every key that still signs, at
	// k.CreatedAt, in one transaction.
	AddSigningKey(ctx context.Context, k *SigningKey) error
	// DeleteSigningKeysRetiredBefore prunes keys no token can need.
	DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) error

	CreateAdminToken(ctx context.Context, t *AdminToken) error
	AdminTokenByHash(ctx context.Context, hash []byte) (*AdminToken, error)
	CountAdminTokens(ctx context.Context) (int, error)
}

// Store is everything a backend provides.
type Store interface {
	AccountStore
	AccountLifeStore
	SessionStore
	KeyStore
	AdminTokenStore
	CampaignStore
	FleetStore
	ProgressStore
	OfflineStore
	ResetStore
	AuditStore
	IncidentStore
	NoticeStore
	PublicPageStore
	AlertStore
	SSFStore
	ConsoleStore
	MailStore
	// Ping checks the backend answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

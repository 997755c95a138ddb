package cordon

import (
	"context"
	"time"
)

// Errors of the credential and account lifecycle.
var (
	// ErrLastAdmin refuses a change that would leave no usable admin token
	// holding ScopeAll: nobody could then grant "*" again, and a server
	// mints a bootstrap token only into an empty store.
	ErrLastAdmin = &Error{Code: ECodeLastAdmin, Message: `it is the last usable admin token with scope "*"; create or rotate another one first`}
	// ErrTokenEnded refuses to change a token that is revoked, replaced by
	// a rotation, or expired.
	ErrTokenEnded = &Error{Code: ECodeConflict, Message: "the admin token is revoked, rotated or expired"}
)

// AdminTokenStore lists admin tokens and cuts them off. Tokens are never
// deleted: a revoked one stays listed, and its name stays taken (the name
// is the audit principal, so it must name one credential's lineage).
type AdminTokenStore interface {
	// AdminTokens returns every admin token, revoked, replaced and expired
	// ones included, oldest first (CreatedAt, then ID).
	AdminTokens(ctx context.Context) ([]*AdminToken, error)
	AdminTokenByID(ctx context.Context, id string) (*AdminToken, error)
	// RevokeAdminToken revokes the token at at and returns it. Revoking a
	// revoked token returns it unchanged (the first time stays). It
	// returns ErrLastAdmin, changing nothing, when the token is the last
	// one with ScopeAll usable at at; concurrent revocations of the last
	// two such tokens leave one.
	RevokeAdminToken(ctx context.Context, id string, at time.Time) (*AdminToken, error)
	// SetAdminTokenExpiry sets when the token stops working (zero: never)
	// and returns it; ErrTokenEnded when it is not usable at now (revoked,
	// replaced or already expired: an ended token is never revived).
	SetAdminTokenExpiry(ctx context.Context, id string, expiresAt, now time.Time) (*AdminToken, error)
	// RotateAdminToken stores next in place of the token id, with id's
	// name and scopes (next.Name and next.Scopes are set from it), and
	// ends id: revoked at next.CreatedAt when oldUntil is zero, else
	// expiring at oldUntil (a grace period; never later than its own
	// expiry). id's ReplacedBy becomes next.ID. It returns the old token
	// as it now is; ErrTokenEnded when id is not usable at next.CreatedAt
	// — so of concurrent rotations of one token exactly one wins.
	RotateAdminToken(ctx context.Context, id string, next *AdminToken, oldUntil time.Time) (*AdminToken, error)
}

// AccountLifeStore locks, unlocks, deletes and lists accounts.
//
// A deleted account is found by no lookup (AccountByID, AccountByUsername,
// ListAccounts, CountAccounts), but its username stays taken:
// CreateAccount answers ErrAlreadyExists and ImportAccounts skips it.
type AccountLifeStore interface {
	// LockAccount marks the account locked at at (a locked one keeps its
	// first time), revokes its live sessions with RevokeAccountLocked and
	// deletes its pending password-reset permissions (one would otherwise
	// set a password and open a session past the lock), in one
	// transaction; it returns the revoked session ids.
	LockAccount(ctx context.Context, id string, at time.Time) ([]string, error)
	// UnlockAccount clears the lock; unlocking an unlocked account is a
	// no-op.
	UnlockAccount(ctx context.Context, id string) error
	// DeleteAccount, in one transaction, revokes the account's live
	// sessions with RevokeAccountDeleted, erases their device ids,
	// deletes its refresh tokens, offline grants and password-reset
	// permissions, clears its password hash and email address, and marks it deleted. It
	// returns the revoked session ids. The session rows stay as
	// revocation records (RevokedSince), which enforcement points need
	// until the access tokens they cover have expired.
	DeleteAccount(ctx context.Context, id string, at time.Time) ([]string, error)
	// ListAccounts returns up to q.Limit accounts that match q, ordered by
	// (CreatedAt, ID), starting after q.After.
	ListAccounts(ctx context.Context, q AccountQuery) ([]*Account, error)
}

// AccountQuery selects a page of accounts.
type AccountQuery struct {
	// Prefix keeps accounts whose UsernameKey starts with UsernameKey(Prefix).
	Prefix string
	// Locked keeps only locked (LockedOnly) or unlocked (UnlockedOnly)
	// accounts; AnyLock keeps both.
	Locked LockFilter
	// After is the cursor: the page starts after this (CreatedAt, ID).
	// Zero starts at the beginning.
	After AccountCursor
	// Limit is the largest page; at least 1.
	Limit int
}

// AccountCursor is a position in the (CreatedAt, ID) order of accounts.
type AccountCursor struct {
	CreatedAt time.Time
	ID        string
}

// LockFilter selects accounts by lock state.
type LockFilter int

// Lock filters.
const (
	AnyLock LockFilter = iota
	LockedOnly
	UnlockedOnly
)

package cordon

import (
	"context"
	"time"
)

// OfflineGrant lets an install play downloaded content offline until it
// expires. The client holds an opaque secret; the store keeps its hash and
// what it is bound to: the account, the session and the device, with the
// client facts at issue, so an offline_rekey campaign can revoke grants
// issued before a cut-off without touching any row.
type OfflineGrant struct {
	Hash      []byte
	AccountID string
	SessionID string
	Facts     ClientFacts
	// AuthTime is the session's auth_time at issue.
	AuthTime  time.Time
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// OfflineStore keeps offline grants.
type OfflineStore interface {
	// CreateOfflineGrant stores a grant; ErrAlreadyExists on a hash clash.
	CreateOfflineGrant(ctx context.Context, g *OfflineGrant) error
	// OfflineGrantByHash looks a grant up; ErrNotFound when unknown.
	OfflineGrantByHash(ctx context.Context, hash []byte) (*OfflineGrant, error)
}

// PasswordReset is a single-use permission to set a new password, given
// at login to an account that a password_reset campaign has admitted. Only
// the hash of its secret is stored.
type PasswordReset struct {
	Hash       []byte
	AccountID  string
	CampaignID string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     time.Time
}

// ResetStore keeps password-reset permissions.
type ResetStore interface {
	CreatePasswordReset(ctx context.Context, r *PasswordReset) error
	// ConsumePasswordReset marks the permission used and returns it, in one
	// transaction where at most one concurrent caller wins; a used, expired
	// or unknown permission is ErrNotFound.
	ConsumePasswordReset(ctx context.Context, hash []byte, now time.Time) (*PasswordReset, error)
	// DeletePasswordResets deletes every permission of the account, used
	// or not: once a new password is set, no other link or token sent
	// before may set another. An account with none is no error.
	DeletePasswordResets(ctx context.Context, accountID string) error
}

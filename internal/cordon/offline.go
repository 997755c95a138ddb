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

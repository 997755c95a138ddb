package cordon

import (
	"context"
	"time"
)

// ScopeSSF lets an OpenID Shared Signals receiver manage its own event
// streams (/ssf/*). It is checked like every scope, but the streams a token
// sees are only those it created: one receiver cannot read, change or
// delete another's.
const ScopeSSF = "ssf"

// Delivery methods of a Shared Signals stream (SSF 1.0 §7.1.1).
const (
	SSFDeliveryPush = "urn:ietf:rfc:8935"
	SSFDeliveryPoll = "urn:ietf:rfc:8936"
)

// States of a Shared Signals stream (SSF 1.0 §7.1.2): an enabled stream
// queues and delivers, a paused one queues without delivering, a disabled
// one drops what would have been queued.
const (
	SSFEnabled  = "enabled"
	SSFPaused   = "paused"
	SSFDisabled = "disabled"
)

// SSFStream is one receiver's stream of security event tokens.
type SSFStream struct {
	ID string
	// Owner is the name of the admin token that created the stream; only
	// a token of that name may manage it.
	Owner       string
	Audience    string
	Delivery    string // SSFDeliveryPush or SSFDeliveryPoll
	EndpointURL string // push: the receiver's URL
	// Authorization is the Authorization header value sent with each push.
	Authorization   string
	EventsRequested []string
	Description     string
	Status          string
	StatusReason    string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// Dropped counts SETs dropped because the stream's queue was full.
	Dropped int64
	// LastError is the last delivery failure (empty when none), at
	// LastErrorAt.
	LastError   string
	LastErrorAt time.Time
}

// SSFEvent is one security event token in a stream's outbox.
type SSFEvent struct {
	StreamID string
	// JTI is the token's stable id: enqueuing a jti the stream already
	// holds (queued or delivered) does nothing.
	JTI       string
	SET       string // the signed compact JWS
	CreatedAt time.Time
	// Attempts counts push attempts that failed transiently.
	Attempts    int
	NextAttempt time.Time
}

// SSFStore keeps Shared Signals streams and their durable outbox.
type SSFStore interface {
	// CreateSSFStream stores a new stream; ErrAlreadyExists on a used id.
	CreateSSFStream(ctx context.Context, s *SSFStream) error
	// SSFStreamByID returns the stream; ErrNotFound when there is none.
	SSFStreamByID(ctx context.Context, id string) (*SSFStream, error)
	// SSFStreams lists the streams of owner (every stream when owner is
	// empty), oldest first.
	SSFStreams(ctx context.Context, owner string) ([]*SSFStream, error)
	// UpdateSSFStream replaces the stream's configuration and status
	// (Audience, Delivery, EndpointURL, Authorization, EventsRequested,
	// Description, Status, StatusReason, UpdatedAt); ErrNotFound when it
	// is gone. Counters and the last error are kept.
	UpdateSSFStream(ctx context.Context, s *SSFStream) error
	// DeleteSSFStream deletes the stream and its outbox; ErrNotFound when
	// it is gone.
	DeleteSSFStream(ctx context.Context, id string) error
	// EnqueueSSF adds events to the stream's outbox in one transaction,
	// skipping any whose jti the stream holds already (queued or
	// delivered and not yet pruned). When more than limit events are then
	// undelivered, the oldest are deleted and counted in the stream's
	// Dropped; it returns how many were dropped. ErrNotFound when the
	// stream is gone.
	EnqueueSSF(ctx context.Context, streamID string, evs []*SSFEvent, limit int) (dropped int, err error)
	// PendingSSF returns up to max undelivered events of the stream due at
	// now (NextAttempt ≤ now), oldest first. With lease > 0 their
	// NextAttempt moves to now+lease in the same transaction, so a
	// concurrent caller (another node) does not take them too.
	PendingSSF(ctx context.Context, streamID string, now time.Time, max int, lease time.Duration) ([]*SSFEvent, error)
	// SettleSSF marks the stream's events with these jtis delivered at at
	// (kept, so the jti is not enqueued again, until PruneSSF) and returns
	// how many undelivered ones it settled. A non-empty failure says they
	// were given up on, and becomes the stream's LastError.
	SettleSSF(ctx context.Context, streamID string, jtis []string, at time.Time, failure string) (int, error)
	// DeferSSF records a transient failure of one event: Attempts grows
	// by one, NextAttempt becomes next, and failure becomes the stream's
	// LastError at at.
	DeferSSF(ctx context.Context, streamID, jti string, next, at time.Time, failure string) error
	// PruneSSF deletes delivered events settled before before and returns
	// how many.
	PruneSSF(ctx context.Context, before time.Time) (int, error)
	// PasswordsChangedSince returns up to limit accounts whose password
	// was changed (SetPasswordHash with changed true) at or after since,
	// oldest change first (ties by account id). An account's creation or
	// import is not a change; a later rehash of the same password is not
	// either. Only the latest change of an account is known.
	PasswordsChangedSince(ctx context.Context, since time.Time, limit int) ([]PasswordChange, error)
}

// PasswordChange is an account's latest password change.
type PasswordChange struct {
	AccountID string
	At        time.Time
}

package cordon

import "context"

// Keys of the settings a deployment makes once, at its first start, and
// keeps in its store (MetaStore).
const (
	// MetaDeployment is the deployment's id: it names the deployment's
	// subjects on the bus, so two deployments (or a reset one) on one
	// NATS never read each other's policies.
	MetaDeployment = "deployment"
	// MetaIssuer is the iss of the deployment's access tokens: every node
	// signs and verifies with the same one, whatever its listen address.
	MetaIssuer = "issuer"
	// MetaDetectKey is the secret (hex) the keyed hash of attempted
	// passwords is derived from (password spraying detection).
	MetaDetectKey = "detect_key"
	// MetaAccessCursor is the audit log index access detection has read
	// up to (decimal).
	MetaAccessCursor = "detect_access_cursor"
)

// MetaStore keeps a deployment's identity: a few settings made once, at
// its first start, by whichever node starts first.
type MetaStore interface {
	// Initialise runs fn while holding the store's initialisation lock,
	// so that nodes starting at once on an empty store run their
	// first-time setup (signing key, admin token, audit key, deployment
	// id, issuer) one after another: the second finds what the first
	// made. The lock is released when fn returns (or the process dies).
	Initialise(ctx context.Context, fn func(ctx context.Context) error) error
	// Meta returns the value stored under key, or ErrNotFound.
	Meta(ctx context.Context, key string) (string, error)
	// PutMeta stores value under key unless a value is there already, and
	// returns the value stored: the one given, or the existing one.
	PutMeta(ctx context.Context, key, value string) (string, error)
	// SetMeta stores value under key, replacing any value.
	SetMeta(ctx context.Context, key, value string) error
	// RaisePolicyVersion moves the policy version past v (to v+1) if it
	// is not already; it returns the version now stored. A store restored
	// from a backup has an older version than its enforcement points
	// hold, which would make them ignore every change.
	RaisePolicyVersion(ctx context.Context, v uint64) (uint64, error)
}

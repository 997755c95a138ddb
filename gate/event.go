package gate

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cordon-dev/cordon/internal/feed"
)

// Event is one event of the policy feed a cordon server sends its
// enforcement points: a snapshot of everything, a new policy, sessions
// revoked, or new keys. A Follower reads them for you; code that carries
// the feed over a transport of its own reads each with ParseEvent and
// gives it to State.Apply.
type Event struct {
	e feed.Event
}

// Kinds of Event.
const (
	EventSnapshot = "snapshot" // the policy, the keys and the revocations, whole
	EventPolicy   = "policy"   // a new policy version
	EventRevoke   = "revoke"   // sessions revoked
	EventKeys     = "keys"     // the public keys, whole
)

// ParseEvent reads an event in its wire form: the JSON data of one
// server-sent event of GET /v1/gate/feed, or of one message of the feed on
// NATS. It checks the form, not the content: Apply refuses an event it
// cannot apply.
func ParseEvent(data []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var e feed.Event
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("gate: feed event: %w", err)
	}
	if dec.More() {
		return Event{}, fmt.Errorf("gate: feed event: data after the event")
	}
	switch e.Kind {
	case feed.KindSnapshot, feed.KindPolicy, feed.KindRevoke, feed.KindKeys:
	default:
		return Event{}, fmt.Errorf("gate: feed event %s:%d has unknown kind %q", e.Epoch, e.Seq, e.Kind)
	}
	return Event{e: e}, nil
}

// Kind is one of the Event constants.
func (e Event) Kind() string { return e.e.Kind }

// Seq names the event in its feed: the server run's epoch and the
// event's number in it.
func (e Event) Seq() (epoch string, seq uint64) { return e.e.Epoch, e.e.Seq }

// PolicyVersion is the version of the policy a snapshot or policy event
// carries, 0 for the other kinds.
func (e Event) PolicyVersion() uint64 {
	if e.e.Policy == nil {
		return 0
	}
	return e.e.Policy.Version
}

// Apply takes one event of the feed, in the order the feed sent them:
//
//   - snapshot replaces everything: the policy (whatever its version),
//     the keys and the revocation set;
//   - policy compiles and swaps in the new policy, with the notices that
//     explain its campaigns' denials (Cordon-Notice), if its version is
//     newer than the one held, and is ignored otherwise (a replay or a
//     reorder);
//   - revoke adds the sessions, each refused until its Until (plus
//     a minute of clock skew, see Revoked);
//   - keys swaps the public key set.
//
// Only active campaigns enforce (paused ones are dropped), so a
// policy without a cancelled campaign restores access at once. An event
// that cannot be applied (no policy in a snapshot, a JWKS that does not
// parse, an unknown kind) is an error and leaves the State as it was: the
// gate keeps enforcing what it last knew.
func (s *State) Apply(e Event) error { return s.apply(e.e) }

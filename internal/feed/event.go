// Package feed is the policy feed from the control plane (cordon serve) to
// enforcement points (the gate middleware and cordon gate): the compiled
// campaigns, the session revocations still in force, and the public keys.
//
// The embedded transport is server-sent events on GET /v1/gate/feed. Every
// event has an id "EPOCH:SEQ": EPOCH names one run of the server, SEQ grows
// by one per event. A subscriber that reconnects sends Last-Event-ID; the
// server replays what it missed from its in-memory log when it can (same
// epoch, not too old), and otherwise starts again with a snapshot. So a
// gate never misses a change, and a restarted server or a long outage
// costs one snapshot, not a gap.
package feed

import (
	"encoding/json"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/wire"
)

// Kinds of event.
const (
	// KindSnapshot carries the whole state: Policy, Revoked and JWKS. A
	// subscriber replaces what it holds.
	KindSnapshot = "snapshot"
	// KindPolicy carries a new policy version (Policy).
	KindPolicy = "policy"
	// KindRevoke carries newly revoked sessions (Revoked).
	KindRevoke = "revoke"
	// KindKeys carries a new public key set (JWKS).
	KindKeys = "keys"
)

// Event is one message of the feed.
type Event struct {
	// Epoch names the server run that numbered Seq.
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
	Kind  string `json:"kind"`
	// At is when the server published it (for propagation latency).
	At      time.Time       `json:"at"`
	Policy  *Policy         `json:"policy,omitempty"`
	Revoked []Revocation    `json:"revoked,omitempty"`
	JWKS    json.RawMessage `json:"jwks,omitempty"`
}

// Policy is the enforcing campaigns at one policy version, with the
// resolved account ids that Campaign does not serialise.
type Policy struct {
	Version   uint64     `json:"version"`
	Campaigns []Campaign `json:"campaigns"`
	// Notices are the published notices that explain a campaign, which
	// its denials carry (the Cordon-Notice header). A notice's publish or
	// withdraw moves the policy version, so they travel with the policy.
	Notices []wire.DenialNotice `json:"notices,omitempty"`
}

// Campaign is a cordon.Campaign on the wire.
type Campaign struct {
	cordon.Campaign
	UserIDs []string `json:"user_ids,omitempty"`
	// Early are the ramp's early admissions (cordon.Campaign.Early).
	Early []cordon.EarlyAdmission `json:"early,omitempty"`
}

// Revocation is a session whose access tokens must be refused until
// Until, when every token it was issued has expired anyway: so the set a
// gate holds stays small.
type Revocation struct {
	SessionID string    `json:"sid"`
	Until     time.Time `json:"until"`
}

// WirePolicy converts campaigns for the wire.
func WirePolicy(version uint64, cs []*cordon.Campaign) *Policy {
	p := &Policy{Version: version, Campaigns: make([]Campaign, 0, len(cs))}
	for _, c := range cs {
		p.Campaigns = append(p.Campaigns, Campaign{Campaign: *c, UserIDs: c.UserIDs, Early: c.Early})
	}
	return p
}

// DomainCampaigns converts the wire campaigns back.
func (p *Policy) DomainCampaigns() []*cordon.Campaign {
	out := make([]*cordon.Campaign, 0, len(p.Campaigns))
	for i := range p.Campaigns {
		c := p.Campaigns[i].Campaign
		c.UserIDs = p.Campaigns[i].UserIDs
		c.Early = p.Campaigns[i].Early
		out = append(out, &c)
	}
	return out
}

package cordon

import "time"

// TierSample is what one node measured of its part of the login tier
// over its last pace interval. Every node publishes its own (one per
// node, CampaignStore.PutTierSample) and every node's pacer sums the
// fresh ones, so an auto ramp paces on the logins and the capacity of
// every node that still reports.
type TierSample struct {
	// Node is the measuring node's id (a server's, new at each start).
	Node string
	// At is when the node measured, on its own clock.
	At time.Time
	// Capacity is the logins per second the node's hashing pool can hash.
	Capacity float64
	// Logins, Paced and Shed are per second over the node's last interval:
	// logins attempted, the part auto ramps asked for, and those answered
	// overloaded.
	Logins, Paced, Shed float64
	// Queued is how many logins waited for a hashing slot at At.
	Queued int
}

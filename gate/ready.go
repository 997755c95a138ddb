package gate

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// A gate that holds a policy and keys may still be unable to verify
// anything: it follows a feed that carries another deployment's keys, or
// it was told another issuer than the one the server signs as. It then
// refuses every token while saying it is ready. health watches the
// verifications the cache could not answer for the two signs of that.
//
//   - A token whose signature verifies under a held key but names another
//     issuer or audience: nobody but the server can make one, so a few in
//     a row (issuerStreak) with no success between say the gate's issuer
//     or audience is not the server's.
//   - A token naming a key the gate does not hold: anyone can write one,
//     so this alone proves nothing. unknownKeyStreak of them in a row,
//     with not one token verifying between, says the gate misses the key
//     the server signs with. An attacker who sends forged key ids to a
//     gate that serves real users cannot flip it: every real token that
//     verifies resets the streak.
//
// Both are forgotten healthWindow after the last such failure, so a gate
// taken out of service (which then sees no tokens) is tried again rather
// than kept out for ever; if it is still wrong, the next tokens say so.
type health struct {
	keyStreak, issStreak atomic.Int64
	keyLast, issLast     atomic.Int64 // Unix ns of the latest failure of each kind
}

const (
	unknownKeyStreak = 20
	issuerStreak     = 3
	healthWindow     = 2 * time.Minute
)

// verified notes a token that verified. It writes only when a streak is
// running, so the cache-miss path of a healthy gate stores nothing shared.
func (h *health) verified() {
	if h.keyStreak.Load() != 0 {
		h.keyStreak.Store(0)
	}
	if h.issStreak.Load() != 0 {
		h.issStreak.Store(0)
	}
}

// failed notes a token the verifier refused, if the refusal is one of the
// two signs above.
func (h *health) failed(tok string, keys *token.PublicKeys, err error, now int64) {
	var e *cordon.Error
	if !errors.As(err, &e) {
		return
	}
	switch {
	case e.Message == msgForeignIssuer || e.Message == msgForeignAudience:
		// The verifier checks these claims only after the signature.
		h.issStreak.Add(1)
		h.issLast.Store(now)
	case e.Message == msgUnknownKey:
		if kid := headerKID(tok); kid != "" {
			if _, ok := keys.PublicKey(kid); !ok {
				h.keyStreak.Add(1)
				h.keyLast.Store(now)
			}
		}
	}
}

// The internal/token messages health reads; TestReadyz* pin them end to
// end, so a changed message fails a test rather than silence the signal.
const (
	msgUnknownKey      = "token signed with an unknown key"
	msgForeignIssuer   = "token was issued by someone else"
	msgForeignAudience = "token is not meant for this service"
)

// Readiness reasons, in the reason field of Ready's error.
const (
	ReasonNoPolicy    = "no_policy"
	ReasonNoKeys      = "no_keys"
	ReasonCatchingUp  = "catching_up"
	ReasonUnknownKey  = "unknown_signing_key"
	ReasonWrongIssuer = "issuer_mismatch"
)

// NotReady is Ready's answer when the gate cannot do its job: Reason is
// one of the Reason constants, Message says it for a person.
type NotReady struct {
	Reason  string
	Message string
}

func (e *NotReady) Error() string { return "gate not ready: " + e.Reason + ": " + e.Message }

// Ready reports whether the gate can verify and decide with what it
// holds: a *NotReady when it holds no policy, no keys, has not yet read
// what the bus held when it started (catching_up), or when the
// tokens it has lately been shown say its keys or its issuer are not the
// server's (see health). A load balancer's readiness probe should ask it.
func (g *Gate) Ready() error {
	if g.st.policy.Load() == nil {
		return &NotReady{Reason: ReasonNoPolicy, Message: "the gate holds no policy yet"}
	}
	if g.st.keys.Load().Len() == 0 {
		return &NotReady{Reason: ReasonNoKeys, Message: "the gate holds no keys to verify access tokens with"}
	}
	if g.st.behind.Load() {
		return &NotReady{Reason: ReasonCatchingUp, Message: "the gate is still reading the revocations in force from the bus"}
	}
	now := g.clock().UnixNano()
	recent := func(last int64) bool { return now-last <= int64(healthWindow) }
	if n := g.health.issStreak.Load(); n >= issuerStreak && recent(g.health.issLast.Load()) {
		return &NotReady{Reason: ReasonWrongIssuer, Message: "the last access tokens were signed by the server's keys for another issuer or audience than the gate's (check --issuer)"}
	}
	if n := g.health.keyStreak.Load(); n >= unknownKeyStreak && recent(g.health.keyLast.Load()) {
		return &NotReady{Reason: ReasonUnknownKey, Message: "the last access tokens were all signed by keys the gate does not hold, and none verified"}
	}
	return nil
}

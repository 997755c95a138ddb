package gate

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

// TestPublicTypesMatchTheEngine: the gate's own types carry the engine's
// and the domain's values unchanged (publicDecision converts outcomes by
// number, and the codes are the wire's).
func TestPublicTypesMatchTheEngine(t *testing.T) {
	if Outcome(decision.Allow) != Allow || Outcome(decision.Deny) != Deny {
		t.Errorf("outcomes differ from the engine's")
	}
	for _, tc := range []struct{ gate, domain string }{
		{CodeUnauthorized, cordon.ECodeUnauthorized},
		{CodeInvalidToken, cordon.ECodeInvalidToken},
		{CodeInvalidClient, cordon.ECodeInvalidClient},
		{CodeInvalidRequest, cordon.ECodeInvalid},
	} {
		if tc.gate != tc.domain {
			t.Errorf("gate code %q, domain code %q", tc.gate, tc.domain)
		}
	}
	d := decision.Decision{Outcome: decision.Deny, Reason: "upgrade_required", Message: "m", Campaign: "c-1",
		Upgrade: &decision.Upgrade{MinVersion: "8.5.0", Mode: "immediate", URL: "https://u", Sideloaded: true}}
	got := publicDecision(&d)
	want := Decision{Outcome: Deny, Reason: "upgrade_required", Message: "m", Campaign: "c-1",
		Upgrade: &Upgrade{MinVersion: "8.5.0", Mode: "immediate", URL: "https://u", Sideloaded: true}}
	if got.Outcome != want.Outcome || got.Reason != want.Reason || got.Message != want.Message || got.Campaign != want.Campaign || *got.Upgrade != *want.Upgrade {
		t.Errorf("publicDecision = %+v, want %+v", got, want)
	}
	var ge *Error
	if err := publicError(cordon.Errorf(cordon.ECodeInvalidToken, "token expired")); !errors.As(err, &ge) || ge.Code != "invalid_token" || ge.Message != "token expired" {
		t.Errorf("publicError = %v", err)
	}
	if s := (&Error{Code: "not_ready", Message: "wait"}).Error(); s != "not_ready: wait" {
		t.Errorf("Error() = %q", s)
	}
}

// TestParseEventRefuses: text that is not one feed event is an error.
func TestParseEventRefuses(t *testing.T) {
	for _, s := range []string{``, `{`, `[]`, `{"kind":"policy"} {"kind":"policy"}`, `{"kind":""}`} {
		if _, err := ParseEvent([]byte(s)); err == nil {
			t.Errorf("ParseEvent(%q): no error", s)
		}
	}
}

// TestEventKindsAreTheFeeds: the public kinds name the feed's.
func TestEventKindsAreTheFeeds(t *testing.T) {
	for _, tc := range [][2]string{{EventSnapshot, feed.KindSnapshot}, {EventPolicy, feed.KindPolicy}, {EventRevoke, feed.KindRevoke}, {EventKeys, feed.KindKeys}} {
		if tc[0] != tc[1] {
			t.Errorf("gate kind %q, feed kind %q", tc[0], tc[1])
		}
	}
	if DefaultRevocationTTL != 15*time.Minute+token.Leeway {
		t.Errorf("DefaultRevocationTTL %v, want cordon serve's access-token lifetime plus token.Leeway", DefaultRevocationTTL)
	}
}

// TestParseEventReadsTheWire: an event as the feed marshals it (the data
// line of the SSE stream, a NATS message) parses and applies.
func TestParseEventReadsTheWire(t *testing.T) {
	_, keys, _ := newSigner(t, base)
	st := NewState(issuer, audience)
	for _, fe := range []feed.Event{snapshot(5, nil, []feed.Revocation{{SessionID: "s-9", Until: time.Now().Add(time.Hour)}}, keys.JWKS()), policyEvent(6)} {
		data, err := json.Marshal(fe)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseEvent(data)
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", data, err)
		}
		if e.Kind() != fe.Kind {
			t.Errorf("kind %q, want %q", e.Kind(), fe.Kind)
		}
		if err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Ready() || st.PolicyVersion() != 6 || !st.Revoked("s-9", time.Now()) {
		t.Errorf("ready %t, policy %d, s-9 revoked %t; want ready, 6, revoked", st.Ready(), st.PolicyVersion(), st.Revoked("s-9", time.Now()))
	}
}

package decision

import (
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestEveryKindCompiles: the engine knows every kind cordon defines, with
// the denial and the facts the kind's rules give.
func TestEveryKindCompiles(t *testing.T) {
	for _, k := range cordon.Kinds {
		c := active("c-"+string(k), k, cordon.Cohort{})
		r := k.MustRules()
		if r.Upgrade {
			upgrade("8.5.0", cordon.UpgradeImmediate)(c)
		}
		cc, err := compile(c)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if cc.reason != r.Denial.Reason || cc.current != (r.Judges == cordon.VersionReported) || cc.message != r.Message {
			t.Errorf("%s compiled to reason %q, current %v, message %q", k, cc.reason, cc.current, cc.message)
		}
	}
}

// TestUnknownKindRefused: a campaign of a kind the engine does not know
// compiles into no policy and no matcher.
func TestUnknownKindRefused(t *testing.T) {
	c := active("c-x", "nuke", cordon.Cohort{})
	if _, err := Compile([]*cordon.Campaign{c}, 1, base); err == nil || !strings.Contains(err.Error(), `unknown kind "nuke"`) {
		t.Errorf("Compile: %v, want unknown kind", err)
	}
	if _, err := NewMatcher(c); err == nil {
		t.Error("NewMatcher accepted an unknown kind")
	}
}

// TestUnknownKindFailsClosed: should a campaign of a kind the engine has
// no rules for ever reach it, a matcher matches nothing and a decision
// denies; it is never taken for a flexible upgrade that lets everyone
// through.
func TestUnknownKindFailsClosed(t *testing.T) {
	const unknown kindCode = 200
	m := &Matcher{c: compiled{id: "c-x", kind: unknown}}
	if m.Match(live(), base) {
		t.Error("Match is true for an unknown kind")
	}
	p := policy(t, active("c-r", cordon.KindReauth, cordon.Cohort{}))
	p.campaigns[0].kind, p.campaigns[0].reason = unknown, ""
	d := Decide(&Input{Session: live(), Now: base, Policy: p})
	if d.Outcome != Deny || d.Upgrade != nil || d.Reason == "" || d.Campaign != "c-r" {
		t.Errorf("decision = %+v, want a denial by c-r", d)
	}
	// Even a session from after the campaign's cut-off is not let through
	// as an upgrade prompt.
	s := live()
	s.AuthTime = base.Add(time.Minute)
	if d := Decide(&Input{Session: s, Now: base.Add(time.Hour), Policy: p}); d.Outcome != Deny || d.Upgrade != nil {
		t.Errorf("decision = %+v, want a denial", d)
	}
}

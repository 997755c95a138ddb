package cordon_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestEveryKindHasRules: every kind names what its cohort judges, its
// denial, where it denies and what satisfies it; no two kinds share a
// denial's wire code (an enforcement point tells them apart by it).
func TestEveryKindHasRules(t *testing.T) {
	reasons := map[string]cordon.Kind{}
	for _, k := range cordon.Kinds {
		r, ok := k.Rules()
		if !ok || !k.Valid() {
			t.Fatalf("%s has no rules", k)
		}
		if r.Judges == 0 || r.Denial.Reason == "" || r.Denial.Status == 0 || len(r.BlockedAt) == 0 || r.SatisfiedBy == 0 || r.Message == "" {
			t.Errorf("%s: incomplete rules %+v", k, r)
		}
		if o, dup := reasons[r.Denial.Reason]; dup {
			t.Errorf("%s and %s both deny with %s", k, o, r.Denial.Reason)
		}
		reasons[r.Denial.Reason] = k
		if d, ok := cordon.DenialOf(r.Denial.Reason); !ok || d != r.Denial {
			t.Errorf("DenialOf(%s) = %+v, %v; want %+v", r.Denial.Reason, d, ok, r.Denial)
		}
		if !slices.Contains(cordon.SatisfiedBy(r.SatisfiedBy), k) {
			t.Errorf("SatisfiedBy(%d) misses %s", r.SatisfiedBy, k)
		}
	}
}

// TestKindRulesAsSpecified pins the rules SPEC and issue 10 give: only an
// upgrade reads the version a request reports; a login never satisfies a
// password_reset; the statuses of the wire contract.
func TestKindRulesAsSpecified(t *testing.T) {
	for _, tc := range []struct {
		kind      cordon.Kind
		judges    cordon.Judged
		status    int
		satisfied cordon.Event
		upgrade   bool
	}{
		{cordon.KindReauth, cordon.FactsAtLogin, http.StatusUnauthorized, cordon.EventLogin, false},
		{cordon.KindPasswordReset, cordon.FactsAtLogin, http.StatusUnauthorized, cordon.EventPasswordSet, false},
		{cordon.KindUpgrade, cordon.VersionReported, http.StatusUpgradeRequired, cordon.EventUpgraded, true},
		{cordon.KindOfflineRekey, cordon.FactsAtLogin, http.StatusForbidden, cordon.EventOfflineGrant, false},
	} {
		r := tc.kind.MustRules()
		if r.Judges != tc.judges || r.Denial.Status != tc.status || r.SatisfiedBy != tc.satisfied || r.Upgrade != tc.upgrade {
			t.Errorf("%s: rules %+v, want judges %d, status %d, satisfied by %d, upgrade block %v", tc.kind, r, tc.judges, tc.status, tc.satisfied, tc.upgrade)
		}
	}
	if !cordon.KindPasswordReset.MustRules().Blocks(cordon.EventLogin) || cordon.KindReauth.MustRules().Blocks(cordon.EventLogin) {
		t.Error("only password_reset denies at login")
	}
	if len(cordon.Kinds) != 4 {
		t.Errorf("%d kinds; a new kind needs a row here", len(cordon.Kinds))
	}
}

// TestUnknownKind: a kind cordon does not define has no rules, whatever
// its case.
func TestUnknownKind(t *testing.T) {
	for _, k := range []cordon.Kind{"", "nuke", "Reauth", "upgrade "} {
		if _, ok := k.Rules(); ok || k.Valid() {
			t.Errorf("%q has rules", k)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRules of an unknown kind did not panic")
		}
	}()
	cordon.Kind("nuke").MustRules()
}

// TestStates: only an active campaign enforces; completed and cancelled
// are final.
func TestStates(t *testing.T) {
	for _, tc := range []struct {
		s                cordon.State
		enforcing, ended bool
		verb             string
	}{
		{cordon.StateDraft, false, false, "move to draft"},
		{cordon.StateActive, true, false, "activate"},
		{cordon.StatePaused, false, false, "pause"},
		{cordon.StateCompleted, false, true, "complete"},
		{cordon.StateCancelled, false, true, "cancel"},
		{"bogus", false, false, "move to bogus"},
	} {
		if tc.s.Enforcing() != tc.enforcing || tc.s.Ended() != tc.ended || tc.s.Verb() != tc.verb {
			t.Errorf("%s: enforcing %v ended %v verb %q", tc.s, tc.s.Enforcing(), tc.s.Ended(), tc.s.Verb())
		}
	}
}

// TestOfficialSources: the official sources are known sources, in
// cordon.Sources' order; web and unknown are not among them.
func TestOfficialSources(t *testing.T) {
	last := -1
	for _, s := range cordon.OfficialSources {
		i := slices.Index(cordon.Sources, s)
		if i <= last {
			t.Errorf("%s is unknown or out of cordon.Sources' order", s)
		}
		last = i
	}
	for _, s := range []string{cordon.SourceWeb, cordon.SourceUnknown, "", "fdroid"} {
		if cordon.Official(s) {
			t.Errorf("%q counts as official", s)
		}
	}
}

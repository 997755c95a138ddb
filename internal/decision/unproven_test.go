package decision

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestUnproven: a session whose facts at login nobody recorded (an
// external issuer's token) is in every protecting cohort whatever the
// request claims; users and authenticated_before still apply; nothing
// waits; an upgrade judges the claimed facts.
func TestUnproven(t *testing.T) {
	const ext = "https://id.example.com#alice"
	old := base.Add(-2 * time.Hour) // before every activation
	fresh := base.Add(-time.Minute) // after them
	claimed := func(platform, version string) *cordon.Session {
		return &cordon.Session{ID: "x", AccountID: ext, AuthTime: old,
			Facts: cordon.ClientFacts{Platform: platform, Version: version, Source: cordon.SourcePlay}}
	}
	tests := []struct {
		name     string
		campaign *cordon.Campaign
		s        *cordon.Session
		want     string // the reason, "" for allow
	}{
		{"reauth for iOS: a session claiming android is still in", active("c-1", cordon.KindReauth, cordon.Cohort{Platforms: []string{"ios"}}), claimed("android", "9.0.0"), ReasonReauthRequired},
		{"reauth for old versions: a claimed new version is still in", active("c-1", cordon.KindReauth, cordon.Cohort{Versions: "< 8.5.0"}), claimed("ios", "9.0.0"), ReasonReauthRequired},
		{"reauth for side-loads: a claimed store is still in", active("c-1", cordon.KindReauth, cordon.Cohort{Sources: []string{"unknown"}}), claimed("ios", "9.0.0"), ReasonReauthRequired},
		{"reauth naming other users", active("c-1", cordon.KindReauth, cordon.Cohort{Users: []string{"https://id.example.com#bob"}}, users("https://id.example.com#bob")), claimed("ios", ""), ""},
		{"reauth naming this subject", active("c-1", cordon.KindReauth, cordon.Cohort{Users: []string{ext}}, users(ext)), claimed("ios", ""), ReasonReauthRequired},
		{"reauth: authenticated after the cut-off of authenticated_before", active("c-1", cordon.KindReauth, cordon.Cohort{AuthenticatedBefore: at(-3 * time.Hour)}), claimed("ios", ""), ""},
		{"reauth: re-authenticated at the provider", active("c-1", cordon.KindReauth, cordon.Cohort{}), &cordon.Session{ID: "x", AccountID: ext, AuthTime: fresh}, ""},
		{"immediate upgrade: claimed old android version", active("c-u", cordon.KindUpgrade, cordon.Cohort{Platforms: []string{"android"}}, upgrade("8.5.0", "immediate")), claimed("android", "8.4.0"), ReasonUpgradeRequired},
		{"immediate upgrade: claimed new version", active("c-u", cordon.KindUpgrade, cordon.Cohort{Platforms: []string{"android"}}, upgrade("8.5.0", "immediate")), claimed("android", "8.5.0"), ""},
		{"immediate upgrade: another platform", active("c-u", cordon.KindUpgrade, cordon.Cohort{Platforms: []string{"android"}}, upgrade("8.5.0", "immediate")), claimed("ios", "1.0.0"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile([]*cordon.Campaign{tc.campaign}, 1, base)
			if err != nil {
				t.Fatal(err)
			}
			d := Decide(&Input{Session: tc.s, Client: tc.s.Facts, Now: base, Policy: p.Unproven()})
			if d.Reason != tc.want {
				t.Errorf("reason %q, want %q", d.Reason, tc.want)
			}
		})
	}
}

// TestUnprovenDoesNotWait: a reauth that waits for a flexible upgrade the
// session owes would let a claimed old version hold the reauth back (the
// request passes with a prompt); unproven, it denies at once.
func TestUnprovenDoesNotWait(t *testing.T) {
	up := active("c-a", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "flexible"))
	re := active("c-b", cordon.KindReauth, cordon.Cohort{}, func(c *cordon.Campaign) {
		c.After = &cordon.After{Campaign: "c-a", Satisfied: true, Per: cordon.AfterPerInstall}
	})
	p, err := Compile([]*cordon.Campaign{up, re}, 1, base)
	if err != nil {
		t.Fatal(err)
	}
	s := &cordon.Session{ID: "x", AccountID: "https://id.example.com#alice", AuthTime: base.Add(-2 * time.Hour),
		Facts: cordon.ClientFacts{Platform: "android", Version: "8.4.0"}}
	if d := Decide(&Input{Session: s, Client: s.Facts, Now: base, Policy: p}); d.Outcome != Allow {
		t.Fatalf("proven policy: %+v, want the reauth to wait for the upgrade", d)
	}
	if d := Decide(&Input{Session: s, Client: s.Facts, Now: base, Policy: p.Unproven()}); d.Reason != ReasonReauthRequired {
		t.Errorf("unproven: %+v, want reauth_required", d)
	}
	if u1, u2 := p.Unproven(), p.Unproven(); u1 != u2 {
		t.Error("Unproven derived twice")
	}
	// The original policy is unchanged.
	ios := &cordon.Session{ID: "y", AccountID: "u-1", AuthTime: base.Add(-2 * time.Hour), Facts: cordon.ClientFacts{Platform: "ios", Version: "9.0.0"}}
	q, _ := Compile([]*cordon.Campaign{active("c-1", cordon.KindReauth, cordon.Cohort{Platforms: []string{"android"}})}, 1, base)
	_ = q.Unproven()
	if d := Decide(&Input{Session: ios, Client: ios.Facts, Now: base, Policy: q}); d.Outcome != Allow {
		t.Errorf("after Unproven, the proven policy denies an iOS session: %+v", d)
	}
}

package decision

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// atLogin is what the session authenticated as: every test below claims
// something else in the request.
var atLogin = cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "unknown", Device: "d-1"}

// claims moves each fact up, down, sideways and away.
var claims = []struct {
	name   string
	client cordon.ClientFacts
}{
	{"version up", cordon.ClientFacts{Platform: "ios", Version: "9.0.0", Source: "unknown", Device: "d-1"}},
	{"version down", cordon.ClientFacts{Platform: "ios", Version: "1.0.0", Source: "unknown", Device: "d-1"}},
	{"no version", cordon.ClientFacts{Platform: "ios", Source: "unknown", Device: "d-1"}},
	{"source to a store", cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore", Device: "d-1"}},
	{"source to play", cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "play", Device: "d-1"}},
	{"platform to android", cordon.ClientFacts{Platform: "android", Version: "9.0.0", Source: "play", Device: "d-1"}},
	{"platform to unknown", cordon.UnknownClient},
	{"another device", cordon.ClientFacts{Platform: "ios", Version: "9.0.0", Source: "appstore", Device: "d-2"}},
	{"everything up", cordon.ClientFacts{Platform: "ios", Version: "99.0.0", Source: "official", Device: "d-1"}},
}

// TestClaimsNeverLiftProtectingKinds: for reauth and password_reset, a
// session in the cohort by its facts at login stays denied whatever the
// request claims, and a session outside it stays allowed.
func TestClaimsNeverLiftProtectingKinds(t *testing.T) {
	cohort := cordon.Cohort{Platforms: []string{"ios"}, Versions: "< 8.5.0", Sources: []string{"unknown"}}
	for _, k := range []struct {
		kind   cordon.Kind
		reason string
	}{
		{cordon.KindReauth, ReasonReauthRequired},
		{cordon.KindPasswordReset, ReasonPasswordResetRequired},
	} {
		p := policy(t, active("c-1", k.kind, cohort))
		in := &cordon.Session{ID: "s-1", AccountID: "u-1", AuthTime: old, Facts: atLogin}
		outFacts := []cordon.ClientFacts{
			{Platform: "ios", Version: "9.0.0", Source: "unknown", Device: "d-1"},     // version out
			{Platform: "ios", Version: "8.4.1", Source: "appstore", Device: "d-1"},    // source out
			{Platform: "android", Version: "8.4.1", Source: "unknown", Device: "d-1"}, // platform out
		}
		for _, c := range claims {
			t.Run(string(k.kind)+"/in the cohort, claims "+c.name, func(t *testing.T) {
				d := Decide(&Input{Session: in, Client: c.client, Now: base, Policy: p})
				if d.Outcome != Deny || d.Reason != k.reason || d.Campaign != "c-1" {
					t.Errorf("decision = %+v, want deny %s by c-1", d, k.reason)
				}
			})
			for _, f := range outFacts {
				out := &cordon.Session{ID: "s-2", AccountID: "u-1", AuthTime: old, Facts: f}
				claim := c.client
				claim.Platform = f.Platform // claims from the session's own platform
				t.Run(string(k.kind)+"/outside ("+f.Platform+" "+f.Version+" "+f.Source+"), claims "+c.name, func(t *testing.T) {
					for _, cl := range []cordon.ClientFacts{claim, atLogin} {
						if d := Decide(&Input{Session: out, Client: cl, Now: base, Policy: p}); d.Outcome != Allow {
							t.Errorf("claim %+v: decision = %+v, want allow: a claim never moves a session into a cohort either", cl, d)
						}
					}
				})
			}
		}
	}
}

// TestUpgradeReadsTheReportedVersion: only an upgrade judges the version
// the request reports, and only from the session's own platform.
func TestUpgradeReadsTheReportedVersion(t *testing.T) {
	p := policy(t, active("c-up", cordon.KindUpgrade, cordon.Cohort{Platforms: []string{"ios"}, Versions: "< 8.5.0"}, upgrade("8.5.0", cordon.UpgradeImmediate)))
	s := &cordon.Session{ID: "s-1", AccountID: "u-1", AuthTime: old, Facts: atLogin}
	for _, tc := range []struct {
		name   string
		client cordon.ClientFacts
		want   Outcome
	}{
		{"the version at login", atLogin, Deny},
		{"updated in place", cordon.ClientFacts{Platform: "ios", Version: "8.5.0", Source: "unknown"}, Allow},
		{"an older version", cordon.ClientFacts{Platform: "ios", Version: "8.0.0", Source: "unknown"}, Deny},
		{"a newer version from another platform", cordon.ClientFacts{Platform: "android", Version: "9.0.0", Source: "play"}, Deny},
		{"no header", cordon.UnknownClient, Deny},
		{"no version", cordon.ClientFacts{Platform: "ios", Source: "unknown"}, Deny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(&Input{Session: s, Client: tc.client, Now: base, Policy: p})
			if d.Outcome != tc.want {
				t.Fatalf("decision = %+v, want %v", d, tc.want)
			}
			// The store a denial sends to is the session's source's, never
			// the one claimed: this install is side-loaded.
			if d.Outcome == Deny && (d.Upgrade.URL != "https://example.com/download" || !d.Upgrade.Sideloaded) {
				t.Errorf("upgrade = %+v, want the official site, sideloaded", d.Upgrade)
			}
		})
	}
}

// TestOfflineJudgesTheGrant: DecideOffline reads only the facts the grant
// was issued to; there is no request claim to read.
func TestOfflineJudgesTheGrant(t *testing.T) {
	p := policy(t, active("c-off", cordon.KindOfflineRekey, cordon.Cohort{Platforms: []string{"ios"}, Versions: "< 8.5.0", Sources: []string{"unknown"}}))
	for _, tc := range []struct {
		name   string
		facts  cordon.ClientFacts
		issued time.Time
		want   Outcome
	}{
		{"issued before the admission", atLogin, old, Deny},
		{"issued after the admission", atLogin, base, Allow},
		{"issued to 8.5.0", cordon.ClientFacts{Platform: "ios", Version: "8.5.0", Source: "unknown"}, old, Allow},
		{"issued to an app store install", cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore"}, old, Allow},
		{"issued to android", cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "unknown"}, old, Allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideOffline(&OfflineInput{AccountID: "u-1", Facts: tc.facts, AuthTime: old, Issued: tc.issued, Now: base, Policy: p})
			if d.Outcome != tc.want {
				t.Fatalf("decision = %+v, want %v", d, tc.want)
			}
			if d.Outcome == Deny && (d.Reason != ReasonOfflineGrantRevoked || d.Campaign != "c-off") {
				t.Errorf("decision = %+v, want offline_grant_revoked by c-off", d)
			}
		})
	}
}

// TestResetRequiredBelongsToTheAccount: the account is in a password_reset
// cohort by the facts at login of any session live since the campaign
// began (ended ones too), by a recorded admission, or by what the login
// itself says; nothing the login claims takes it out.
func TestResetRequiredBelongsToTheAccount(t *testing.T) {
	p := policy(t, active("c-pr", cordon.KindPasswordReset, cordon.Cohort{Platforms: []string{"android"}}))
	android := &cordon.Session{ID: "s-a", AccountID: "u-1", AuthTime: old, Facts: cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "play"}}
	ios := &cordon.Session{ID: "s-i", AccountID: "u-1", AuthTime: old, Facts: atLogin}
	ended := *android // after the campaign began (base - 1h): a stolen token could end it
	ended.RevokedAt = base.Add(-time.Minute)
	endedBefore := *android
	endedBefore.RevokedAt = base.Add(-2 * time.Hour)
	iosClaim := cordon.ClientFacts{Platform: "ios", Version: "9.0.0", Source: "appstore"}
	for _, tc := range []struct {
		name     string
		client   cordon.ClientFacts
		sessions []*cordon.Session
		admitted map[string]bool
		changed  time.Time
		want     Outcome
	}{
		{"an android session, the login claims ios", iosClaim, []*cordon.Session{ios, android}, nil, old, Deny},
		{"an android session, the login says nothing", cordon.UnknownClient, []*cordon.Session{android}, nil, old, Deny},
		{"no android session, but admitted before", iosClaim, []*cordon.Session{ios}, map[string]bool{"c-pr": true}, old, Deny},
		{"no session at all, the login says android", cordon.ClientFacts{Platform: "android", Source: "play"}, nil, nil, old, Deny},
		{"only ios sessions and an ios login", iosClaim, []*cordon.Session{ios}, nil, old, Allow},
		{"the android session ended after the campaign began", iosClaim, []*cordon.Session{&ended, ios}, nil, old, Deny},
		{"the android session ended before the campaign began", iosClaim, []*cordon.Session{&endedBefore, ios}, nil, old, Allow},
		{"admitted another campaign", iosClaim, []*cordon.Session{ios}, map[string]bool{"c-other": true}, old, Allow},
		{"password set after the admission", iosClaim, []*cordon.Session{android}, map[string]bool{"c-pr": true}, base.Add(-time.Minute), Allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := ResetRequired(&ResetInput{AccountID: "u-1", Client: tc.client, Sessions: tc.sessions, Admitted: tc.admitted,
				PasswordChangedAt: tc.changed, Now: base, Policy: p})
			if d.Outcome != tc.want {
				t.Fatalf("decision = %+v, want %v", d, tc.want)
			}
			if d.Outcome == Deny && (d.Reason != ReasonPasswordResetRequired || d.Campaign != "c-pr") {
				t.Errorf("decision = %+v, want password_reset_required by c-pr", d)
			}
		})
	}
	t.Run("before the ramp admits the account", func(t *testing.T) {
		later := policy(t, active("c-pr", cordon.KindPasswordReset, cordon.Cohort{Platforms: []string{"android"}}, ramp(base.Add(time.Hour), time.Hour)))
		d := ResetRequired(&ResetInput{AccountID: "u-1", Sessions: []*cordon.Session{android}, Admitted: map[string]bool{"c-pr": true}, PasswordChangedAt: old, Now: base, Policy: later})
		if d.Outcome != Allow {
			t.Errorf("decision = %+v, want allow", d)
		}
	})
}

// TestReauthenticated: a new login satisfies a reauth campaign only from
// inside its cohort and once its account is admitted.
func TestReauthenticated(t *testing.T) {
	p := policy(t, active("c-re", cordon.KindReauth, cordon.Cohort{Platforms: []string{"ios"}, Versions: "< 8.5.0", AuthenticatedBefore: at(-time.Hour)}),
		active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("9.0.0", cordon.UpgradeImmediate)),
		active("c-late", cordon.KindReauth, cordon.Cohort{}, ramp(base.Add(time.Hour), time.Hour)))
	for _, tc := range []struct {
		name  string
		facts cordon.ClientFacts
		want  []string
	}{
		{"from ios 8.4.1", atLogin, []string{"c-re"}},
		{"from ios 9.0.0", cordon.ClientFacts{Platform: "ios", Version: "9.0.0", Source: "appstore"}, nil},
		{"from web", cordon.ClientFacts{Platform: "web", Source: "web"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Reauthenticated(&cordon.Session{ID: "s-new", AccountID: "u-1", AuthTime: base, Facts: tc.facts})
			if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
				t.Errorf("satisfied %v, want %v", got, tc.want)
			}
		})
	}
}

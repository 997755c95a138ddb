package campaign_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

var (
	iosFacts     = cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore}
	androidFacts = cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.4.0", Source: cordon.SourcePlay}
)

// fleetEnv is an env of n users, the first ios of them on iOS and the rest
// on Android, one session each.
func fleetEnv(t *testing.T, n, ios int) (*env, []*cordon.Session) {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("user%03d", i)
	}
	e := newEnv(t, names...)
	ss := make([]*cordon.Session, n)
	for i, name := range names {
		f := androidFacts
		if i < ios {
			f = iosFacts
		}
		ss[i] = e.session(t, name, f, 30*24*time.Hour)
	}
	return e, ss
}

func progressOf(t *testing.T, e *env, id string) *campaign.ProgressView {
	t.Helper()
	c, err := e.svc.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Progress(t.Context(), c)
	if err != nil {
		t.Fatalf("Progress: %v", err)
	}
	return v
}

// The case: a campaign that has admitted 16 % of its cohort, whose
// admitted users were nearly all blocked and satisfied, showed 93 %
// (satisfied ÷ blocked). Against the cohort it is 14 %, and 87.5 % of
// those admitted; a draft is 0 %, never 100.
func TestProgressAgainstTheCohort(t *testing.T) {
	ctx := t.Context()
	e, ss := fleetEnv(t, 100, 60)
	// The ramp hash of this campaign id admits, 16 h into 100 h, exactly
	// these 16 of the 100 users (10 on iOS, 6 on Android), pinned here as
	// decision's TestRampHashPinned pins the hash.
	admittedAt16 := []int{3, 10, 14, 15, 22, 24, 28, 31, 43, 58, 65, 67, 68, 75, 86, 87}
	c, err := e.svc.CreateWithID(ctx, "c_ramp16_0029", []byte(`{"kind":"reauth","name":"r","ramp":{"start":"2026-12-01T10:00:00Z","duration":"100h"}}`), "json", "a-admin")
	if err != nil {
		t.Fatal(err)
	}

	draft := progressOf(t, e, c.ID)
	if draft.Complete != 0 || draft.SatisfiedOfCohort != 0 || draft.AdmittedShare != 0 || draft.Targeted.Users != 0 || draft.Admitted.Users != 0 || draft.State != cordon.StateDraft {
		t.Errorf("a draft: complete %v, of cohort %v, admitted share %v, targeted %+v, admitted %+v, state %s; want all 0 and draft",
			draft.Complete, draft.SatisfiedOfCohort, draft.AdmittedShare, draft.Targeted, draft.Admitted, draft.State)
	}
	// A draft without a ramp would admit everyone once active: as a
	// draft it admits nobody.
	now := e.create(t, `{"kind":"reauth","name":"now"}`)
	if v := progressOf(t, e, now.ID); v.AdmittedShare != 0 || v.Complete != 0 || v.Admitted != (campaign.Counts{}) || v.Dormant != (campaign.Counts{}) {
		t.Errorf("a draft without a ramp: admitted share %v, complete %v, admitted %+v, dormant %+v; want 0", v.AdmittedShare, v.Complete, v.Admitted, v.Dormant)
	}

	e.clk.Set(t0.Add(30 * time.Minute))
	e.transition(t, c.ID, "activate")
	if v := progressOf(t, e, c.ID); v.Admitted != (campaign.Counts{}) || v.Targeted.Counts != (campaign.Counts{Sessions: 100, Users: 100}) {
		t.Errorf("at activation, before the ramp starts: targeted %+v, admitted %+v; want 100/100 and nobody", v.Targeted, v.Admitted)
	}
	e.clk.Set(t0.Add(time.Hour + 16*time.Hour)) // 16 % of the ramp
	if err := e.svc.SampleAll(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	deny := decision.Decision{Outcome: decision.Deny, Reason: decision.ReasonReauthRequired, Campaign: c.ID}
	for _, i := range admittedAt16[:15] {
		e.svc.Blocked(ctx, deny, ss[i])
	}
	for _, i := range admittedAt16[:14] {
		e.svc.Satisfied(ctx, c.ID, ss[i].AccountID)
	}
	v := progressOf(t, e, c.ID)
	checks := []struct {
		name      string
		got, want any
	}{
		{"targeted", v.Targeted.Counts, campaign.Counts{Sessions: 100, Users: 100}},
		{"exact", v.Targeted.Exact, true},
		{"admitted share", v.AdmittedShare, 0.16},
		{"admitted", v.Admitted, campaign.Counts{Sessions: 16, Users: 16}},
		{"blocked", v.Blocked, campaign.Counts{Sessions: 15, Users: 15}},
		{"seen", v.Seen, campaign.Counts{Sessions: 15, Users: 15}},
		{"dormant", v.Dormant, campaign.Counts{Sessions: 1, Users: 1}},
		{"satisfied", v.Satisfied, int64(14)},
		{"satisfied of admitted", v.SatisfiedOfAdmitted, 0.875},
		{"satisfied of cohort", v.SatisfiedOfCohort, 0.14},
		{"complete", v.Complete, 0.14},
		{"rows", len(v.Breakdown), 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(v.Breakdown) == 2 {
		ios, android := v.Breakdown[0], v.Breakdown[1]
		wantIOS := campaign.ProgressBreakdown{Platform: "ios", Version: "8.4.0", Source: "appstore",
			Targeted: campaign.Counts{Sessions: 60, Users: 60}, Admitted: campaign.Counts{Sessions: 10, Users: 10},
			Seen: campaign.Counts{Sessions: 10, Users: 10}, Blocked: campaign.Counts{Sessions: 10, Users: 10}, Satisfied: 10}
		wantAndroid := campaign.ProgressBreakdown{Platform: "android", Version: "8.4.0", Source: "play",
			Targeted: campaign.Counts{Sessions: 40, Users: 40}, Admitted: campaign.Counts{Sessions: 6, Users: 6},
			Seen: campaign.Counts{Sessions: 5, Users: 5}, Blocked: campaign.Counts{Sessions: 5, Users: 5}, Satisfied: 4,
			Dormant: campaign.Counts{Sessions: 1, Users: 1}}
		if ios != wantIOS || android != wantAndroid {
			t.Errorf("breakdown:\n got %+v\n     %+v\nwant %+v\n     %+v", ios, android, wantIOS, wantAndroid)
		}
	}
}

// The cohort is kept current: sessions that start after activation join it
// at the next sample, sessions that end leave it; and each sample is a
// point of the series.
func TestTargetedFollowsSessions(t *testing.T) {
	ctx := t.Context()
	e, ss := fleetEnv(t, 12, 10)
	c := e.create(t, `{"kind":"upgrade","name":"u","cohort":{"platforms":["ios"]},"upgrade":{"min_version":"9.0.0","mode":"immediate","urls":{"official":"https://example.com/app"}}}`)
	e.transition(t, c.ID, "activate")
	if got := progressOf(t, e, c.ID).Targeted.Counts; got != (campaign.Counts{Sessions: 10, Users: 10}) {
		t.Fatalf("targeted at activation: got %+v, want 10 sessions of 10 users", got)
	}
	e.clk.Advance(30 * time.Second)
	e.session(t, "user000", iosFacts, 30*24*time.Hour)
	e.session(t, "user011", iosFacts, 30*24*time.Hour) // an Android user's new iPhone
	if err := e.store.RevokeSession(ctx, ss[1].ID, "logout", e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	// Within the interval another sample would be a waste: nothing moves.
	if err := e.svc.SampleAll(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := progressOf(t, e, c.ID).Targeted.Counts; got != (campaign.Counts{Sessions: 10, Users: 10}) {
		t.Errorf("targeted within the interval: got %+v, want unchanged", got)
	}
	e.clk.Advance(time.Minute)
	if err := e.svc.SampleAll(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := progressOf(t, e, c.ID).Targeted.Counts; got != (campaign.Counts{Sessions: 11, Users: 10}) {
		t.Errorf("targeted after sessions came and went: got %+v, want 11 sessions of 10 users", got)
	}
	series, err := e.svc.Series(ctx, c.ID, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 || series[0].TargetedSessions != 10 || series[1].TargetedSessions != 11 || series[0].AdmittedShare != 1 {
		t.Errorf("series: got %+v, want 2 samples, targeted 10 then 11", series)
	}
}

// Sessions created while the campaign is activated are all in the cohort
// by the first sample after; nothing races (go test -race).
func TestActivationWithConcurrentSessions(t *testing.T) {
	ctx := t.Context()
	e, _ := fleetEnv(t, 20, 20)
	c := e.create(t, `{"kind":"reauth","name":"r","cohort":{"platforms":["ios"]}}`)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				s := &cordon.Session{ID: cordon.NewID("s"), AccountID: e.ids[fmt.Sprintf("user%03d", w*5+i%5)], Facts: iosFacts, AuthTime: t0, CreatedAt: t0, LastSeenAt: t0}
				rt := &cordon.RefreshToken{Hash: []byte(cordon.NewID("h")), SessionID: s.ID, CreatedAt: t0, IdleExpiresAt: t0.Add(time.Hour), AbsoluteExpiresAt: t0.Add(time.Hour)}
				if err := e.store.CreateSession(ctx, s, rt); err != nil {
					t.Error(err)
				}
			}
		})
	}
	e.clk.Advance(time.Second)
	if _, err := e.svc.Transition(ctx, c.ID, "activate", "a-admin"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got := progressOf(t, e, c.ID).Targeted
	if got.Sessions < 20 || got.Sessions > 60 || got.Users != 20 {
		t.Errorf("targeted at activation: got %+v, want 20–60 sessions (those stored by then) of 20 users", got)
	}
	e.clk.Advance(time.Minute)
	if err := e.svc.SampleAll(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := progressOf(t, e, c.ID).Targeted.Counts; got != (campaign.Counts{Sessions: 60, Users: 20}) {
		t.Errorf("targeted at the next sample: got %+v, want 60 sessions of 20 users", got)
	}
}

// A gate's report is a claim: it counts only for an active campaign, a
// live session, and the outcome that campaign gives that session on the
// facts the server holds; it never satisfies anything.
func TestGateReportsAreClaims(t *testing.T) {
	ctx := t.Context()
	e, ss := fleetEnv(t, 4, 2) // user000, user001 on iOS; user002, user003 on Android
	imm := e.create(t, `{"kind":"upgrade","name":"u","cohort":{"platforms":["ios"]},"upgrade":{"min_version":"9.0.0","mode":"immediate","urls":{"official":"https://example.com/app"}}}`)
	flex := e.create(t, `{"kind":"upgrade","name":"f","cohort":{"platforms":["android"]},"upgrade":{"min_version":"9.0.0","mode":"flexible","urls":{"official":"https://example.com/app"}}}`)
	draft := e.create(t, `{"kind":"reauth","name":"d"}`)
	e.transition(t, imm.ID, "activate")
	e.transition(t, flex.ID, "activate")
	ended := e.session(t, "user000", iosFacts, 30*24*time.Hour)
	if err := e.store.RevokeSession(ctx, ended.ID, "logout", e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	reports := []campaign.GateReport{
		{imm.ID, ss[0].ID, "denied"},             // holds
		{imm.ID, ss[0].ID, "denied"},             // again: idempotent
		{flex.ID, ss[2].ID, "prompted"},          // holds
		{"c_nosuchcampaign", ss[0].ID, "denied"}, // unknown campaign
		{draft.ID, ss[0].ID, "denied"},           // not enforcing
		{imm.ID, "s_nosuchsession", "denied"},    // unknown session
		{imm.ID, ss[3].ID, "denied"},             // someone else's session: Android, outside the cohort
		{imm.ID, ended.ID, "denied"},             // ended
		{flex.ID, ss[3].ID, "denied"},            // a flexible campaign prompts, never denies
		{imm.ID, ss[1].ID, "satisfied"},          // no such outcome
	}
	res, err := e.svc.ReportFromGate(ctx, reports)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused := []campaign.GateRefusal{
		{Index: 3, Code: "unknown_campaign"}, {Index: 4, Code: "unknown_campaign"}, {Index: 5, Code: "unknown_session"},
		{Index: 6, Code: "not_enforced"}, {Index: 7, Code: "session_ended"}, {Index: 8, Code: "not_enforced"}, {Index: 9, Code: "invalid_outcome"},
	}
	if res.Accepted != 3 || len(res.Refused) != len(wantRefused) {
		t.Fatalf("result: accepted %d, refused %+v; want 3 accepted, %d refused", res.Accepted, res.Refused, len(wantRefused))
	}
	for i, w := range wantRefused {
		if got := res.Refused[i]; got.Index != w.Index || got.Code != w.Code {
			t.Errorf("refusal %d: got %+v, want index %d code %s", i, got, w.Index, w.Code)
		}
	}
	if got := progressOf(t, e, imm.ID); got.Blocked != (campaign.Counts{Sessions: 1, Users: 1}) || got.Satisfied != 0 {
		t.Errorf("immediate campaign: blocked %+v, satisfied %d; want 1 session of 1 user, 0 satisfied", got.Blocked, got.Satisfied)
	}
	if got := progressOf(t, e, flex.ID); got.Prompted != (campaign.Counts{Sessions: 1, Users: 1}) || got.Blocked != (campaign.Counts{}) || got.Satisfied != 0 {
		t.Errorf("flexible campaign: prompted %+v, blocked %+v, satisfied %d; want 1 prompted, none blocked or satisfied", got.Prompted, got.Blocked, got.Satisfied)
	}
	big := make([]campaign.GateReport, campaign.MaxGateReports+1)
	if _, err := e.svc.ReportFromGate(ctx, big); cordon.ErrorCode(err) != cordon.ECodeTooLarge {
		t.Errorf("a batch of %d: got %v, want %s", len(big), err, cordon.ECodeTooLarge)
	}
	var ce *cordon.Error
	if _, err := e.svc.ReportFromGate(ctx, big); !errors.As(err, &ce) {
		t.Errorf("oversized batch: got %T, want *cordon.Error", err)
	}
}

// A long series is thinned to the points asked, keeping both ends.
func TestSeriesThinned(t *testing.T) {
	ctx := t.Context()
	e, _ := fleetEnv(t, 1, 1)
	c := e.create(t, `{"kind":"reauth","name":"r"}`)
	e.transition(t, c.ID, "activate")
	for range 9 {
		e.clk.Advance(time.Minute)
		if err := e.svc.SampleAll(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.svc.Series(ctx, c.ID, time.Time{}, 0)
	if err != nil || len(all) != 10 {
		t.Fatalf("series: got %d samples, %v; want 10", len(all), err)
	}
	thin, err := e.svc.Series(ctx, c.ID, time.Time{}, 4)
	if err != nil || len(thin) != 4 || !thin[0].At.Equal(all[0].At) || !thin[3].At.Equal(all[9].At) || !thin[1].At.Equal(all[3].At) {
		t.Errorf("4 points of 10: got %+v, %v; want samples 0, 3, 6, 9", thin, err)
	}
}

// TestGateReportsForAWaitingCampaign: a gate's report of a denial by a
// campaign that waits for another is checked with its prerequisite, as
// the gate decided it: a session the campaign still waits for was not
// denied by it (not_enforced), one it has released was.
func TestGateReportsForAWaitingCampaign(t *testing.T) {
	e, ss := fleetEnv(t, 4, 2) // user000, user001 on iOS; user002, user003 on Android
	e.clk.Advance(time.Hour)   // every session logged in before the campaigns
	up := e.create(t, `{"kind":"upgrade","name":"u","cohort":{"platforms":["ios"]},"upgrade":{"min_version":"9.0.0","mode":"immediate","urls":{"official":"https://example.com/app"}}}`)
	e.transition(t, up.ID, "activate")
	again := e.create(t, `{"kind":"reauth","name":"after the upgrade","after":{"campaign":"`+up.ID+`"}}`)
	e.transition(t, again.ID, "activate")
	res, err := e.svc.ReportFromGate(t.Context(), []campaign.GateReport{
		{again.ID, ss[0].ID, "denied"}, // iOS below 9.0.0: the reauth waits
		{again.ID, ss[2].ID, "denied"}, // Android: outside the upgrade, released
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || len(res.Refused) != 1 || res.Refused[0].Index != 0 || res.Refused[0].Code != "not_enforced" {
		t.Errorf("result: accepted %d, refused %+v; want the Android report accepted, the iOS one not_enforced", res.Accepted, res.Refused)
	}
}

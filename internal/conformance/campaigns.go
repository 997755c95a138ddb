package conformance

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func campaignTests() []subtest {
	return []subtest{
		{"CreateAndGet", testCreateCampaign},
		{"CreateStoresADraft", testCreateCampaignDraft},
		{"DuplicateID", testDuplicateCampaign},
		{"GetNotFound", testCampaignNotFound},
		{"ListNewestFirst", testListCampaigns},
		{"ListEmpty", testListCampaignsEmpty},
		{"Transitions", testTransitions},
		{"TransitionNotFound", testTransitionNotFound},
		{"TransitionReturnsStored", testTransitionReturnsStored},
		{"LifecycleTimes", testLifecycleTimes},
		{"PolicyVersionIncreases", testPolicyVersion},
		{"ActiveCampaigns", testActiveCampaigns},
		{"Trail", testTrail},
		{"TrailUnknownCampaign", testTrailUnknown},
		{"AutoRampPace", testAutoRampPace},
		{"SetCampaignPace", testSetCampaignPace},
		{"AdmitEarly", testAdmitEarly},
	}
}

// campaigns returns s as a CampaignStore; every backend must be one.
func campaigns(t *testing.T, s cordon.Store) cordon.CampaignStore {
	t.Helper()
	cs, ok := s.(cordon.CampaignStore)
	if !ok {
		t.Fatalf("%T does not implement cordon.CampaignStore", s)
	}
	return cs
}

// move is an admin action as a call of TransitionCampaign.
type move struct {
	action string
	from   []cordon.State
	to     cordon.State
}

// The lifecycle draft → active ⇄ paused → completed | cancelled, as the
// from sets a caller passes to TransitionCampaign for each admin action.
var moves = []move{
	{"activate", []cordon.State{cordon.StateDraft}, cordon.StateActive},
	{"pause", []cordon.State{cordon.StateActive}, cordon.StatePaused},
	{"resume", []cordon.State{cordon.StatePaused}, cordon.StateActive},
	{"complete", []cordon.State{cordon.StateActive, cordon.StatePaused}, cordon.StateCompleted},
	{"cancel", []cordon.State{cordon.StateDraft, cordon.StateActive, cordon.StatePaused}, cordon.StateCancelled},
}

// pathTo lists the actions that take a new draft to each state.
var pathTo = map[cordon.State][]string{
	cordon.StateDraft:     nil,
	cordon.StateActive:    {"activate"},
	cordon.StatePaused:    {"activate", "pause"},
	cordon.StateCompleted: {"activate", "complete"},
	cordon.StateCancelled: {"activate", "cancel"},
}

var states = []cordon.State{cordon.StateDraft, cordon.StateActive, cordon.StatePaused, cordon.StateCompleted, cordon.StateCancelled}

// newCampaign returns a reauth campaign with every document field set and
// its times given in a zone other than UTC.
func newCampaign(name string, created time.Time) *cordon.Campaign {
	before := at(-24 * time.Hour).In(elsewhere())
	return &cordon.Campaign{
		ID:   cordon.NewID("c"),
		Kind: cordon.KindReauth,
		Name: name,
		Cohort: cordon.Cohort{
			Platforms:           []string{cordon.PlatformDesktop, cordon.PlatformIOS, cordon.PlatformWinPhone},
			Versions:            "< 8.5.0",
			Sources:             []string{cordon.SourcePlay, cordon.SourceUnknown},
			AuthenticatedBefore: &before,
			Users:               []string{"u-123", "alice"},
			UsersFromReport:     "r-42",
		},
		Ramp:    &cordon.Ramp{Start: at(time.Hour).In(elsewhere()), Duration: 72 * time.Hour},
		Message: "For your security, please log in again.",
		State:   cordon.StateDraft,
		Created: created.In(elsewhere()),
		Updated: created.In(elsewhere()),
		UserIDs: []string{"u-123", cordon.NewID("u")},
	}
}

// newUpgradeCampaign returns an upgrade campaign with no ramp.
func newUpgradeCampaign(name string, created time.Time) *cordon.Campaign {
	return &cordon.Campaign{
		ID:     cordon.NewID("c"),
		Kind:   cordon.KindUpgrade,
		Name:   name,
		Cohort: cordon.Cohort{Platforms: []string{cordon.PlatformAndroid}, Versions: "< 8.5.0"},
		Upgrade: &cordon.UpgradeSpec{MinVersion: "8.5.0", Mode: cordon.UpgradeImmediate, URLs: map[string]string{
			cordon.SourcePlay:     "https://play.google.com/store/apps/details?id=com.example",
			cordon.SourceAmazon:   "https://www.amazon.com/dp/B0EXAMPLE",
			cordon.SourceOfficial: "https://m.example.com/download",
		}},
		State:   cordon.StateDraft,
		Created: created,
		Updated: created,
	}
}

func trailEntry(action string, when time.Time) *cordon.TrailEntry {
	return &cordon.TrailEntry{Action: action, Actor: "t-admin", At: when, Document: []byte(`{"action":"` + action + `"}`)}
}

func mustCreateCampaign(t *testing.T, cs cordon.CampaignStore, c *cordon.Campaign) *cordon.Campaign {
	t.Helper()
	if err := cs.CreateCampaign(t.Context(), c, trailEntry("create", c.Created)); err != nil {
		t.Fatalf("CreateCampaign(%q): %v", c.Name, err)
	}
	return c
}

func mustCampaign(t *testing.T, cs cordon.CampaignStore, id string) *cordon.Campaign {
	t.Helper()
	c, err := cs.Campaign(t.Context(), id)
	if err != nil {
		t.Fatalf("Campaign(%q): %v", id, err)
	}
	return c
}

// moveOf returns the lifecycle's action.
func moveOf(t *testing.T, action string) move {
	t.Helper()
	i := slices.IndexFunc(moves, func(m move) bool { return m.action == action })
	if i < 0 {
		t.Fatalf("no action %q in the lifecycle", action)
	}
	return moves[i]
}

// transition runs the lifecycle's action on the campaign at when.
func transition(t *testing.T, cs cordon.CampaignStore, id, action string, when time.Time) (*cordon.Campaign, uint64, error) {
	t.Helper()
	m := moveOf(t, action)
	return cs.TransitionCampaign(t.Context(), id, m.from, m.to, trailEntry(action, when))
}

func mustTransition(t *testing.T, cs cordon.CampaignStore, id, action string, when time.Time) (*cordon.Campaign, uint64) {
	t.Helper()
	c, v, err := transition(t, cs, id, action, when)
	if err != nil {
		t.Fatalf("%s campaign %s: %v", action, id, err)
	}
	return c, v
}

func mustPolicyVersion(t *testing.T, cs cordon.CampaignStore) uint64 {
	t.Helper()
	v, err := cs.PolicyVersion(t.Context())
	if err != nil {
		t.Fatalf("PolicyVersion: %v", err)
	}
	return v
}

// stored returns c as a store gives it back: a draft with no lifecycle
// times yet.
func stored(c *cordon.Campaign) *cordon.Campaign {
	d := *c
	d.State, d.Activated, d.Ended = cordon.StateDraft, time.Time{}, time.Time{}
	return &d
}

func campaignDiff(got, want *cordon.Campaign) string {
	var d diff
	d.str("ID", got.ID, want.ID)
	d.str("Kind", string(got.Kind), string(want.Kind))
	d.str("Name", got.Name, want.Name)
	d.strings("Cohort.Platforms", got.Cohort.Platforms, want.Cohort.Platforms)
	d.str("Cohort.Versions", got.Cohort.Versions, want.Cohort.Versions)
	d.strings("Cohort.Sources", got.Cohort.Sources, want.Cohort.Sources)
	switch g, w := got.Cohort.AuthenticatedBefore, want.Cohort.AuthenticatedBefore; {
	case (g == nil) != (w == nil):
		d = append(d, fmt.Sprintf("Cohort.AuthenticatedBefore: got %v, want %v", g, w))
	case g != nil:
		d.time("Cohort.AuthenticatedBefore", *g, *w)
	}
	d.strings("Cohort.Users", got.Cohort.Users, want.Cohort.Users)
	d.str("Cohort.UsersFromReport", got.Cohort.UsersFromReport, want.Cohort.UsersFromReport)
	switch g, w := got.Ramp, want.Ramp; {
	case (g == nil) != (w == nil):
		d = append(d, fmt.Sprintf("Ramp: got %+v, want %+v", g, w))
	case g != nil:
		d.time("Ramp.Start", g.Start, w.Start)
		if g.Duration != w.Duration {
			d = append(d, fmt.Sprintf("Ramp.Duration: got %v, want %v", g.Duration, w.Duration))
		}
	}
	switch g, w := got.Upgrade, want.Upgrade; {
	case (g == nil) != (w == nil):
		d = append(d, fmt.Sprintf("Upgrade: got %+v, want %+v", g, w))
	case g != nil:
		d.str("Upgrade.MinVersion", g.MinVersion, w.MinVersion)
		d.str("Upgrade.Mode", g.Mode, w.Mode)
		if !maps.Equal(g.URLs, w.URLs) {
			d = append(d, fmt.Sprintf("Upgrade.URLs: got %q, want %q", g.URLs, w.URLs))
		}
	}
	d.str("Message", got.Message, want.Message)
	d.str("State", string(got.State), string(want.State))
	d.time("Created", got.Created, want.Created)
	d.time("Updated", got.Updated, want.Updated)
	d.time("Activated", got.Activated, want.Activated)
	d.time("Ended", got.Ended, want.Ended)
	d.strings("UserIDs", got.UserIDs, want.UserIDs)
	return d.String()
}

func trailDiff(got, want *cordon.TrailEntry) string {
	var d diff
	d.str("CampaignID", got.CampaignID, want.CampaignID)
	d.str("Action", got.Action, want.Action)
	d.str("Actor", got.Actor, want.Actor)
	d.time("At", got.At, want.At)
	d.bytes("Document", got.Document, want.Document)
	return d.String()
}

func campaignIDs(cs []*cordon.Campaign) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testCreateCampaign(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	tests := []struct {
		name string
		c    *cordon.Campaign
	}{
		{"reauth with cohort and ramp", newCampaign("May incident: desktop, iOS, Windows Phone", at(0))},
		{"upgrade without ramp", newUpgradeCampaign("Android 8.5.0", at(time.Minute))},
		{"bare", &cordon.Campaign{ID: cordon.NewID("c"), Kind: cordon.KindOfflineRekey, Name: "rekey", State: cordon.StateDraft, Created: at(2 * time.Minute), Updated: at(2 * time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustCreateCampaign(t, cs, tt.c)
			if d := campaignDiff(mustCampaign(t, cs, tt.c.ID), stored(tt.c)); d != "" {
				t.Errorf("Campaign(%q): %s", tt.c.ID, d)
			}
		})
	}
}

// Whatever state and lifecycle times the caller sets, a new campaign is a
// draft that has never been active.
func testCreateCampaignDraft(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	c := newCampaign("sneaky", at(0))
	c.State, c.Activated, c.Ended = cordon.StateActive, at(time.Hour), at(2*time.Hour)
	mustCreateCampaign(t, cs, c)
	if d := campaignDiff(mustCampaign(t, cs, c.ID), stored(c)); d != "" {
		t.Errorf("Campaign(%q) created as %q: %s", c.ID, cordon.StateActive, d)
	}
	if active, _, err := cs.ActiveCampaigns(t.Context()); err != nil || len(active) != 0 {
		t.Errorf("ActiveCampaigns: got %q, %v; want none, nil", campaignIDs(active), err)
	}
}

func testDuplicateCampaign(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	cs := campaigns(t, s)
	first := mustCreateCampaign(t, cs, newCampaign("first", at(0)))
	dup := newUpgradeCampaign("second", at(time.Hour))
	dup.ID = first.ID
	err := cs.CreateCampaign(ctx, dup, trailEntry("create", at(time.Hour)))
	checkErr(t, "CreateCampaign with a taken id", err, cordon.ErrAlreadyExists)
	if d := campaignDiff(mustCampaign(t, cs, first.ID), stored(first)); d != "" {
		t.Errorf("first campaign after the refused duplicate: %s", d)
	}
	if trail, err := cs.Trail(ctx, first.ID); err != nil || len(trail) != 1 {
		t.Errorf("Trail after the refused duplicate: got %d entries, %v; want 1, nil", len(trail), err)
	}
}

func testCampaignNotFound(t *testing.T, s cordon.Store) {
	_, err := campaigns(t, s).Campaign(t.Context(), cordon.NewID("c"))
	checkErr(t, "Campaign", err, cordon.ErrNotFound)
}

func testListCampaigns(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	// Created out of order, so a backend that lists in insertion order fails.
	middle := mustCreateCampaign(t, cs, newCampaign("middle", at(time.Hour)))
	oldest := mustCreateCampaign(t, cs, newUpgradeCampaign("oldest", at(0)))
	newest := mustCreateCampaign(t, cs, newCampaign("newest", at(2*time.Hour)))
	mustTransition(t, cs, middle.ID, "activate", at(3*time.Hour))

	got, err := cs.Campaigns(t.Context())
	if err != nil {
		t.Fatalf("Campaigns: %v", err)
	}
	want := []*cordon.Campaign{stored(newest), stored(middle), stored(oldest)}
	want[1].State, want[1].Updated, want[1].Activated = cordon.StateActive, at(3*time.Hour), at(3*time.Hour)
	if !slices.Equal(campaignIDs(got), campaignIDs(want)) {
		t.Fatalf("Campaigns: got ids %q, want %q (newest first)", campaignIDs(got), campaignIDs(want))
	}
	for i := range want {
		if d := campaignDiff(got[i], want[i]); d != "" {
			t.Errorf("Campaigns[%d]: %s", i, d)
		}
	}
}

func testListCampaignsEmpty(t *testing.T, s cordon.Store) {
	got, err := campaigns(t, s).Campaigns(t.Context())
	if err != nil || len(got) != 0 {
		t.Errorf("Campaigns of an empty store: got %q, %v; want none, nil", campaignIDs(got), err)
	}
}

// testTransitions tries every action of the lifecycle from every state:
// the legal ones move the campaign, the others are a conflict that changes
// nothing, neither the campaign, its trail nor the policy version.
func testTransitions(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	cs := campaigns(t, s)
	for _, from := range states {
		for _, l := range moves {
			legal := slices.Contains(l.from, from)
			t.Run(string(from)+"/"+l.action, func(t *testing.T) {
				c := mustCreateCampaign(t, cs, newCampaign(string(from)+"/"+l.action, at(0)))
				for i, action := range pathTo[from] {
					mustTransition(t, cs, c.ID, action, at(time.Duration(i+1)*time.Hour))
				}
				before := mustCampaign(t, cs, c.ID)
				if before.State != from {
					t.Fatalf("campaign after %q: got state %q, want %q", pathTo[from], before.State, from)
				}
				trailBefore, err := cs.Trail(ctx, c.ID)
				if err != nil {
					t.Fatalf("Trail: %v", err)
				}
				version := mustPolicyVersion(t, cs)

				got, v, err := cs.TransitionCampaign(ctx, c.ID, l.from, l.to, trailEntry(l.action, at(10*time.Hour)))
				if legal {
					if err != nil {
						t.Fatalf("%s a %s campaign: got error %v, want nil", l.action, from, err)
					}
					if got.State != l.to || v <= version {
						t.Errorf("%s a %s campaign: got state %q, version %d; want %q, a version above %d", l.action, from, got.State, v, l.to, version)
					}
					return
				}
				if code := cordon.ErrorCode(err); code != cordon.ECodeConflict {
					t.Errorf("%s a %s campaign: got error %v (code %q), want code %q", l.action, from, err, code, cordon.ECodeConflict)
				}
				if d := campaignDiff(mustCampaign(t, cs, c.ID), before); d != "" {
					t.Errorf("campaign after the refused %s: %s", l.action, d)
				}
				if trail, err := cs.Trail(ctx, c.ID); err != nil || len(trail) != len(trailBefore) {
					t.Errorf("Trail after the refused %s: got %d entries, %v; want %d, nil", l.action, len(trail), err, len(trailBefore))
				}
				if after := mustPolicyVersion(t, cs); after != version {
					t.Errorf("PolicyVersion after the refused %s: got %d, want %d unchanged", l.action, after, version)
				}
			})
		}
	}
}

func testTransitionNotFound(t *testing.T, s cordon.Store) {
	_, _, err := campaigns(t, s).TransitionCampaign(t.Context(), cordon.NewID("c"), []cordon.State{cordon.StateDraft}, cordon.StateActive, trailEntry("activate", at(0)))
	checkErr(t, "TransitionCampaign of an unknown campaign", err, cordon.ErrNotFound)
}

// The campaign returned is the campaign as stored after the transition.
func testTransitionReturnsStored(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	c := mustCreateCampaign(t, cs, newCampaign("x", at(0)))
	for i, action := range []string{"activate", "pause", "resume", "complete"} {
		got, _ := mustTransition(t, cs, c.ID, action, at(time.Duration(i+1)*time.Hour).In(elsewhere()))
		if d := campaignDiff(got, mustCampaign(t, cs, c.ID)); d != "" {
			t.Errorf("%s returned a campaign unlike the stored one (got returned, want stored): %s", action, d)
		}
	}
}

// Activated is set by the first activation and kept by every resume;
// Ended is set when the campaign completes or is cancelled.
func testLifecycleTimes(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	tests := []struct {
		name    string
		actions []string
		ended   bool
	}{
		{"resumed twice", []string{"activate", "pause", "resume", "pause", "resume"}, false},
		{"paused", []string{"activate", "pause"}, false},
		{"completed", []string{"activate", "pause", "resume", "complete"}, true},
		{"completed while paused", []string{"activate", "pause", "complete"}, true},
		{"cancelled", []string{"activate", "pause", "resume", "cancel"}, true},
		{"cancelled draft", []string{"cancel"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCreateCampaign(t, cs, newCampaign(tt.name, at(0)))
			want := stored(c)
			for i, action := range tt.actions {
				when := at(time.Duration(i+1) * time.Hour)
				mustTransition(t, cs, c.ID, action, when.In(elsewhere()))
				want.Updated = when
				if action == "activate" {
					want.Activated = when
				}
			}
			want.State = moveOf(t, tt.actions[len(tt.actions)-1]).to
			if tt.ended {
				want.Ended = want.Updated
			}
			if d := campaignDiff(mustCampaign(t, cs, c.ID), want); d != "" {
				t.Errorf("Campaign after %q: %s", tt.actions, d)
			}
		})
	}
}

// The policy version strictly increases on every transition, of any
// campaign, and PolicyVersion reads the latest.
func testPolicyVersion(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	a := mustCreateCampaign(t, cs, newCampaign("a", at(0)))
	b := mustCreateCampaign(t, cs, newUpgradeCampaign("b", at(time.Minute)))
	steps := []struct {
		id     string
		action string
	}{
		{a.ID, "activate"}, {b.ID, "activate"}, {a.ID, "pause"}, {a.ID, "resume"},
		{b.ID, "pause"}, {a.ID, "complete"}, {b.ID, "cancel"},
	}
	last := mustPolicyVersion(t, cs)
	for i, st := range steps {
		_, v := mustTransition(t, cs, st.id, st.action, at(time.Duration(i+1)*time.Hour))
		if v <= last {
			t.Errorf("step %d (%s): got version %d, want above %d", i, st.action, v, last)
		}
		if got := mustPolicyVersion(t, cs); got != v {
			t.Errorf("PolicyVersion after step %d (%s): got %d, want %d", i, st.action, got, v)
		}
		last = v
	}
}

func testActiveCampaigns(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	cs := campaigns(t, s)
	want := map[string]*cordon.Campaign{}
	for i, state := range states {
		c := mustCreateCampaign(t, cs, newCampaign(string(state), at(time.Duration(i)*time.Minute)))
		for j, action := range pathTo[state] {
			mustTransition(t, cs, c.ID, action, at(time.Duration(j+1)*time.Hour))
		}
		if state == cordon.StateActive || state == cordon.StatePaused {
			want[c.ID] = mustCampaign(t, cs, c.ID)
		}
	}

	got, v, err := cs.ActiveCampaigns(ctx)
	if err != nil {
		t.Fatalf("ActiveCampaigns: %v", err)
	}
	if pv := mustPolicyVersion(t, cs); v != pv {
		t.Errorf("ActiveCampaigns: got version %d, want the policy version %d", v, pv)
	}
	gotIDs, wantIDs := campaignIDs(got), slices.Collect(maps.Keys(want))
	slices.Sort(gotIDs)
	slices.Sort(wantIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("ActiveCampaigns: got ids %q, want %q (the active and the paused)", gotIDs, wantIDs)
	}
	for _, c := range got {
		if d := campaignDiff(c, want[c.ID]); d != "" {
			t.Errorf("ActiveCampaigns: campaign %s: %s", c.ID, d)
		}
	}
}

func testTrail(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	cs := campaigns(t, s)
	c := newCampaign("trail", at(0))
	create := trailEntry("create", at(0).In(elsewhere()))
	create.Actor = "t-first"
	if err := cs.CreateCampaign(ctx, c, create); err != nil {
		t.Fatalf("CreateCampaign: %v", err)
	}
	other := mustCreateCampaign(t, cs, newCampaign("other", at(0)))
	mustTransition(t, cs, other.ID, "activate", at(30*time.Minute))

	want := []*cordon.TrailEntry{{CampaignID: c.ID, Action: "create", Actor: "t-first", At: at(0), Document: create.Document}}
	for i, action := range []string{"activate", "pause", "resume", "cancel"} {
		e := trailEntry(action, at(time.Duration(i+1)*time.Hour))
		e.Actor = fmt.Sprintf("t-%d", i)
		l := moveOf(t, action)
		if _, _, err := cs.TransitionCampaign(ctx, c.ID, l.from, l.to, e); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		want = append(want, &cordon.TrailEntry{CampaignID: c.ID, Action: action, Actor: e.Actor, At: e.At, Document: e.Document})
	}
	// A refused transition leaves no entry.
	if _, _, err := transition(t, cs, c.ID, "resume", at(9*time.Hour)); err == nil {
		t.Fatalf("resume a cancelled campaign: got nil error, want a conflict")
	}

	got, err := cs.Trail(ctx, c.ID)
	if err != nil {
		t.Fatalf("Trail: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Trail: got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if d := trailDiff(got[i], want[i]); d != "" {
			t.Errorf("Trail[%d]: %s", i, d)
		}
	}
}

func testTrailUnknown(t *testing.T, s cordon.Store) {
	got, err := campaigns(t, s).Trail(t.Context(), cordon.NewID("c"))
	if err != nil || len(got) != 0 {
		t.Errorf("Trail of an unknown campaign: got %d entries, %v; want none, nil", len(got), err)
	}
}

// testAutoRampPace: an auto ramp's settings and pace come back as stored,
// every point to the nanosecond the control plane wrote, after the
// activation too: a restarted node, and every gate's snapshot, admit each
// user at the instant the node that set the pace did.
func testAutoRampPace(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	c := newCampaign("auto", at(0))
	start := at(time.Hour).In(elsewhere())
	c.Ramp = &cordon.Ramp{Start: start, Duration: 72 * time.Hour, Mode: cordon.RampAuto, TargetUtilisation: 0.7,
		Pace: &cordon.Pace{Points: []cordon.PacePoint{
			{At: start.UTC()},
			{At: start.Add(90*time.Second + 123456789).UTC(), Share: 0.123456789012345},
			{At: start.Add(time.Hour + 1).UTC(), Share: 0.5},
		}, Rate: 1.0 / 3600, Why: "38.0 re-logins/s of headroom"}}
	mustCreateCampaign(t, cs, c)
	mustTransition(t, cs, c.ID, "activate", at(time.Minute))
	for _, got := range []*cordon.Campaign{mustCampaign(t, cs, c.ID), activeOne(t, cs, c.ID)} {
		r := got.Ramp
		if r == nil || !r.Auto() || r.Duration != 72*time.Hour || r.TargetUtilisation != 0.7 || r.Pace == nil {
			t.Fatalf("ramp read back: %+v", r)
		}
		p, want := r.Pace, c.Ramp.Pace
		if p.Rate != want.Rate || p.Why != want.Why || len(p.Points) != len(want.Points) {
			t.Fatalf("pace read back: %+v, want %+v", p, want)
		}
		for i := range p.Points {
			if !p.Points[i].At.Equal(want.Points[i].At) || p.Points[i].Share != want.Points[i].Share {
				t.Errorf("point %d: %v %v, want %v %v", i, p.Points[i].At, p.Points[i].Share, want.Points[i].At, want.Points[i].Share)
			}
		}
	}
}

func activeOne(t *testing.T, cs cordon.CampaignStore, id string) *cordon.Campaign {
	t.Helper()
	all, _, err := cs.ActiveCampaigns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("%s not among the active campaigns", id)
	return nil
}

// testSetCampaignPace: a control plane replaces an auto ramp's pace as a
// compare-and-set with the policy version bump, keeping every point; a
// draft, a fixed ramp, a stale read, a pace that drops, moves or lowers a
// point, and an unknown campaign are refused; of two control planes
// pacing from the same read at once, exactly one wins.
func testSetCampaignPace(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	ctx := t.Context()
	start := at(time.Hour).UTC()
	auto := newCampaign("auto", at(0))
	auto.Ramp = &cordon.Ramp{Start: start, Duration: 72 * time.Hour, Mode: cordon.RampAuto, TargetUtilisation: 0.8}
	mustCreateCampaign(t, cs, auto)
	first := &cordon.Pace{Points: []cordon.PacePoint{{At: start}, {At: start.Add(time.Minute), Share: 0.01}}, Rate: 0.001, Why: "first"}
	if _, err := cs.SetCampaignPace(ctx, auto.ID, nil, first); cordon.ErrorCode(err) != cordon.ECodeConflict {
		t.Errorf("pacing a draft: %v, want a conflict", err)
	}
	mustTransition(t, cs, auto.ID, "activate", at(time.Minute))
	fixed := mustCreateCampaign(t, cs, newCampaign("fixed", at(0)))
	mustTransition(t, cs, fixed.ID, "activate", at(time.Minute))
	if _, err := cs.SetCampaignPace(ctx, fixed.ID, nil, first); cordon.ErrorCode(err) != cordon.ECodeConflict {
		t.Errorf("pacing a fixed ramp: %v, want a conflict", err)
	}
	if _, err := cs.SetCampaignPace(ctx, "c-nobody", nil, first); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("pacing an unknown campaign: %v, want not found", err)
	}
	before := mustPolicyVersion(t, cs)
	v, err := cs.SetCampaignPace(ctx, auto.ID, nil, first)
	if err != nil || v != before+1 {
		t.Fatalf("SetCampaignPace = %d, %v; want version %d", v, err, before+1)
	}
	if got := mustCampaign(t, cs, auto.ID).Ramp.Pace; !cordon.SamePace(got, first) {
		t.Errorf("pace read back %+v, want %+v", got, first)
	}
	if _, err := cs.SetCampaignPace(ctx, auto.ID, nil, first); cordon.ErrorCode(err) != cordon.ECodeConflict {
		t.Errorf("a stale read: %v, want a conflict", err)
	}
	second := &cordon.Pace{Points: append(slices.Clone(first.Points), cordon.PacePoint{At: start.Add(2 * time.Minute), Share: 0.07}), Rate: 0.0005, Why: "second"}
	for _, bad := range []struct {
		name string
		p    *cordon.Pace
	}{
		{"drops a point", &cordon.Pace{Points: first.Points[:1], Rate: 1}},
		{"moves a point", &cordon.Pace{Points: []cordon.PacePoint{{At: start}, {At: start.Add(time.Minute), Share: 0.02}}, Rate: 1}},
		{"falls", &cordon.Pace{Points: append(slices.Clone(first.Points), cordon.PacePoint{At: start.Add(2 * time.Minute), Share: 0.005})}},
		{"nothing", nil},
	} {
		if _, err := cs.SetCampaignPace(ctx, auto.ID, first, bad.p); err == nil {
			t.Errorf("a pace that %s was stored", bad.name)
		}
	}
	if got := mustCampaign(t, cs, auto.ID).Ramp.Pace; !cordon.SamePace(got, first) {
		t.Fatalf("a refused pace changed the stored one: %+v", got)
	}
	// Two control planes, one read.
	errs := make(chan error, 2)
	for _, why := range []string{"a", "b"} {
		go func() {
			p := *second
			p.Why = why
			_, err := cs.SetCampaignPace(ctx, auto.ID, first, &p)
			errs <- err
		}()
	}
	won := 0
	for range 2 {
		if err := <-errs; err == nil {
			won++
		} else if cordon.ErrorCode(err) != cordon.ECodeConflict {
			t.Errorf("the loser got %v, want a conflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d control planes won the same read, want 1", won)
	}
	if got := mustCampaign(t, cs, auto.ID).Ramp.Pace; got == nil || len(got.Points) != 3 || (got.Why != "a" && got.Why != "b") {
		t.Errorf("pace after the race: %+v", got)
	}
}

// testAdmitEarly: a ramp's priority users (stored at creation) and the
// early admissions the control plane adds come back as stored; an
// account's first early admission stands (a second, earlier or later, is
// ignored, so an admission never moves and nobody leaves); additions bump
// the policy version once, none when nothing was added; a draft, a ramp
// that does not put unusual addresses first, a bad entry and an unknown
// campaign are refused; two nodes adding at once both keep theirs.
func testAdmitEarly(t *testing.T, s cordon.Store) {
	cs := campaigns(t, s)
	ctx := t.Context()
	start := at(time.Hour).UTC()
	c := newCampaign("prio", at(0))
	c.Ramp = &cordon.Ramp{Start: start, Duration: 72 * time.Hour, Mode: cordon.RampAuto, TargetUtilisation: 0.8,
		Priority: &cordon.RampPriority{UsersFromReport: "r-1", UnusualAddresses: true}}
	c.Early = []cordon.EarlyAdmission{{Account: "u-read", Why: cordon.AdmitPriority}}
	mustCreateCampaign(t, cs, c)
	seen := at(2 * time.Hour).In(elsewhere())
	add := []cordon.EarlyAdmission{{Account: "u-new", At: seen, Why: cordon.AdmitUnusualAddress}}
	if _, _, err := cs.AdmitEarly(ctx, c.ID, add); cordon.ErrorCode(err) != cordon.ECodeConflict {
		t.Errorf("early admission into a draft: %v, want a conflict", err)
	}
	mustTransition(t, cs, c.ID, "activate", at(time.Minute))
	plain := newCampaign("plain", at(0))
	plain.Ramp = &cordon.Ramp{Start: start, Duration: time.Hour}
	mustCreateCampaign(t, cs, plain)
	mustTransition(t, cs, plain.ID, "activate", at(time.Minute))
	if _, _, err := cs.AdmitEarly(ctx, plain.ID, add); cordon.ErrorCode(err) != cordon.ECodeConflict {
		t.Errorf("early admission into a ramp without unusual_addresses: %v, want a conflict", err)
	}
	if _, _, err := cs.AdmitEarly(ctx, "c-nobody", add); cordon.ErrorCode(err) != cordon.ECodeNotFound {
		t.Errorf("early admission into an unknown campaign: %v, want not found", err)
	}
	for _, bad := range [][]cordon.EarlyAdmission{
		{{Account: "", At: seen, Why: cordon.AdmitUnusualAddress}},
		{{Account: "u-x", Why: cordon.AdmitUnusualAddress}},
		{{Account: "u-x", At: seen, Why: cordon.AdmitPriority}},
	} {
		if _, _, err := cs.AdmitEarly(ctx, c.ID, bad); cordon.ErrorCode(err) != cordon.ECodeInvalid {
			t.Errorf("early admission %+v: %v, want invalid", bad, err)
		}
	}
	before := mustPolicyVersion(t, cs)
	n, v, err := cs.AdmitEarly(ctx, c.ID, add)
	if err != nil || n != 1 || v != before+1 {
		t.Fatalf("AdmitEarly = %d, %d, %v; want 1 added at version %d", n, v, err, before+1)
	}
	// Again, earlier and later, and the priority user: nothing moves.
	again := []cordon.EarlyAdmission{{Account: "u-new", At: seen.Add(-time.Hour), Why: cordon.AdmitUnusualAddress},
		{Account: "u-new", At: seen.Add(time.Hour), Why: cordon.AdmitUnusualAddress},
		{Account: "u-read", At: seen, Why: cordon.AdmitUnusualAddress}}
	if n, v2, err := cs.AdmitEarly(ctx, c.ID, again); err != nil || n != 0 || v2 != v {
		t.Errorf("AdmitEarly of accounts already in = %d, %d, %v; want 0 added, version %d unchanged", n, v2, err, v)
	}
	for _, got := range []*cordon.Campaign{mustCampaign(t, cs, c.ID), activeOne(t, cs, c.ID)} {
		want := []cordon.EarlyAdmission{{Account: "u-read", Why: cordon.AdmitPriority}, {Account: "u-new", At: seen.UTC(), Why: cordon.AdmitUnusualAddress}}
		if len(got.Early) != len(want) {
			t.Fatalf("early read back %+v, want %+v", got.Early, want)
		}
		for i := range want {
			if g := got.Early[i]; g.Account != want[i].Account || !g.At.Equal(want[i].At) || g.Why != want[i].Why || (!g.At.IsZero() && g.At.Location() != time.UTC) {
				t.Errorf("early %d read back %+v, want %+v (in UTC)", i, g, want[i])
			}
		}
		if p := got.Ramp.Priority; p == nil || p.UsersFromReport != "r-1" || !p.UnusualAddresses {
			t.Errorf("priority read back %+v", p)
		}
	}
	// Two nodes at once: both additions kept.
	errs := make(chan error, 2)
	for _, a := range []string{"u-a", "u-b"} {
		go func() {
			_, _, err := cs.AdmitEarly(ctx, c.ID, []cordon.EarlyAdmission{{Account: a, At: seen, Why: cordon.AdmitUnusualAddress}})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent AdmitEarly: %v", err)
		}
	}
	if got := mustCampaign(t, cs, c.ID).Early; len(got) != 4 {
		t.Errorf("after two nodes added one each: %+v, want 4 entries", got)
	}
}

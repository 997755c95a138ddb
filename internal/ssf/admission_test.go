package ssf

import (
	"fmt"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// TestAdmissionsFollowTheRamp: a ramped reauth campaign naming 200 users
// sends account-credential-change-required to each user once the ramp
// admits them — not before, not twice — and nothing for users of an
// upgrade campaign.
func TestAdmissionsFollowTheRamp(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	start := f.clk.Now()
	var users []string
	for i := range 200 {
		users = append(users, fmt.Sprintf("u-%03d", i))
	}
	ramp := &cordon.Campaign{ID: "c-ramp", Kind: cordon.KindReauth, Name: "r", State: cordon.StateDraft, Created: start, Updated: start,
		Ramp: &cordon.Ramp{Start: start, Duration: 100 * time.Second}, Cohort: cordon.Cohort{Users: users}, UserIDs: users}
	up := &cordon.Campaign{ID: "c-up", Kind: cordon.KindUpgrade, Name: "u", State: cordon.StateDraft, Created: start, Updated: start,
		Cohort: cordon.Cohort{Users: users}, UserIDs: users,
		Upgrade: &cordon.UpgradeSpec{MinVersion: "9.0.0", Mode: cordon.UpgradeImmediate, URLs: map[string]string{"official": "https://example.com"}}}
	for _, c := range []*cordon.Campaign{ramp, up} {
		if err := f.st.CreateCampaign(ctx, c, &cordon.TrailEntry{CampaignID: c.ID, Action: "create", Actor: "t", At: start}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.st.TransitionCampaign(ctx, c.ID, []cordon.State{cordon.StateDraft}, cordon.StateActive, &cordon.TrailEntry{CampaignID: c.ID, Action: "activate", Actor: "t", At: start}); err != nil {
			t.Fatal(err)
		}
	}
	camps, v, err := f.st.ActiveCampaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := decision.Compile(camps, v, start)
	if err != nil {
		t.Fatal(err)
	}
	f.tr.cfg.Campaigns = func() *decision.Policy { return pol }
	s, err := f.tr.Create(ctx, "rp", &Request{Delivery: &Delivery{Method: cordon.SSFDeliveryPoll}, EventsRequested: &[]string{EventChangeRequired}})
	if err != nil {
		t.Fatal(err)
	}
	admittedBy := func(at time.Time) int {
		n := 0
		for _, u := range users {
			if adm, _ := pol.Admission(ramp.ID, u); !adm.After(at) {
				n++
			}
		}
		return n
	}
	for _, step := range []time.Duration{0, 30 * time.Second, 60 * time.Second, 120 * time.Second, 180 * time.Second} {
		f.clk.Set(start.Add(step))
		if err := f.tr.Step(ctx); err != nil {
			t.Fatal(err)
		}
		want := admittedBy(f.clk.Now())
		if got := f.queued(t, s); got != want {
			t.Errorf("at +%v: %d SETs queued, want %d (the users the ramp admitted)", step, got, want)
		}
	}
	if n := f.queued(t, s); n != 200 {
		t.Errorf("after the ramp: %d SETs, want 200 (each user once)", n)
	}
	if mid := admittedBy(start.Add(30 * time.Second)); mid == 0 || mid == 200 {
		t.Errorf("the ramp admitted %d of 200 at 30 %%: the test needs a partial share", mid)
	}
}

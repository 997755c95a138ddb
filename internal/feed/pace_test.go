package feed

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
)

// TestPaceTravels: an auto campaign's pace goes to the gates inside the
// policy event, and the policy a gate compiles from the wire admits every
// user at the instant the server's does.
func TestPaceTravels(t *testing.T) {
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	c := &cordon.Campaign{ID: "c-auto", Kind: cordon.KindReauth, Name: "breach", State: cordon.StateActive, Activated: start,
		Ramp: &cordon.Ramp{Start: start, Duration: 72 * time.Hour, Mode: cordon.RampAuto, TargetUtilisation: 0.8, Pace: &cordon.Pace{
			Points: []cordon.PacePoint{{At: start}, {At: start.Add(90*time.Second + 123456789), Share: 0.4}, {At: start.Add(time.Hour), Share: 0.41}},
			Rate:   0.0001, Why: "w"}}}
	b, err := json.Marshal(&Event{Kind: KindPolicy, Policy: WirePolicy(9, []*cordon.Campaign{c})})
	if err != nil {
		t.Fatal(err)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	server, err := decision.Compile([]*cordon.Campaign{c}, 9, start)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := decision.Compile(back.Policy.DomainCampaigns(), 9, start)
	if err != nil {
		t.Fatal(err)
	}
	if p := back.Policy.Campaigns[0].Ramp.Pace; p == nil || len(p.Points) != 3 || p.Rate != 0.0001 {
		t.Fatalf("pace on the wire: %+v", p)
	}
	for i := range 2000 {
		u := fmt.Sprintf("u-%d", i)
		a, _ := server.Admission(c.ID, u)
		g, _ := gate.Admission(c.ID, u)
		if !a.Equal(g) {
			t.Fatalf("%s: server admits at %v, the gate at %v", u, a, g)
		}
	}
}

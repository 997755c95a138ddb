package decision

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func after(pre string, satisfied bool, per string) func(*cordon.Campaign) {
	return func(c *cordon.Campaign) { c.After = &cordon.After{Campaign: pre, Satisfied: satisfied, Per: per} }
}

// afterCase is one row of testdata/after.golden: a session (an install,
// with the facts it logged in with), what this request or check-in claims,
// and the campaigns. Each row records every decision a campaign that waits
// for another changes: the request (Decide), the offline check-in of a
// grant issued before the re-key (DecideOffline), the download of a new
// grant (DecideDownload), and whether progress counts the session as
// waiting for the dependent campaign.
type afterCase struct {
	name      string
	session   *cordon.Session
	client    cordon.ClientFacts
	campaigns []*cordon.Campaign
}

var (
	grantIssued = base.Add(-2 * time.Hour) // before every activation
	android     = cordon.Cohort{Platforms: []string{"android"}}
	claim85     = cordon.ClientFacts{Platform: "android", Version: "8.5.0", Source: "play", Device: "d-1"}
	claim84     = cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "play", Device: "d-1"}
)

func afterCases() []afterCase {
	up := func(opts ...func(*cordon.Campaign)) *cordon.Campaign {
		return active("c-up", cordon.KindUpgrade, android, append([]func(*cordon.Campaign){upgrade("8.5.0", "immediate")}, opts...)...)
	}
	upFlex := func(opts ...func(*cordon.Campaign)) *cordon.Campaign {
		return active("c-up", cordon.KindUpgrade, android, append([]func(*cordon.Campaign){upgrade("8.5.0", "flexible")}, opts...)...)
	}
	rekey := func(opts ...func(*cordon.Campaign)) *cordon.Campaign {
		return active("c-rekey", cordon.KindOfflineRekey, cordon.Cohort{}, append([]func(*cordon.Campaign){after("c-up", true, cordon.AfterPerInstall)}, opts...)...)
	}
	oldInstall := session("android", "8.4.1", "play", old)
	newInstall := session("android", "8.5.0", "play", old)
	none := cordon.ClientFacts{}
	cs := func(c ...*cordon.Campaign) []*cordon.Campaign { return c }
	return []afterCase{
		{"upgrade active, unsatisfied, per install: the old install waits", oldInstall, claim84, cs(up(), rekey())},
		{"upgrade active, satisfied, per install: the new install is re-keyed", newInstall, claim85, cs(up(), rekey())},
		{"upgrade active flexible, unsatisfied: the download asks for the update", oldInstall, claim84, cs(upFlex(), rekey())},
		{"upgrade active flexible, satisfied: the download is allowed", newInstall, claim85, cs(upFlex(), rekey())},
		{"hostile: an old install's token claims the new version", oldInstall, claim85, cs(up(), rekey())},
		{"hostile: flexible, an old install's token claims the new version", oldInstall, claim85, cs(upFlex(), rekey())},
		{"hostile: a new install's check-in claims the old version", newInstall, claim84, cs(up(), rekey())},
		{"hostile: a claim of another old version does not release", oldInstall, cordon.ClientFacts{Platform: "android", Version: "8.4.2", Source: "play", Device: "d-1"}, cs(up(), rekey())},
		{"hostile: a claim from another platform cannot release", oldInstall, cordon.ClientFacts{Platform: "ios", Version: "9.0.0", Source: "appstore", Device: "d-1"}, cs(up(), rekey())},
		{"hostile: no client header at all", oldInstall, none, cs(up(), rekey())},
		{"upgrade paused, unsatisfied: still waits", oldInstall, claim84, cs(up(state(cordon.StatePaused)), rekey())},
		{"upgrade paused, satisfied: released", newInstall, claim85, cs(up(state(cordon.StatePaused)), rekey())},
		{"upgrade completed: releases everyone", oldInstall, claim84, cs(up(state(cordon.StateCompleted)), rekey())},
		{"upgrade cancelled: never releases, unsatisfied", oldInstall, claim84, cs(up(state(cordon.StateCancelled)), rekey())},
		{"upgrade cancelled: never releases, satisfied", newInstall, claim85, cs(up(state(cordon.StateCancelled)), rekey())},
		{"upgrade still a draft: holds", newInstall, claim85, cs(up(state(cordon.StateDraft)), rekey())},
		{"prerequisite missing from the policy: holds", newInstall, claim85, cs(rekey())},
		{"campaign after itself: holds", newInstall, claim85, cs(active("c-rekey", cordon.KindOfflineRekey, cordon.Cohort{}, after("c-rekey", true, cordon.AfterPerInstall)))},
		{"after an offline_rekey: holds", newInstall, claim85, cs(active("c-up", cordon.KindOfflineRekey, cordon.Cohort{}), rekey())},
		{"install outside the upgrade's cohort: released", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore", Device: "d-1"}, cs(up(), rekey())},
		{"ramped upgrade not at the user yet, unsatisfied: waits", oldInstall, claim84, cs(up(ramp(base.Add(time.Hour), time.Hour)), rekey())},
		{"ramped upgrade not at the user yet, satisfied: released", newInstall, claim85, cs(up(ramp(base.Add(time.Hour), time.Hour)), rekey())},
		{"ramped re-key not at the user yet: nothing to wait for", newInstall, claim85, cs(up(), rekey(ramp(base.Add(time.Hour), time.Hour)))},
		{"satisfied false, the upgrade's ramp has not reached the user: waits", oldInstall, claim84,
			cs(up(ramp(base.Add(time.Hour), time.Hour)), rekey(after("c-up", false, cordon.AfterPerUser)))},
		{"satisfied false, the upgrade's ramp has reached the user: released, old or not", oldInstall, claim84,
			cs(up(ramp(base.Add(-3*time.Hour), time.Hour)), rekey(after("c-up", false, cordon.AfterPerUser)))},
		{"satisfied false, the upgrade paused: admission still orders", oldInstall, claim84,
			cs(up(state(cordon.StatePaused)), rekey(after("c-up", false, cordon.AfterPerUser)))},
		{"satisfied false, the upgrade cancelled: holds", oldInstall, claim84,
			cs(up(state(cordon.StateCancelled)), rekey(after("c-up", false, cordon.AfterPerUser)))},
		{"password_reset per user, not reset: waits", session("android", "8.4.1", "play", old), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{}), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"password_reset per user, reset (a login after the admission): released", session("android", "8.4.1", "play", recent), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{}), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"password_reset per user, ramped, not reached: waits", session("android", "8.4.1", "play", recent), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{}, ramp(base.Add(time.Hour), time.Hour)), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"password_reset per user, paused, not reset: waits", session("android", "8.4.1", "play", old), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{}, state(cordon.StatePaused)), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"password_reset per user, paused, reset: released", session("android", "8.4.1", "play", recent), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{}, state(cordon.StatePaused)), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"password_reset per user, completed: releases everyone", session("android", "8.4.1", "play", old), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{}, state(cordon.StateCompleted)), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"password_reset per user, cancelled: never releases", session("android", "8.4.1", "play", recent), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{}, state(cordon.StateCancelled)), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"password_reset per user, outside its cohort: released", session("android", "8.4.1", "play", old), claim84,
			cs(active("c-up", cordon.KindPasswordReset, cordon.Cohort{Platforms: []string{"ios"}}), rekey(after("c-up", true, cordon.AfterPerUser)))},
		{"ramped re-key past the user, upgrade unsatisfied: waits", oldInstall, claim84,
			cs(up(), rekey(ramp(base.Add(-3*time.Hour), time.Hour)))},
		{"ramped re-key past the user, upgrade satisfied: re-keyed", newInstall, claim85,
			cs(up(), rekey(ramp(base.Add(-3*time.Hour), time.Hour)))},
		{"both ramped, upgrade not at the user yet, satisfied: re-keyed", newInstall, claim85,
			cs(up(ramp(base.Add(time.Hour), time.Hour)), rekey(ramp(base.Add(-3*time.Hour), time.Hour)))},
		{"reauth per install, not logged in again: waits", oldInstall, claim84,
			cs(active("c-up", cordon.KindReauth, cordon.Cohort{}), rekey())},
		{"reauth per install, logged in again: released", session("android", "8.4.1", "play", recent), claim84,
			cs(active("c-up", cordon.KindReauth, cordon.Cohort{}), rekey())},
		{"reauth after upgrade: the old install is asked to upgrade first", oldInstall, claim84,
			cs(up(), active("c-again", cordon.KindReauth, cordon.Cohort{}, after("c-up", true, cordon.AfterPerInstall)))},
		{"reauth after upgrade: the upgraded install is asked to log in again", newInstall, claim85,
			cs(up(), active("c-again", cordon.KindReauth, cordon.Cohort{}, after("c-up", true, cordon.AfterPerInstall)))},
		{"reauth after upgrade: an in-place update must still log in", oldInstall, claim85,
			cs(up(), active("c-again", cordon.KindReauth, cordon.Cohort{}, after("c-up", true, cordon.AfterPerInstall)))},
	}
}

func TestAfterGolden(t *testing.T) {
	var buf bytes.Buffer
	for _, c := range afterCases() {
		p := policy(t, c.campaigns...)
		s := c.session
		in := Input{Session: s, Client: c.client, Now: base, Policy: p}
		off := OfflineInput{AccountID: s.AccountID, Facts: s.Facts, AuthTime: s.AuthTime, Client: c.client, Issued: grantIssued, Now: base, Policy: p}
		dependent := c.campaigns[len(c.campaigns)-1].ID
		line, err := json.Marshal(struct {
			Case     string   `json:"case"`
			Decide   Decision `json:"decide"`
			Offline  Decision `json:"offline_check_in"`
			Download Decision `json:"download"`
			Waiting  bool     `json:"waiting"`
		}{c.name, Decide(&in), DecideOffline(&off), DecideDownload(&in), p.Waiting(dependent, s, base)})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join("testdata", "after.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update once): %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("decisions differ from %s (go test -update rewrites it after review)\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
}

// BenchmarkDecideAfter is BenchmarkDecide/campaigns=100 with and without
// prerequisites: "dependencies=0" is the same 100 campaigns as
// "dependencies=half", where every other campaign waits for an upgrade
// campaign of the set (satisfied: true, per install), the costlier rule.
func BenchmarkDecideAfter(b *testing.B) {
	for _, deps := range []string{"0", "half"} {
		b.Run("dependencies="+deps, func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 8))
			cs := randomCampaigns(r, 100)
			if deps == "half" {
				var ups []string
				for _, c := range cs {
					if c.Kind == cordon.KindUpgrade {
						ups = append(ups, c.ID)
					}
				}
				for i, c := range cs {
					if i%2 == 1 && c.Kind != cordon.KindUpgrade {
						c.After = &cordon.After{Campaign: ups[i%len(ups)], Satisfied: true, Per: cordon.AfterPerInstall}
					}
				}
			}
			p := policy(b, cs...)
			sessions := randomSessions(r, 256)
			ins := make([]Input, len(sessions))
			for i, s := range sessions {
				ins[i] = Input{Session: s, Now: base, Policy: p}
				Decide(&ins[i])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = Decide(&ins[i&255])
				i++
			}
		})
	}
}

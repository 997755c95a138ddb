package campaign_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/memstore"
)

// The campaign service's rules, on the in-memory store with a fake clock.

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type env struct {
	svc   *campaign.Service
	store *memstore.Store
	clk   *clock.Fake
	ids   map[string]string // username to account id
}

func newEnv(t *testing.T, users ...string) *env {
	t.Helper()
	e := &env{store: memstore.New(), clk: clock.NewFake(t0), ids: map[string]string{}}
	for i, u := range users {
		a := &cordon.Account{ID: fmt.Sprintf("u-%026d", i+1), Username: u, PasswordHash: "x", PasswordChangedAt: t0, CreatedAt: t0}
		if err := e.store.CreateAccount(t.Context(), a); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		e.ids[u] = a.ID
	}
	svc, err := campaign.New(t.Context(), e.store, e.clk, nil)
	if err != nil {
		t.Fatalf("campaign.New: %v", err)
	}
	e.svc = svc
	return e
}

// session stores a live session of user with facts f, authenticated now,
// its refresh family ending after ttl.
func (e *env) session(t *testing.T, user string, f cordon.ClientFacts, ttl time.Duration) *cordon.Session {
	t.Helper()
	now := e.clk.Now()
	s := &cordon.Session{ID: cordon.NewID("s"), AccountID: e.ids[user], Facts: f, AuthTime: now, CreatedAt: now, LastSeenAt: now}
	rt := &cordon.RefreshToken{Hash: []byte(rand.Text()), SessionID: s.ID, CreatedAt: now, IdleExpiresAt: now.Add(ttl), AbsoluteExpiresAt: now.Add(ttl)}
	if err := e.store.CreateSession(t.Context(), s, rt); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

func (e *env) create(t *testing.T, doc string) *cordon.Campaign {
	t.Helper()
	c, err := e.svc.Create(t.Context(), []byte(doc), "json", "a-admin")
	if err != nil {
		t.Fatalf("Create(%s): %v", doc, err)
	}
	return c
}

func (e *env) transition(t *testing.T, id, action string) *cordon.Campaign {
	t.Helper()
	c, err := e.svc.Transition(t.Context(), id, action, "a-admin")
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return c
}

func codeOf(err error) (code, field string) {
	var e *cordon.Error
	if errors.As(err, &e) {
		return e.Code, e.Field
	}
	return "", ""
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		wantUsers []string // usernames whose ids the cohort holds
		wantCode  string
		wantField string
	}{
		{name: "everyone", doc: `{"kind":"reauth","name":"everyone logs in again"}`},
		{name: "users by name and id, deduplicated", doc: `{"kind":"password_reset","name":"leaked","cohort":{"users":["bob","alice","u-00000000000000000000000001","bob"]}}`,
			wantUsers: []string{"alice", "bob"}},
		{name: "a user case-folded", doc: `{"kind":"reauth","name":"r","cohort":{"users":["ALICE"]}}`, wantUsers: []string{"alice"}},
		{name: "an unknown user is refused, never dropped", doc: `{"kind":"reauth","name":"r","cohort":{"users":["alice","mallory"]}}`,
			wantCode: cordon.ECodeUnprocessable, wantField: "cohort.users"},
		{name: "an unknown report", doc: `{"kind":"reauth","name":"r","cohort":{"users_from_report":"r-nothing"}}`,
			wantCode: cordon.ECodeUnprocessable, wantField: "cohort.users_from_report"},
		{name: "users from a saved report", doc: `{"kind":"reauth","name":"r","cohort":{"users_from_report":"r-saved"}}`, wantUsers: []string{"alice", "carol"}},
		{name: "users from a report and a list", doc: `{"kind":"reauth","name":"r","cohort":{"users":["bob","alice"],"users_from_report":"r-saved"}}`,
			wantUsers: []string{"alice", "bob", "carol"}},
		{name: "an external issuer's user from a report", doc: `{"kind":"reauth","name":"r","cohort":{"users_from_report":"r-external"}}`,
			wantUsers: []string{"ext", "carol"}},
		{name: "a report naming no account", doc: `{"kind":"reauth","name":"r","cohort":{"users_from_report":"r-strangers"}}`,
			wantCode: cordon.ECodeUnprocessable, wantField: "cohort.users_from_report"},
		{name: "unknown kind", doc: `{"kind":"reboot","name":"r"}`, wantCode: cordon.ECodeUnprocessable},
		{name: "unknown field", doc: `{"kind":"reauth","name":"r","cohrt":{}}`, wantCode: cordon.ECodeInvalid},
		{name: "malformed", doc: `{"kind":"reauth",`, wantCode: cordon.ECodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "alice", "bob", "carol")
			e.ids["ext"] = "https://id.example.com#u-9" // an external issuer's user: no account, named as it is
			for id, subjects := range map[string][]string{"r-saved": {"carol", "u-00000000000000000000000001", "ghost"}, "r-strangers": {"ghost", "phantom"},
				"r-external": {"https://id.example.com#u-9", "ghost", "carol", "https://#nobody"}} {
				if err := e.store.SaveAuditReport(t.Context(), &cordon.SavedAuditReport{ID: id, Principals: []string{"svc"}, From: t0, To: t0, Created: t0, Subjects: subjects}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := e.svc.Create(t.Context(), []byte(tt.doc), "json", "a-admin")
			if tt.wantCode != "" {
				if code, field := codeOf(err); code != tt.wantCode || (tt.wantField != "" && field != tt.wantField) {
					t.Fatalf("Create = %v, want %s on %q", err, tt.wantCode, tt.wantField)
				}
				if cs, _ := e.store.Campaigns(t.Context()); len(cs) != 0 {
					t.Errorf("a refused document stored %d campaigns", len(cs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			var want []string
			for _, u := range tt.wantUsers {
				want = append(want, e.ids[u])
			}
			got, err := e.store.Campaign(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != cordon.StateDraft || !got.Created.Equal(t0) || !got.Activated.IsZero() || !slices.Equal(got.UserIDs, want) {
				t.Errorf("stored %s, created %v, activated %v, users %v; want draft, %v, never, %v", got.State, got.Created, got.Activated, got.UserIDs, t0, want)
			}
			trail, _ := e.store.Trail(t.Context(), c.ID)
			if len(trail) != 1 || trail[0].Action != "create" || trail[0].Actor != "a-admin" || string(trail[0].Document) != tt.doc {
				t.Errorf("trail = %+v, want one create by a-admin with the document", trail)
			}
			if p := e.svc.Policy(); p.Campaigns() != 0 {
				t.Errorf("a draft is enforced: policy has %d campaigns", p.Campaigns())
			}
		})
	}
}

func TestTransitions(t *testing.T) {
	tests := []struct {
		name    string
		actions []string // all but the last succeed
		last    string
		want    cordon.State // the state reached; "" when the last is refused
		code    string       // the refusal's code
	}{
		{"activate a draft", nil, "activate", cordon.StateActive, ""},
		{"pause", []string{"activate"}, "pause", cordon.StatePaused, ""},
		{"resume", []string{"activate", "pause"}, "resume", cordon.StateActive, ""},
		{"complete an active one", []string{"activate"}, "complete", cordon.StateCompleted, ""},
		{"complete a paused one", []string{"activate", "pause"}, "complete", cordon.StateCompleted, ""},
		{"cancel a draft", nil, "cancel", cordon.StateCancelled, ""},
		{"cancel a paused one", []string{"activate", "pause"}, "cancel", cordon.StateCancelled, ""},
		{"pause a draft", nil, "pause", "", cordon.ECodeConflict},
		{"resume an active one", []string{"activate"}, "resume", "", cordon.ECodeConflict},
		{"activate twice", []string{"activate"}, "activate", "", cordon.ECodeConflict},
		{"complete a draft", nil, "complete", "", cordon.ECodeConflict},
		{"reactivate a cancelled one", []string{"cancel"}, "activate", "", cordon.ECodeConflict},
		{"cancel a completed one", []string{"activate", "complete"}, "cancel", "", cordon.ECodeConflict},
		{"an unknown action", nil, "delete", "", cordon.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "alice")
			c := e.create(t, `{"kind":"reauth","name":"r"}`)
			for _, a := range tt.actions {
				e.clk.Advance(time.Minute)
				e.transition(t, c.ID, a)
			}
			e.clk.Advance(time.Minute)
			got, err := e.svc.Transition(t.Context(), c.ID, tt.last, "a-admin")
			trail, _ := e.store.Trail(t.Context(), c.ID)
			if tt.want == "" {
				if code, _ := codeOf(err); code != tt.code {
					t.Fatalf("%s = %v, want %s", tt.last, err, tt.code)
				}
				if len(trail) != 1+len(tt.actions) {
					t.Errorf("trail has %d entries after a refused %s, want %d", len(trail), tt.last, 1+len(tt.actions))
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.last, err)
			}
			if got.State != tt.want || !got.Updated.Equal(e.clk.Now()) {
				t.Errorf("%s: state %s updated %v, want %s at %v", tt.last, got.State, got.Updated, tt.want, e.clk.Now())
			}
			if last := trail[len(trail)-1]; len(trail) != 2+len(tt.actions) || last.Action != tt.last || last.Actor != "a-admin" {
				t.Errorf("trail = %+v, want %d entries ending with %s by a-admin", trail, 2+len(tt.actions), tt.last)
			}
			// The policy follows at once: only an active campaign is enforced.
			enforced := 0
			if tt.want == cordon.StateActive {
				enforced = 1
			}
			if p := e.svc.Policy(); p.Campaigns() != enforced {
				t.Errorf("policy enforces %d campaigns in state %s, want %d", p.Campaigns(), tt.want, enforced)
			}
		})
	}
}

// Each transition installs a new policy version at once and tells
// OnPolicy; another node on the same store follows on its next reload.
func TestPolicySwap(t *testing.T) {
	e := newEnv(t, "alice")
	var heard []uint64
	e.svc.OnPolicy = func(p *decision.Policy, cs []*cordon.Campaign) { heard = append(heard, p.Version) }
	other, err := campaign.New(t.Context(), e.store, e.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := e.create(t, `{"kind":"reauth","name":"r"}`)
	steps := []struct {
		action   string
		version  uint64
		enforced int
	}{
		{"activate", 1, 1},
		{"pause", 2, 0},
		{"resume", 3, 1},
		{"cancel", 4, 0},
	}
	for _, st := range steps {
		before := e.svc.Policy()
		e.clk.Advance(time.Second)
		e.transition(t, c.ID, st.action)
		p := e.svc.Policy()
		if p == before || p.Version != st.version || p.Campaigns() != st.enforced {
			t.Errorf("after %s: policy version %d with %d campaigns (swapped %v), want version %d with %d", st.action, p.Version, p.Campaigns(), p != before, st.version, st.enforced)
		}
		if o := other.Policy(); o.Version != st.version-1 {
			t.Errorf("after %s: the other node moved to version %d before it reloaded", st.action, o.Version)
		}
		if err := other.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if o := other.Policy(); o.Version != st.version || o.Campaigns() != st.enforced {
			t.Errorf("after %s: the other node has version %d with %d campaigns, want %d with %d", st.action, o.Version, o.Campaigns(), st.version, st.enforced)
		}
	}
	// A reload with nothing changed installs nothing.
	if err := e.svc.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 2, 3, 4}; !slices.Equal(heard, want) {
		t.Errorf("OnPolicy heard versions %v, want %v", heard, want)
	}
}

func TestPreview(t *testing.T) {
	ios84 := cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, Device: "d1"}
	ios90 := cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "9.0.0", Source: cordon.SourceAppStore, Device: "d2"}
	android := cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.4.0", Source: cordon.SourcePlay, Device: "d3"}
	desktop := cordon.ClientFacts{Platform: cordon.PlatformDesktop, Version: "8.1.0", Source: cordon.SourceOfficial, Device: "d4"}
	tests := []struct {
		name          string
		doc           string
		sessions, usr int64
		breakdown     []campaign.BreakdownRow
	}{
		{"old iOS and desktop", `{"kind":"reauth","name":"r","cohort":{"platforms":["ios","desktop"],"versions":"< 8.5.0"}}`, 3, 3,
			[]campaign.BreakdownRow{{"ios", "8.4.0", "appstore", 2, 2, 2, 2, 0, 0}, {"desktop", "8.1.0", "official", 1, 1, 1, 1, 0, 0}}},
		{"everyone", `{"kind":"reauth","name":"r"}`, 5, 3,
			[]campaign.BreakdownRow{{"ios", "8.4.0", "appstore", 2, 2, 2, 2, 0, 0}, {"android", "8.4.0", "play", 1, 1, 1, 1, 0, 0}, {"desktop", "8.1.0", "official", 1, 1, 1, 1, 0, 0}, {"ios", "9.0.0", "appstore", 1, 1, 1, 1, 0, 0}}},
		{"bob's sessions only", `{"kind":"reauth","name":"r","cohort":{"users":["bob"]}}`, 2, 1,
			[]campaign.BreakdownRow{{"android", "8.4.0", "play", 1, 1, 1, 1, 0, 0}, {"ios", "8.4.0", "appstore", 1, 1, 1, 1, 0, 0}}},
		{"nobody", `{"kind":"reauth","name":"r","cohort":{"platforms":["tv"]}}`, 0, 0, []campaign.BreakdownRow{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "alice", "bob", "carol")
			e.session(t, "alice", ios84, 30*24*time.Hour)
			e.session(t, "alice", ios90, 30*24*time.Hour)
			e.session(t, "bob", ios84, 30*24*time.Hour)
			e.session(t, "bob", android, 30*24*time.Hour)
			e.session(t, "carol", desktop, 30*24*time.Hour)
			// Expired by the time of the preview: swept, never counted.
			e.session(t, "carol", ios84, time.Hour)
			revoked := e.session(t, "carol", ios84, 30*24*time.Hour)
			if err := e.store.RevokeSession(t.Context(), revoked.ID, cordon.RevokeLogout, t0); err != nil {
				t.Fatal(err)
			}
			c := e.create(t, tt.doc)
			e.clk.Advance(2 * time.Hour)
			p, err := e.svc.Preview(t.Context(), c.ID)
			if err != nil {
				t.Fatalf("Preview: %v", err)
			}
			if p.Sessions != tt.sessions || p.Users != tt.usr || !p.Exact || p.LiveSessions != 5 || p.AdmittedShare != 1 {
				t.Errorf("Preview = %d sessions, %d users, exact %v, %d live, share %v; want %d, %d, exact, 5 live, share 1",
					p.Sessions, p.Users, p.Exact, p.LiveSessions, p.AdmittedShare, tt.sessions, tt.usr)
			}
			if !slices.Equal(p.Breakdown, tt.breakdown) {
				t.Errorf("Breakdown = %v, want %v", p.Breakdown, tt.breakdown)
			}
		})
	}
}

func TestPreviewUnknownCampaign(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.Preview(t.Context(), "c-nothing"); !errors.Is(err, cordon.ErrNotFound) {
		t.Errorf("Preview of no campaign = %v, want not found", err)
	}
}

// A ramp admits its share linearly over its duration, and a draft admits
// nobody yet.
func TestProgressAdmittedShare(t *testing.T) {
	e := newEnv(t, "alice")
	c := e.create(t, `{"kind":"reauth","name":"r","ramp":{"start":"2026-12-01T10:00:00Z","duration":"4d"}}`)
	steps := []struct {
		at     time.Time
		action string
		want   float64
	}{
		{t0, "", 0},
		{t0.Add(time.Hour), "activate", 0},
		{t0.Add(time.Hour + 24*time.Hour), "", 0.25},
		{t0.Add(time.Hour + 48*time.Hour), "", 0.5},
		{t0.Add(time.Hour + 96*time.Hour), "", 1},
		{t0.Add(time.Hour + 200*time.Hour), "", 1},
	}
	for _, st := range steps {
		e.clk.Set(st.at)
		if st.action != "" {
			c = e.transition(t, c.ID, st.action)
		}
		v, err := e.svc.Progress(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if v.AdmittedShare != st.want || !v.At.Equal(st.at) {
			t.Errorf("at %v (%s): share %v at %v, want %v", st.at, c.State, v.AdmittedShare, v.At, st.want)
		}
	}
}

// Progress counts each denied session once, each account once, and an
// account as satisfied only after the campaign denied it, by the act the
// campaign's kind asks for.
func TestProgress(t *testing.T) {
	e := newEnv(t, "alice", "bob", "carol")
	ctx := t.Context()
	iphone := cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, Device: "d1"}
	a1 := e.session(t, "alice", iphone, 30*24*time.Hour)
	a2 := e.session(t, "alice", iphone, 30*24*time.Hour)
	b1 := e.session(t, "bob", iphone, 30*24*time.Hour)
	reauth := e.create(t, `{"kind":"reauth","name":"r","cohort":{"platforms":["ios"]}}`)
	reset := e.create(t, `{"kind":"password_reset","name":"p","cohort":{"users":["carol"]}}`)
	e.clk.Advance(time.Minute)
	e.transition(t, reauth.ID, "activate")
	e.transition(t, reset.ID, "activate")
	e.clk.Advance(time.Minute)

	deny := decision.Decision{Outcome: decision.Deny, Reason: decision.ReasonReauthRequired, Campaign: reauth.ID}
	for _, s := range []*cordon.Session{a1, a1, a2, b1, b1} {
		e.svc.Blocked(ctx, deny, s)
	}
	// carol was never denied: a new password of hers counts for nothing.
	e.svc.PasswordSet(ctx, e.ids["carol"])
	// alice's new password does not satisfy a reauth campaign.
	e.svc.PasswordSet(ctx, e.ids["alice"])
	// A login from outside the cohort proves nothing about it.
	e.svc.LoggedIn(ctx, e.session(t, "bob", cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.4.0", Source: cordon.SourcePlay}, 30*24*time.Hour))
	// A login from the cohort does.
	e.svc.LoggedIn(ctx, e.session(t, "alice", iphone, 30*24*time.Hour))

	c, _ := e.svc.Get(ctx, reauth.ID)
	v, err := e.svc.Progress(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	want := cordon.Progress{BlockedSessions: 3, BlockedUsers: 2, SatisfiedUsers: 1}
	if v.Progress != want || v.Complete != 0.5 {
		t.Errorf("reauth progress = %+v, complete %v; want %+v, complete 0.5", v.Progress, v.Complete, want)
	}
	c, _ = e.svc.Get(ctx, reset.ID)
	// carol has no session: the campaign targets nobody, and nothing is
	// complete (it was 1, "100 %", before progress had a cohort).
	if v, _ := e.svc.Progress(ctx, c); v.Progress != (cordon.Progress{}) || v.Complete != 0 {
		t.Errorf("password_reset progress = %+v, complete %v; want nothing, complete 0", v.Progress, v.Complete)
	}
}

// Above ExactPreviewLimit live sessions a preview sums the store's
// buckets: sessions still exact, users an upper bound (a user counts once
// per bucket she has sessions in), and no longer marked exact. Sessions
// whose refresh family expired are swept first and never counted.
func TestPreviewFromBuckets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a fleet of 200,001 sessions")
	}
	e := newEnv(t, "alice", "bob", "filler")
	ctx := t.Context()
	ios84 := cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore}
	ios90 := cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "9.0.0", Source: cordon.SourceAppStore}
	android := cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.4.0", Source: cordon.SourcePlay}
	add := func(i int, user string, f cordon.ClientFacts, auth time.Time, ttl time.Duration) {
		s := &cordon.Session{ID: fmt.Sprintf("s-%026d", i), AccountID: e.ids[user], Facts: f, AuthTime: auth, CreatedAt: auth, LastSeenAt: auth}
		rt := &cordon.RefreshToken{Hash: []byte(s.ID), SessionID: s.ID, CreatedAt: auth, IdleExpiresAt: auth.Add(ttl), AbsoluteExpiresAt: auth.Add(ttl)}
		if err := e.store.CreateSession(ctx, s, rt); err != nil {
			t.Fatal(err)
		}
	}
	const month = 30 * 24 * time.Hour
	day := func(d int) time.Time { return t0.AddDate(0, 0, -d) }
	// In the cohort: alice on two days (two buckets), bob on one.
	add(0, "alice", ios84, day(2), month)
	add(1, "alice", ios84, day(2).Add(time.Hour), month)
	add(2, "alice", ios84, day(1), month)
	add(3, "bob", ios84, day(1), month)
	// Outside it: a newer iOS, and the rest of the fleet.
	add(4, "bob", ios90, day(1), month)
	n := 5
	for ; n < campaign.ExactPreviewLimit+1; n++ {
		add(n, "filler", android, day(n%7), month)
	}
	// Expired by the preview: swept out, never counted.
	for i := range 10 {
		add(n+i, "bob", ios84, day(3), time.Hour)
	}
	c := e.create(t, `{"kind":"reauth","name":"r","cohort":{"platforms":["ios"],"versions":"< 8.5.0"}}`)
	p, err := e.svc.Preview(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Exact || p.LiveSessions != campaign.ExactPreviewLimit+1 || p.Sessions != 4 || p.Users != 3 {
		t.Errorf("Preview = exact %v, %d live, %d sessions, %d users; want from buckets, %d live, 4 sessions, 3 users (alice twice)",
			p.Exact, p.LiveSessions, p.Sessions, p.Users, campaign.ExactPreviewLimit+1)
	}
	if want := []campaign.BreakdownRow{{"ios", "8.4.0", "appstore", 4, 3, 4, 3, 0, 0}}; !slices.Equal(p.Breakdown, want) {
		t.Errorf("Breakdown = %v, want %v", p.Breakdown, want)
	}
}

package decision

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current engine")

var base = time.Date(2014, 5, 27, 8, 0, 0, 0, time.UTC)

func live() *cordon.Session {
	return &cordon.Session{ID: "s-1", AccountID: "u-1", AuthTime: base.Add(-time.Hour),
		Facts: cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore", Device: "d-1"}}
}

func revoked() *cordon.Session {
	s := live()
	s.RevokedAt, s.RevokeReason = base.Add(-time.Minute), cordon.RevokeLogout
	return s
}

func at(d time.Duration) *time.Time { t := base.Add(d); return &t }

func session(platform, version, source string, auth time.Time) *cordon.Session {
	return &cordon.Session{ID: "s-" + platform + version + source, AccountID: "u-1", AuthTime: auth,
		Facts: cordon.ClientFacts{Platform: platform, Version: version, Source: source, Device: "d-1"}}
}

func active(id string, kind cordon.Kind, cohort cordon.Cohort, opts ...func(*cordon.Campaign)) *cordon.Campaign {
	c := &cordon.Campaign{ID: id, Kind: kind, Name: id, Cohort: cohort, State: cordon.StateActive, Activated: base.Add(-time.Hour)}
	for _, o := range opts {
		o(c)
	}
	return c
}

func ramp(start time.Time, d time.Duration) func(*cordon.Campaign) {
	return func(c *cordon.Campaign) { c.Ramp = &cordon.Ramp{Start: start, Duration: d} }
}

func upgrade(minV, mode string) func(*cordon.Campaign) {
	return func(c *cordon.Campaign) {
		c.Upgrade = &cordon.UpgradeSpec{MinVersion: minV, Mode: mode, URLs: map[string]string{
			"play": "https://play.example/app", "amazon": "https://amazon.example/app", "official": "https://example.com/download"}}
	}
}

func state(st cordon.State) func(*cordon.Campaign) { return func(c *cordon.Campaign) { c.State = st } }

func users(ids ...string) func(*cordon.Campaign) {
	return func(c *cordon.Campaign) { c.Cohort.Users = ids; c.UserIDs = ids }
}

func policy(t testing.TB, cs ...*cordon.Campaign) *Policy {
	t.Helper()
	p, err := Compile(cs, 7, base)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	old    = base.Add(-48 * time.Hour) // authenticated long before every campaign
	recent = base.Add(-time.Minute)    // authenticated after activation
	mobile = cordon.Cohort{Platforms: []string{"desktop", "ios", "winphone"}}
)

// goldenCase is one row of the golden decision table: each name's decision
// is recorded in testdata/decisions.golden and compared on every run.
type goldenCase struct {
	name      string
	session   *cordon.Session
	client    cordon.ClientFacts
	campaigns []*cordon.Campaign
}

func cases() []goldenCase {
	reauth := active("c-reauth", cordon.KindReauth, mobile)
	return []goldenCase{
		{"live session, no campaigns", live(), cordon.ClientFacts{}, nil},
		{"live session, no client header", live(), cordon.UnknownClient, nil},
		{"revoked session", revoked(), cordon.ClientFacts{}, []*cordon.Campaign{reauth}},
		{"no session", nil, cordon.ClientFacts{}, nil},
		{"reauth: ios session from before activation", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{reauth}},
		{"reauth: ios session logged in again after activation", session("ios", "8.4.1", "appstore", recent), cordon.ClientFacts{}, []*cordon.Campaign{reauth}},
		{"reauth: android is not in the cohort", session("android", "8.4.1", "play", old), cordon.ClientFacts{}, []*cordon.Campaign{reauth}},
		{"reauth: paused campaign enforces nothing", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-p", cordon.KindReauth, mobile, state(cordon.StatePaused))}},
		{"reauth: cancelled campaign enforces nothing", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-x", cordon.KindReauth, mobile, state(cordon.StateCancelled))}},
		{"reauth: draft enforces nothing", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-d", cordon.KindReauth, mobile, state(cordon.StateDraft))}},
		{"reauth: ramp not started", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-r", cordon.KindReauth, mobile, ramp(base.Add(time.Hour), time.Hour))}},
		{"reauth: ramp finished", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-r", cordon.KindReauth, mobile, ramp(base.Add(-3*time.Hour), time.Hour))}},
		{"reauth: authenticated_before excludes a later login", session("ios", "8.4.1", "appstore", base.Add(-2*time.Hour)), cordon.ClientFacts{},
			[]*cordon.Campaign{active("c-ab", cordon.KindReauth, cordon.Cohort{AuthenticatedBefore: at(-3 * time.Hour)})}},
		{"reauth: authenticated_before includes an earlier login", session("ios", "8.4.1", "appstore", base.Add(-4*time.Hour)), cordon.ClientFacts{},
			[]*cordon.Campaign{active("c-ab", cordon.KindReauth, cordon.Cohort{AuthenticatedBefore: at(-3 * time.Hour)})}},
		{"reauth: explicit users, user in", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-u", cordon.KindReauth, cordon.Cohort{}, users("u-1"))}},
		{"reauth: explicit users, user out", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-u", cordon.KindReauth, cordon.Cohort{}, users("u-2"))}},
		{"reauth: explicit users resolved to none selects nobody", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-u", cordon.KindReauth, cordon.Cohort{UsersFromReport: "r-1"})}},
		{"reauth: version constraint matches", session("desktop", "8.4.1", "official", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-v", cordon.KindReauth, cordon.Cohort{Versions: "< 8.5.0"})}},
		{"reauth: version constraint does not match", session("desktop", "8.5.0", "official", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-v", cordon.KindReauth, cordon.Cohort{Versions: "< 8.5.0"})}},
		{"reauth: unknown version never matches a constraint", session("desktop", "", "official", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-v", cordon.KindReauth, cordon.Cohort{Versions: "< 8.5.0"})}},
		{"reauth: source filter", session("android", "8.4.1", "unknown", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-s", cordon.KindReauth, cordon.Cohort{Sources: []string{"play", "unknown"}})}},
		{"password_reset beats reauth", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{},
			[]*cordon.Campaign{reauth, active("c-pw", cordon.KindPasswordReset, cordon.Cohort{})}},
		{"reauth beats an immediate upgrade", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{},
			[]*cordon.Campaign{reauth, active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"two reauths: the latest cut-off wins", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{},
			[]*cordon.Campaign{active("c-a", cordon.KindReauth, cordon.Cohort{}), active("c-b", cordon.KindReauth, cordon.Cohort{}, func(c *cordon.Campaign) { c.Activated = base.Add(-time.Minute / 2) })}},
		{"upgrade immediate: play goes to play", session("android", "8.4.1", "play", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade immediate: amazon goes to amazon", session("android", "8.4.1", "amazon", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade immediate: side-loaded goes to the official site", session("android", "8.4.1", "unknown", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade immediate: web source is not a store", session("android", "8.4.1", "web", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade immediate: store without a url falls back to official", session("ios", "8.4.1", "appstore", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade: the request reports the new version", session("android", "8.4.1", "play", old), cordon.ClientFacts{Platform: "android", Version: "8.5.0", Source: "play"}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade: a request from another platform cannot vouch", session("android", "8.4.1", "play", old), cordon.ClientFacts{Platform: "ios", Version: "9.0.0", Source: "appstore"}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade: unknown version must upgrade", session("android", "", "play", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade flexible lets through with a prompt", session("android", "8.4.1", "play", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-fx", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "flexible"))}},
		{"upgrade: immediate beats flexible", session("android", "8.4.1", "play", old), cordon.ClientFacts{},
			[]*cordon.Campaign{active("c-fx", cordon.KindUpgrade, cordon.Cohort{}, upgrade("9.0.0", "flexible")), active("c-im", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate"))}},
		{"upgrade: two immediates, the higher min_version wins", session("android", "8.4.1", "play", old), cordon.ClientFacts{},
			[]*cordon.Campaign{active("c-1", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", "immediate")), active("c-2", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.6.0", "immediate"))}},
		{"offline_rekey never blocks a session", session("android", "8.4.1", "play", old), cordon.ClientFacts{}, []*cordon.Campaign{active("c-off", cordon.KindOfflineRekey, cordon.Cohort{})}},
	}
}

func TestGolden(t *testing.T) {
	got := map[string]Decision{}
	var names []string
	for _, c := range cases() {
		in := Input{Session: c.session, Client: c.client, Now: base, Policy: policy(t, c.campaigns...)}
		got[c.name] = Decide(&in)
		names = append(names, c.name)
	}
	var buf bytes.Buffer
	for _, n := range names {
		line, err := json.Marshal(struct {
			Case     string   `json:"case"`
			Decision Decision `json:"decision"`
		}{n, got[n]})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join("testdata", "decisions.golden")
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

func TestDecideAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	p := policy(t, randomCampaigns(r, 100)...)
	for _, s := range randomSessions(r, 50) {
		in := Input{Session: s, Now: base, Policy: p}
		Decide(&in) // warm the version memo
		if n := testing.AllocsPerRun(20, func() { _ = Decide(&in) }); n != 0 {
			t.Errorf("Decide allocated %v times per call for %+v, want 0", n, s.Facts)
		}
	}
}

// BenchmarkDecide measures a decision with 0, 10, 100 and 1,000 active
// campaigns spread over every kind, platform and source.
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{0, 10, 100, 1000} {
		b.Run(fmt.Sprintf("campaigns=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 8))
			p := policy(b, randomCampaigns(r, n)...)
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

// BenchmarkMapLookup is the baseline a decision is compared to: finding
// a session among 1,024 by a realistic session id, as a cache would.
func BenchmarkMapLookup(b *testing.B) {
	m := make(map[string]*cordon.Session, 1024)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = cordon.NewID("s")
		m[keys[i]] = live()
	}
	b.ReportAllocs()
	var n int
	i := 0
	for b.Loop() {
		if m[keys[i&1023]] != nil {
			n++
		}
		i++
	}
	_ = n
}

// TestAuthTimeToTheSecond: tokens carry auth_time in whole seconds, so
// the engine judges it to the second, failing closed — a login in the very
// second of the admission is denied on the server and at every gate alike.
func TestAuthTimeToTheSecond(t *testing.T) {
	act := base.Add(-time.Hour).Truncate(time.Second).Add(700 * time.Millisecond)
	c := active("c-s", cordon.KindReauth, cordon.Cohort{}, func(c *cordon.Campaign) { c.Activated = act })
	p := policy(t, c)
	for _, tc := range []struct {
		name string
		auth time.Time
		want Outcome
	}{
		{"same second, before the admission", act.Add(-400 * time.Millisecond), Deny},
		{"same second, after the admission", act.Add(200 * time.Millisecond), Deny},
		{"same second, as the token says it", act.Truncate(time.Second), Deny},
		{"the second before", act.Truncate(time.Second).Add(-time.Nanosecond), Deny},
		{"the next second", act.Truncate(time.Second).Add(time.Second), Allow},
	} {
		s := session("ios", "8.4.1", "appstore", tc.auth)
		if got := Decide(&Input{Session: s, Now: base, Policy: p}); got.Outcome != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got.Outcome, tc.want)
		}
	}
}

// TestBackdatedRampAdmitsAtActivation: a ramp whose start (or whole span)
// lies before the activation admits its users at the activation, never
// earlier. Before, each user's admission was their point on the ramp, so
// a campaign activated today with a ramp dated in May let through every
// session that logged in between May and today — a stolen token's
// included — and hit nobody.
func TestBackdatedRampAdmitsAtActivation(t *testing.T) {
	act := base.Add(-time.Hour)
	for _, kind := range []cordon.Kind{cordon.KindReauth, cordon.KindPasswordReset} {
		c := active("c-back-"+string(kind), kind, cordon.Cohort{}, ramp(act.AddDate(0, -6, 0), 72*time.Hour))
		p := policy(t, c)
		for _, tc := range []struct {
			name string
			auth time.Time
			want Outcome
		}{
			{"logged in after the ramp's end, before the activation", act.Add(-24 * time.Hour), Deny},
			{"logged in just before the activation", act.Add(-2 * time.Second), Deny},
			{"logged in after the activation", act.Add(2 * time.Second), Allow},
		} {
			s := session("ios", "8.4.1", "appstore", tc.auth)
			if got := Decide(&Input{Session: s, Now: base, Policy: p}); got.Outcome != tc.want {
				t.Errorf("%s %s: %v, want %v", kind, tc.name, got.Outcome, tc.want)
			}
		}
	}
	// A ramp running across the activation: users whose point is past keep
	// the activation as their admission; those still ahead keep theirs.
	c := active("c-across", cordon.KindReauth, cordon.Cohort{}, ramp(act.Add(-36*time.Hour), 72*time.Hour))
	p := policy(t, c)
	s := session("ios", "8.4.1", "appstore", act.Add(-time.Minute))
	adm, ok := p.Admission(c.ID, s.AccountID)
	if !ok || adm.Before(act) {
		t.Errorf("admission %v (%v), want not before the activation %v", adm, ok, act)
	}
}

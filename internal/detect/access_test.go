package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var a0 = time.Date(2026, 5, 27, 0, 0, 0, 0, time.UTC)

func ev(i int, at time.Time, principal, user string, cats ...string) AccessEvent {
	return AccessEvent{Index: uint64(i), At: at, Principal: principal, User: user, Categories: cats}
}

// TestAccessCategories: the seed's incident, one principal reading one
// user's password_hash, raises one alert; reading profiles does not.
func TestAccessCategories(t *testing.T) {
	e := NewAccess(DefaultFile().Access)
	var got []AccessAlert
	got = append(got, e.Observe(ev(0, a0.Add(10*time.Hour), "svc-support", "alice", "profile", "email"))...)
	got = append(got, e.Observe(ev(1, a0.Add(10*time.Hour+time.Minute), "svc-support", "alice", "password_hash"))...)
	got = append(got, e.Observe(ev(2, a0.Add(10*time.Hour+2*time.Minute), "svc-support", "alice", "password_hash"))...)
	if len(got) != 1 {
		t.Fatalf("alerts = %+v, want one", got)
	}
	al := got[0]
	if al.Rule != "secrets" || al.Principal != "svc-support" || fmt.Sprint(al.Categories, al.Subjects, al.Entries, al.Users) != "[password_hash] [alice] [1] 1" {
		t.Errorf("alert = %+v", al)
	}
	// After the cooldown, the evidence gathered since comes with the next.
	got = e.Observe(ev(3, a0.Add(12*time.Hour), "svc-support", "bob", "payment"))
	if len(got) != 1 || fmt.Sprint(got[0].Categories, got[0].Subjects) != "[payment] [bob]" {
		t.Errorf("after the cooldown: %+v", got)
	}
}

// TestAccessDistinctUsers: a principal that reads about 10 users an hour
// for a day, then 100 in an hour, raises one alert in that hour; one that
// reads 12 does not (benign growth), nor a new principal with no baseline.
func TestAccessDistinctUsers(t *testing.T) {
	rules := []AccessRule{{Name: "wide", Kind: RuleDistinctUsers, Window: time.Hour, Factor: 5, MinUsers: 20, Learn: 24, Cooldown: time.Hour}}
	e := NewAccess(rules)
	i := 0
	obs := func(at time.Time, p, u string) []AccessAlert { i++; return e.Observe(ev(i, at, p, u, "email")) }
	for h := range 24 {
		for u := range 10 {
			for _, p := range []string{"svc-a", "svc-b"} {
				if got := obs(a0.Add(time.Duration(h)*time.Hour+time.Duration(u)*time.Minute), p, fmt.Sprintf("%s-h%d-u%d", p, h, u)); len(got) != 0 {
					t.Fatalf("baseline hour %d raised %+v", h, got)
				}
			}
		}
	}
	var got []AccessAlert
	for u := range 100 {
		at := a0.Add(24*time.Hour + time.Duration(u)*time.Second)
		got = append(got, obs(at, "svc-a", fmt.Sprintf("victim-%d", u))...)
		if u < 12 {
			got = append(got, obs(at, "svc-b", fmt.Sprintf("b-new-%d", u))...)
		}
		got = append(got, obs(at, "svc-new", fmt.Sprintf("n-%d", u))...)
	}
	if len(got) != 1 {
		t.Fatalf("alerts = %+v, want one (svc-a)", got)
	}
	if al := got[0]; al.Principal != "svc-a" || al.Users != 51 || al.Baseline != 10 || !al.From.Equal(a0.Add(24*time.Hour)) {
		t.Errorf("alert = %+v, want svc-a at 51 users (> 5 × 10) over a baseline of 10", al)
	}
}

// TestAccessOffHours: a principal that reads in office hours, then at
// 03:00, raises one alert; its usual hours raise none.
func TestAccessOffHours(t *testing.T) {
	e := NewAccess([]AccessRule{{Name: "night", Kind: RuleOffHours, Learn: 50, LearnFor: 7 * 24 * time.Hour, MinShare: 0.01, Cooldown: time.Hour}})
	// Learning: 60 reads in the first morning, then one at night, are not
	// judged (the reads span less than learn_for).
	early := NewAccess([]AccessRule{{Name: "night", Kind: RuleOffHours, Learn: 50, LearnFor: 7 * 24 * time.Hour, MinShare: 0.01, Cooldown: time.Hour}})
	for i := range 60 {
		early.Observe(ev(i, a0.Add(9*time.Hour+time.Duration(i)*time.Minute), "staff-bo", "u", "email"))
	}
	if got := early.Observe(ev(60, a0.Add(27*time.Hour), "staff-bo", "u", "email")); len(got) != 0 {
		t.Errorf("a night read on the second day, while learning: %+v", got)
	}
	n := 0
	for d := range 10 {
		for h := 9; h < 17; h++ {
			n++
			if got := e.Observe(ev(n, a0.Add(time.Duration(d)*24*time.Hour+time.Duration(h)*time.Hour), "staff-ann", "u", "email")); len(got) != 0 {
				t.Fatalf("office hours raised %+v", got)
			}
		}
	}
	got := e.Observe(ev(n+1, a0.Add(10*24*time.Hour+3*time.Hour), "staff-ann", "carol", "email"))
	if len(got) != 1 || got[0].Hour != 3 || got[0].Principal != "staff-ann" {
		t.Errorf("03:00 read: %+v, want one alert at hour 3", got)
	}
}

// TestAccessBounded: principals past MaxPrincipals are not followed.
func TestAccessBounded(t *testing.T) {
	e := NewAccess(DefaultFile().Access)
	for i := range MaxPrincipals + 10 {
		e.Observe(ev(i, a0, fmt.Sprint("p", i), "u", "email"))
	}
	if e.Principals() != MaxPrincipals {
		t.Errorf("followed %d principals, want %d", e.Principals(), MaxPrincipals)
	}
}

func TestParseFile(t *testing.T) {
	f := DefaultFile()
	if f.Login.BruteFailures != 30 || len(f.Access) != 3 || f.Access[1].Categories[0] != "password_hash" {
		t.Fatalf("default file: %+v", f)
	}
	bad := []struct{ name, yaml, want string }{
		{"empty", "", "empty"},
		{"unknown field", "login: {windw: 1m}", "field windw not found"},
		{"two documents", "login: {window: 1m}\n---\nlogin: {}\n", "one YAML document"},
		{"bad duration", "login: {window: soon}", "login.window must be a duration"},
		{"window too short", "login: {window: 1s}", "between 1m0s"},
		{"threshold too low", "login: {brute_force: {failures: 1}}", "login.brute_force.failures must be between 3"},
		{"ratio above 1", "login: {stuffing: {accounts: 10, addresses: 2, failure_ratio: 2}}", "failure_ratio"},
		{"no kind", "access: [{name: x}]", "kind is required"},
		{"unknown kind", "access: [{name: x, kind: vibes}]", "kind must be distinct_users"},
		{"bad name", "access: [{name: 'X Y', kind: categories, categories: [payment]}]", "name must be"},
		{"duplicate name", "access: [{name: x, kind: categories, categories: [payment]}, {name: x, kind: off_hours}]", "used twice"},
		{"field of another kind", "access: [{name: x, kind: off_hours, factor: 2}]", "factor does not apply"},
		{"no categories", "access: [{name: x, kind: categories}]", "give 1 to 64"},
		{"bad category", "access: [{name: x, kind: categories, categories: ['pass word']}]", "is not a category"},
		{"factor below 1", "access: [{name: x, kind: distinct_users, factor: 0.5}]", "factor must be between 1"},
		{"share too big", "access: [{name: x, kind: off_hours, min_share: 0.9}]", "min_share"},
		{"not a mapping", "- a\n- b\n", "rules file"},
		{"too big", "# " + strings.Repeat("x", MaxRulesFile), "at most"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseFile([]byte(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFile: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	f, err := ParseFile([]byte("login: {window: 5m, brute_force: {failures: 8}}\naccess: [{name: pay, kind: categories, categories: [payment, payment]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Login.Window != 5*time.Minute || f.Login.BruteFailures != 8 || f.Login.SprayAccounts != 20 || fmt.Sprint(f.Access[0].Categories) != "[payment]" || f.Access[0].Cooldown != time.Hour {
		t.Errorf("parsed %+v", f)
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(DefaultRulesYAML))
	f.Add([]byte("login: {window: 5m}\naccess: [{name: a, kind: off_hours, learn: 10}]"))
	f.Add([]byte("access: [{name: x, kind: distinct_users, window: 1h, factor: 3}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		// What parses is usable: an engine over it runs an event.
		if file.Login.Window <= 0 || file.Login.BruteFailures <= 0 || len(file.Access) > MaxAccessRules {
			t.Fatalf("parsed an unusable file: %+v", file)
		}
		for _, r := range file.Access {
			if r.Cooldown <= 0 || (r.Kind == RuleDistinctUsers && (r.Window <= 0 || r.Factor < 1 || r.Learn < 1)) {
				t.Fatalf("parsed an unusable rule: %+v", r)
			}
		}
		NewAccess(file.Access).Observe(ev(0, a0, "p", "u", "password_hash"))
	})
}

// accessEvent is the i-th event of a synthetic log: 50 principals reading
// 1M users over 30 days (10M events: one every 0.26 s), one in a hundred
// reading email and profile, the rest playlists; no password_hash, so the
// default rules raise nothing and the figure is the evaluation's.
func accessEvent(i int, users []string, principals []string) AccessEvent {
	x := uint64(i) * 0x9E3779B97F4A7C15
	return AccessEvent{Index: uint64(i), At: a0.Add(time.Duration(i) * 259 * time.Millisecond), Principal: principals[x%50],
		User: users[(x>>8)%uint64(len(users))], Categories: cats[x>>40%2]}
}

var cats = [][]string{{"email", "profile"}, {"playlists"}}

// BenchmarkAccessRules10M evaluates the default access rules over 10M
// audit events built in memory (the rule engine alone, without reading
// the store), one op being all 10M; events/s is the rate. Its baseline,
// BenchmarkAccessEvents10M, only builds the events.
func BenchmarkAccessRules10M(b *testing.B) { benchAccess(b, true) }

// BenchmarkAccessEvents10M builds the 10M events and evaluates nothing.
func BenchmarkAccessEvents10M(b *testing.B) { benchAccess(b, false) }

func benchAccess(b *testing.B, eval bool) {
	const n = 10_000_000
	users := make([]string, 1_000_000)
	for i := range users {
		users[i] = fmt.Sprintf("u-%07d", i)
	}
	principals := make([]string, 50)
	for i := range principals {
		principals[i] = fmt.Sprintf("svc-%02d", i)
	}
	alerts := 0
	for b.Loop() {
		e := NewAccess(DefaultFile().Access)
		for i := range n {
			ev := accessEvent(i, users, principals)
			if eval {
				alerts += len(e.Observe(ev))
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if eval && alerts != 0 {
		b.Fatalf("the synthetic log raised %d alerts; want none", alerts)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/simulate"
)

// simStores are the store pages of the tests' upgrade campaigns.
var simStores = map[string]string{
	"play":     "https://play.example/music",
	"amazon":   "https://amazon.example/music",
	"official": "https://music.example/download",
}

// runSim runs a simulator in the background; the channel yields its end.
func runSim(t *testing.T, sim *simulate.Simulator) <-chan simulate.Summary {
	t.Helper()
	done := make(chan simulate.Summary, 1)
	go func() {
		sum, err := sim.Run(context.Background())
		if err != nil {
			t.Errorf("simulator: %v", err)
		}
		done <- sum
	}()
	select {
	case <-sim.Ready():
	case <-done:
		t.FailNow()
	case <-time.After(15 * time.Second):
		t.Fatal("the fleet did not log in within 15 s")
	}
	return done
}

func waitSim(t *testing.T, done <-chan simulate.Summary) simulate.Summary {
	t.Helper()
	select {
	case sum := <-done:
		return sum
	case <-time.After(20 * time.Second):
		t.Fatal("the simulator did not stop")
	}
	return simulate.Summary{}
}

// TestSimulatorIncident runs a fleet through a server and a gate while
// campaigns are activated mid-run: the apps log in again, set a new
// password, upgrade from the store they are sent to and download offline
// content again, and the server's progress counts them.
func TestSimulatorIncident(t *testing.T) {
	m := testServer(t)
	g := startGate(t, m.URL(), echoUpstream(t).URL)
	sim := &simulate.Simulator{Config: simulate.Config{Server: m.URL(), Gate: "http://" + g.Addr(), Installs: 40, Concurrency: 16,
		Duration: 4 * time.Second, Speed: 10, AdminToken: testAdminToken, Seed: 7}}
	done := runSim(t, sim)

	if st := sim.Stats(); st.Installs != 40 || st.Errors != 0 {
		t.Fatalf("after logging in: %d installs, %d errors: %v", st.Installs, st.Errors, st.Problems)
	}
	// auth_time is judged to the second: activate in a later second than
	// the fleet's logins, or a campaign would take them for re-logins.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	ids := map[string]string{}
	for kind, doc := range map[string]string{
		"reauth":         `{"kind":"reauth","name":"sim re-login","cohort":{"platforms":["desktop","ios"]}}`,
		"password_reset": `{"kind":"password_reset","name":"sim reset","cohort":{"platforms":["winphone"]}}`,
		"upgrade": fmt.Sprintf(`{"kind":"upgrade","name":"sim upgrade","cohort":{"platforms":["android"],"versions":"< 8.5.0"},
			"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"play":%q,"amazon":%q,"official":%q}}}`,
			simStores["play"], simStores["amazon"], simStores["official"]),
		"offline_rekey": `{"kind":"offline_rekey","name":"sim re-key","cohort":{"platforms":["android"]}}`,
		"flexible": fmt.Sprintf(`{"kind":"upgrade","name":"sim prompt","cohort":{"platforms":["ios"],"versions":"< 8.5.0"},
			"upgrade":{"min_version":"8.5.0","mode":"flexible","urls":{"official":%q}}}`, simStores["official"]),
	} {
		id := campaignCall(t, m, "POST", "", doc)["id"].(string)
		campaignCall(t, m, "POST", "/"+id+"/activate", "")
		ids[kind] = id
	}
	sum := waitSim(t, done)
	var out bytes.Buffer
	sum.Print(&out)
	t.Logf("summary:\n%s", out.String())

	for _, c := range []struct {
		name string
		got  int64
	}{
		{"re-logins", sum.Relogins}, {"reauth_required answers", sum.Reauth}, {"password resets", sum.Resets},
		{"upgrade_required answers", sum.Upgrade}, {"upgrades", sum.Upgrades}, {"update_urls checked", sum.RoutingChecked},
		{"revoked offline grants", sum.Offline}, {"re-downloads", sum.Redownloads}, {"requests through the gate", sum.OK},
		{"flexible upgrade prompts", sum.FlexiblePrompts},
	} {
		if c.got == 0 {
			t.Errorf("%s = 0, want some", c.name)
		}
	}
	if sum.RoutingViolations != 0 || sum.ServerErrors != 0 || sum.Errors != 0 || sum.RoutingUnverified != 0 {
		t.Errorf("routing violations %d, server errors %d, errors %d, unverified %d; want none: %v",
			sum.RoutingViolations, sum.ServerErrors, sum.Errors, sum.RoutingUnverified, sum.Problems)
	}
	// The summary's routes, checked here on their own.
	for _, r := range sum.Routes {
		want, side := simStores[r.Source], false
		if r.Source == "unknown" {
			want, side = simStores["official"], true
		}
		if r.Platform != "android" || r.URL != want || r.Sideloaded != side {
			t.Errorf("route %+v, want %s sideloaded=%t", r, want, side)
		}
	}
	// Only the platforms in a cohort were refused.
	for _, p := range sum.Platforms {
		switch p.Platform {
		case "web":
			if p.Reauth+p.PasswordReset+p.Upgrade+p.Offline != 0 || p.OK == 0 {
				t.Errorf("web, in no cohort: %+v", p)
			}
		case "android":
			if p.Reauth+p.PasswordReset != 0 || p.Upgrade == 0 {
				t.Errorf("android: %+v, want upgrades and no re-login", p)
			}
		default:
			// Offline grants may be revoked here too: a new password ends
			// every other session, and a grant with its session.
			if p.Upgrade != 0 || p.Reauth+p.PasswordReset == 0 {
				t.Errorf("%s: %+v, want re-logins and no upgrade", p.Platform, p)
			}
		}
	}
	for kind, id := range ids {
		if kind == "flexible" {
			continue // a prompt blocks nobody
		}
		p := progressOf(t, m, id)
		if p.BlockedUsers == 0 || p.SatisfiedUsers == 0 {
			t.Errorf("%s campaign progress %+v, want blocked and satisfied users", kind, p)
		}
	}
}

func TestSimulateUsage(t *testing.T) {
	t.Setenv("CORDON_ADMIN_TOKEN", "")
	for _, args := range [][]string{
		{"simulate"}, // no accounts and no token
		{"simulate", "--installs", "0", "--password-file", "x"},
		{"simulate", "--speed", "0", "--password-file", "x"},
		{"simulate", "--seed", "abc", "--password-file", "x"},
		{"simulate", "extra"},
		{"demo", "--speed", "-1"},
	} {
		err := run(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard)
		if exitCode(err) != 2 {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if err := run(context.Background(), []string{"simulate", "--password-file", "/nonexistent"}, nil, io.Discard, io.Discard); err == nil {
		t.Error("a missing --password-file: no error")
	}
}

// TestDemo plays the demo fast and checks its timeline and its cleanup.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, []string{"demo", "--speed", "20", "--installs", "20"}, nil, &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	t.Logf("demo output:\n%s", out.String())
	text := out.String()
	for _, want := range []string{"T+0s", "fleet logged in", "T+5s", "scoping:", "1 user; 1 event: 1 read; profile, email; no phone",
		"reauth campaign", "opened (GDPR's 72-hour clock starts)", "T+10s", "upgrade campaign",
		"T+15s", "telling users: notice n-", "/status/may-incident", "people concerned (Article 33): 1", "T+20s", "offline_rekey campaign", "T+25s",
		"the campaigns are completed", "store-routing violations: 0",
		"RESULT: contained", "re-login  ", "Each step by hand", "cordon campaign activate"} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	// The verdict is what a newcomer reads: it comes after the fleet's
	// table, and nothing reads like a failure when nothing failed.
	if strings.Index(text, "RESULT:") < strings.Index(text, "The fleet, as the simulated apps saw it") {
		t.Error("the verdict is not after the fleet's table")
	}
	for _, bad := range []string{"gave up", "NOT contained"} {
		if strings.Contains(text, bad) {
			t.Errorf("the demo's output says %q", bad)
		}
	}
	if n := strings.Count(text, "\n"); n > 90 {
		t.Errorf("the demo printed %d lines, want at most 90", n)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the demo left %v in the temporary folder", left)
	}
}

// TestSimulateFailsWhenNothingSucceeds: `cordon simulate` exited 0 when
// every request of the fleet failed (an upstream that does not serve
// /api/feed answers 404 through the gate). It now exits 1 and says what to
// check; --path names a path the upstream serves, and then it succeeds.
func TestSimulateFailsWhenNothingSucceeds(t *testing.T) {
	m := testServer(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "home\n")
	}))
	t.Cleanup(up.Close)
	g := startGate(t, m.URL(), up.URL)
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	base := []string{"simulate", "--server", m.URL(), "--gate", "http://" + g.Addr(), "--installs", "5", "--duration", "1s", "--speed", "20", "--seed", "3"}

	var out, errOut bytes.Buffer
	err := run(context.Background(), append(base, "--users-prefix", "sim404-"), nil, &out, &errOut)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "GET /api/feed? (--path)") {
		t.Fatalf("every request 404: %v (exit %d), want exit 1 naming the path and --path; summary:\n%s", err, exitCode(err), out.String())
	}
	out.Reset()
	if err := run(context.Background(), append(base, "--users-prefix", "simroot-", "--path", "/"), nil, &out, &errOut); err != nil {
		t.Fatalf("--path /: %v; summary:\n%s", err, out.String())
	}
	for _, bad := range []string{"api", "/a b", "/x#y"} {
		if err := run(context.Background(), append(base, "--path", bad), nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--path") {
			t.Errorf("--path %q: %v, want it refused", bad, err)
		}
	}
}

func TestSummaryFailure(t *testing.T) {
	for _, tt := range []struct {
		sum  simulate.Summary
		want string
	}{
		{simulate.Summary{Requests: 100, OK: 90, Errors: 3}, ""},
		{simulate.Summary{Requests: 100, OK: 40, Reauth: 60}, ""}, // refusals are campaigns working, not errors
		{simulate.Summary{Requests: 0, Errors: 5}, "no request reached the gate"},
		{simulate.Summary{Requests: 10, OK: 0, Errors: 10}, "was answered 200"},
		{simulate.Summary{Requests: 10, OK: 2, Errors: 6}, "6 of 10 requests failed"},
		{simulate.Summary{Requests: 10, OK: 10, RoutingViolations: 1}, "store-routing rule"},
	} {
		err := tt.sum.Failure("/api/feed")
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.sum, err, tt.want)
		}
	}
}

// TestSimulateVirtualUsage: every --virtual setting that cannot describe
// a run is a usage error before anything runs.
func TestSimulateVirtualUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--fleet", "0"},
		{"--fleet", "10000001"},
		{"--capacity", "0"},
		{"--capacity", "NaN"},
		{"--baseline", "60"},
		{"--baseline", "-1"},
		{"--target", "0"},
		{"--target", "1.5"},
		{"--max-duration", "0s"},
		{"--horizon", "1m"},
		{"--horizon", "1441h"},
		{"--ramps", "soon"},
		{"--ramps", "30s"},
		{"--ramps", "1h,,auto"},
		{"--ramps", strings.Repeat("1h,", 16) + "auto"},
		{"--seed", "-3"},
	} {
		err := run(context.Background(), append([]string{"simulate", "--virtual", "--fleet", "100"}, args...), nil, io.Discard, io.Discard)
		if exitCode(err) != 2 {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestSimulateVirtual runs a small fleet and reads its JSON: one row per
// ramp, in order, the auto ramp's with no disagreement between gates
// and server, and the three plots written.
func TestSimulateVirtual(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := run(context.Background(), []string{"simulate", "--virtual", "--fleet", "3000", "--capacity", "0.5", "--baseline", "0.05",
		"--horizon", "12h", "--ramps", "10m,auto", "--seed", "7", "--plots", dir, "-o", "json"}, nil, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Ramp          string  `json:"ramp"`
		Capacity      float64 `json:"capacity_per_s"`
		Contained     float64 `json:"contained_seconds"`
		Disagreements int64   `json:"gate_disagreements"`
	}
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(rows) != 2 || rows[0].Ramp != "fixed 10m" || rows[1].Ramp != "auto (max 72h, 80 %)" {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.Capacity != 0.5 || r.Contained <= 0 || r.Disagreements != 0 {
			t.Errorf("row %+v", r)
		}
	}
	for _, name := range []string{"demand.svg", "containment.svg", "satisfied.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("<svg ")) || !bytes.Contains(b, []byte("auto (max 72h, 80 %)")) || !bytes.Contains(b, []byte("hours since activation")) {
			t.Errorf("%s: not the chart: %.200s", name, b)
		}
	}
}

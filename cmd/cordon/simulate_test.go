package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clientfacts"
)

// simStores are the store pages of the tests' upgrade campaigns.
var simStores = map[string]string{
	"play":     "https://play.example/music",
	"amazon":   "https://amazon.example/music",
	"official": "https://music.example/download",
}

// runSim runs a simulator in the background; the channel yields its end.
func runSim(t *testing.T, sim *Simulator) <-chan Summary {
	t.Helper()
	done := make(chan Summary, 1)
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

func waitSim(t *testing.T, done <-chan Summary) Summary {
	t.Helper()
	select {
	case sum := <-done:
		return sum
	case <-time.After(20 * time.Second):
		t.Fatal("the simulator did not stop")
	}
	return Summary{}
}

// TestSimulatorIncident runs a fleet through a server and a gate while
// campaigns are activated mid-run: the apps log in again, set a new
// password, upgrade from the store they are sent to and download offline
// content again, and the server's progress counts them.
func TestSimulatorIncident(t *testing.T) {
	m := testServer(t)
	g := startGate(t, m.URL(), echoUpstream(t).URL)
	sim := &Simulator{Config: SimConfig{Server: m.URL(), Gate: "http://" + g.Addr(), Installs: 40, Concurrency: 16,
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

// TestSimulatorCountsRoutingViolations runs the fleet against a fake
// server and gate that send every install to the wrong store.
func TestSimulatorCountsRoutingViolations(t *testing.T) {
	const evil = "https://apk-mirror.example/music.apk"
	upgraded := func(r *http.Request) bool {
		f, err := clientfacts.FromHeader(r.Header)
		return err == nil && f.Version == "8.5.0"
	}
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	refusal := map[string]any{"error": "upgrade_required", "campaign": "c-1", "min_version": "8.5.0", "update_url": evil}
	tokens := map[string]any{"access_token": "a", "refresh_token": "r", "expires_in": 900, "token_type": "Bearer"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/login", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, tokens) })
	mux.HandleFunc("POST /v1/offline/grants", func(w http.ResponseWriter, r *http.Request) { reply(w, 201, map[string]any{"grant": "g"}) })
	mux.HandleFunc("POST /v1/offline/grants/check", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, map[string]any{"valid": true}) })
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		if upgraded(r) {
			reply(w, 200, tokens)
			return
		}
		body := map[string]any{"error": "invalid_grant", "reason": "upgrade_required"}
		for k, v := range refusal {
			if k != "error" {
				body[k] = v
			}
		}
		reply(w, 400, body)
	})
	mux.HandleFunc("GET /admin/v1/campaigns/c-1", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"id": "c-1", "upgrade": map[string]any{"min_version": "8.5.0", "mode": "immediate", "urls": simStores}})
	})
	mux.HandleFunc("GET /api/feed", func(w http.ResponseWriter, r *http.Request) {
		if upgraded(r) {
			reply(w, 200, map[string]any{"ok": true})
			return
		}
		reply(w, http.StatusUpgradeRequired, refusal)
	})
	fake := httptest.NewServer(mux)
	t.Cleanup(fake.Close)
	sim := &Simulator{Config: SimConfig{Server: fake.URL, Gate: fake.URL, Installs: 10, Duration: time.Second, Speed: 50,
		AdminToken: "cat_fake", Accounts: []SimAccount{{"ann", "pw"}, {"bob", "pw"}}, Seed: 1}}
	sum := waitSim(t, runSim(t, sim))
	if sum.RoutingViolations == 0 || sum.RoutingViolations != sum.RoutingChecked || sum.Upgrades == 0 {
		t.Errorf("violations %d of %d checked, %d upgrades; want every check a violation", sum.RoutingViolations, sum.RoutingChecked, sum.Upgrades)
	}
	if len(sum.Problems) == 0 || !strings.Contains(sum.Problems[0], "store routing") {
		t.Errorf("problems = %q, want the routing violation named", sum.Problems)
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !regexp.MustCompile(`store-routing violations: [1-9]`).MatchString(out.String()) {
		t.Errorf("summary does not show the violations:\n%s", out.String())
	}
}

func TestSimulatorExpectedRoute(t *testing.T) {
	urls := map[string]string{"play": "P", "amazon": "A", "official": "O"}
	for _, tc := range []struct {
		source, url string
		sideloaded  bool
	}{
		{"play", "P", false},
		{"amazon", "A", false},
		{"official", "O", false},
		{"appstore", "O", false}, // a store the campaign names no page for
		{"microsoft", "O", false},
		{"unknown", "O", true},
		{"web", "O", true},
	} {
		t.Run(tc.source, func(t *testing.T) {
			if u, side := expectedRoute(urls, tc.source); u != tc.url || side != tc.sideloaded {
				t.Errorf("expectedRoute(%s) = %s, %t; want %s, %t", tc.source, u, side, tc.url, tc.sideloaded)
			}
		})
	}
}

func TestSimulatorApportionKeepsTheMix(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 40, 500} {
		got := map[string]int{}
		for _, p := range apportion(n, platformMix, rng) {
			got[p]++
		}
		total := 0
		for _, w := range platformMix {
			want := float64(n) * float64(w.weight) / 100
			if d := float64(got[w.value]) - want; d <= -1 || d >= 1 {
				t.Errorf("n=%d: %d %s, want %.2f", n, got[w.value], w.value, want)
			}
			total += got[w.value]
		}
		if total != n {
			t.Errorf("n=%d: %d dealt", n, total)
		}
	}
}

func TestSimulatorLatencyQuantiles(t *testing.T) {
	var h latencies
	if got := h.quantile(0.5); got != 0 {
		t.Errorf("empty: %v, want 0", got)
	}
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.05 {
			t.Errorf("q%.2f = %v, want %v within 5 %% above", tc.q, got, tc.want)
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
	for _, want := range []string{"T+0s", "fleet logged in", "T+5s", "reauth campaign", "T+10s", "upgrade campaign",
		"T+20s", "offline_rekey campaign", "T+25s", "T+60s", "completed:", "store-routing violations: 0"} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if n := strings.Count(text, "\n"); n > 70 {
		t.Errorf("the demo printed %d lines, want about 60", n)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the demo left %v in the temporary folder", left)
	}
}

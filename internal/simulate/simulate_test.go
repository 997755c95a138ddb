package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
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
	sim := &Simulator{Config: Config{Server: fake.URL, Gate: fake.URL, Installs: 10, Duration: time.Second, Speed: 50,
		AdminToken: "cat_fake", Accounts: []Account{{"ann", "pw"}, {"bob", "pw"}}, Seed: 1}}
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

// TestSimulatorShedLoginIsNotAnError: a login the server sheds four times
// in a row (503 with Retry-After) is put off to the app's next turn and
// counted as such, not reported as "gave up after 4 attempts" — the demo
// printed those as if the product failed while it protected its capacity.
func TestSimulatorShedLoginIsNotAnError(t *testing.T) {
	var logins atomic.Int64
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/login", func(w http.ResponseWriter, r *http.Request) {
		if logins.Add(1) <= 2 { // the fleet's first logins
			reply(w, 200, map[string]any{"access_token": "a", "refresh_token": "r", "expires_in": 900, "token_type": "Bearer"})
			return
		}
		w.Header().Set("Retry-After", "1")
		reply(w, http.StatusServiceUnavailable, map[string]any{"error": "overloaded", "message": "try again"})
	})
	mux.HandleFunc("POST /v1/offline/grants", func(w http.ResponseWriter, r *http.Request) { reply(w, 201, map[string]any{"grant": "g"}) })
	mux.HandleFunc("POST /v1/offline/grants/check", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, map[string]any{"valid": true}) })
	mux.HandleFunc("GET /api/feed", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusUnauthorized, map[string]any{"error": "session_revoked"})
	})
	fake := httptest.NewServer(mux)
	t.Cleanup(fake.Close)
	sim := &Simulator{Config: Config{Server: fake.URL, Gate: fake.URL, Installs: 2, Duration: 5500 * time.Millisecond, Speed: 50,
		Accounts: []Account{{"ann", "pw"}, {"bob", "pw"}}, Seed: 1}}
	sum := waitSim(t, runSim(t, sim))
	if sum.LoginsDeferred == 0 || sum.Shed < 4 {
		t.Fatalf("deferred %d, shed %d: want logins put off after four sheds", sum.LoginsDeferred, sum.Shed)
	}
	for _, p := range sum.Problems {
		if strings.Contains(p, "gave up") {
			t.Errorf("a shed login was reported as a failure: %q", p)
		}
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !strings.Contains(out.String(), "load shedding") || !strings.Contains(out.String(), "Retry-After") {
		t.Errorf("the summary does not explain the shedding:\n%s", out.String())
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/simulate"
	"github.com/cordon-dev/cordon/internal/token"
)

// realRun is one ramp's figures from a real server, gate and fleet.
type realRun struct {
	Ramp     string `json:"ramp"`
	Installs int    `json:"installs"`
	// PeakDone is the most logins per second the server hashed over 5 s
	// (what the tier could take, on this machine, then); PeakTried the
	// most attempted (hashed or answered overloaded) over 5 s.
	PeakDone  float64 `json:"peak_hashed_per_s"`
	PeakTried float64 `json:"peak_attempted_per_s"`
	// Shed are the logins the server answered overloaded (503) after the
	// activation; Deferred the apps' logins shed four times in a row.
	Shed     int64   `json:"logins_shed"`
	Deferred int64   `json:"logins_put_off"`
	Admitted float64 `json:"all_admitted_s"` // seconds from activation until every user is admitted
	Back95   float64 `json:"relogged_95_s"`  // seconds until 95 % of the installs logged in again
	Relogins int64   `json:"relogins"`       // re-logins the simulator counted (not those put off)
}

// TestRealScaleRamp runs a reauth campaign over a real fleet — a server
// with its hashing pool, a gate, N simulated installs with their own
// accounts — once with a fixed short ramp and once with an auto ramp, and
// reports the logins shed and the times (issue 18, at the scale this
// machine holds). It takes minutes: run it on purpose, with
// CORDON_REALSCALE=N (installs; e.g. 3000), and CORDON_REALSCALE_OUT=FILE
// to keep the figures as JSON, CORDON_REALSCALE_LOG=FILE to keep the
// pacer's decisions. The fixed ramp's length is
// CORDON_REALSCALE_FIXED, one run each (default 10s; e.g. 5s,10s,20s).
func TestRealScaleRamp(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CORDON_REALSCALE"))
	if n <= 0 {
		t.Skip("set CORDON_REALSCALE=N (installs) to run the real-scale ramp comparison (minutes)")
	}
	fixed := []time.Duration{10 * time.Second}
	if v := os.Getenv("CORDON_REALSCALE_FIXED"); v != "" {
		fixed = nil
		for f := range strings.SplitSeq(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil || d <= 0 {
				t.Fatalf("CORDON_REALSCALE_FIXED=%q: want ramp lengths such as 5s,20s: %v", v, err)
			}
			fixed = append(fixed, d)
		}
	}
	var runs []realRun
	for _, d := range fixed {
		r, err := realScaleRun(t.Context(), n, "fixed "+d.String(), d)
		if err != nil {
			t.Fatalf("fixed %v: %v", d, err)
		}
		t.Logf("fixed %v: %+v", d, r)
		runs = append(runs, r)
	}
	r, err := realScaleRun(t.Context(), n, "auto", 0)
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	t.Logf("auto: %+v", r)
	runs = append(runs, r)
	t.Logf("\n%s", realScaleTable(runs))
	if out := os.Getenv("CORDON_REALSCALE_OUT"); out != "" {
		b, _ := json.MarshalIndent(runs, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if auto := runs[len(runs)-1]; auto.Shed != 0 {
		t.Errorf("the auto ramp shed %d logins, want none", auto.Shed)
	}
}

// realScaleRun plays one ramp: a server (cordon serve's argon2id, or
// the demo's lighter one with CORDON_REALSCALE_LIGHT=1; pacing every
// 2 s), an upstream, a gate, n installs that call the API every 15 s on
// average and log in again when refused (after 1–5 s of typing); after 20 s of quiet, a reauth campaign over everyone with
// the ramp, until 95 % of the installs logged in again (or 8 minutes).
func realScaleRun(ctx context.Context, n int, ramp string, fixed time.Duration) (realRun, error) {
	res := realRun{Ramp: ramp, Installs: n}
	dir, err := os.MkdirTemp("", "cordon-realscale-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	secret, _ := token.NewSecret("cat_")
	quiet := slog.New(slog.DiscardHandler)
	serverLog := quiet
	if path := os.Getenv("CORDON_REALSCALE_LOG"); path != "" {
		// The pacer's decisions and warnings, to see why a run shed.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return res, err
		}
		defer f.Close()
		fmt.Fprintf(f, "=== %s, %d installs\n", ramp, n)
		serverLog = slog.New(pacerOnly{slog.NewTextHandler(f, nil)})
	}
	hash := password.DefaultParams()
	if os.Getenv("CORDON_REALSCALE_LIGHT") != "" {
		hash.Time, hash.MemoryKiB = 1, 8*1024 // the demo's
	}
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: dir, AdminToken: secret, Hash: hash, Log: serverLog, Out: io.Discard,
		PaceEvery: 2 * time.Second, PolicyPoll: 200 * time.Millisecond}}
	if err := m.Run(ctx); err != nil {
		return res, err
	}
	defer m.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	upstream := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	})}
	go upstream.Serve(ln)
	defer upstream.Close()
	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: "http://" + ln.Addr().String(), Control: m.URL(), Token: secret, Log: quiet}}
	if err := g.Run(ctx); err != nil {
		return res, err
	}
	defer g.Close()
	for wait := time.Now(); !g.State.Ready(); {
		if time.Since(wait) > 10*time.Second {
			return res, errors.New("the gate received no policy within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The accounts share one password hashed once: n hashes through the
	// import would take minutes on a loaded machine, and only the logins'
	// hashing is measured.
	const pw = "real scale shared password"
	h, err := m.hasher.Hash(ctx, pw)
	if err != nil {
		return res, err
	}
	accts := make([]simulate.Account, n)
	now := time.Now()
	for i := range accts {
		name := fmt.Sprintf("rs-%06d", i)
		if err := m.store.CreateAccount(ctx, &cordon.Account{ID: fmt.Sprintf("a-rs%06d", i), Username: name, PasswordHash: h, PasswordChangedAt: now, CreatedAt: now}); err != nil {
			return res, err
		}
		accts[i] = simulate.Account{Username: name, Password: pw}
	}
	sim := &simulate.Simulator{Config: simulate.Config{Server: m.URL(), Gate: "http://" + g.Addr(), Path: "/", Installs: n, Accounts: accts,
		Concurrency: 4096, Duration: time.Hour, Speed: 1, Think: 15 * time.Second, AdminToken: secret, Seed: 18,
		Progress: os.Stderr, ProgressEvery: 30 * time.Second}}
	simCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { _, err := sim.Run(simCtx); done <- err }()
	select {
	case <-sim.Ready():
	case err := <-done:
		return res, fmt.Errorf("the fleet did not start: %w", err)
	}
	// Quiet: every install logged in (a login shed at the start is tried
	// again at the install's next turn), so no app has logged in for 20 s,
	// and the pacer has measured the tier, before the breach. (The
	// hashing pool itself is never idle that long: an idle interval's
	// probe hashes once.)
	idle, last := time.Now(), sim.Stats().Logins
	for time.Since(idle) < 20*time.Second {
		time.Sleep(time.Second)
		if d := sim.Stats().Logins; d != last {
			idle, last = time.Now(), d
		}
	}
	admin := adminclient.New(m.URL(), secret)
	start := time.Now().UTC()
	doc := fmt.Sprintf(`{"kind":"reauth","name":"real scale","ramp":{"start":%q,"duration":%q}}`, start.Format(time.RFC3339Nano), fixed.String())
	if ramp == "auto" {
		doc = fmt.Sprintf(`{"kind":"reauth","name":"real scale","ramp":{"start":%q,"mode":"auto","max_duration":"1h","target_utilisation":0.8}}`, start.Format(time.RFC3339Nano))
	}
	var c struct {
		ID string `json:"id"`
	}
	if err := admin.Do(ctx, "POST", "/admin/v1/campaigns", json.RawMessage(doc), &c); err != nil {
		return res, err
	}
	before := sim.Stats()
	load0 := m.hasher.Load()
	if err := admin.Do(ctx, "POST", "/admin/v1/campaigns/"+c.ID+"/activate", nil, nil); err != nil {
		return res, err
	}
	activated := time.Now()
	type sample struct {
		at         time.Time
		done, shed int64
	}
	window := []sample{{activated, load0.Done, load0.Shed}}
	for tick := time.NewTicker(time.Second); ; {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
		now := time.Now()
		l := m.hasher.Load()
		window = append(window, sample{now, l.Done, l.Shed})
		for len(window) > 2 && now.Sub(window[1].at) >= 5*time.Second {
			window = window[1:]
		}
		if w := window[0]; now.Sub(w.at) >= 5*time.Second {
			dt := now.Sub(w.at).Seconds()
			res.PeakDone = max(res.PeakDone, float64(l.Done-w.done)/dt)
			res.PeakTried = max(res.PeakTried, float64(l.Done-w.done+l.Shed-w.shed)/dt)
		}
		var cv struct {
			Progress struct {
				AdmittedShare float64 `json:"admitted_share"`
				Satisfied     int64   `json:"satisfied"`
			} `json:"progress"`
		}
		if err := admin.Do(ctx, "GET", "/admin/v1/campaigns/"+c.ID, nil, &cv); err != nil {
			return res, err
		}
		if res.Admitted == 0 && cv.Progress.AdmittedShare >= 1 {
			res.Admitted = now.Sub(activated).Seconds()
		}
		// Logged in again: the users the campaign counts as satisfied (an
		// app whose re-login was shed four times logs in at its next turn,
		// which the simulator does not count as a re-login).
		if res.Back95 == 0 && float64(cv.Progress.Satisfied) >= 0.95*float64(n) {
			res.Back95 = now.Sub(activated).Seconds()
		}
		if res.Back95 > 0 && res.Admitted > 0 || now.Sub(activated) > 8*time.Minute {
			break
		}
	}
	after := sim.Stats()
	l := m.hasher.Load()
	res.Shed = l.Shed - load0.Shed
	res.Deferred = after.LoginsDeferred - before.LoginsDeferred
	res.Relogins = after.Relogins - before.Relogins
	stop()
	<-done
	return res, nil
}

// realScaleTable writes runs as the README's table.
func realScaleTable(runs []realRun) string {
	var b strings.Builder
	b.WriteString("| ramp | installs | peak logins attempted (5 s) | peak logins hashed (5 s) | logins shed (503) | logins put off | everyone admitted after | 95 % logged in again after |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s | %d | %.1f/s | %.1f/s | %d | %d | %.0f s | %.0f s |\n", r.Ramp, r.Installs, r.PeakTried, r.PeakDone, r.Shed, r.Deferred, r.Admitted, r.Back95)
	}
	return b.String()
}

// pacerOnly passes on the pacer's and the login tier's records (and any
// warning), none of the access lines.
type pacerOnly struct{ slog.Handler }

func (h pacerOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn || strings.HasPrefix(r.Message, "campaign paced") {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}

func (h pacerOnly) WithAttrs(as []slog.Attr) slog.Handler { return pacerOnly{h.Handler.WithAttrs(as)} }
func (h pacerOnly) WithGroup(g string) slog.Handler       { return pacerOnly{h.Handler.WithGroup(g)} }

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/simulate"
	"github.com/cordon-dev/cordon/internal/token"
)

// demoOptions are what `cordon demo` is told.
type demoOptions struct {
	speed    float64
	installs int
	// hash are the server's argon2id parameters; zero means the default.
	hash password.Params
}

// Store pages of the demo's upgrade campaign.
var demoStores = map[string]string{
	"play":     "https://play.google.com/store/apps/details?id=com.example.music",
	"amazon":   "https://www.amazon.com/gp/mas/dl/android?p=com.example.music",
	"official": "https://www.example.com/download",
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := demoOptions{}
	fs.Float64Var(&o.speed, "speed", 1, "play the incident this many times faster (1 takes about a minute)")
	fs.IntVar(&o.installs, "installs", 300, "app installs in the simulated fleet")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError("demo takes no arguments, got %q", pos)
	}
	if o.speed <= 0 || o.speed > 1000 || math.IsNaN(o.speed) {
		return usageError("--speed must be above 0 and at most 1000")
	}
	if o.installs < 10 || o.installs > 5000 {
		return usageError("--installs must be between 10 and 5000")
	}
	return playDemo(ctx, o, stdout)
}

// playDemo plays SPEC.md's incident in-process: a server on a temporary
// data folder, an upstream, a gate in front of it, a simulated fleet,
// and the three campaigns, with a timeline on out.
func playDemo(ctx context.Context, o demoOptions, out io.Writer) (err error) {
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) / o.speed) }
	dir, err := os.MkdirTemp("", "cordon-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	secret, _ := token.NewSecret("cat_")
	quiet := slog.New(slog.DiscardHandler)

	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: dir, AdminToken: secret, Hash: o.hash, Log: quiet, Out: io.Discard}}
	if err := m.Run(ctx); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Close()) }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	upstream := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`+"\n")
	})}
	go upstream.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		upstream.Shutdown(sctx)
	}()

	g := &GateMain{Config: GateConfig{Addr: "127.0.0.1:0", Upstream: "http://" + ln.Addr().String(), Control: m.URL(), Token: secret, Log: quiet}}
	if err := g.Run(ctx); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, g.Close()) }()
	for wait := time.Now(); !g.State.Ready(); {
		if time.Since(wait) > 10*time.Second {
			return errors.New("the gate received no policy from the server within 10 s")
		}
		if !simulate.Pause(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}

	fmt.Fprintf(out, "cordon demo: the incident of SPEC.md, replayed at %g× speed\n", o.speed)
	fmt.Fprintf(out, "  server  %s   (data in %s, removed at the end)\n", m.URL(), dir)
	fmt.Fprintf(out, "  gate    http://%s → upstream http://%s\n", g.Addr(), ln.Addr())
	fmt.Fprintf(out, "  %d simulated app installs log in at the server (argon2id: this takes a few seconds)\n", o.installs)
	fmt.Fprintf(out, "  and then call the API behind the gate, reacting as the apps do\n\n")
	setUp := time.Now()

	sim := &simulate.Simulator{Config: simulate.Config{Server: m.URL(), Gate: "http://" + g.Addr(), Installs: o.installs, Concurrency: 32,
		Duration: 24 * time.Hour, Speed: o.speed, AdminToken: secret, UsersPrefix: "listener-", Seed: 2014}}
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	type result struct {
		sum simulate.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := sim.Run(simCtx)
		done <- result{sum, err}
	}()
	select {
	case <-sim.Ready():
	case r := <-done:
		return fmt.Errorf("the fleet could not start: %w", r.err)
	case <-ctx.Done():
		stopSim()
		<-done
		return ctx.Err()
	}

	// The timeline is in demo time: T+10s is 10 s after the fleet logged
	// in, divided by --speed.
	t0 := time.Now()
	mark := 0
	stamp := func() string { return fmt.Sprintf("T+%-4s", fmt.Sprintf("%ds", mark)) }
	const indent = "       "
	admin := adminclient.New(m.URL(), secret)
	var plats []string
	for _, p := range sim.Stats().Platforms {
		plats = append(plats, fmt.Sprintf("%s %d", p.Platform, p.Installs))
	}
	fmt.Fprintf(out, "%s fleet logged in (in %s): %s\n", stamp(), time.Since(setUp).Round(100*time.Millisecond), strings.Join(plats, " · "))
	fmt.Fprintf(out, "%severy app but the web player holds an offline grant\n", indent)

	var reauth, upgrade, rekey string
	header := true // due before the next progress line
	lastReq, lastAt := int64(0), time.Now()
	for step := 5; step <= 60; step += 5 {
		if !simulate.Pause(ctx, time.Until(t0.Add(scaled(time.Duration(step)*time.Second)))) {
			break
		}
		mark = step
		now := time.Now().UTC()
		switch step {
		case 5:
			reauth, err = demoCampaign(ctx, admin, out, stamp(), fmt.Sprintf(`{"kind":"reauth","name":"May incident: desktop, iOS, Windows Phone",
				"cohort":{"platforms":["desktop","ios","winphone"]},"ramp":{"start":%q,"duration":%q},
				"message":"For your security, please log in again."}`, now.Format(time.RFC3339Nano), scaled(30*time.Second)),
				"forced re-login on desktop, iOS and Windows Phone", "platform",
				fmt.Sprintf("activated: the ramp admits the cohort's users over %s (30s of demo time), each at a stable point", scaled(30*time.Second).Round(time.Millisecond)))
		case 10:
			upgrade, err = demoCampaign(ctx, admin, out, stamp(), fmt.Sprintf(`{"kind":"upgrade","name":"Android: update to 8.5.0 from an official source",
				"cohort":{"platforms":["android"],"versions":"< 8.5.0"},"ramp":{"start":%q,"duration":%q},
				"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"play":%q,"amazon":%q,"official":%q}}}`,
				now.Format(time.RFC3339Nano), scaled(20*time.Second), demoStores["play"], demoStores["amazon"], demoStores["official"]),
				"immediate Android upgrade to 8.5.0 (apps below it get 426 upgrade_required)", "source",
				fmt.Sprintf("activated over %s; each install is sent to its own store, side-loaded ones to the official site:\n%s  play → %s\n%s  amazon → %s\n%s  unknown (side-loaded) → %s",
					scaled(20*time.Second).Round(time.Millisecond), indent, demoStores["play"], indent, demoStores["amazon"], indent, demoStores["official"]))
		case 20:
			rekey, err = demoCampaign(ctx, admin, out, stamp(), `{"kind":"offline_rekey","name":"Android: offline keys of old installs",
				"cohort":{"platforms":["android"]}}`,
				"offline re-key for Android: grants issued before now answer 403 offline_grant_revoked", "", "activated for every Android install at once")
		default:
			if step == 60 {
				break
			}
			if header {
				fmt.Fprintf(out, "\n%s %-*s   %-*s   %-*s   %6s\n", indent[1:], rampedWidth, "re-login (desktop,iOS,WP)",
					rampedWidth, "upgrade (Android)", plainWidth, "re-key (Android)", "gate")
				fmt.Fprintf(out, "%s %s   %s   %s   %6s\n", indent[1:], rampedHeader, rampedHeader, plainHeader, "req/s")
				header = false
			}
			st := sim.Stats()
			rate := float64(st.Requests-lastReq) / time.Since(lastAt).Seconds()
			lastReq, lastAt = st.Requests, time.Now()
			fmt.Fprintf(out, "%s %s   %s   %s   %6.0f\n", stamp(), progressCells(ctx, admin, reauth, true), progressCells(ctx, admin, upgrade, true),
				progressCells(ctx, admin, rekey, false), rate)
			continue
		}
		header = true
		if err != nil {
			break
		}
	}
	stopSim()
	r := <-done
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(out, "\n%s the fleet is stopped; the campaigns are completed:\n", stamp())
	for _, c := range []struct{ id, what string }{{reauth, "re-login"}, {upgrade, "upgrade"}, {rekey, "offline re-key"}} {
		var v campaignOut
		if err := admin.Do(ctx, "POST", "/admin/v1/campaigns/"+c.id+"/complete", nil, nil); err != nil {
			return fmt.Errorf("complete %s: %w", c.id, err)
		}
		if err := admin.Do(ctx, "GET", "/admin/v1/campaigns/"+c.id, nil, &v); err != nil {
			return err
		}
		p := v.Progress
		fmt.Fprintf(out, "%s %-15s %s  %s: %d of %d blocked users satisfied (%.0f%% of the cohort)\n", indent, c.what, v.ID, v.State, p.SatisfiedUsers, p.BlockedUsers, p.Complete*100)
	}
	fmt.Fprintf(out, "\nThe fleet, as the simulated apps saw it:\n")
	r.sum.Print(out)
	switch {
	case r.err != nil:
		return r.err
	case r.sum.RoutingViolations > 0:
		return fmt.Errorf("%d update_url(s) broke the store-routing rule", r.sum.RoutingViolations)
	case r.sum.ServerErrors > 0:
		return fmt.Errorf("%d answer(s) were server errors", r.sum.ServerErrors)
	}
	return nil
}

// demoCampaign creates a campaign, prints its preview (sessions by the
// given fact) and activates it.
func demoCampaign(ctx context.Context, admin *adminclient.Client, out io.Writer, stamp, doc, what, by, activated string) (string, error) {
	var c campaignOut
	if err := admin.DoRaw(ctx, "POST", "/admin/v1/campaigns", "application/json", strings.NewReader(doc), &c); err != nil {
		return "", fmt.Errorf("create campaign: %w", err)
	}
	fmt.Fprintf(out, "\n%s %s campaign %s: %s\n", stamp, c.Kind, c.ID, what)
	var pv struct {
		Sessions     int64 `json:"sessions"`
		Users        int64 `json:"users"`
		LiveSessions int64 `json:"live_sessions"`
		Breakdown    []struct {
			Platform string `json:"platform"`
			Source   string `json:"source"`
			Sessions int64  `json:"sessions"`
		} `json:"breakdown"`
	}
	if err := admin.Do(ctx, "GET", "/admin/v1/campaigns/"+c.ID+"/preview", nil, &pv); err != nil {
		return "", fmt.Errorf("preview %s: %w", c.ID, err)
	}
	line := fmt.Sprintf("previewed: %d sessions of %d users, of %d live", pv.Sessions, pv.Users, pv.LiveSessions)
	if by != "" {
		n := map[string]int64{}
		for _, b := range pv.Breakdown {
			if by == "platform" {
				n[b.Platform] += b.Sessions
			} else {
				n[b.Source] += b.Sessions
			}
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return n[keys[i]] > n[keys[j]] || (n[keys[i]] == n[keys[j]] && keys[i] < keys[j]) })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, n[k])
		}
		line += " (" + strings.Join(parts, " · ") + ")"
	}
	fmt.Fprintf(out, "       %s\n", line)
	if err := admin.Do(ctx, "POST", "/admin/v1/campaigns/"+c.ID+"/activate", nil, nil); err != nil {
		return "", fmt.Errorf("activate %s: %w", c.ID, err)
	}
	fmt.Fprintf(out, "       %s\n", activated)
	return c.ID, nil
}

// The progress table's columns: the share of the cohort the ramp admits
// (for ramped campaigns), the users blocked and those satisfied.
var (
	rampedHeader = fmt.Sprintf("%5s %8s %12s", "in", "blocked", "satisfied")
	plainHeader  = fmt.Sprintf("%8s %12s", "blocked", "satisfied")
	rampedWidth  = len(rampedHeader)
	plainWidth   = len(plainHeader)
)

// progressCells are a campaign's cells of the progress table, from GET
// /admin/v1/campaigns/{id}.
func progressCells(ctx context.Context, admin *adminclient.Client, id string, ramped bool) string {
	var v campaignOut
	if id == "" || admin.Do(ctx, "GET", "/admin/v1/campaigns/"+id, nil, &v) != nil || v.Progress == nil {
		if ramped {
			return fmt.Sprintf("%5s %8s %12s", "-", "-", "-")
		}
		return fmt.Sprintf("%8s %12s", "-", "-")
	}
	p := v.Progress
	sat := fmt.Sprintf("%6d %5s", p.SatisfiedUsers, "")
	if p.BlockedUsers > 0 {
		sat = fmt.Sprintf("%6d %4.0f%%", p.SatisfiedUsers, p.Complete*100)
	}
	if ramped {
		return fmt.Sprintf("%4.0f%% %8d %s", p.AdmittedShare*100, p.BlockedUsers, sat)
	}
	return fmt.Sprintf("%8d %s", p.BlockedUsers, sat)
}

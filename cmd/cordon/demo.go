package main

import (
	"context"
	"encoding/json"
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
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/simulate"
	"github.com/cordon-dev/cordon/internal/token"
	"github.com/spf13/cobra"
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

func demoCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "demo",
		Short: "Play a whole incident in-process, in about a minute",
		Long: `Play the incident of the spec in-process: a server on a temporary data
folder, an API with a gate in front of it, a simulated fleet of app installs,
and the campaigns an operator would run (reauth, password reset, a forced
upgrade), with their progress. Nothing outside the process is touched.`,
		Example: "  cordon demo\n  cordon demo --speed 4 --installs 100",
		Args:    noArgs,
	}, func(fs *flag.FlagSet) action {
		o := demoOptions{}
		fs.Float64Var(&o.speed, "speed", 1, "play the incident this many times faster (1 takes about a minute)")
		fs.IntVar(&o.installs, "installs", 300, "app installs in the simulated fleet")
		return func(ctx context.Context, _ []string) error {
			return runDemo(ctx, o, a.stdout)
		}
	})
}

func runDemo(ctx context.Context, o demoOptions, stdout io.Writer) error {
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

	// A lighter argon2id than a real server's, said so at the start: the
	// fleet's first logins are the demo's longest wait.
	hash := o.hash
	if hash == (password.Params{}) {
		hash = password.DefaultParams()
		hash.Time, hash.MemoryKiB = 1, 8*1024
	}
	m := &Main{Config: Config{Addr: "127.0.0.1:0", Data: dir, AdminToken: secret, Hash: hash, Log: quiet, Out: io.Discard}}
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
	fmt.Fprintf(out, "  %d simulated app installs log in at the server (argon2id at %s, a lighter setting than\n", o.installs, hashLabel(hash))
	fmt.Fprintf(out, "  cordon serve's %s, to keep the demo short) and then call the API behind the gate,\n", hashLabel(password.DefaultParams()))
	fmt.Fprintf(out, "  reacting as the apps do\n\n")
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
	var scope demoScope
	var inc demoIncident
	header := true // due before the next progress line
	lastReq, lastAt, lastShed := int64(0), time.Now(), int64(0)
	done100 := 0 // progress lines in a row with every campaign at 100 %
timeline:
	for step := 5; step <= 60; step += 5 {
		if !simulate.Pause(ctx, time.Until(t0.Add(scaled(time.Duration(step)*time.Second)))) {
			break
		}
		mark = step
		now := time.Now().UTC()
		switch step {
		case 5:
			scope, err = demoAudit(ctx, admin, out, stamp(), sim.Stats().Installs)
			if err == nil {
				reauth, err = demoCampaign(ctx, admin, out, stamp(), fmt.Sprintf(`{"kind":"reauth","name":"May incident: desktop, iOS, Windows Phone",
				"cohort":{"platforms":["desktop","ios","winphone"]},"ramp":{"start":%q,"duration":%q},
				"message":"For your security, please log in again."}`, now.Format(time.RFC3339Nano), scaled(30*time.Second)),
					"forced re-login on desktop, iOS and Windows Phone", "platform",
					fmt.Sprintf("activated: the ramp admits the cohort's users over %s (30s of demo time), each at a stable point, so the login tier is not flooded", scaled(30*time.Second).Round(time.Millisecond)))
			}
			if err == nil {
				inc, err = demoOpenIncident(ctx, admin, out, indent, scope.report, reauth)
			}
		case 15:
			err = demoTellUsers(ctx, admin, out, stamp(), m.URL(), inc, reauth)
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
				fmt.Fprintf(out, "\n%s %-*s   %-*s   %-*s   %6s %6s\n", indent[1:], rampedWidth, "re-login (desktop,iOS,WP)",
					rampedWidth, "upgrade (Android)", plainWidth, "re-key (Android)", "gate", "logins")
				fmt.Fprintf(out, "%s %s   %s   %s   %6s %6s\n", indent[1:], rampedHeader, rampedHeader, plainHeader, "req/s", "shed")
				header = false
			}
			st := sim.Stats()
			rate := float64(st.Requests-lastReq) / time.Since(lastAt).Seconds()
			lastReq, lastAt = st.Requests, time.Now()
			ps := [3]*demoProgress{demoFetch(ctx, admin, reauth), demoFetch(ctx, admin, upgrade), demoFetch(ctx, admin, rekey)}
			fmt.Fprintf(out, "%s %s   %s   %s   %6.0f %6d\n", stamp(), ps[0].cells(true), ps[1].cells(true), ps[2].cells(false), rate, st.Shed-lastShed)
			lastShed = st.Shed
			if ps[0].finished() && ps[1].finished() && ps[2].finished() {
				done100++
			} else {
				done100 = 0
			}
			if done100 == 2 {
				break timeline // contained and steady: the end
			}
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
	fmt.Fprintf(out, "\n%s the fleet is stopped; the campaigns are completed\n", stamp())
	final := map[string]*demoProgress{}
	for _, id := range []string{reauth, upgrade, rekey} {
		if err := admin.Do(ctx, "POST", "/admin/v1/campaigns/"+id+"/complete", nil, nil); err != nil {
			return fmt.Errorf("complete %s: %w", id, err)
		}
		if final[id] = demoFetch(ctx, admin, id); final[id] == nil {
			return fmt.Errorf("campaign %s could not be read", id)
		}
	}
	fmt.Fprintf(out, "\nThe fleet, as the simulated apps saw it:\n")
	r.sum.Print(out)

	// The verdict, last, so it is what a reader sees.
	var failed []string
	switch {
	case r.err != nil:
		failed = append(failed, r.err.Error())
	case r.sum.RoutingViolations > 0:
		failed = append(failed, fmt.Sprintf("%d update_url(s) broke the store-routing rule", r.sum.RoutingViolations))
	case r.sum.ServerErrors > 0:
		failed = append(failed, fmt.Sprintf("%d answer(s) were server errors", r.sum.ServerErrors))
	}
	// Containment is enforcement: a user who has not come back yet is
	// still refused, which is the point. Only a wrong answer fails it.
	fmt.Fprintln(out)
	if len(failed) == 0 {
		fmt.Fprintf(out, "RESULT: contained — every campaign enforced at the gate by T+%ds of demo time (%s in all)\n", mark, time.Since(setUp).Round(time.Second))
	} else {
		fmt.Fprintf(out, "RESULT: NOT contained — %s\n", strings.Join(failed, "; "))
	}
	later := func(p *demoProgress) string {
		if n := p.BlockedUsers - p.SatisfiedUsers; n > 0 {
			return fmt.Sprintf("; %d not back yet, their sessions still refused", n)
		}
		return ""
	}
	p := final[reauth]
	fmt.Fprintf(out, "  scoped    %s\n", scope.line)
	fmt.Fprintf(out, "            (the log is tamper-evident: cordon audit verify proves it intact or names the first bad entry)\n")
	fmt.Fprintf(out, "  incident  %s\n", inc.summary(ctx, admin))
	fmt.Fprintf(out, "  re-login  %d of %d users the campaign blocked on desktop, iOS and Windows Phone logged in again%s\n", p.SatisfiedUsers, p.BlockedUsers, later(p))
	p = final[upgrade]
	fmt.Fprintf(out, "  upgrade   %d of %d Android users below 8.5.0 updated, each from its own store (%d of %d store links checked, %d wrong)%s\n",
		p.SatisfiedUsers, p.BlockedUsers, r.sum.RoutingChecked, r.sum.RoutingChecked+r.sum.RoutingUnverified, r.sum.RoutingViolations, later(p))
	p = final[rekey]
	fmt.Fprintf(out, "  re-key    %d of %d Android users whose offline grant was revoked downloaded again%s\n", p.SatisfiedUsers, p.BlockedUsers, later(p))
	if r.sum.Shed > 0 {
		fmt.Fprintf(out, "  load      the server shed %d login(s) with 429/503 and Retry-After when they came faster than it can hash\n"+
			"            passwords; the apps waited and tried again. That is cordon protecting its capacity, not a failure,\n"+
			"            and the reason campaigns ramp.\n", r.sum.Shed)
	}
	fmt.Fprintf(out, "  errors    %d · server errors %d\n", r.sum.Errors, r.sum.ServerErrors)
	fmt.Fprintf(out, "\nEach step by hand, against `cordon serve` (README.md shows them all):\n")
	for _, l := range []string{
		"cordon audit report --principal support-tool-7 --save     # whose data was read",
		"cordon incident open \"support-tool-7 read listener data\"   # then: cordon incident link ID report r-…",
		"cordon campaign create -f reauth.yaml                      # then: cordon campaign preview ID",
		"cordon campaign activate ID                                # and the same for upgrade.yaml, rekey.yaml",
		"cordon campaign show ID --watch                            # progress until satisfied",
		"cordon notice create -f notice.yaml --incident ID          # then: cordon notice publish N",
		"cordon incident timeline ID --format md                    # the postmortem's timeline",
		"cordon campaign complete ID",
		"cordon simulate --gate http://127.0.0.1:8081 --installs 300   # the fleet, against your gate",
	} {
		fmt.Fprintf(out, "  %s\n", l)
	}
	if len(failed) > 0 {
		return errors.New("the demo's incident was not contained: " + strings.Join(failed, "; "))
	}
	return nil
}

// demoScope is what the audit step found.
type demoScope struct{ line, report string }

// demoIncident is the incident the demo opens.
type demoIncident struct{ id string }

// demoOpenIncident opens the incident with its 72-hour clock and links
// the report and the re-login campaign to it.
func demoOpenIncident(ctx context.Context, admin *adminclient.Client, out io.Writer, indent, report, campaign string) (demoIncident, error) {
	var opened struct {
		ID string `json:"id"`
	}
	if err := admin.Do(ctx, "POST", "/admin/v1/incidents", map[string]string{"title": "support-tool-7 read listener data", "severity": "high"}, &opened); err != nil {
		return demoIncident{}, fmt.Errorf("open the incident: %w", err)
	}
	for kind, id := range map[string]string{"report": report, "campaign": campaign} {
		if err := admin.Do(ctx, "POST", "/admin/v1/incidents/"+opened.ID+"/links", map[string]string{"kind": kind, "id": id}, nil); err != nil {
			return demoIncident{}, fmt.Errorf("link the %s: %w", kind, err)
		}
	}
	fmt.Fprintf(out, "%sincident %s opened (GDPR's 72-hour clock starts); the report and the campaign are linked to it\n", indent, opened.ID)
	return demoIncident{id: opened.ID}, nil
}

// demoTellUsers publishes the notice that explains the re-login, in two
// languages (the gate's denials carry its title as Cordon-Notice, in the
// app's language), and the incident's public page.
func demoTellUsers(ctx context.Context, admin *adminclient.Client, out io.Writer, stamp, server string, inc demoIncident, campaign string) error {
	doc := `{"campaign":` + strconv.Quote(campaign) + `,"cohort":{"platforms":["desktop","ios","winphone"]},"default_language":"en",
		"texts":{"en":{"title":"We signed you out to protect your account","body":"A support tool was misused. Please log in again."},
		"de":{"title":"Wir haben Sie zu Ihrem Schutz abgemeldet","body":"Ein Support-Werkzeug wurde missbraucht. Bitte melden Sie sich neu an."}}}`
	var n struct {
		ID string `json:"id"`
	}
	if err := admin.DoRaw(ctx, "POST", "/admin/v1/notices?incident="+inc.id, "application/json", strings.NewReader(doc), &n); err != nil {
		return fmt.Errorf("create the notice: %w", err)
	}
	if err := admin.Do(ctx, "POST", "/admin/v1/notices/"+n.ID+"/publish", nil, nil); err != nil {
		return fmt.Errorf("publish the notice: %w", err)
	}
	page := map[string]any{"slug": "may-incident", "default_language": "en", "texts": map[string]any{
		"en": map[string]string{"title": "A support tool was misused", "body": "We signed out affected users and are forcing an update of old Android apps."}}}
	if err := admin.Do(ctx, "POST", "/admin/v1/incidents/"+inc.id+"/page", page, nil); err != nil {
		return fmt.Errorf("publish the public page: %w", err)
	}
	fmt.Fprintf(out, "\n%s telling users: notice %s (English, German) explains the re-login; every denial of\n", stamp, n.ID)
	fmt.Fprintf(out, "       that campaign now carries its title (Cordon-Notice), in the app's language; the public\n")
	fmt.Fprintf(out, "       page is at %s/status/may-incident (HTML, Atom, JSON)\n", server)
	return nil
}

// summary is the incident's line in the verdict: its timeline's length
// and the people concerned, as the regulator summary states them.
func (inc demoIncident) summary(ctx context.Context, admin *adminclient.Client) string {
	if inc.id == "" {
		return "not opened"
	}
	var tl struct {
		Entries []json.RawMessage `json:"entries"`
	}
	var sum struct {
		People struct {
			Count *int `json:"count"`
		} `json:"people"`
	}
	if err := admin.Do(ctx, "GET", "/admin/v1/incidents/"+inc.id+"/timeline", nil, &tl); err != nil {
		return inc.id + ": timeline unreadable: " + err.Error()
	}
	if err := admin.Do(ctx, "GET", "/admin/v1/incidents/"+inc.id+"/summary", nil, &sum); err != nil {
		return inc.id + ": summary unreadable: " + err.Error()
	}
	people := "not known yet"
	if sum.People.Count != nil {
		people = fmt.Sprintf("%d", *sum.People.Count)
	}
	return fmt.Sprintf("%s: %d signed timeline entries; people concerned (Article 33): %s", inc.id, len(tl.Entries), people)
}

// demoAudit is the incident's scoping: the services report their reads of
// user data, one of them (the intruder's foothold, support-tool-7) read one
// listener's profile and email, and a report says whose data it touched.
func demoAudit(ctx context.Context, admin *adminclient.Client, out io.Writer, stamp string, installs int) (demoScope, error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	// The listeners are the fleet's accounts: the log resolves each
	// subject to one, and a report counts accounts.
	page, err := admin.Accounts(ctx, adminclient.AccountFilter{Prefix: "listener-", Limit: min(installs, 1000)}) // the API's largest page
	if err != nil {
		return demoScope{}, fmt.Errorf("the fleet's accounts: %w", err)
	}
	if len(page.Accounts) == 0 {
		return demoScope{}, errors.New("the fleet has no accounts to report on")
	}
	listener := func(i int) string { return page.Accounts[i%len(page.Accounts)].Username }
	var b strings.Builder
	event := func(principal, subject string, cats ...string) {
		c, _ := json.Marshal(cats)
		fmt.Fprintf(&b, `{"time":%q,"principal":%q,"action":"read","subject":%q,"categories":%s,"purpose":"demo"}`+"\n", now, principal, subject, c)
	}
	for i := range max(installs/3, 1) {
		event("svc-recommend", listener(i), "playlists", "listening_history")
	}
	for i := range max(installs/30, 1) {
		event("svc-billing", listener(i*7), "payment")
	}
	event("support-tool-7", listener(17), "profile", "email")
	if err := admin.DoRaw(ctx, "POST", "/audit/v1/events", "application/x-ndjson", strings.NewReader(b.String()), nil); err != nil {
		return demoScope{}, fmt.Errorf("audit events: %w", err)
	}
	var saved struct {
		Report struct {
			ID      string `json:"id"`
			Summary string `json:"summary"`
		} `json:"report"`
	}
	if err := admin.Do(ctx, "POST", "/admin/v1/audit/reports", map[string]any{"principals": []string{"support-tool-7"}}, &saved); err != nil {
		return demoScope{}, fmt.Errorf("audit report: %w", err)
	}
	rep := saved.Report
	if rep.ID == "" || rep.Summary == "" {
		return demoScope{}, errors.New("the saved audit report came back without its id or summary")
	}
	fmt.Fprintf(out, "\n%s scoping: the services reported %d reads of user data into the tamper-evident log;\n", stamp, strings.Count(b.String(), "\n"))
	fmt.Fprintf(out, "       whose data did the compromised support-tool-7 touch? (report %s)\n", rep.ID)
	fmt.Fprintf(out, "       %s\n", rep.Summary)
	return demoScope{line: fmt.Sprintf("support-tool-7 touched %s (report %s)", rep.Summary, rep.ID), report: rep.ID}, nil
}

// hashLabel names argon2id parameters for a person.
func hashLabel(p password.Params) string {
	return fmt.Sprintf("t=%d, %d MiB", p.Time, p.MemoryKiB/1024)
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

// demoProgress is the part of a campaign's progress the demo shows.
type demoProgress struct {
	BlockedUsers   int64   `json:"blocked_users"`
	SatisfiedUsers int64   `json:"satisfied_users"`
	AdmittedShare  float64 `json:"admitted_share"`
}

// demoFetch reads a campaign's progress, or nil.
func demoFetch(ctx context.Context, admin *adminclient.Client, id string) *demoProgress {
	var v struct {
		Progress *demoProgress `json:"progress"`
	}
	if id == "" || admin.Do(ctx, "GET", "/admin/v1/campaigns/"+id, nil, &v) != nil {
		return nil
	}
	return v.Progress
}

// finished says the campaign admitted its whole cohort and every user it
// blocked did what it asked.
func (p *demoProgress) finished() bool {
	return p != nil && p.AdmittedShare >= 1 && p.BlockedUsers > 0 && p.SatisfiedUsers >= p.BlockedUsers
}

// cells are a campaign's cells of the progress table: the share admitted
// (ramped campaigns), the users blocked, and those satisfied of them.
func (p *demoProgress) cells(ramped bool) string {
	if p == nil {
		if ramped {
			return fmt.Sprintf("%5s %8s %12s", "-", "-", "-")
		}
		return fmt.Sprintf("%8s %12s", "-", "-")
	}
	sat := fmt.Sprintf("%6d %5s", p.SatisfiedUsers, "")
	if p.BlockedUsers > 0 {
		sat = fmt.Sprintf("%6d %4.0f%%", p.SatisfiedUsers, float64(p.SatisfiedUsers)/float64(p.BlockedUsers)*100)
	}
	if ramped {
		return fmt.Sprintf("%4.0f%% %8d %s", p.AdmittedShare*100, p.BlockedUsers, sat)
	}
	return fmt.Sprintf("%8d %s", p.BlockedUsers, sat)
}

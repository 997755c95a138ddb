// Package simulate drives a fleet of simulated app installs against a
// cordon server and a gate in front of an API, as people and apps would
// act: they log in, call the API, obey what they are told (log in again,
// reset a password, install an update, now or when prompted), and the
// simulator tallies what happened per platform — answers, routes to
// stores checked against the campaign's update_url rules, latencies. It
// is what `cordon simulate` and `cordon demo` run; nothing of it is in a
// request path.
package simulate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/dunglas/httpsfv"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Config is what `cordon simulate` is told.
type Config struct {
	Server string // the cordon server: login, refresh, offline grants
	Gate   string // a cordon gate in front of an upstream answering GET Path
	// Path is what the apps GET through the gate; /api/feed when empty.
	// Any path the upstream answers with 200 will do.
	Path string
	// Installs is the size of the fleet; Concurrency bounds its requests
	// in flight.
	Installs    int
	Concurrency int
	// Duration is how long the fleet runs once every install has logged in.
	Duration time.Duration
	// Speed divides every delay of the simulated people and apps: the
	// pause between requests, the time to install an update.
	Speed float64
	// Think is the mean pause between two requests of one install, before
	// Speed; 1 s when zero.
	Think time.Duration
	// UpgradeDelay is the range of the time a person takes to install an
	// update the app asks for, before Speed; 2–10 s when zero.
	UpgradeDelay [2]time.Duration
	// LoginDelay is the range of the time a person takes to type the
	// password again when the app asks, before Speed; 1–5 s when zero.
	LoginDelay [2]time.Duration
	// Accounts are existing accounts the installs log in as, in turn.
	// When empty, Installs accounts named UsersPrefix+tag+number are
	// created through the admin API's bulk import.
	Accounts    []Account
	UsersPrefix string
	// AdminToken creates the accounts and reads campaigns' store URLs to
	// verify each update_url; without it routing goes unverified.
	AdminToken string
	Seed       uint64
	// Progress receives the live display; nothing when nil. On a terminal
	// (Terminal true) one line is redrawn each second, else a line is
	// written every ProgressEvery (5 s when zero).
	Progress      io.Writer
	Terminal      bool
	ProgressEvery time.Duration
}

// Account is an account the simulator logs in as.
type Account struct {
	Username string
	Password string
}

// Simulator plays a fleet of app installs against a cordon server and a
// gate, reacting to campaigns as the apps would, and counts what
// happened. Run it once; Ready and Stats may be called from other
// goroutines while it runs.
type Simulator struct {
	Config Config

	readyOnce sync.Once
	ready     chan struct{}

	http     *http.Client
	admin    *adminclient.Client
	sem      chan struct{}
	server   string
	gate     string
	fleet    []*simInstall
	byPlat   map[string]*platStats
	started  atomic.Int64 // Unix ns of the start of the run phase
	ended    atomic.Int64
	counters simCounters
	lat      latencies // every gate call
	window   latencies // gate calls since the last live line

	mu       sync.Mutex
	urls     map[string]map[string]string // campaign id → its upgrade URLs; nil value: not an upgrade campaign
	routes   map[routeKey]int64
	problems []string
}

// simCounters are fleet-wide counts that belong to no platform.
type simCounters struct {
	serverErrors   atomic.Int64 // 5xx answers but load shedding
	shed           atomic.Int64 // 429 or 503 with Retry-After
	routeChecked   atomic.Int64
	routeViolation atomic.Int64
	routeUnknown   atomic.Int64 // 426 answers whose campaign could not be read
	disagreements  atomic.Int64 // the gate refused a token the server had just issued
	flexPrompts    atomic.Int64
	logins         atomic.Int64
	deferred       atomic.Int64 // logins put off after every attempt was shed
	refreshes      atomic.Int64
	checkins       atomic.Int64
}

// platStats are the outcomes of one platform's installs.
type platStats struct {
	installs                                    int
	requests, ok, reauth, resetReq, upgrade     atomic.Int64
	offline, errors, relogins, resets, upgrades atomic.Int64
	redownloads, flexUpgrades, stuck            atomic.Int64
}

type routeKey struct {
	platform, source, url string
	sideloaded            bool
}

// simInstall is one app install. Only its own goroutine touches it.
type simInstall struct {
	s        *Simulator
	id       int
	acct     *simAcct
	platform string
	source   string
	version  string
	device   string
	rng      *mrand.Rand
	st       *platStats

	access, refresh string
	accessExp       time.Time
	accessTTL       time.Duration
	offline         bool      // holds offline content: every platform but the web player
	grant           string    // its offline grant; "" while it has none
	revoked         bool      // its grant was revoked and not downloaded again yet
	parkedUntil     time.Time // a password reset it cannot do: it waits
	flexMin         string    // a flexible upgrade it decided to install…
	flexAt          time.Time // …at this time
	flexSeen        map[string]bool
}

// simAcct is an account shared by the installs that log in as it: one of
// them may set a new password, which the others then use.
type simAcct struct {
	name string
	mu   sync.Mutex
	pw   string
}

func (a *simAcct) password() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pw
}

func (a *simAcct) setPassword(pw string) {
	a.mu.Lock()
	a.pw = pw
	a.mu.Unlock()
}

// The fleet's mix: the platforms of the incident, most installs on 8.4.x,
// Android installed mostly from the stores.
var (
	platformMix = []weighted{{cordon.PlatformAndroid, 45}, {cordon.PlatformIOS, 30}, {cordon.PlatformDesktop, 15},
		{cordon.PlatformWinPhone, 5}, {cordon.PlatformWeb, 5}}
	androidSources = []weighted{{cordon.SourcePlay, 80}, {cordon.SourceAmazon, 10}, {cordon.SourceUnknown, 10}}
	minorMix       = []weighted{{"8.2", 5}, {"8.3", 15}, {"8.4", 65}, {"8.5", 15}}
	platformSource = map[string]string{cordon.PlatformIOS: cordon.SourceAppStore, cordon.PlatformDesktop: cordon.SourceOfficial,
		cordon.PlatformWinPhone: cordon.SourceMicrosoft, cordon.PlatformWeb: cordon.SourceWeb}
)

type weighted struct {
	value  string
	weight int
}

// apportion deals n items over the weights by largest remainder, so even
// a small fleet has the mix's shape, then shuffles them.
func apportion(n int, ws []weighted, rng *mrand.Rand) []string {
	total := 0
	for _, w := range ws {
		total += w.weight
	}
	out := make([]string, 0, n)
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(ws))
	for i, w := range ws {
		exact := float64(n) * float64(w.weight) / float64(total)
		k := int(exact)
		for range k {
			out = append(out, w.value)
		}
		rems[i] = rem{i, exact - float64(k)}
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.r > b.r:
			return -1
		case a.r < b.r:
			return 1
		}
		return 0
	})
	for i := 0; len(out) < n; i++ {
		out = append(out, ws[rems[i%len(rems)].i].value)
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Ready is closed once every install has logged in (or given up trying)
// and the fleet starts its loop.
func (s *Simulator) Ready() <-chan struct{} {
	s.readyOnce.Do(func() { s.ready = make(chan struct{}) })
	return s.ready
}

// Run logs the fleet in, lets it run for Config.Duration or until ctx
// ends, and returns what happened. An error means the fleet could not be
// set up; a ctx ended during the run is a normal end.
func (s *Simulator) Run(ctx context.Context) (Summary, error) {
	s.Ready()
	c := &s.Config
	if c.Installs <= 0 {
		c.Installs = 500
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.Speed <= 0 {
		c.Speed = 1
	}
	if c.Think <= 0 {
		c.Think = time.Second
	}
	if c.UpgradeDelay == [2]time.Duration{} {
		c.UpgradeDelay = [2]time.Duration{2 * time.Second, 10 * time.Second}
	}
	if c.LoginDelay == [2]time.Duration{} {
		c.LoginDelay = [2]time.Duration{time.Second, 5 * time.Second}
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	if c.UsersPrefix == "" {
		c.UsersPrefix = "sim-"
	}
	if c.Path == "" {
		c.Path = "/api/feed"
	}
	if !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, " \t\r\n#") {
		return Summary{}, fmt.Errorf("--path must be a path beginning with /, got %q", c.Path)
	}
	var err error
	if s.server, err = baseURL("--server", c.Server); err != nil {
		return Summary{}, err
	}
	if s.gate, err = baseURL("--gate", c.Gate); err != nil {
		return Summary{}, err
	}
	s.sem = make(chan struct{}, c.Concurrency)
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns: 2*c.Concurrency + 16, MaxIdleConnsPerHost: c.Concurrency + 8, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	// The fleet talks to the two URLs it was given and nowhere else: it
	// follows no redirect and never fetches an update_url.
	s.http = &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if c.AdminToken != "" {
		s.admin = adminclient.New(s.server, c.AdminToken)
		s.admin.HTTP = &http.Client{Transport: tr, Timeout: time.Minute}
	}
	s.urls = map[string]map[string]string{}
	s.routes = map[routeKey]int64{}

	rng := mrand.New(mrand.NewPCG(c.Seed, 0x636f72646f6e))
	accts := make([]*simAcct, 0, len(c.Accounts))
	for _, a := range c.Accounts {
		accts = append(accts, &simAcct{name: a.Username, pw: a.Password})
	}
	if len(accts) == 0 {
		if s.admin == nil {
			return Summary{}, errors.New("simulate needs accounts: --password-file, or CORDON_ADMIN_TOKEN to create them")
		}
		if accts, err = s.createAccounts(ctx); err != nil {
			return Summary{}, err
		}
	}
	s.makeFleet(rng, accts)

	// Log the whole fleet in before the clock starts.
	var wg sync.WaitGroup
	for _, in := range s.fleet {
		wg.Go(func() { in.setUp(ctx) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return s.Stats(), err
	}
	if !slices.ContainsFunc(s.fleet, func(in *simInstall) bool { return in.access != "" }) {
		sum := s.Stats()
		why := "no answer"
		if len(sum.Problems) > 0 {
			why = sum.Problems[0]
		}
		return sum, fmt.Errorf("no install could log in at %s: %s", s.server, why)
	}
	s.started.Store(time.Now().UnixNano())
	close(s.ready)

	runCtx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	stopLive := s.live(runCtx)
	for _, in := range s.fleet {
		wg.Go(func() { in.loop(runCtx) })
	}
	wg.Wait()
	s.ended.Store(time.Now().UnixNano())
	stopLive()
	return s.Stats(), nil
}

// baseURL checks a URL flag: http(s), a host, no query.
func baseURL(flagName, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s must be an http(s) URL such as http://127.0.0.1:8080, got %q", flagName, raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// createAccounts makes one account per install through the bulk import,
// under a name tagged for this run so that a second run against the same
// server (even with the same seed) does not meet the first one's accounts,
// whose passwords it does not know.
func (s *Simulator) createAccounts(ctx context.Context) ([]*simAcct, error) {
	n := s.Config.Installs
	var b [4]byte
	rand.Read(b[:])
	tag := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:5]
	width := len(strconv.Itoa(n))
	accts := make([]*simAcct, n)
	for i := range accts {
		accts[i] = &simAcct{name: fmt.Sprintf("%s%s-%0*d", s.Config.UsersPrefix, tag, width, i+1), pw: newPassword()}
	}
	// The server hashes each plain password with argon2id: several
	// batches at once keep every core busy.
	const maxBatch = 1000
	parallel := min(4, s.Config.Concurrency)
	size := min(maxBatch, max(1, (n+parallel-1)/parallel))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, parallel)
	for from := 0; from < n; from += size {
		batch := accts[from:min(n, from+size)]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.importBatch(ctx, batch); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("create the simulated accounts: %w", errs[0])
	}
	return accts, nil
}

// importRecord and importResult are the parts of the admin API's bulk
// import (POST /admin/v1/accounts/import) the simulator uses.
type importRecord struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type importResult struct {
	Existing int `json:"existing"`
	Invalid  int `json:"invalid"`
	Problems []struct {
		Username string `json:"username"`
		Error    string `json:"error"`
	} `json:"problems"`
}

func (s *Simulator) importBatch(ctx context.Context, batch []*simAcct) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, a := range batch {
		enc.Encode(importRecord{Username: a.name, Password: a.pw})
	}
	var res importResult
	if err := s.admin.DoRaw(ctx, "POST", "/admin/v1/accounts/import", "application/x-ndjson", &buf, &res); err != nil {
		return err
	}
	if res.Invalid > 0 && len(res.Problems) > 0 {
		return fmt.Errorf("%s: %s", res.Problems[0].Username, res.Problems[0].Error)
	}
	if res.Existing > 0 {
		return fmt.Errorf("%d of the accounts exist already, with passwords the simulator does not know; pass another --users-prefix", res.Existing)
	}
	return nil
}

// newPassword is a random password no policy refuses.
func newPassword() string {
	var b [18]byte
	rand.Read(b[:])
	return "sim-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// makeFleet deals platforms, versions and sources over the installs.
func (s *Simulator) makeFleet(rng *mrand.Rand, accts []*simAcct) {
	n := s.Config.Installs
	plats := apportion(n, platformMix, rng)
	minors := apportion(n, minorMix, rng)
	androids := 0
	for _, p := range plats {
		if p == cordon.PlatformAndroid {
			androids++
		}
	}
	srcs := apportion(androids, androidSources, rng)
	s.byPlat = map[string]*platStats{}
	for _, w := range platformMix {
		s.byPlat[w.value] = &platStats{}
	}
	s.fleet = make([]*simInstall, n)
	for i := range s.fleet {
		in := &simInstall{s: s, id: i, acct: accts[i%len(accts)], platform: plats[i],
			rng: mrand.New(mrand.NewPCG(s.Config.Seed, uint64(i)+1)), flexSeen: map[string]bool{}}
		in.device = fmt.Sprintf("sim-%s-%d", in.platform, i+1)
		in.offline = in.platform != cordon.PlatformWeb
		if in.platform == cordon.PlatformAndroid {
			in.source, srcs = srcs[0], srcs[1:]
		} else {
			in.source = platformSource[in.platform]
		}
		patches := 4
		if minors[i] == "8.5" {
			patches = 3
		}
		in.version = fmt.Sprintf("%s.%d", minors[i], in.rng.IntN(patches))
		in.st = s.byPlat[in.platform]
		in.st.installs++
		s.fleet[i] = in
	}
}

// scaled divides a person's or an app's delay by Speed.
func (s *Simulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.Config.Speed)
}

// Pause waits d or until ctx ends; it reports whether to go on.
func Pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (in *simInstall) header() string {
	return clientfacts.Format(cordon.ClientFacts{Platform: in.platform, Version: in.version, Source: in.source, Device: in.device})
}

// between is a person's delay, uniform in the range r, scaled by Speed.
func (in *simInstall) between(r [2]time.Duration) time.Duration {
	lo, hi := r[0], max(r[0], r[1])
	return in.s.scaled(lo + time.Duration(in.rng.Int64N(int64(hi-lo)+1)))
}

// think is the pause before the install's next request: exponential
// around the mean, clipped so no install sleeps through the run.
func (in *simInstall) think() time.Duration {
	f := min(max(in.rng.ExpFloat64(), 0.2), 3)
	return in.s.scaled(time.Duration(f * float64(in.s.Config.Think)))
}

// setUp is the app's first start: log in, and download offline content.
func (in *simInstall) setUp(ctx context.Context) {
	// Spread the fleet's first logins a little, as a fleet never starts
	// in one instant.
	if !Pause(ctx, time.Duration(in.rng.Int64N(int64(in.s.scaled(time.Second))+1))) {
		return
	}
	if !in.login(ctx) {
		return
	}
	if in.offline {
		in.download(ctx)
	}
}

// loop is the app in use until ctx ends.
func (in *simInstall) loop(ctx context.Context) {
	for Pause(ctx, in.think()) {
		in.step(ctx)
	}
}

// step is one round of use: an update the person decided to install, a
// token refresh when the access token nears expiry, now and then an
// offline check-in, and a call to the API behind the gate.
func (in *simInstall) step(ctx context.Context) {
	now := time.Now()
	if now.Before(in.parkedUntil) {
		return
	}
	if in.access == "" && !in.login(ctx) {
		return
	}
	if in.flexMin != "" && now.After(in.flexAt) {
		in.st.flexUpgrades.Add(1)
		in.install(in.flexMin)
		in.flexMin = ""
		in.afterUpdate(ctx)
		return
	}
	if in.accessExp.Sub(now) < in.accessTTL/5 {
		if ok, b := in.refreshToken(ctx); !ok && b.Reason != "" {
			in.refused(ctx, b.Reason, b, 1)
			return
		}
	}
	switch {
	case !in.offline:
	case in.grant == "":
		in.download(ctx)
	case in.rng.IntN(8) == 0:
		in.checkIn(ctx)
	}
	in.callAPI(ctx, 0)
}

// wireBody holds every field of the answers the app reads.
type wireBody struct {
	Error        string `json:"error"`
	Message      string `json:"message"`
	Reason       string `json:"reason"`
	Campaign     string `json:"campaign"`
	MinVersion   string `json:"min_version"`
	UpdateURL    string `json:"update_url"`
	Sideloaded   bool   `json:"sideloaded"`
	ResetToken   string `json:"reset_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Grant        string `json:"grant"`
	Valid        bool   `json:"valid"`
}

type answer struct {
	status int
	header http.Header
	body   wireBody
	took   time.Duration
}

// send makes one request, holding a slot of the concurrency bound. A
// transport error or a malformed JSON answer is an error; an error status
// is an answer.
func (in *simInstall) send(ctx context.Context, method, u, ctype string, body []byte, bearer string) (answer, error) {
	s := in.s
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return answer{}, ctx.Err()
	}
	defer func() { <-s.sem }()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return answer{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set(clientfacts.Header, in.header())
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	start := time.Now()
	resp, err := s.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{status: resp.StatusCode, header: resp.Header, took: time.Since(start)}
	if err != nil {
		return a, err
	}
	if resp.StatusCode >= 500 && !(resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "") {
		s.counters.serverErrors.Add(1)
		s.problem(fmt.Sprintf("%s %s answered %d: %.200s", method, strings.TrimPrefix(u, "http://"), resp.StatusCode, bytes.TrimSpace(data)))
	}
	if resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "") {
		s.counters.shed.Add(1)
	}
	// cordon answers JSON; an upstream behind the gate may answer anything.
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &a.body); err != nil {
			return a, fmt.Errorf("%s %s answered %d with no JSON: %.100q", method, u, resp.StatusCode, data)
		}
	}
	return a, nil
}

// fail counts an error of this install.
func (in *simInstall) fail(what string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // the run ended mid-request
	}
	in.st.errors.Add(1)
	in.s.problem(fmt.Sprintf("%s (%s %s from %s): %v", what, in.platform, in.version, in.source, err))
}

// unexpected counts an answer the app has no use for.
func (in *simInstall) unexpected(what string, a answer) {
	in.fail(what, fmt.Errorf("answer %d %s %s", a.status, a.body.Error, a.body.Message))
}

// backoff waits as the server asked (Retry-After, at most 5 s).
func backoff(ctx context.Context, a answer) bool {
	secs, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || secs < 1 {
		secs = 1
	}
	return Pause(ctx, min(time.Duration(secs)*time.Second, 5*time.Second))
}

func shedding(a answer) bool {
	return a.status == http.StatusTooManyRequests || (a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") != "")
}

func (in *simInstall) takeTokens(b wireBody) {
	in.access, in.refresh = b.AccessToken, b.RefreshToken
	in.accessTTL = time.Duration(b.ExpiresIn) * time.Second
	in.accessExp = time.Now().Add(in.accessTTL)
}

// callAPI is a request to the service behind the gate, and the app's
// reaction to its answer.
func (in *simInstall) callAPI(ctx context.Context, attempt int) {
	s := in.s
	a, err := in.send(ctx, "GET", s.gate+s.Config.Path, "", nil, in.access)
	if err != nil {
		in.fail("GET "+s.Config.Path, err)
		return
	}
	in.st.requests.Add(1)
	s.lat.add(a.took)
	s.window.add(a.took)
	if attempt > 0 && (a.status == http.StatusUnauthorized || a.status == http.StatusUpgradeRequired) {
		// The gate refused a token the server had just renewed.
		s.counters.disagreements.Add(1)
	}
	switch {
	case a.status == http.StatusOK:
		in.st.ok.Add(1)
		if h := a.header.Get("Cordon-Upgrade"); h != "" {
			in.prompted(h)
		}
	case a.status == http.StatusUnauthorized && (a.body.Error == "reauth_required" || a.body.Error == "password_reset_required"):
		if a.body.Error == "reauth_required" {
			in.st.reauth.Add(1)
		} else {
			in.st.resetReq.Add(1)
		}
		in.refused(ctx, a.body.Error, a.body, attempt)
	case a.status == http.StatusUnauthorized && (a.body.Error == "session_revoked" || a.body.Error == "invalid_token"):
		// Another install of the account set a new password, or the
		// session ended: log in again.
		in.access = ""
		in.reauthenticate(ctx)
	case a.status == http.StatusUpgradeRequired:
		in.st.upgrade.Add(1)
		in.checkRoute(ctx, a.body)
		in.refused(ctx, "upgrade_required", a.body, attempt)
	case shedding(a):
	default:
		in.unexpected("GET "+s.Config.Path, a)
	}
}

// refused is the app's answer to a refusal by a campaign. Like OAuth
// client libraries (OkHttp's Authenticator, AppAuth), it first refreshes
// its token once: cordon's token endpoint answers with the reason too,
// and that is where the control plane learns of the block, since a gate
// decides locally and reports nothing. Then it does what the reason asks.
func (in *simInstall) refused(ctx context.Context, reason string, b wireBody, attempt int) {
	if attempt == 0 {
		ok, rb := in.refreshToken(ctx)
		switch {
		case ok:
			// The server let the session through: retry once with the
			// new token.
			in.callAPI(ctx, 1)
			return
		case rb.Reason == "":
			return // an error, counted; the next round retries
		}
		reason, b = rb.Reason, rb
		if reason == "upgrade_required" {
			in.checkRoute(ctx, b)
		}
	}
	switch reason {
	case "reauth_required", "password_reset_required", "session_revoked", "invalid_refresh_token", "refresh_token_reused":
		in.access = ""
		in.reauthenticate(ctx)
	case "upgrade_required":
		in.upgradeNow(ctx, b)
	default:
		in.fail("refresh", fmt.Errorf("refused with reason %q", reason))
	}
}

// reauthenticate is the login screen: the person types the password again.
func (in *simInstall) reauthenticate(ctx context.Context) {
	if !Pause(ctx, in.between(in.s.Config.LoginDelay)) {
		return
	}
	if in.login(ctx) {
		in.st.relogins.Add(1)
	}
}

// login logs in with the account's password; a password_reset campaign
// answers with a reset token, with which the app sets a new password.
func (in *simInstall) login(ctx context.Context) bool {
	s := in.s
	shed := 0
	for range 4 {
		pw := in.acct.password()
		body, _ := json.Marshal(map[string]string{"username": in.acct.name, "password": pw})
		a, err := in.send(ctx, "POST", s.server+"/v1/login", "application/json", body, "")
		s.counters.logins.Add(1)
		switch {
		case err != nil:
			in.fail("login", err)
			return false
		case a.status == http.StatusOK:
			in.takeTokens(a.body)
			return true
		case a.status == http.StatusUnauthorized && a.body.Error == "password_reset_required":
			if a.body.ResetToken == "" {
				// Nothing the app can do without a new password from
				// its person: it waits.
				in.st.stuck.Add(1)
				in.parkedUntil = time.Now().Add(s.scaled(30 * time.Second))
				return false
			}
			return in.resetPassword(ctx, a.body.ResetToken)
		case a.status == http.StatusUnauthorized && a.body.Error == "invalid_credentials" && in.acct.password() != pw:
			continue // another install of the account set a new password meanwhile
		case shedding(a):
			shed++
			if !backoff(ctx, a) {
				return false
			}
		default:
			in.unexpected("login", a)
			return false
		}
	}
	if shed == 4 {
		// The login tier was protecting its capacity every time (429 or
		// 503 with Retry-After): the app tries again at its next turn, as
		// a real one does. Not an error.
		s.counters.deferred.Add(1)
		return false
	}
	in.fail("login", errors.New("gave up after 4 attempts"))
	return false
}

// resetPassword sets a new password with a reset token from the login.
func (in *simInstall) resetPassword(ctx context.Context, resetToken string) bool {
	for range 3 {
		pw := newPassword()
		body, _ := json.Marshal(map[string]string{"reset_token": resetToken, "new_password": pw})
		a, err := in.send(ctx, "POST", in.s.server+"/v1/password/reset", "application/json", body, "")
		switch {
		case err != nil:
			in.fail("password reset", err)
			return false
		case a.status == http.StatusOK:
			in.acct.setPassword(pw)
			in.st.resets.Add(1)
			in.takeTokens(a.body)
			return true
		case a.status == http.StatusUnauthorized && a.body.ResetToken != "":
			resetToken = a.body.ResetToken // refused this password; try another
		case shedding(a):
			if !backoff(ctx, a) {
				return false
			}
		default:
			in.unexpected("password reset", a)
			return false
		}
	}
	return false
}

// refreshToken renews the access token. It answers ok, or the refusal's
// body (Reason set when the server refused the grant).
func (in *simInstall) refreshToken(ctx context.Context) (bool, wireBody) {
	s := in.s
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {in.refresh}}.Encode()
	for range 3 {
		a, err := in.send(ctx, "POST", s.server+"/oauth2/token", "application/x-www-form-urlencoded", []byte(form), "")
		s.counters.refreshes.Add(1)
		switch {
		case err != nil:
			in.fail("refresh", err)
			return false, wireBody{}
		case a.status == http.StatusOK:
			in.takeTokens(a.body)
			return true, a.body
		case a.status == http.StatusBadRequest && a.body.Error == "invalid_grant" && a.body.Reason != "":
			return false, a.body
		case shedding(a):
			if !backoff(ctx, a) {
				return false, wireBody{}
			}
		default:
			in.unexpected("refresh", a)
			return false, wireBody{}
		}
	}
	return false, wireBody{}
}

// upgradeNow is the blocking update screen: the person goes to the store
// the app was sent to, takes a while, and comes back on the new version.
func (in *simInstall) upgradeNow(ctx context.Context, b wireBody) {
	for range 3 {
		if !Pause(ctx, in.between(in.s.Config.UpgradeDelay)) {
			return
		}
		in.install(b.MinVersion)
		ok, rb := in.refreshToken(ctx)
		switch {
		case ok:
			return
		case rb.Reason == "upgrade_required":
			in.checkRoute(ctx, rb) // another campaign asks for more
			b = rb
		case rb.Reason != "":
			in.refused(ctx, rb.Reason, rb, 1)
			return
		default:
			return
		}
	}
}

// install replaces the app with version v from the store it was sent to:
// a side-loaded build is replaced by the official one.
func (in *simInstall) install(v string) {
	if nv, err := semver.NewVersion(v); err == nil {
		if cur, err := semver.NewVersion(in.version); err != nil || nv.GreaterThan(cur) {
			in.version = v
		}
	}
	if !cordon.Official(in.source) && in.platform != cordon.PlatformWeb {
		in.source = cordon.SourceOfficial
	}
	in.st.upgrades.Add(1)
}

// afterUpdate is the first start of an updated app: it renews its token,
// which tells cordon of the new version.
func (in *simInstall) afterUpdate(ctx context.Context) {
	if ok, b := in.refreshToken(ctx); !ok && b.Reason != "" {
		in.refused(ctx, b.Reason, b, 1)
	}
}

// prompted handles a flexible upgrade prompt: the person may install it
// later, or never.
func (in *simInstall) prompted(h string) {
	in.s.counters.flexPrompts.Add(1)
	d, err := httpsfv.UnmarshalDictionary([]string{h})
	if err != nil {
		in.fail("Cordon-Upgrade header", err)
		return
	}
	m, ok := d.Get("min")
	if !ok {
		in.fail("Cordon-Upgrade header", fmt.Errorf("no min in %q", h))
		return
	}
	it, _ := m.(httpsfv.Item)
	minV, _ := it.Value.(string)
	if minV == "" || in.flexSeen[minV] || in.flexMin != "" {
		return
	}
	in.flexSeen[minV] = true
	if in.rng.IntN(4) == 0 {
		// Later, and less often, than when the app insists.
		in.flexMin, in.flexAt = minV, time.Now().Add(2*in.between(in.s.Config.UpgradeDelay))
	}
}

// checkIn is an offline check-in of the install's grant.
func (in *simInstall) checkIn(ctx context.Context) {
	s := in.s
	body, _ := json.Marshal(map[string]string{"grant": in.grant})
	a, err := in.send(ctx, "POST", s.server+"/v1/offline/grants/check", "application/json", body, "")
	s.counters.checkins.Add(1)
	switch {
	case err != nil:
		in.fail("offline check-in", err)
	case a.status == http.StatusOK && a.body.Valid:
	case a.status == http.StatusForbidden && a.body.Error == "offline_grant_revoked":
		in.st.offline.Add(1)
		in.grant, in.revoked = "", true
		in.download(ctx)
	case shedding(a):
	default:
		in.unexpected("offline check-in", a)
	}
}

// download fetches offline content: a new grant.
func (in *simInstall) download(ctx context.Context) {
	a, err := in.send(ctx, "POST", in.s.server+"/v1/offline/grants", "", nil, in.access)
	switch {
	case err != nil:
		in.fail("offline grant", err)
	case a.status == http.StatusCreated && a.body.Grant != "":
		in.grant = a.body.Grant
		if in.revoked {
			in.st.redownloads.Add(1)
			in.revoked = false
		}
	case a.status == http.StatusUnauthorized || a.status == http.StatusUpgradeRequired || shedding(a):
		// Blocked for now: the API call of this round tells the app why,
		// and a later round downloads again.
	default:
		in.unexpected("offline grant", a)
	}
}

// expectedRoute is SPEC.md's rule: an install from a store goes to its
// store (the official site when the campaign names none); any other goes
// to the official site and is told it is side-loaded.
func expectedRoute(urls map[string]string, source string) (string, bool) {
	if cordon.Official(source) {
		if u := urls[source]; u != "" {
			return u, false
		}
		return urls[cordon.SourceOfficial], false
	}
	return urls[cordon.SourceOfficial], true
}

// checkRoute verifies an upgrade_required answer's update_url against the
// campaign's store URLs, read from the admin API.
func (in *simInstall) checkRoute(ctx context.Context, b wireBody) {
	s := in.s
	urls, ok := s.campaignURLs(ctx, b.Campaign)
	if !ok {
		s.counters.routeUnknown.Add(1)
		return
	}
	s.counters.routeChecked.Add(1)
	want, side := expectedRoute(urls, in.source)
	s.mu.Lock()
	s.routes[routeKey{in.platform, in.source, b.UpdateURL, b.Sideloaded}]++
	s.mu.Unlock()
	if b.UpdateURL != want || b.Sideloaded != side {
		s.counters.routeViolation.Add(1)
		s.problem(fmt.Sprintf("store routing: %s install from %s sent to %q (sideloaded %t), want %q (sideloaded %t)",
			in.platform, in.source, b.UpdateURL, b.Sideloaded, want, side))
	}
}

// campaignURLs reads (once) an upgrade campaign's store URLs.
func (s *Simulator) campaignURLs(ctx context.Context, id string) (map[string]string, bool) {
	if s.admin == nil || id == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock() // one reader at a time: the first fills the cache
	if u, ok := s.urls[id]; ok {
		return u, u != nil
	}
	var c struct {
		Upgrade *cordon.UpgradeSpec `json:"upgrade"`
	}
	if err := s.admin.Do(ctx, "GET", "/admin/v1/campaigns/"+url.PathEscape(id), nil, &c); err != nil {
		return nil, false // not cached: the next answer tries again
	}
	var u map[string]string
	if c.Upgrade != nil {
		u = c.Upgrade.URLs
	}
	s.urls[id] = u
	return u, u != nil
}

// problem keeps the first few distinct problems for the summary.
func (s *Simulator) problem(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 8 && !slices.Contains(s.problems, p) {
		s.problems = append(s.problems, p)
	}
}

// live writes the progress display until the returned stop is called.
func (s *Simulator) live(ctx context.Context) (stop func()) {
	w := s.Config.Progress
	if w == nil {
		return func() {}
	}
	every := s.Config.ProgressEvery
	if s.Config.Terminal {
		every = time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		last, lastAt := int64(0), time.Now()
		for {
			select {
			case <-done:
				if s.Config.Terminal {
					fmt.Fprintln(w)
				}
				return
			case now := <-t.C:
				st := s.Stats()
				rate := float64(st.Requests-last) / now.Sub(lastAt).Seconds()
				last, lastAt = st.Requests, now
				p50, p99 := s.window.quantile(0.5), s.window.quantile(0.99)
				s.window.reset()
				line := fmt.Sprintf("%4.0fs  %5.0f req/s  ok %d  reauth %d  upgrade %d  offline %d  errors %d  p50 %s  p99 %s",
					st.Elapsed.Seconds(), rate, st.OK, st.Reauth+st.PasswordReset, st.Upgrade, st.Offline, st.Errors+st.ServerErrors,
					fmtDur(p50), fmtDur(p99))
				if s.Config.Terminal {
					fmt.Fprintf(w, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// Summary is what a simulation did.
type Summary struct {
	Seed     uint64
	Installs int
	Elapsed  time.Duration
	// What the gate answered.
	Requests, OK, Reauth, PasswordReset, Upgrade int64
	// Offline counts check-ins whose grant was revoked.
	Offline int64
	// What the apps did about it.
	Relogins, Resets, Upgrades, FlexibleUpgrades, Redownloads int64
	// Stuck counts logins that required a password reset the app could
	// not do.
	Stuck int64
	// Errors are failed or unexpected answers; ServerErrors are the 5xx
	// among them (load shedding with Retry-After is Shed, not an error).
	Errors, ServerErrors, Shed int64
	// Logins, Refreshes and CheckIns are calls to the server.
	Logins, Refreshes, CheckIns int64
	// LoginsDeferred counts logins put off to the app's next turn after
	// four answers in a row shed them (429, or 503 with Retry-After).
	LoginsDeferred  int64
	FlexiblePrompts int64
	// Disagreements counts tokens the gate refused although the server
	// had just renewed them.
	Disagreements int64
	// Store routing: update_urls checked against their campaign, those
	// that broke SPEC.md's rule, those that could not be checked.
	RoutingChecked, RoutingViolations, RoutingUnverified int64
	Routes                                               []Route
	P50, P90, P99, Max                                   time.Duration
	Platforms                                            []PlatformSummary
	Problems                                             []string
}

// Failure says why the run failed, or is nil: an update sent to the wrong
// store, no request through the gate answered 200 (the upstream does not
// serve the path the apps call, or the gate refuses everything), or more
// than half the requests failed. A run that only shows errors must not
// look like a success.
func (sum *Summary) Failure(path string) error {
	switch {
	case sum.RoutingViolations > 0:
		return fmt.Errorf("%d update_url(s) broke the store-routing rule", sum.RoutingViolations)
	case sum.Requests == 0:
		return fmt.Errorf("no request reached the gate (%d errors): is --gate right, and is the gate ready?", sum.Errors)
	case sum.OK == 0:
		return fmt.Errorf("no request through the gate was answered 200 (%d requests, %d errors): does the upstream answer GET %s? (--path)", sum.Requests, sum.Errors, path)
	case sum.Errors*2 > sum.Requests:
		return fmt.Errorf("%d of %d requests failed", sum.Errors, sum.Requests)
	}
	return nil
}

// Route is where upgrade_required answers sent one kind of install.
type Route struct {
	Platform, Source, URL string
	Sideloaded            bool
	Count                 int64
}

// PlatformSummary is one platform's share of a Summary.
type PlatformSummary struct {
	Platform                                                  string
	Installs                                                  int
	Requests, OK, Reauth, PasswordReset, Upgrade, Offline     int64
	Relogins, Resets, Upgrades, FlexibleUpgrades, Redownloads int64
	Errors                                                    int64
}

// Stats is the Summary so far.
func (s *Simulator) Stats() Summary {
	sum := Summary{Seed: s.Config.Seed, Installs: len(s.fleet)}
	if st := s.started.Load(); st != 0 {
		end := s.ended.Load()
		if end == 0 {
			end = time.Now().UnixNano()
		}
		sum.Elapsed = time.Duration(end - st)
	}
	for _, w := range platformMix {
		p := s.byPlat[w.value]
		if p == nil {
			continue
		}
		ps := PlatformSummary{Platform: w.value, Installs: p.installs, Requests: p.requests.Load(), OK: p.ok.Load(),
			Reauth: p.reauth.Load(), PasswordReset: p.resetReq.Load(), Upgrade: p.upgrade.Load(), Offline: p.offline.Load(),
			Relogins: p.relogins.Load(), Resets: p.resets.Load(), Upgrades: p.upgrades.Load(), FlexibleUpgrades: p.flexUpgrades.Load(),
			Redownloads: p.redownloads.Load(), Errors: p.errors.Load()}
		sum.Platforms = append(sum.Platforms, ps)
		sum.Requests += ps.Requests
		sum.OK += ps.OK
		sum.Reauth += ps.Reauth
		sum.PasswordReset += ps.PasswordReset
		sum.Upgrade += ps.Upgrade
		sum.Offline += ps.Offline
		sum.Relogins += ps.Relogins
		sum.Resets += ps.Resets
		sum.Upgrades += ps.Upgrades
		sum.FlexibleUpgrades += ps.FlexibleUpgrades
		sum.Redownloads += ps.Redownloads
		sum.Errors += ps.Errors
		sum.Stuck += p.stuck.Load()
	}
	c := &s.counters
	sum.ServerErrors, sum.Shed = c.serverErrors.Load(), c.shed.Load()
	sum.Logins, sum.Refreshes, sum.CheckIns, sum.FlexiblePrompts = c.logins.Load(), c.refreshes.Load(), c.checkins.Load(), c.flexPrompts.Load()
	sum.LoginsDeferred = c.deferred.Load()
	sum.Disagreements = c.disagreements.Load()
	sum.RoutingChecked, sum.RoutingViolations, sum.RoutingUnverified = c.routeChecked.Load(), c.routeViolation.Load(), c.routeUnknown.Load()
	sum.P50, sum.P90, sum.P99, sum.Max = s.lat.quantile(0.5), s.lat.quantile(0.9), s.lat.quantile(0.99), s.lat.quantile(1)
	s.mu.Lock()
	for k, n := range s.routes {
		sum.Routes = append(sum.Routes, Route{k.platform, k.source, k.url, k.sideloaded, n})
	}
	sum.Problems = slices.Clone(s.problems)
	s.mu.Unlock()
	slices.SortFunc(sum.Routes, func(a, b Route) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Platform+a.Source+a.URL, b.Platform+b.Source+b.URL)
	})
	return sum
}

// Print writes the summary for a person.
func (sum Summary) Print(w io.Writer) {
	rate := 0.0
	if sum.Elapsed > 0 {
		rate = float64(sum.Requests) / sum.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "%d installs for %s (seed %d): %d requests through the gate, %.0f/s\n",
		sum.Installs, sum.Elapsed.Round(100*time.Millisecond), sum.Seed, sum.Requests, rate)
	fmt.Fprintf(w, "  the gate answered  ok %d · reauth_required %d · password_reset_required %d · upgrade_required %d\n",
		sum.OK, sum.Reauth, sum.PasswordReset, sum.Upgrade)
	fmt.Fprintf(w, "  the apps did       re-logins %d · password resets %d · upgrades %d (%d from a flexible prompt) · offline re-downloads %d of %d revoked\n",
		sum.Relogins, sum.Resets, sum.Upgrades, sum.FlexibleUpgrades, sum.Redownloads, sum.Offline)
	fmt.Fprintf(w, "  gate latency       p50 %s · p90 %s · p99 %s · max %s\n", fmtDur(sum.P50), fmtDur(sum.P90), fmtDur(sum.P99), fmtDur(sum.Max))
	fmt.Fprintf(w, "  server calls       logins %d · refreshes %d · offline check-ins %d · shed (429/503) %d\n",
		sum.Logins, sum.Refreshes, sum.CheckIns, sum.Shed)
	if sum.LoginsDeferred > 0 {
		fmt.Fprintf(w, "  load shedding      %d login(s) were shed four times in a row and put off to the app's next turn:\n"+
			"                     the server refuses logins beyond its password-hashing capacity with Retry-After\n"+
			"                     rather than queue them; a ramp spreads re-logins so this stays rare\n", sum.LoginsDeferred)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  PLATFORM\tINSTALLS\tREQUESTS\tOK\tREAUTH\tRE-LOGINS\tUPGRADE\tUPGRADED\tOFFLINE\tRE-DOWNLOADS\tERRORS\t")
	for _, p := range sum.Platforms {
		// Names padded to one width read left-aligned in right-aligned columns.
		fmt.Fprintf(tw, "  %-8s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p.Platform, p.Installs, p.Requests, p.OK,
			p.Reauth+p.PasswordReset, p.Relogins, p.Upgrade, p.Upgrades, p.Offline, p.Redownloads, p.Errors)
	}
	tw.Flush()
	if len(sum.Routes) > 0 {
		fmt.Fprintln(w, "  upgrade_required sent the installs to")
		tw = tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
		for _, r := range sum.Routes {
			side := ""
			if r.Sideloaded {
				side = " (sideloaded)"
			}
			fmt.Fprintf(tw, "    %s from %s\t%6d × %s%s\n", r.Platform, r.Source, r.Count, r.URL, side)
		}
		tw.Flush()
	}
	if sum.Disagreements > 0 {
		fmt.Fprintf(w, "  the gate refused %d token(s) the server had just renewed\n", sum.Disagreements)
	}
	if sum.Stuck > 0 {
		fmt.Fprintf(w, "  %d login(s) required a password reset the app could not do\n", sum.Stuck)
	}
	for _, p := range sum.Problems {
		fmt.Fprintf(w, "  ! %s\n", p)
	}
	fmt.Fprintf(w, "errors: %d · server errors (5xx): %d\n", sum.Errors, sum.ServerErrors)
	if sum.RoutingChecked == 0 && sum.RoutingUnverified > 0 {
		fmt.Fprintf(w, "store-routing: %d update_url(s) not verified (no admin token to read the campaigns)\n", sum.RoutingUnverified)
		return
	}
	fmt.Fprintf(w, "store-routing violations: %d (of %d update_urls checked)\n", sum.RoutingViolations, sum.RoutingChecked)
}

// fmtDur shows a latency in a readable unit.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// latencies is a histogram of durations in buckets 4 % wide, from 1 µs to
// about two minutes: quantiles within 4 % in constant memory, however
// long the run.
type latencies struct {
	b [histBuckets]atomic.Int64
}

const (
	histBuckets = 480
	histGrowth  = 1.04
)

var logGrowth = math.Log(histGrowth)

func (h *latencies) add(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us >= 1 {
		i = min(histBuckets-1, int(math.Log(us)/logGrowth)+1)
	}
	h.b[i].Add(1)
}

// quantile is the upper edge of the bucket holding the q-quantile; 0 when
// empty.
func (h *latencies) quantile(q float64) time.Duration {
	var counts [histBuckets]int64
	total := int64(0)
	for i := range h.b {
		counts[i] = h.b[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	seen := int64(0)
	for i, n := range counts {
		seen += n
		if n > 0 && seen >= rank {
			return time.Duration(math.Pow(histGrowth, float64(i)) * float64(time.Microsecond))
		}
	}
	return 0
}

func (h *latencies) reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
}

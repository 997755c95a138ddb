// Package fleetsim measures time to containment: a fleet of app installs
// (a million, with a realistic mix of platforms, versions, install
// sources and activity, many dormant) meets a reauth campaign in virtual
// time, decided by the real engine (decision.Compile and Decide) on the
// campaign as the control plane keeps it (a fixed ramp, or an auto ramp
// paced by internal/pace from the signals a modelled login tier of given
// capacity gives). An install opens its app now and then; when the engine
// denies its session it logs in again, and the login tier hashes at most
// its capacity of logins a second and answers the rest overloaded, after
// which the app retries with backoff and gives up after four attempts
// until it is next opened.
//
// Nothing here is on a request path: `cordon simulate --virtual` and the
// README's table run it. It is deterministic for a seed.
package fleetsim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/pace"
	"github.com/cordon-dev/cordon/internal/stored"
)

// Config is one fleet and its login tier.
type Config struct {
	// Installs is the fleet's size; users are fewer (some have two).
	Installs int
	Seed     uint64
	// Capacity is the logins per second the login tier hashes (every
	// node together); Baseline the logins per second unrelated to the
	// campaign (new installs, expired sessions) it serves meanwhile.
	Capacity float64
	Baseline float64
	// Horizon is how long the simulation runs after activation.
	Horizon time.Duration
	// Tick is the simulation's step; logins within a tick are served or
	// shed together. Control is how often the control plane paces.
	Tick    time.Duration
	Control time.Duration
	// GateLag is how old the policy is that enforcement points decide on
	// (their feed delay): each decision is also made on it, and any
	// disagreement with the server's is counted.
	GateLag time.Duration
	// QueueWait is how many seconds of logins the hashing pools hold
	// waiting (they are served within the next tick); beyond, a login is
	// answered overloaded.
	QueueWait time.Duration
	// RestartAt, when positive, restarts the control plane then: the
	// campaign is read back from its stored form (stored.EncodeCampaign,
	// as every backend keeps it) and the forecast rebuilt from the
	// stored pace, as a restarted node does.
	RestartAt time.Duration
}

// DefaultConfig is the README's run: a million installs against a login
// tier of one node like this machine (about 60 argon2id logins/s on two
// cores), 10 of them taken by logins the breach has nothing to do with.
func DefaultConfig() Config {
	return Config{Installs: 1_000_000, Seed: 18, Capacity: 60, Baseline: 10,
		Horizon: 10 * 24 * time.Hour, Tick: 10 * time.Second, Control: 30 * time.Second, GateLag: 2 * time.Second, QueueWait: 5 * time.Second}
}

// Ramp is the campaign's ramp in one run: Fixed > 0 is a fixed ramp of
// that length, else an auto ramp of MaxDuration at Target utilisation.
type Ramp struct {
	Fixed       time.Duration
	MaxDuration time.Duration
	Target      float64
}

// Name is how tables and plots call the ramp.
func (r Ramp) Name() string {
	if r.Fixed > 0 {
		return "fixed " + cordon.FormatDuration(r.Fixed)
	}
	return fmt.Sprintf("auto (max %s, %.0f %%)", cordon.FormatDuration(r.MaxDuration), r.Target*100)
}

// Sample is the state at one point of virtual time, every SampleEvery.
type Sample struct {
	At time.Duration
	// Demand, Served and Shed are logins per second over the interval.
	Demand, Served, Shed float64
	// Admitted is the share of the cohort admitted (the pace);
	// OpenWindows the active installs whose stolen session still works;
	// Satisfied the share of active installs logged in again.
	Admitted    float64
	OpenWindows int
	Satisfied   float64
}

// SampleEvery is the plots' resolution.
const SampleEvery = 5 * time.Minute

// Result is one run's figures.
type Result struct {
	Ramp Ramp
	// Installs, Active and Returning: the fleet, the installs opened
	// within the horizon, and those seen in the week before the breach.
	Installs, Active, Returning int
	// PeakDemand is the highest login demand (logins/s, over a minute)
	// and Capacity the tier's.
	PeakDemand, Capacity float64
	// Shed is the logins answered overloaded; GaveUp the times an app
	// gave up after four attempts.
	Shed, GaveUp int64
	// Contained: every active install's stolen session is refused (its
	// user admitted). Satisfied95: 95 % of the active installs logged in
	// again. Admitted100: the whole cohort admitted. -1 when not within
	// the horizon.
	Contained, Satisfied95, Admitted100 time.Duration
	// Decisions is how many decisions the engine made; GateDecisions how
	// many of them a gate GateLag behind made on an older policy than the
	// server's, and Disagreements how many of those differed (must be 0).
	Decisions, GateDecisions, Disagreements int64
	// PaceChanges is how many times the control plane changed the pace;
	// Restarted whether the control plane restarted (Config.RestartAt).
	PaceChanges int
	Restarted   bool
	Series      []Sample
}

// activity classes: how often an install opens its app (mean gap), and
// the share of installs of each. Dormant installs are never opened
// within the horizon.
var classes = []struct {
	share float64
	gap   time.Duration
}{
	{0.10, 20 * time.Minute},   // always on: push and background refresh
	{0.20, 2 * time.Hour},      // several times a day
	{0.25, 24 * time.Hour},     // daily
	{0.15, 5 * 24 * time.Hour}, // weekly or so
	{0.30, 0},                  // dormant
}

var (
	platforms = []struct {
		name  string
		share float64
	}{{cordon.PlatformAndroid, 0.55}, {cordon.PlatformIOS, 0.38}, {cordon.PlatformWeb, 0.04}, {cordon.PlatformDesktop, 0.03}}
	versions = []struct {
		v     string
		share float64
	}{{"9.2.0", 0.35}, {"9.1.3", 0.25}, {"9.0.1", 0.15}, {"8.5.2", 0.12}, {"8.4.1", 0.08}, {"7.9.0", 0.05}}
)

func sourceFor(r *rand.Rand, platform string) string {
	x := r.Float64()
	switch platform {
	case cordon.PlatformAndroid:
		switch {
		case x < 0.85:
			return cordon.SourcePlay
		case x < 0.93:
			return cordon.SourceAmazon
		case x < 0.97:
			return cordon.SourceOfficial
		}
		return cordon.SourceUnknown // sideloaded
	case cordon.PlatformIOS:
		return cordon.SourceAppStore
	case cordon.PlatformDesktop:
		if x < 0.6 {
			return cordon.SourceMicrosoft
		}
		return cordon.SourceOfficial
	}
	return cordon.SourceWeb
}

type install struct {
	account int32
	gap     float64 // mean seconds between opens; 0 dormant
	auth    int64   // Unix s of the session's auth_time
	facts   cordon.ClientFacts
	relog   bool  // logged in again
	tries   uint8 // failed attempts of the current login
	retry   bool  // a retry is scheduled
}

// fleet is generated once per Config and shared by every ramp's run, so
// runs differ only by their ramp.
type fleet struct {
	installs  []install
	accounts  []string
	active    int
	returning int
	// ages are the installs' ages since last seen at the breach, as the
	// store's last_seen_at gives them (−1: not seen in 30 days).
	ages []time.Duration
}

func newFleet(cfg Config, t0 time.Time) *fleet {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x18))
	nAcc := max(1, cfg.Installs*4/5)
	f := &fleet{installs: make([]install, cfg.Installs), accounts: make([]string, nAcc), ages: make([]time.Duration, cfg.Installs)}
	for i := range f.accounts {
		f.accounts[i] = fmt.Sprintf("u-%07d", i)
	}
	for i := range f.installs {
		in := &f.installs[i]
		// The first nAcc installs have one account each; the rest are
		// second devices of random users.
		in.account = int32(i)
		if i >= nAcc {
			in.account = int32(r.IntN(nAcc))
		}
		x := r.Float64()
		for _, c := range classes {
			if x < c.share {
				in.gap = c.gap.Seconds()
				break
			}
			x -= c.share
		}
		pl := platforms[len(platforms)-1].name
		x = r.Float64()
		for _, p := range platforms {
			if x < p.share {
				pl = p.name
				break
			}
			x -= p.share
		}
		ver := versions[len(versions)-1].v
		x = r.Float64()
		for _, v := range versions {
			if x < v.share {
				ver = v.v
				break
			}
			x -= v.share
		}
		in.facts = cordon.ClientFacts{Platform: pl, Version: ver, Source: sourceFor(r, pl)}
		// Logged in between 1 and 60 days before the breach.
		in.auth = t0.Add(-time.Duration(1+r.IntN(59*24*3600)) * time.Second).Add(-24 * time.Hour).Unix()
		f.ages[i] = -1
		if in.gap > 0 {
			f.active++
			// Its last open, an exponential gap back.
			age := r.ExpFloat64() * in.gap
			if age < 30*24*3600 {
				f.ages[i] = time.Duration(age * float64(time.Second))
			}
			if age < 7*24*3600 {
				f.returning++
			}
		}
	}
	return f
}

// Run simulates each ramp on the same fleet.
func Run(cfg Config, ramps []Ramp) ([]*Result, error) {
	switch {
	case cfg.Installs < 1 || cfg.Installs > 10_000_000:
		return nil, errors.New("installs must be between 1 and 10,000,000")
	case !(cfg.Capacity > 0) || math.IsInf(cfg.Capacity, 0):
		return nil, errors.New("capacity must be a positive number of logins per second")
	case cfg.Baseline < 0 || cfg.Baseline >= cfg.Capacity:
		return nil, errors.New("baseline logins must be at least 0 and below the capacity")
	case cfg.Tick < time.Second || cfg.Control < cfg.Tick || cfg.Horizon < cfg.Control || cfg.Horizon > 60*24*time.Hour:
		return nil, errors.New("need 1s ≤ tick ≤ control ≤ horizon ≤ 60 days")
	case cfg.QueueWait < 0 || cfg.QueueWait > time.Minute:
		return nil, errors.New("queue wait must be between 0 and 1m")
	case cfg.RestartAt < 0 || cfg.RestartAt > cfg.Horizon:
		return nil, errors.New("restart must be within the horizon")
	case cfg.GateLag < 0 || cfg.GateLag >= pace.Lead:
		return nil, fmt.Errorf("gate lag must be below the pace's lead (%v)", pace.Lead)
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	f := newFleet(cfg, t0)
	var out []*Result
	for _, rp := range ramps {
		if rp.Fixed <= 0 && (rp.MaxDuration <= 0 || !(rp.Target > 0 && rp.Target <= 1)) {
			return nil, fmt.Errorf("%s: an auto ramp needs a max duration and a target in (0, 1]", rp.Name())
		}
		res, err := run(cfg, f, rp, t0)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// policyAt is a compiled policy and when the control plane published it.
type policyAt struct {
	at int64 // Unix ns
	p  *decision.Policy
}

func run(cfg Config, f *fleet, rp Ramp, t0 time.Time) (*Result, error) {
	// Each run starts from the fleet as it was at the breach.
	ins := make([]install, len(f.installs))
	copy(ins, f.installs)
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	before := t0
	c := &cordon.Campaign{ID: "c-breach", Kind: cordon.KindReauth, Name: "breach", State: cordon.StateActive,
		Cohort: cordon.Cohort{AuthenticatedBefore: &before}, Activated: t0}
	if rp.Fixed > 0 {
		c.Ramp = &cordon.Ramp{Start: t0, Duration: rp.Fixed}
	} else {
		c.Ramp = &cordon.Ramp{Start: t0, Duration: rp.MaxDuration, Mode: cordon.RampAuto, TargetUtilisation: rp.Target}
	}
	compile := func(now time.Time, version uint64) (*decision.Policy, error) {
		return decision.Compile([]*cordon.Campaign{c}, version, now)
	}
	p, err := compile(t0, 1)
	if err != nil {
		return nil, err
	}
	published := []policyAt{{t0.UnixNano(), p}}
	var fc *pace.Forecast
	if rp.Fixed <= 0 {
		if fc, err = pace.NewForecast(t0, f.ages, pace.Slot(cfg.Control), 14*24*time.Hour); err != nil {
			return nil, err
		}
	}
	res := &Result{Ramp: rp, Installs: len(ins), Active: f.active, Returning: f.returning, Capacity: cfg.Capacity,
		Contained: -1, Satisfied95: -1, Admitted100: -1}

	tick := cfg.Tick
	nTicks := int(cfg.Horizon / tick)
	// A calendar of events per tick: install index, negative (−i−1) for
	// a retry of install i's login.
	cal := make([][]int32, nTicks+1)
	slot := func(sec float64) int {
		k := int(math.Ceil(sec / tick.Seconds()))
		if k > nTicks {
			return -1
		}
		return max(k, 1)
	}
	for i := range ins {
		if ins[i].gap > 0 {
			if k := slot(r.ExpFloat64() * ins[i].gap); k > 0 {
				cal[k] = append(cal[k], int32(i))
			}
		}
	}
	queueMax := cfg.Capacity * cfg.QueueWait.Seconds()
	var (
		waiting     []int32
		baseWaiting float64
		queued      int
		attempts    []int32
		sess        cordon.Session
		satisfied   int
		// Over the current control interval and sample interval.
		ctlLogins, ctlPaced, ctlShed  float64
		smpDemand, smpServed, smpShed float64
		minDemand                     float64
		minTicks                      int
	)
	ticksPerCtl := int(cfg.Control / tick)
	ticksPerSmp := int(SampleEvery / tick)
	ticksPerMin := max(1, int(time.Minute/tick))
	baselinePerTick := cfg.Baseline * tick.Seconds()
	capPerTick := cfg.Capacity * tick.Seconds()
	var version uint64 = 1
	for k := 1; k <= nTicks; k++ {
		now := t0.Add(time.Duration(k) * tick)
		nowNs := now.UnixNano()
		// The control plane paces on what the last interval measured,
		// before this tick's decisions: the server decides on the new
		// pace at once, the gates GateLag later.
		if cfg.RestartAt > 0 && time.Duration(k)*tick == cfg.RestartAt && rp.Fixed <= 0 {
			// A restarted node keeps nothing but what the store holds.
			doc, users, err := stored.EncodeCampaign(c)
			if err != nil {
				return nil, err
			}
			back, err := stored.DecodeCampaign(&stored.CampaignRow{ID: c.ID, Document: string(doc), UserIDs: string(users), State: string(c.State)})
			if err != nil {
				return nil, err
			}
			back.State, back.Activated = c.State, c.Activated
			c = back
			if fc, err = pace.NewForecast(t0, f.ages, pace.Slot(cfg.Control), 14*24*time.Hour); err != nil {
				return nil, err
			}
			res.Restarted = true
		}
		if k > 1 && (k-1)%ticksPerCtl == 0 && rp.Fixed <= 0 {
			secs := cfg.Control.Seconds()
			sig := pace.Signals{Capacity: cfg.Capacity, Logins: ctlLogins / secs, Paced: ctlPaced / secs, Shed: ctlShed / secs, Queued: queued,
				Absorbs: pace.Absorbs(cfg.Capacity, queueMax)}
			ds := pace.Step(now, cfg.Control, []pace.Ramp{{CampaignID: c.ID, Ramp: c.Ramp, Forecast: fc}}, sig)
			ctlLogins, ctlPaced, ctlShed = 0, 0, 0
			for _, d := range ds {
				rr := *c.Ramp
				rr.Pace = d.Pace
				c.Ramp = &rr
				version++
				np, err := compile(now, version)
				if err != nil {
					return nil, err
				}
				p = np
				published = append(published, policyAt{nowNs, p})
				res.PaceChanges++
			}
			// Gates never need a policy older than GateLag.
			for len(published) > 1 && published[1].at <= nowNs-int64(cfg.GateLag) {
				published = published[1:]
			}
		}
		gate := published[0].p
		for j := len(published) - 1; j >= 0; j-- {
			if published[j].at <= nowNs-int64(cfg.GateLag) {
				gate = published[j].p
				break
			}
		}
		attempts = attempts[:0]
		for _, e := range cal[k] {
			i, isRetry := int(e), false
			if e < 0 {
				i, isRetry = int(-e-1), true
			}
			in := &ins[i]
			if in.relog {
				// Logged in again: its new session is after its admission,
				// so this campaign allows it from now on and it causes no
				// more logins; the run follows it no further.
				continue
			}
			if !isRetry {
				// The next open, whatever this one brings.
				if kk := slot(float64(k)*tick.Seconds() + r.ExpFloat64()*in.gap); kk > 0 {
					cal[kk] = append(cal[kk], int32(i))
				}
				if in.retry {
					continue // already in the login flow
				}
			} else {
				in.retry = false
			}
			sess = cordon.Session{ID: "s", AccountID: f.accounts[in.account], AuthTime: time.Unix(in.auth, 0), Facts: in.facts}
			d := decision.Decide(&decision.Input{Session: &sess, Client: in.facts, Now: now, Policy: p})
			res.Decisions++
			if gate != p {
				res.GateDecisions++
				if g := decision.Decide(&decision.Input{Session: &sess, Client: in.facts, Now: now, Policy: gate}); g.Outcome != d.Outcome {
					res.Disagreements++
				}
			}
			if d.Outcome == decision.Deny {
				attempts = append(attempts, int32(i))
			}
		}
		cal[k] = nil
		// The login tier: the logins waiting since the last tick first,
		// then this tick's attempts and the baseline, in random order; up
		// to the capacity are hashed, up to QueueWait more wait for the
		// next tick, the rest are answered overloaded.
		r.Shuffle(len(attempts), func(a, b int) { attempts[a], attempts[b] = attempts[b], attempts[a] })
		demand := float64(len(attempts)) + baselinePerTick
		queue := append(waiting, attempts...)
		baseQ := baseWaiting + baselinePerTick
		budget := capPerTick
		var shed float64
		// Baseline logins take their share of each place in line.
		bFrac := baseQ / (baseQ + float64(len(queue)) + 1e-12)
		servedInstalls := min(len(queue), int((1-bFrac)*budget))
		servedBase := min(baseQ, budget-float64(servedInstalls))
		waitInstalls := min(len(queue)-servedInstalls, int((1-bFrac)*queueMax))
		baseWaiting = min(baseQ-servedBase, queueMax-float64(waitInstalls))
		shed += baseQ - servedBase - baseWaiting
		for _, i := range queue[:servedInstalls] {
			in := &ins[i]
			in.tries = 0
			// Hashing takes a moment: the new session's auth_time is the
			// next second.
			in.auth = now.Unix() + 1
			if !in.relog {
				in.relog = true
				satisfied++
			}
		}
		waiting = append(waiting[:0:0], queue[servedInstalls:servedInstalls+waitInstalls]...)
		for _, i := range queue[servedInstalls+waitInstalls:] {
			in := &ins[i]
			shed++
			in.tries++
			if in.tries >= 4 {
				in.tries = 0
				res.GaveUp++
				continue // until the app is next opened
			}
			// Backoff 30 s, 60 s, 120 s.
			if kk := slot(float64(k)*tick.Seconds() + 30*float64(int(1)<<(in.tries-1))); kk > 0 {
				cal[kk] = append(cal[kk], -int32(i)-1)
				in.retry = true
			}
		}
		queued = len(waiting) + int(baseWaiting)
		res.Shed += int64(math.Round(shed))
		served := float64(servedInstalls) + servedBase
		ctlLogins += demand
		ctlPaced += float64(len(attempts))
		ctlShed += shed
		smpDemand += demand
		smpServed += served
		smpShed += shed
		minDemand += demand
		if minTicks++; minTicks == ticksPerMin {
			res.PeakDemand = math.Max(res.PeakDemand, minDemand/(float64(ticksPerMin)*tick.Seconds()))
			minDemand, minTicks = 0, 0
		}
		if res.Satisfied95 < 0 && float64(satisfied) >= 0.95*float64(f.active) {
			res.Satisfied95 = time.Duration(k) * tick
		}
		if k%ticksPerSmp == 0 {
			secs := SampleEvery.Seconds()
			res.Series = append(res.Series, Sample{At: time.Duration(k) * tick, Demand: smpDemand / secs, Served: smpServed / secs, Shed: smpShed / secs,
				Satisfied: float64(satisfied) / float64(max(1, f.active))})
			smpDemand, smpServed, smpShed = 0, 0, 0
		}
	}
	// Admission, from the final policy: an admitted user's admission time
	// never changes afterwards, so it is the one the gates enforced.
	m, err := decision.NewMatcher(c)
	if err != nil {
		return nil, err
	}
	adm := make([]int64, 0, f.active)
	for i := range ins {
		if ins[i].gap > 0 {
			a, _ := p.Admission(c.ID, f.accounts[ins[i].account])
			adm = append(adm, a.UnixNano())
		}
	}
	sort.Slice(adm, func(a, b int) bool { return adm[a] < adm[b] })
	if n := len(adm); n > 0 && adm[n-1] <= t0.Add(cfg.Horizon).UnixNano() {
		res.Contained = time.Duration(adm[n-1] - t0.UnixNano())
	}
	for j := range res.Series {
		s := &res.Series[j]
		at := t0.Add(s.At)
		s.Admitted = m.Share(at)
		s.OpenWindows = len(adm) - sort.Search(len(adm), func(x int) bool { return adm[x] > at.UnixNano() })
	}
	for _, s := range res.Series {
		if s.Admitted >= 1 {
			res.Admitted100 = s.At
			break
		}
	}
	if res.Admitted100 >= 0 {
		// To the tick, not the sample: when the last hash is reached.
		end := t0.Add(res.Admitted100 - SampleEvery)
		for m.Share(end) < 1 {
			end = end.Add(tick)
		}
		res.Admitted100 = end.Sub(t0)
	}
	return res, nil
}

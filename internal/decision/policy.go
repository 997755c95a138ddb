package decision

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Policy is the compiled, immutable policy an enforcement point holds.
// Version grows with every change so points can tell which one they hold.
// Build one with Compile; the zero Policy allows every live session.
type Policy struct {
	Version uint64
	// Compiled is when it was compiled.
	Compiled time.Time

	// campaigns are the enforcing campaigns, campaigns[:n], then the
	// paused prerequisites of enforcing ones, which enforce nothing but are
	// judged for the campaigns that wait for them.
	campaigns []compiled
	n         int
	// byPlatform lists, per platform index, the campaigns that may apply
	// to a session on that platform, so a decision skips the others.
	byPlatform [numPlatforms][]int

	// versions memoises parsed app versions: a fleet has a few hundred
	// distinct ones, and parsing allocates. Bounded; past the bound a
	// version is parsed each time.
	versions sync.Map
	nvers    atomic.Int32

	// unproven is this policy as it judges a session whose facts at login
	// nobody recorded (Unproven), derived once on first use.
	unproven     *Policy
	unprovenOnce sync.Once
}

const maxCachedVersions = 4096

// verInfo is a parsed app version and, per campaign, whether it satisfies
// the campaign's version constraint. Checking a constraint allocates when
// it fails, so each distinct version is checked once per policy.
type verInfo struct {
	v     *semver.Version // nil when absent or unparsable
	match []uint64        // bit i: campaign i's constraint holds (or it has none)
}

// Campaigns is the number of enforcing campaigns in the policy.
func (p *Policy) Campaigns() int { return p.n }

func (p *Policy) version(s string) *verInfo {
	if v, ok := p.versions.Load(s); ok {
		return v.(*verInfo)
	}
	vi := p.newVerInfo(s)
	if p.nvers.Load() < maxCachedVersions {
		if _, loaded := p.versions.LoadOrStore(s, vi); !loaded {
			p.nvers.Add(1)
		}
	}
	return vi
}

func (p *Policy) newVerInfo(s string) *verInfo {
	vi := &verInfo{match: make([]uint64, (len(p.campaigns)+63)/64)}
	if s != "" {
		if v, err := semver.NewVersion(s); err == nil {
			vi.v = v
		}
	}
	for i := range p.campaigns {
		c := p.campaigns[i].versions
		if c == nil || (vi.v != nil && c.Check(vi.v)) {
			vi.match[i/64] |= 1 << (i % 64)
		}
	}
	return vi
}

// kindCode is a campaign kind (cordon.Kind) as the engine reads it
// fastest; codeOf maps one to the other.
type kindCode uint8

const (
	kindReauth kindCode = iota
	kindPasswordReset
	kindUpgrade
	kindOffline
)

// codeOf is the engine's code for a kind; false for an unknown kind,
// which Compile refuses.
func codeOf(k cordon.Kind) (kindCode, bool) {
	switch k {
	case cordon.KindReauth:
		return kindReauth, true
	case cordon.KindPasswordReset:
		return kindPasswordReset, true
	case cordon.KindUpgrade:
		return kindUpgrade, true
	case cordon.KindOfflineRekey:
		return kindOffline, true
	}
	return 0, false
}

// severity is the most severe decision a kind can give. A code the engine
// does not know (none compiles) is the most severe, so a decision never
// skips it.
func (k kindCode) severity() severity { return kindSeverity[k] }

// reason is the kind's denial (cordon.KindRules.Denial); a code the
// engine does not know asks for a new login.
func (k kindCode) reason() string { return kindReason[k] }

var kindReason = func() (t [256]string) {
	for i := range t {
		t[i] = ReasonReauthRequired
	}
	for _, k := range cordon.Kinds {
		if code, ok := codeOf(k); ok {
			t[code] = k.MustRules().Denial.Reason
		}
	}
	return t
}()

// kindSeverity is severity as a table the hot path reads without a branch.
var kindSeverity = func() (t [256]severity) {
	for k := range t {
		t[k] = sevPasswordReset
		switch kindCode(k) {
		case kindReauth:
			t[k] = sevReauth
		case kindPasswordReset:
			t[k] = sevPasswordReset
		case kindUpgrade:
			t[k] = sevImmediate
		case kindOffline:
			t[k] = sevAllow
		}
	}
	return t
}()

// compiled is one campaign in the form a decision reads fastest.
type compiled struct {
	id   string
	kind kindCode
	// current: the cohort is judged on the version the request reports
	// (cordon.VersionReported), not the one at login.
	current bool
	// after is how the campaign waits for its prerequisite, pre (an index
	// into Policy.campaigns) when after is afterJudge or afterAdmitted.
	// Both sit beside kind, on the cache line every decision reads, so a
	// campaign without a prerequisite pays one compare and no extra load.
	after   afterRule
	pre     int32
	message string
	// byEmail: a password_reset campaign with verify: email, whose demand
	// only a link sent by email can meet (never the old password).
	byEmail bool

	platforms uint16 // bit per platform index; 0 means any
	sources   uint16 // bit per source index; 0 means any
	versions  *semver.Constraints
	// authBefore is cohort.authenticated_before in Unix microseconds; 0 none.
	authBefore int64
	users      map[string]struct{} // nil means any

	hasRamp   bool
	rampStart int64 // ns
	rampDur   int64 // ns
	activated int64 // ns
	seed      uint64
	// pace is an auto ramp's schedule; nil for a fixed ramp.
	pace *Schedule
	// early maps the AccountHash of each account the ramp admits before
	// its place in the order (cordon.Campaign.Early) to that admission
	// (Unix ns, never before the ramp's start); nil when there are none.
	// An account's admission is the earlier of the two, so an entry can
	// only bring it forward: whatever it holds, nobody is kept out longer.
	early map[uint64]int64
	// earlyWhy is each early entry's reason; read only to explain.
	earlyWhy map[uint64]string

	minVersion *semver.Version
	immediate  bool
	upgrades   [numSources]Upgrade
}

// afterRule is how a campaign waits for its prerequisite.
type afterRule uint8

const (
	// afterNone: no prerequisite; the hot path pays one compare.
	afterNone afterRule = iota
	// afterJudge: wait while the session still owes the prerequisite
	// (after.satisfied: true; the prerequisite is active or paused).
	afterJudge
	// afterAdmitted: wait until the prerequisite admits the user
	// (after.satisfied: false).
	afterAdmitted
	// afterRelease: the prerequisite completed; nobody waits.
	afterRelease
	// afterHold: the prerequisite was cancelled (or is not in the policy,
	// or still a draft): everyone waits, and the campaign does nothing.
	afterHold
)

// matches reports whether a session with these facts is in the cohort
// of campaign i (c).
func (c *compiled) matches(i int, src int, ver *verInfo, authMicro int64, account string) bool {
	if c.sources != 0 && c.sources&(1<<src) == 0 {
		return false
	}
	if c.authBefore != 0 && authMicro >= c.authBefore {
		return false
	}
	if ver.match[i/64]&(1<<(i%64)) == 0 {
		return false
	}
	if c.users != nil {
		if _, ok := c.users[account]; !ok {
			return false
		}
	}
	return true
}

// admission is when the account (whose AccountHash is uh) enters the
// campaign, in Unix ns: its point on the ramp, but never before the
// activation. A ramp dated in the past admits its users at the activation,
// so a session (or a stolen token's) that logged in between the ramp's
// points and the activation is still asked to log in again.
func (c *compiled) admission(uh uint64) int64 {
	if !c.hasRamp {
		return c.activated
	}
	var a int64
	if c.pace != nil {
		a = c.pace.admit(share(c.seed, uh))
	} else {
		a = c.rampStart + int64(share(c.seed, uh)*float64(c.rampDur))
	}
	if c.early != nil {
		if e, ok := c.early[uh]; ok && e < a {
			a = e
		}
	}
	return max(a, c.activated)
}

// admissionWhy is admission with the reason it is what it is
// (cordon.AdmitPriority, AdmitUnusualAddress, AdmitRamp, AdmitActivation).
func (c *compiled) admissionWhy(uh uint64) (int64, string) {
	if !c.hasRamp {
		return c.activated, cordon.AdmitActivation
	}
	var ramp int64
	if c.pace != nil {
		ramp = c.pace.admit(share(c.seed, uh))
	} else {
		ramp = c.rampStart + int64(share(c.seed, uh)*float64(c.rampDur))
	}
	a, why := ramp, cordon.AdmitRamp
	if e, ok := c.early[uh]; ok && e < a {
		a, why = e, c.earlyWhy[uh]
	}
	if c.activated >= a {
		return c.activated, cordon.AdmitActivation
	}
	return a, why
}

// latest is the latest admission time of any user: a session that
// authenticated after it is never denied by this campaign.
func (c *compiled) latest() int64 {
	if !c.hasRamp {
		return c.activated
	}
	if c.pace != nil {
		return max(c.pace.end, c.activated)
	}
	return max(c.rampStart+c.rampDur, c.activated)
}

// beats breaks a tie between campaigns of equal severity: the later
// cut-off, then the higher min_version, then the smaller id.
func (c *compiled) beats(o *compiled, key, okey int64) bool {
	if key != okey {
		return key > okey
	}
	if c.minVersion != nil && o.minVersion != nil && !c.minVersion.Equal(o.minVersion) {
		return c.minVersion.GreaterThan(o.minVersion)
	}
	return c.id < o.id
}

// Seed is the campaign's half of the ramp hash: FNV-1a 64 of its id.
func Seed(campaignID string) uint64 { return fnv(campaignID) }

// AccountHash is the user's half of the ramp hash: FNV-1a 64 of the
// account id, computed once per decision whatever the number of campaigns.
func AccountHash(account string) uint64 { return fnv(account) }

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Share is h(campaign, user) in [0, 1): the splitmix64 finaliser over the
// two FNV-1a halves, so every output bit depends on every input bit. It is
// stable across processes, machines and versions of cordon: changing it
// would move users in and out of running ramps.
func Share(seed, accountHash uint64) float64 { return share(seed, accountHash) }

func share(seed, uh uint64) float64 {
	h := seed ^ (uh * 0x9e3779b97f4a7c15)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11) / (1 << 53)
}

// AdmissionWhy is Admission with why the account is admitted then: a
// priority named by the ramp, an unusual address, its place in the ramp's
// order, or the activation (cordon.Admit*).
func (p *Policy) AdmissionWhy(campaignID, account string) (time.Time, string, bool) {
	for i := range p.campaigns {
		if p.campaigns[i].id == campaignID {
			at, why := p.campaigns[i].admissionWhy(AccountHash(account))
			return time.Unix(0, at), why, true
		}
	}
	return time.Time{}, "", false
}

// Admission is the time the campaign admits the account, for callers
// outside the engine (progress, previews, offline grants).
func (p *Policy) Admission(campaignID, account string) (time.Time, bool) {
	for i := range p.campaigns {
		if p.campaigns[i].id == campaignID {
			return time.Unix(0, p.campaigns[i].admission(AccountHash(account))), true
		}
	}
	return time.Time{}, false
}

const (
	numPlatforms = 7 // cordon.Platforms plus unknown (index 0)
	numSources   = 7
)

var platformIdx = func() map[string]int {
	m := map[string]int{cordon.PlatformUnknown: 0}
	for i, p := range cordon.Platforms {
		m[p] = i + 1
	}
	return m
}()

var sourceIdx = func() map[string]int {
	m := map[string]int{}
	for i, s := range cordon.Sources {
		m[s] = i
	}
	return m
}()

// platformIndex and sourceIndex (index.go) are switches, the fastest
// lookup a decision can make, generated from cordon.Platforms and
// cordon.Sources, whose order they follow: TestIndexesGenerated fails when
// index.go is stale, and -update rewrites it.

// Compile builds the policy from the campaigns that enforce (state
// active); the others are left out. It fails only on a campaign that could
// not have passed validation.
func Compile(campaigns []*cordon.Campaign, version uint64, now time.Time) (*Policy, error) {
	p := &Policy{Version: version, Compiled: now}
	cs := append([]*cordon.Campaign(nil), campaigns...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	byID := make(map[string]*cordon.Campaign, len(cs))
	index := map[string]int{}
	for _, c := range cs {
		byID[c.ID] = c
		if !c.State.Enforcing() {
			continue
		}
		cc, err := compile(c)
		if err != nil {
			return nil, fmt.Errorf("campaign %s: %w", c.ID, err)
		}
		index[c.ID] = len(p.campaigns)
		p.campaigns = append(p.campaigns, cc)
	}
	p.n = len(p.campaigns)
	if err := p.linkPrerequisites(byID, index); err != nil {
		return nil, err
	}
	// Strictest kinds first, so a decision can stop once nothing left in
	// the list could beat what it has.
	order := make([]int, p.n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return p.campaigns[order[a]].kind.severity() > p.campaigns[order[b]].kind.severity()
	})
	for _, i := range order[:p.n] {
		mask := p.campaigns[i].platforms
		for pl := range numPlatforms {
			if mask == 0 || mask&(1<<pl) != 0 {
				p.byPlatform[pl] = append(p.byPlatform[pl], i)
			}
		}
	}
	return p, nil
}

// linkPrerequisites resolves every enforcing campaign's after: to a rule
// and, for an active or paused prerequisite, to its compiled form (a
// paused one is compiled here, after the enforcing ones, and enforces
// nothing). cs holds every campaign the policy was given, by id: the
// enforcing ones and the prerequisites the feed carries with them.
func (p *Policy) linkPrerequisites(cs map[string]*cordon.Campaign, index map[string]int) error {
	for i := range p.n {
		c := cs[p.campaigns[i].id]
		if c.After == nil {
			continue
		}
		pre, ok := cs[c.After.Campaign]
		rule := afterHold
		switch {
		case !ok || pre.ID == c.ID:
		case pre.State == cordon.StateCompleted:
			rule = afterRelease
		case pre.State == cordon.StateActive || pre.State == cordon.StatePaused:
			rule = afterJudge
			if !c.After.Satisfied {
				rule = afterAdmitted
			}
			j, ok := index[pre.ID]
			if !ok {
				pc, err := compile(pre)
				if err != nil {
					return fmt.Errorf("campaign %s: prerequisite %s: %w", c.ID, pre.ID, err)
				}
				j = len(p.campaigns)
				index[pre.ID] = j
				p.campaigns = append(p.campaigns, pc)
			}
			p.campaigns[i].pre = int32(j)
		case pre.State == cordon.StateDraft, pre.State == cordon.StateCancelled:
		}
		if ok {
			if r, known := pre.Kind.Rules(); known && !r.Precedes && rule != afterRelease {
				rule = afterHold // validation refuses it; never judge what cannot be
			}
		}
		p.campaigns[i].after = rule
	}
	return nil
}

func compile(c *cordon.Campaign) (compiled, error) {
	cc := compiled{id: c.ID, message: c.Message, seed: Seed(c.ID), activated: c.Activated.UnixNano(), byEmail: c.Verify == cordon.VerifyEmail}
	rules, ok := c.Kind.Rules()
	code, known := codeOf(c.Kind)
	if !ok || !known {
		return cc, fmt.Errorf("unknown kind %q", c.Kind)
	}
	cc.kind, cc.current = code, rules.Judges == cordon.VersionReported
	if cc.message == "" {
		cc.message = rules.Message
	}
	for _, pl := range c.Cohort.Platforms {
		i, ok := platformIdx[pl]
		if !ok || i == 0 {
			return cc, fmt.Errorf("unknown platform %q", pl)
		}
		cc.platforms |= 1 << i
	}
	for _, s := range c.Cohort.Sources {
		i, ok := sourceIdx[s]
		if !ok {
			return cc, fmt.Errorf("unknown source %q", s)
		}
		cc.sources |= 1 << i
	}
	if c.Cohort.Versions != "" {
		v, err := semver.NewConstraint(c.Cohort.Versions)
		if err != nil {
			return cc, fmt.Errorf("versions: %w", err)
		}
		cc.versions = v
	}
	if t := c.Cohort.AuthenticatedBefore; t != nil {
		cc.authBefore = t.UnixMicro()
	}
	if c.Cohort.ExplicitUsers() || len(c.UserIDs) > 0 {
		// An explicit user set, even an empty one after resolution, selects
		// only those users: an unresolvable set must never mean "everyone".
		cc.users = make(map[string]struct{}, len(c.UserIDs))
		for _, u := range c.UserIDs {
			cc.users[u] = struct{}{}
		}
	}
	if c.Ramp != nil {
		if c.Ramp.Duration <= 0 || c.Ramp.Duration > time.Duration(math.MaxInt64/2) {
			return cc, fmt.Errorf("ramp duration %v", c.Ramp.Duration)
		}
		cc.hasRamp, cc.rampStart, cc.rampDur = true, c.Ramp.Start.UnixNano(), int64(c.Ramp.Duration)
		switch c.Ramp.Mode {
		case "", cordon.RampFixed, cordon.RampAuto:
		default:
			return cc, fmt.Errorf("unknown ramp mode %q", c.Ramp.Mode)
		}
		if c.Ramp.Auto() {
			sc, err := NewSchedule(c.Ramp)
			if err != nil {
				return cc, fmt.Errorf("ramp pace: %w", err)
			}
			cc.pace = sc
		}
		if len(c.Early) > 0 {
			cc.early = make(map[uint64]int64, len(c.Early))
			cc.earlyWhy = make(map[uint64]string, len(c.Early))
			for _, e := range c.Early {
				at := cc.rampStart // a priority named at creation: the ramp's first instant
				if !e.At.IsZero() {
					at = max(e.At.UnixNano(), cc.rampStart)
				}
				uh := AccountHash(e.Account)
				if old, ok := cc.early[uh]; !ok || at < old {
					cc.early[uh], cc.earlyWhy[uh] = at, e.Why
				}
			}
		}
	}
	if rules.Upgrade {
		u := c.Upgrade
		if u == nil {
			return cc, fmt.Errorf("%s campaign without upgrade", c.Kind)
		}
		mv, err := semver.NewVersion(u.MinVersion)
		if err != nil {
			return cc, fmt.Errorf("min_version: %w", err)
		}
		cc.minVersion, cc.immediate = mv, u.Mode != cordon.UpgradeFlexible
		official := u.URLs[cordon.SourceOfficial]
		for i, s := range cordon.Sources {
			up := Upgrade{MinVersion: u.MinVersion, Mode: u.Mode, URL: official, Sideloaded: true}
			if cordon.Official(s) {
				up.Sideloaded = false
				if url := u.URLs[s]; url != "" {
					up.URL = url
				}
			}
			cc.upgrades[i] = up
		}
	}
	return cc, nil
}

// Matcher says whether a session is in a campaign's cohort and, for its
// kind, still owes something (a session from before now, an app below
// min_version). Previews use it on campaigns of any state.
type Matcher struct {
	c compiled
}

// NewMatcher compiles one campaign's cohort.
func NewMatcher(c *cordon.Campaign) (*Matcher, error) {
	cc, err := compile(c)
	if err != nil {
		return nil, err
	}
	return &Matcher{c: cc}, nil
}

// Match reports whether the session would be hit by the campaign at
// activation now.
func (m *Matcher) Match(s *cordon.Session, now time.Time) bool {
	c := &m.c
	if c.platforms != 0 && c.platforms&(1<<platformIndex(s.Facts.Platform)) == 0 {
		return false
	}
	var v *semver.Version
	if s.Facts.Version != "" {
		v, _ = semver.NewVersion(s.Facts.Version)
	}
	if c.versions != nil && (v == nil || !c.versions.Check(v)) {
		return false
	}
	vi := &verInfo{v: v, match: []uint64{1}}
	if !c.matches(0, sourceIndex(s.Facts.Source), vi, s.AuthTime.UnixMicro(), s.AccountID) {
		return false
	}
	switch c.kind {
	case kindReauth, kindPasswordReset:
		return s.AuthTime.Before(now)
	case kindUpgrade:
		return v == nil || v.LessThan(c.minVersion)
	case kindOffline:
		return true
	}
	return false // a kind the engine does not know hits nobody it can name
}

// MatchBucket is Match for a bucket of sessions; buckets carry the day of
// authentication, so authenticated_before is judged to the day.
func (m *Matcher) MatchBucket(b *cordon.Bucket, now time.Time) bool {
	s := cordon.Session{Facts: cordon.ClientFacts{Platform: b.Platform, Version: b.Version, Source: b.Source}, AuthTime: b.AuthDay}
	c := &m.c
	if c.users != nil {
		return false // explicit users are counted from their sessions, not buckets
	}
	return m.Match(&s, now)
}

// Admitted reports whether the ramp admits the account at now (always,
// without a ramp): what Share estimates for a whole cohort, for one user.
func (m *Matcher) Admitted(account string, now time.Time) bool {
	if !m.c.hasRamp {
		return true
	}
	return now.UnixNano() >= m.c.admission(AccountHash(account))
}

// Share is the expected share of the cohort admitted at now, in [0, 1].
func (m *Matcher) Share(now time.Time) float64 {
	c := &m.c
	if !c.hasRamp {
		return 1
	}
	if c.pace != nil {
		return c.pace.ShareAt(now)
	}
	f := float64(now.UnixNano()-c.rampStart) / float64(c.rampDur)
	return math.Max(0, math.Min(1, f))
}

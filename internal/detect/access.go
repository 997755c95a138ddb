package detect

import (
	"slices"
	"time"
)

// AccessEvent is one audit log entry as access detection reads it.
type AccessEvent struct {
	Index      uint64
	At         time.Time
	Principal  string
	User       string // the account the subject resolved to, else the raw subject
	Categories []string
}

// AccessAlert is an anomaly an access rule saw in the log.
type AccessAlert struct {
	Rule      string    `json:"rule"`
	Kind      string    `json:"kind"` // the rule's kind
	Principal string    `json:"principal"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Users is the distinct users read in the window (distinct_users), or
	// the reads that matched (categories, off_hours count their users).
	Users      int      `json:"users"`
	Reads      int      `json:"reads"`
	Baseline   float64  `json:"baseline,omitempty"`
	Categories []string `json:"categories,omitempty"`
	// Subjects are the first users read (at most MaxSubjects); Entries
	// the log indexes of the first matching reads.
	Subjects []string `json:"subjects,omitempty"`
	Entries  []uint64 `json:"entries,omitempty"`
	Hour     int      `json:"hour"` // off_hours: the UTC hour; else -1
}

// Bounds on what access detection keeps per principal.
const (
	// MaxSubjects and MaxEntries bound an alert's lists.
	MaxSubjects = 20
	MaxEntries  = 20
	// MaxWindowUsers bounds the distinct users remembered per principal
	// and window: past it the count stops growing (it is far beyond any
	// threshold by then, and the alert has been raised).
	MaxWindowUsers = 1 << 20
	// MaxPrincipals bounds the principals followed; past it new ones are
	// not followed (principals are services and staff, not users).
	MaxPrincipals = 100000
)

// Access evaluates access rules over the audit log as entries are
// appended: each entry costs a few map operations per rule, whatever the
// log's length; nothing is rescanned. It reads no clock (the entries carry
// their times) and is not safe for concurrent use: one reader feeds it,
// in log order.
type Access struct {
	rules      []AccessRule
	principals map[string]*principal
}

type principal struct {
	windows []*window       // per distinct_users rule, by rule index
	cats    map[int]*accrue // per categories / off_hours rule
	hours   [24]int
	total   int
	first   time.Time // the principal's first read
	raised  map[int]time.Time
}

type window struct {
	start   time.Time
	users   map[string]struct{}
	first   []string
	entries []uint64
	reads   int
	history []int // counts of the last completed windows, newest last
	alerted bool
}

type accrue struct {
	from, to time.Time
	reads    int
	users    map[string]struct{}
	first    []string
	entries  []uint64
	cats     []string
	hour     int
}

// NewAccess returns an evaluator of rules.
func NewAccess(rules []AccessRule) *Access {
	return &Access{rules: slices.Clone(rules), principals: map[string]*principal{}}
}

// Rules returns the rules evaluated.
func (a *Access) Rules() []AccessRule { return slices.Clone(a.rules) }

// Principals is how many principals are followed.
func (a *Access) Principals() int { return len(a.principals) }

// Observe evaluates one entry and returns the alerts it raises (usually
// none).
func (a *Access) Observe(e AccessEvent) []AccessAlert {
	if len(a.rules) == 0 {
		return nil
	}
	p := a.principals[e.Principal]
	if p == nil {
		if len(a.principals) >= MaxPrincipals {
			return nil
		}
		p = &principal{windows: make([]*window, len(a.rules)), cats: map[int]*accrue{}, raised: map[int]time.Time{}, first: e.At}
		a.principals[e.Principal] = p
	}
	var out []AccessAlert
	hour := e.At.UTC().Hour()
	for i, r := range a.rules {
		switch r.Kind {
		case RuleDistinctUsers:
			if al, ok := a.distinct(p, i, r, e); ok {
				out = append(out, al)
			}
		case RuleCategories:
			var hit []string
			for _, c := range e.Categories {
				if slices.Contains(r.Categories, c) {
					hit = append(hit, c)
				}
			}
			if len(hit) == 0 {
				continue
			}
			if al, ok := a.accrue(p, i, r, e, hit, -1); ok {
				out = append(out, al)
			}
		case RuleOffHours:
			if p.total >= r.Learn && e.At.Sub(p.first) >= r.LearnFor && float64(p.hours[hour]) < r.MinShare*float64(p.total) {
				if al, ok := a.accrue(p, i, r, e, nil, hour); ok {
					out = append(out, al)
				}
			}
		}
	}
	p.hours[hour]++
	p.total++
	return out
}

// distinct counts the principal's distinct users in the rule's window
// and alerts once per window when they pass Factor × the baseline.
func (a *Access) distinct(p *principal, i int, r AccessRule, e AccessEvent) (AccessAlert, bool) {
	w := p.windows[i]
	start := e.At.UTC().Truncate(r.Window)
	if w == nil {
		w = &window{start: start, users: map[string]struct{}{}}
		p.windows[i] = w
	}
	if start.After(w.start) {
		// Close the window, and the empty ones since: a principal idle
		// for a day has a baseline of zero for it.
		w.history = append(w.history, len(w.users))
		for s := w.start.Add(r.Window); s.Before(start) && len(w.history) < 2*r.Learn; s = s.Add(r.Window) {
			w.history = append(w.history, 0)
		}
		if len(w.history) > r.Learn {
			w.history = w.history[len(w.history)-r.Learn:]
		}
		clear(w.users)
		w.start, w.first, w.entries, w.reads, w.alerted = start, nil, nil, 0, false
	}
	w.reads++
	if _, ok := w.users[e.User]; !ok && len(w.users) < MaxWindowUsers {
		w.users[e.User] = struct{}{}
		if len(w.first) < MaxSubjects {
			w.first = append(w.first, e.User)
		}
	}
	if len(w.entries) < MaxEntries {
		w.entries = append(w.entries, e.Index)
	}
	if w.alerted || len(w.history) < r.Learn || len(w.users) < r.MinUsers {
		return AccessAlert{}, false
	}
	sum := 0
	for _, n := range w.history {
		sum += n
	}
	base := float64(sum) / float64(len(w.history))
	if float64(len(w.users)) <= r.Factor*max(base, 1) || !a.cool(p, i, r, e.At) {
		return AccessAlert{}, false
	}
	w.alerted = true
	return AccessAlert{Rule: r.Name, Kind: r.Kind, Principal: e.Principal, From: w.start, To: e.At.UTC(), Users: len(w.users), Reads: w.reads,
		Baseline: base, Subjects: slices.Clone(w.first), Entries: slices.Clone(w.entries), Hour: -1}, true
}

// accrue adds a matching read to what the rule holds on the principal
// and alerts with all of it once per cooldown.
func (a *Access) accrue(p *principal, i int, r AccessRule, e AccessEvent, cats []string, hour int) (AccessAlert, bool) {
	c := p.cats[i]
	if c == nil || e.At.Sub(c.to) > r.Cooldown {
		c = &accrue{from: e.At.UTC(), users: map[string]struct{}{}, hour: hour}
		p.cats[i] = c
	}
	c.to = e.At.UTC()
	c.reads++
	if _, ok := c.users[e.User]; !ok && len(c.users) < MaxWindowUsers {
		c.users[e.User] = struct{}{}
		if len(c.first) < MaxSubjects {
			c.first = append(c.first, e.User)
		}
	}
	if len(c.entries) < MaxEntries {
		c.entries = append(c.entries, e.Index)
	}
	for _, x := range cats {
		if !slices.Contains(c.cats, x) {
			c.cats = append(c.cats, x)
			slices.Sort(c.cats)
		}
	}
	if !a.cool(p, i, r, e.At) {
		return AccessAlert{}, false
	}
	return AccessAlert{Rule: r.Name, Kind: r.Kind, Principal: e.Principal, From: c.from, To: c.to, Users: len(c.users), Reads: c.reads,
		Categories: slices.Clone(c.cats), Subjects: slices.Clone(c.first), Entries: slices.Clone(c.entries), Hour: hour}, true
}

// cool reports whether rule i may alert on the principal at now, and
// marks it raised.
func (a *Access) cool(p *principal, i int, r AccessRule, now time.Time) bool {
	if at, ok := p.raised[i]; ok && now.Sub(at) < r.Cooldown && now.Sub(at) > -r.Cooldown {
		return false
	}
	p.raised[i] = now
	return true
}

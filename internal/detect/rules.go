package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// File is a detection rules file (cordon serve --detect-rules FILE): the
// login-abuse thresholds and the access rules over the audit log.
//
//	login:
//	  window: 10m
//	  brute_force: {failures: 30}
//	  spraying: {accounts: 20}
//	  stuffing: {accounts: 100, addresses: 10, failure_ratio: 0.8}
//	  cooldown: 1h
//	access:
//	  - {name: wide-reads, kind: distinct_users, window: 1h, factor: 5, min_users: 20, learn: 24}
//	  - {name: secrets, kind: categories, categories: [password_hash, payment]}
//	  - {name: night-reads, kind: off_hours, learn: 200, learn_for: 168h, min_share: 0.01}
type File struct {
	Login  Rules
	Access []AccessRule
}

// Kinds of access rule.
const (
	// RuleDistinctUsers: a principal reads more distinct users in a window
	// than Factor times its own baseline (the mean of its last Learn
	// windows), and at least MinUsers.
	RuleDistinctUsers = "distinct_users"
	// RuleCategories: a principal reads one of Categories.
	RuleCategories = "categories"
	// RuleOffHours: a principal reads at a UTC hour in which fewer than
	// MinShare of its first Learn reads (and every one since) fell.
	RuleOffHours = "off_hours"
)

// AccessRule is one rule over the audit log.
type AccessRule struct {
	Name     string
	Kind     string
	Window   time.Duration // distinct_users: the window (1h)
	Factor   float64       // distinct_users: k× the baseline (5)
	MinUsers int           // distinct_users: at least this many users (20)
	Learn    int           // distinct_users: windows of baseline (24); off_hours: reads (200)
	MinShare float64       // off_hours: an hour under this share is unusual (0.01)
	// LearnFor: off_hours judges a principal only once its reads span this
	// long (7 days), so a week's rhythm is learnt, not a first morning's.
	LearnFor   time.Duration
	Categories []string // categories: those that alert
	// Cooldown: a rule alerts on a principal at most once per Cooldown
	// (1h); the evidence keeps growing meanwhile.
	Cooldown time.Duration
}

// DefaultFile is what cordon serve uses without --detect-rules: the
// default login thresholds and one rule of each kind.
func DefaultFile() *File {
	f, err := ParseFile([]byte(DefaultRulesYAML))
	if err != nil {
		panic(err) // the text is a constant; a test reads it
	}
	return f
}

// DefaultRulesYAML is the default rules file.
const DefaultRulesYAML = `# cordon's default detection rules
login:
  window: 10m
  brute_force: {failures: 30}
  spraying: {accounts: 20}
  stuffing: {accounts: 100, addresses: 10, failure_ratio: 0.8}
  cooldown: 1h
access:
  - name: wide-reads
    kind: distinct_users
    window: 1h
    factor: 5
    min_users: 20
    learn: 24
  - name: secrets
    kind: categories
    categories: [password_hash, payment]
  - name: night-reads
    kind: off_hours
    learn: 200
    learn_for: 168h
    min_share: 0.01
`

// MaxRulesFile bounds a rules file, and MaxAccessRules its rules.
const (
	MaxRulesFile   = 64 << 10
	MaxAccessRules = 64
)

type fileYAML struct {
	Login *struct {
		Window     string `yaml:"window"`
		Cooldown   string `yaml:"cooldown"`
		MaxAttempt int    `yaml:"max_attempts"`
		BruteForce *struct {
			Failures int `yaml:"failures"`
		} `yaml:"brute_force"`
		Spraying *struct {
			Accounts int `yaml:"accounts"`
		} `yaml:"spraying"`
		Stuffing *struct {
			Accounts     int     `yaml:"accounts"`
			Addresses    int     `yaml:"addresses"`
			FailureRatio float64 `yaml:"failure_ratio"`
		} `yaml:"stuffing"`
	} `yaml:"login"`
	Access []struct {
		Name       string   `yaml:"name"`
		Kind       string   `yaml:"kind"`
		Window     string   `yaml:"window"`
		Factor     float64  `yaml:"factor"`
		MinUsers   int      `yaml:"min_users"`
		Learn      int      `yaml:"learn"`
		MinShare   float64  `yaml:"min_share"`
		LearnFor   string   `yaml:"learn_for"`
		Categories []string `yaml:"categories"`
		Cooldown   string   `yaml:"cooldown"`
	} `yaml:"access"`
}

var (
	ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	category = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
)

// ParseFile reads a rules file strictly: unknown fields, a second
// document, a bad duration or threshold, a duplicate name are errors that
// say where. Absent login fields take DefaultRules'.
func ParseFile(data []byte) (*File, error) {
	if len(data) > MaxRulesFile {
		return nil, fmt.Errorf("the rules file is %d bytes; at most %d", len(data), MaxRulesFile)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var y fileYAML
	if err := dec.Decode(&y); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the rules file is empty")
		}
		return nil, fmt.Errorf("rules file: %v", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("rules file: one YAML document only")
	}
	f := &File{Login: DefaultRules()}
	if l := y.Login; l != nil {
		var err error
		if f.Login.Window, err = duration("login.window", l.Window, f.Login.Window, time.Minute, 24*time.Hour); err != nil {
			return nil, err
		}
		if f.Login.Cooldown, err = duration("login.cooldown", l.Cooldown, f.Login.Cooldown, time.Minute, 7*24*time.Hour); err != nil {
			return nil, err
		}
		if l.MaxAttempt != 0 {
			if l.MaxAttempt < 1000 || l.MaxAttempt > 1<<24 {
				return nil, fmt.Errorf("login.max_attempts must be between 1000 and %d, not %d", 1<<24, l.MaxAttempt)
			}
			f.Login.MaxAttempts = l.MaxAttempt
		}
		if b := l.BruteForce; b != nil {
			if err := between("login.brute_force.failures", b.Failures, 3, 100000); err != nil {
				return nil, err
			}
			f.Login.BruteFailures = b.Failures
		}
		if sp := l.Spraying; sp != nil {
			if err := between("login.spraying.accounts", sp.Accounts, 3, 1000000); err != nil {
				return nil, err
			}
			f.Login.SprayAccounts = sp.Accounts
		}
		if st := l.Stuffing; st != nil {
			if err := between("login.stuffing.accounts", st.Accounts, 3, 1000000); err != nil {
				return nil, err
			}
			if err := between("login.stuffing.addresses", st.Addresses, 1, 1000000); err != nil {
				return nil, err
			}
			if !(st.FailureRatio > 0 && st.FailureRatio <= 1) {
				return nil, fmt.Errorf("login.stuffing.failure_ratio must be above 0 and at most 1, not %v", st.FailureRatio)
			}
			f.Login.StuffingAccounts, f.Login.StuffingAddresses, f.Login.StuffingFailureRatio = st.Accounts, st.Addresses, st.FailureRatio
		}
	}
	if len(y.Access) > MaxAccessRules {
		return nil, fmt.Errorf("access: %d rules; at most %d", len(y.Access), MaxAccessRules)
	}
	seen := map[string]bool{}
	for i, a := range y.Access {
		at := fmt.Sprintf("access[%d]", i)
		if !ruleName.MatchString(a.Name) {
			return nil, fmt.Errorf("%s.name must be 1 to 64 lowercase letters, digits, - and _, starting with a letter or digit, not %q", at, clip(a.Name))
		}
		at = fmt.Sprintf("access[%d] (%s)", i, a.Name)
		if seen[a.Name] {
			return nil, fmt.Errorf("%s: the name is used twice", at)
		}
		seen[a.Name] = true
		r := AccessRule{Name: a.Name, Kind: a.Kind}
		var err error
		if r.Cooldown, err = duration(at+".cooldown", a.Cooldown, time.Hour, time.Minute, 7*24*time.Hour); err != nil {
			return nil, err
		}
		unused := func(fields ...string) error {
			vals := map[string]bool{"window": a.Window != "", "factor": a.Factor != 0, "min_users": a.MinUsers != 0, "learn": a.Learn != 0,
				"min_share": a.MinShare != 0, "categories": a.Categories != nil, "learn_for": a.LearnFor != ""}
			for _, f := range fields {
				if vals[f] {
					return fmt.Errorf("%s: %s does not apply to a %s rule", at, f, a.Kind)
				}
			}
			return nil
		}
		switch a.Kind {
		case RuleDistinctUsers:
			if err := unused("min_share", "categories", "learn_for"); err != nil {
				return nil, err
			}
			if r.Window, err = duration(at+".window", a.Window, time.Hour, time.Minute, 7*24*time.Hour); err != nil {
				return nil, err
			}
			r.Factor, r.MinUsers, r.Learn = a.Factor, a.MinUsers, a.Learn
			if r.Factor == 0 {
				r.Factor = 5
			}
			if !(r.Factor >= 1 && r.Factor <= 1000) {
				return nil, fmt.Errorf("%s.factor must be between 1 and 1000, not %v", at, a.Factor)
			}
			if r.MinUsers == 0 {
				r.MinUsers = 20
			}
			if err := between(at+".min_users", r.MinUsers, 1, 1000000); err != nil {
				return nil, err
			}
			if r.Learn == 0 {
				r.Learn = 24
			}
			if err := between(at+".learn", r.Learn, 1, 1000); err != nil {
				return nil, err
			}
		case RuleCategories:
			if err := unused("window", "factor", "min_users", "learn", "min_share", "learn_for"); err != nil {
				return nil, err
			}
			if len(a.Categories) == 0 || len(a.Categories) > 64 {
				return nil, fmt.Errorf("%s.categories: give 1 to 64 categories", at)
			}
			for _, c := range a.Categories {
				if !category.MatchString(c) {
					return nil, fmt.Errorf("%s.categories: %q is not a category (lowercase letters, digits and _)", at, clip(c))
				}
			}
			r.Categories = slices.Compact(slices.Sorted(slices.Values(a.Categories)))
		case RuleOffHours:
			if err := unused("window", "factor", "min_users", "categories"); err != nil {
				return nil, err
			}
			r.Learn, r.MinShare = a.Learn, a.MinShare
			if r.LearnFor, err = duration(at+".learn_for", a.LearnFor, 7*24*time.Hour, 0, 90*24*time.Hour); err != nil {
				return nil, err
			}
			if r.Learn == 0 {
				r.Learn = 200
			}
			if err := between(at+".learn", r.Learn, 10, 1000000); err != nil {
				return nil, err
			}
			if r.MinShare == 0 {
				r.MinShare = 0.01
			}
			if !(r.MinShare > 0 && r.MinShare < 0.5) {
				return nil, fmt.Errorf("%s.min_share must be above 0 and below 0.5, not %v", at, a.MinShare)
			}
		case "":
			return nil, fmt.Errorf("%s.kind is required: distinct_users, categories or off_hours", at)
		default:
			return nil, fmt.Errorf("%s.kind must be distinct_users, categories or off_hours, not %q", at, clip(a.Kind))
		}
		f.Access = append(f.Access, r)
	}
	return f, nil
}

func duration(field, s string, def, lo, hi time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s must be a duration such as 10m or 1h, not %q", field, clip(s))
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s must be between %s and %s, not %s", field, lo, hi, d)
	}
	return d, nil
}

func between(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s must be between %d and %d, not %d", field, lo, hi, v)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

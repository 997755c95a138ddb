package uafacts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Config is the rules file, and what the command-line flags build when
// there is no file. The file is YAML (JSON, being YAML, is read too):
//
//	# The product tokens of our apps, for the built-in rules.
//	apps:
//	  - token: Spotify
//	  - token: TwitterAndroid   # a token only one platform's app sends
//	    platform: android
//	# The header our okhttp and Dalvik builds send their version in.
//	version_header: X-App-Version
//	# Tried first, in order; the first that matches decides.
//	rules:
//	  - name: whatsapp-android
//	    match: '^WhatsApp/(?P<version>[0-9.]+) A$'
//	    platform: android
//	  - name: fire-tv
//	    match: '^MyApp/(?P<version>[0-9.]+) \(Linux; Android [0-9.]+; AFT'
//	    platform: tv
//	    source: amazon          # only ever because a rule says so
//
// YAML rather than JSON because the patterns are regular expressions: in
// JSON every backslash must be doubled ("\\d+\\.\\d+"), and a rule file is
// written by hand in a hurry, so single-quoted YAML strings take a pattern
// as it is written, and comments can say why a rule exists.
type Config struct {
	// Apps are the product tokens the built-in rules look for.
	Apps []App `yaml:"apps" json:"apps"`
	// VersionHeader names the request header in which apps whose user
	// agent carries no version (okhttp, Dalvik) send it, e.g.
	// X-App-Version.
	VersionHeader string `yaml:"version_header" json:"version_header"`
	// Builtin turns the built-in rules off when false; they are on when
	// absent.
	Builtin *bool `yaml:"builtin" json:"builtin"`
	// Rules are the operator's own rules, tried before the built-in ones.
	Rules []RuleConfig `yaml:"rules" json:"rules"`
}

// App is a product token of the operator's apps.
type App struct {
	// Token is the product name as the user agent writes it before the
	// version: "Spotify" in "Spotify/8.9.10 iOS/17.2 (iPhone15,2)".
	// Compared ASCII case-insensitively.
	Token string `yaml:"token" json:"token"`
	// Platform, when set, is the platform of every user agent with this
	// token, for apps with a token per platform ("Discord-Android").
	Platform string `yaml:"platform" json:"platform"`
}

// RuleConfig is one operator's rule.
type RuleConfig struct {
	// Name identifies the rule in previews and logs.
	Name string `yaml:"name" json:"name"`
	// Match is a Go (RE2) regular expression, matched anywhere in the
	// user agent unless anchored. Its named groups (?P<version>…) and
	// (?P<device>…) give the version and the device id; no other names
	// are allowed. A device id must be an id of the install, never a
	// model name, which millions share.
	Match string `yaml:"match" json:"match"`
	// Platform is what a match means: one of cordon.Platforms, or
	// "unknown" to stop the built-in rules from guessing for this family.
	Platform string `yaml:"platform" json:"platform"`
	// Source is the install source; "unknown" when absent. A user agent
	// is a claim: name a store only when every build that matches comes
	// from it.
	Source string `yaml:"source" json:"source"`
	// VersionHeader, when set, names the request header the version is
	// read from when the pattern captures none.
	VersionHeader string `yaml:"version_header" json:"version_header"`
}

// Limits of a rules file. A pattern's compiled program is bounded as well
// as its text, since "(a{100}){100}" is short; together they bound the
// cost of a match to about MaxUserAgent × maxInsts steps per rule, and
// maxTotalInsts bounds the whole file's, since a user agent that holds
// every rule's required literal defeats the prefilter and meets them all
// (256 rules at the limit each cost ~25 s of CPU per login, measured).
const (
	MaxFileSize    = 256 << 10
	maxRules       = 256
	maxApps        = 64
	maxPatternLen  = 1024
	maxInsts       = 5000
	maxTotalInsts  = 20000
	maxTokenLen    = 64
	maxRuleNameLen = 64
	maxYAMLNodes   = 10 * (maxRules + maxApps)
)

// Parse reads a rules file (YAML or JSON) and builds its rules. Unknown
// fields, repeated keys, YAML anchors and aliases, a second document,
// and any value a rule could not use are refused, with an error that
// names the rule and field at fault.
func Parse(data []byte) (*Rules, error) {
	c, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	return New(c)
}

// ParseConfig reads a rules file as Parse does, short of building the
// rules, so a caller can add to it (the command line's --ua-app).
func ParseConfig(data []byte) (Config, error) {
	if len(data) > MaxFileSize {
		return Config{}, fmt.Errorf("the rules file is larger than %d KiB", MaxFileSize>>10)
	}
	if !utf8.Valid(data) {
		return Config{}, errors.New("the rules file is not valid UTF-8")
	}
	// Aliases first, on the node tree that keeps them unexpanded: a few
	// kilobytes of them can otherwise expand to gigabytes.
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return Config{}, errors.New("the rules file is empty")
		}
		return Config{}, yamlError(err)
	}
	if err := dec.Decode(new(yaml.Node)); err != io.EOF {
		return Config{}, errors.New("the rules file holds more than one YAML document")
	}
	nodes := 0
	for stack := []*yaml.Node{&root}; len(stack) > 0; {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if nodes++; nodes > maxYAMLNodes {
			return Config{}, fmt.Errorf("the rules file holds more than %d values", maxYAMLNodes)
		}
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			return Config{}, fmt.Errorf("line %d: YAML anchors and aliases are not allowed in a rules file", n.Line)
		}
		stack = append(stack, n.Content...)
	}
	var c Config
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, yamlError(err)
	}
	return c, nil
}

func yamlError(err error) error {
	msg := strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
	return errors.New("the rules file is not valid: " + msg)
}

// New builds rules from a configuration, checking it as Parse does.
func New(c Config) (*Rules, error) {
	r := &Rules{builtin: c.Builtin == nil || *c.Builtin}
	if len(c.Apps) > maxApps {
		return nil, fmt.Errorf("apps: at most %d, got %d", maxApps, len(c.Apps))
	}
	for i, a := range c.Apps {
		if err := checkToken(a.Token); err != nil {
			return nil, fmt.Errorf("apps[%d].token: %w", i, err)
		}
		if a.Platform != "" && !slices.Contains(cordon.Platforms, a.Platform) {
			return nil, fmt.Errorf("apps[%d] (%s): platform %q is not one of %s", i, a.Token, a.Platform, strings.Join(cordon.Platforms, ", "))
		}
		for _, b := range r.apps {
			if equalFoldASCII(a.Token, b.token) {
				return nil, fmt.Errorf("apps[%d]: token %q is listed twice", i, a.Token)
			}
		}
		r.apps = append(r.apps, app{token: a.Token, platform: a.Platform})
	}
	var err error
	if r.versionHeader, err = headerName(c.VersionHeader); err != nil {
		return nil, fmt.Errorf("version_header: %w", err)
	}
	if len(c.Rules) > maxRules {
		return nil, fmt.Errorf("rules: at most %d, got %d", maxRules, len(c.Rules))
	}
	seen := map[string]bool{}
	total := 0
	for i, rc := range c.Rules {
		ru, err := compile(rc)
		if err != nil {
			name := rc.Name
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			return nil, fmt.Errorf("rules[%d] (%s): %w", i, name, err)
		}
		if seen[ru.name] {
			return nil, fmt.Errorf("rules[%d]: the name %q is used twice", i, ru.name)
		}
		seen[ru.name] = true
		if total += ru.insts; total > maxTotalInsts {
			return nil, fmt.Errorf("rules[%d] (%s): the rules are too complex together (%d instructions compiled so far; the limit for a file is %d): simplify or anchor the patterns", i, ru.name, total, maxTotalInsts)
		}
		r.rules = append(r.rules, ru)
	}
	return r, nil
}

func compile(rc RuleConfig) (rule, error) {
	ru := rule{name: rc.Name, platform: rc.Platform, source: rc.Source}
	switch {
	case rc.Name == "":
		return rule{}, errors.New("name is required")
	case len(rc.Name) > maxRuleNameLen:
		return rule{}, fmt.Errorf("name is longer than %d characters", maxRuleNameLen)
	case !validName(rc.Name):
		return rule{}, errors.New("name may hold only letters, digits, \".\", \"_\" and \"-\"")
	case rc.Platform == "":
		return rule{}, fmt.Errorf("platform is required: one of %s, or unknown", strings.Join(cordon.Platforms, ", "))
	case rc.Platform != cordon.PlatformUnknown && !slices.Contains(cordon.Platforms, rc.Platform):
		return rule{}, fmt.Errorf("platform %q is not one of %s, or unknown", rc.Platform, strings.Join(cordon.Platforms, ", "))
	case rc.Source != "" && !slices.Contains(cordon.Sources, rc.Source):
		return rule{}, fmt.Errorf("source %q is not one of %s", rc.Source, strings.Join(cordon.Sources, ", "))
	case rc.Match == "":
		return rule{}, errors.New("match is required")
	case len(rc.Match) > maxPatternLen:
		return rule{}, fmt.Errorf("match is longer than %d characters", maxPatternLen)
	}
	if ru.source == "" {
		ru.source = cordon.SourceUnknown
	}
	var err error
	if ru.versionHeader, err = headerName(rc.VersionHeader); err != nil {
		return rule{}, fmt.Errorf("version_header: %w", err)
	}
	re, err := syntax.Parse(rc.Match, syntax.Perl)
	if err != nil {
		return rule{}, fmt.Errorf("match is not a valid regular expression: %w", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return rule{}, fmt.Errorf("match is not a valid regular expression: %w", err)
	}
	if len(prog.Inst) > maxInsts {
		return rule{}, fmt.Errorf("match is too complex (%d instructions compiled; the limit is %d)", len(prog.Inst), maxInsts)
	}
	ru.insts = len(prog.Inst)
	ru.required = requiredLiteral(re)
	if ru.re, err = regexp.Compile(rc.Match); err != nil {
		return rule{}, fmt.Errorf("match is not a valid regular expression: %w", err)
	}
	for i, name := range ru.re.SubexpNames() {
		switch name {
		case "":
		case "version":
			ru.versionGroup = i
		case "device":
			ru.deviceGroup = i
		default:
			return rule{}, fmt.Errorf("match names a group %q; the names are version and device", name)
		}
	}
	return ru, nil
}

// requiredLiteral returns the longest literal text every match of re
// contains (a case-sensitive literal among the parts of a top-level
// concatenation), or "". Match looks for it with strings.Contains, which
// is many times faster than running the expression, so a rule costs
// little on the user agents it is not about.
func requiredLiteral(re *syntax.Regexp) string {
	var parts []*syntax.Regexp
	switch re.Op {
	case syntax.OpConcat:
		parts = re.Sub
	case syntax.OpLiteral:
		parts = []*syntax.Regexp{re}
	}
	best := ""
	for _, p := range parts {
		if p.Op == syntax.OpLiteral && p.Flags&syntax.FoldCase == 0 && len(string(p.Rune)) > len(best) {
			best = string(p.Rune)
		}
	}
	return best
}

// checkToken accepts an RFC 9110 token of at most maxTokenLen bytes, "/"
// excluded (it separates the version), as product names are.
func checkToken(t string) error {
	if t == "" {
		return errors.New("is required")
	}
	if len(t) > maxTokenLen {
		return fmt.Errorf("is longer than %d characters", maxTokenLen)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !isAlnum(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return fmt.Errorf("%q is not a product token (letters, digits and !#$%%&'*+-.^_`|~)", t)
		}
	}
	return nil
}

// headerName checks a header name and returns its canonical form.
func headerName(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if err := checkToken(h); err != nil {
		return "", errors.New("is not a header name")
	}
	c := http.CanonicalHeaderKey(h)
	if c == "User-Agent" || strings.EqualFold(c, "Cordon-Client") {
		return "", fmt.Errorf("cannot be %s", c)
	}
	return c, nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

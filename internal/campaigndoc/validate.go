package campaigndoc

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Limits of the document's fields. They are generous for any real
// campaign and keep a single field from dominating what is stored, logged
// and sent to every gate.
const (
	maxNameLen       = 200 // characters
	maxMessageLen    = 2000
	maxConstraintLen = 200 // bytes
	maxVersionLen    = 64  // bytes, as clientfacts allows an app version
	maxUserLen       = 254 // bytes: the longest e-mail address
	maxUsers         = 100_000
	maxReportIDLen   = 64
	maxIssuerLen     = 512
	maxSubLen        = 255 // OIDC Core §2
	maxURLLen        = 2048
)

// Times must lie in this range: the decision engine computes ramps in Unix
// nanoseconds, whose range ends in 2262, and a time before 1970 is always
// a mistake for a service whose sessions are all younger.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// urlSources are the install sources an upgrade may name a store page for
// (cordon.OfficialSources). "web" has no store and "unknown" installs
// always go to "official": the SPEC sends side-loaded apps nowhere else.
var urlSources = cordon.OfficialSources

var reportID = regexp.MustCompile(`^r-[A-Za-z0-9_-]+$`)

// campaignID is the form of cordon.NewID("c"), loosely: the prerequisite
// must also exist, which the campaign service checks at creation.
var campaignID = regexp.MustCompile(`^c-[A-Za-z0-9_-]+$`)

const maxCampaignIDLen = 64

func refuse(field, format string, args ...any) *cordon.Error {
	return cordon.FieldError(cordon.ECodeUnprocessable, field, format, args...)
}

// campaign validates the document and returns it as a draft campaign. It
// returns the first problem in document order, so an operator fixing them
// one by one works top to bottom.
func (d *document) campaign() (*cordon.Campaign, error) {
	kind := cordon.Kind(d.Kind)
	c := &cordon.Campaign{Kind: kind, Name: d.Name, Message: d.Message, State: cordon.StateDraft}
	rules, known := kind.Rules()
	switch {
	case d.Kind == "":
		return nil, refuse("kind", "kind is required: one of %s", cordon.KindNames())
	case !known:
		hint := ""
		if cordon.Kind(strings.ToLower(d.Kind)).Valid() {
			hint = " (values are lower-case)"
		}
		return nil, refuse("kind", "kind %q is not one of %s%s", d.Kind, cordon.KindNames(), hint)
	}
	if err := checkName(d.Name); err != nil {
		return nil, err
	}
	if d.Cohort != nil {
		co, err := d.Cohort.cohort()
		if err != nil {
			return nil, err
		}
		c.Cohort = co
	}
	if d.Ramp != nil {
		r, err := d.Ramp.ramp()
		if err != nil {
			return nil, err
		}
		c.Ramp = r
	}
	switch {
	case rules.Upgrade && d.Upgrade == nil:
		return nil, refuse("upgrade", "an upgrade campaign needs an upgrade block with min_version, mode and urls")
	case !rules.Upgrade && d.Upgrade != nil:
		return nil, refuse("upgrade", "only an upgrade campaign has an upgrade block; this one is %s", d.Kind)
	case d.Upgrade != nil:
		u, err := d.Upgrade.upgrade()
		if err != nil {
			return nil, err
		}
		if err := checkReachable(c.Cohort.Versions, u.MinVersion); err != nil {
			return nil, err
		}
		c.Upgrade = u
	}
	if d.After != nil {
		a, err := d.After.after()
		if err != nil {
			return nil, err
		}
		c.After = a
	}
	if d.Verify != nil {
		switch {
		case kind != cordon.KindPasswordReset:
			return nil, refuse("verify", "only a password_reset campaign has verify; this one is %s", d.Kind)
		case *d.Verify == cordon.VerifyPassword:
			c.Verify = cordon.VerifyPassword
		case *d.Verify == cordon.VerifyEmail:
			// The links go to the accounts the campaign names, all at
			// activation (the outbox paces them): a cohort of client facts
			// names no account, and a ramp would hold links back.
			if len(c.Cohort.Users) == 0 && c.Cohort.UsersFromReport == "" {
				return nil, refuse("verify", "verify: email sends links to the accounts the cohort names: give cohort.users or cohort.users_from_report")
			}
			if c.Ramp != nil {
				return nil, refuse("ramp", "verify: email sends every link at activation (paced by the outbox's rate); remove the ramp")
			}
			c.Verify = cordon.VerifyEmail
		default:
			return nil, refuse("verify", "verify %q is not one of password, email", *d.Verify)
		}
	}
	if n := utf8.RuneCountInString(d.Message); n > maxMessageLen {
		return nil, refuse("message", "message is %d characters; the limit is %d", n, maxMessageLen)
	}
	// Messages reach headers and logs; a newline is allowed because YAML
	// block scalars end with one, and net/http folds it in headers.
	if i := strings.IndexFunc(d.Message, func(r rune) bool { return r != '\n' && unicode.IsControl(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(d.Message[i:])
		return nil, refuse("message", "message holds a control character (%U); only line breaks are allowed", r)
	}
	return c, nil
}

// after checks the prerequisite block. campaign is required; satisfied
// defaults to true (wait until the prerequisite is done, the useful
// order), per to install.
func (d *docAfter) after() (*cordon.After, error) {
	a := &cordon.After{Satisfied: true, Per: cordon.AfterPerInstall}
	if d.Campaign == nil {
		return nil, refuse("after.campaign", "after needs the id of the campaign to wait for, e.g. {\"campaign\": \"c-…\"}")
	}
	if id := *d.Campaign; len(id) > maxCampaignIDLen || !campaignID.MatchString(id) {
		return nil, refuse("after.campaign", "after.campaign %q is not a campaign id such as \"c-…\"", short(id))
	}
	a.Campaign = *d.Campaign
	if d.Satisfied != nil {
		a.Satisfied = *d.Satisfied
	}
	if d.Per != nil {
		switch *d.Per {
		case cordon.AfterPerInstall, cordon.AfterPerUser:
			a.Per = *d.Per
		default:
			return nil, refuse("after.per", "after.per %q is not one of install, user", short(*d.Per))
		}
	}
	if !a.Satisfied && a.Per == cordon.AfterPerInstall && d.Per != nil {
		return nil, refuse("after.per", "satisfied: false waits for the prerequisite to admit the user, which is per user; leave per out or say user")
	}
	if !a.Satisfied {
		a.Per = cordon.AfterPerUser
	}
	return a, nil
}

// short cuts a quoted value for a message.
func short(s string) string {
	if utf8.RuneCountInString(s) <= 80 {
		return s
	}
	return string([]rune(s)[:80]) + "…"
}

func checkName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case strings.TrimSpace(name) == "":
		return refuse("name", "name is required: a few words that say what the campaign is for")
	case n > maxNameLen:
		return refuse("name", "name is %d characters; the limit is %d", n, maxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return refuse("name", "name holds a control character such as a tab or line break")
	}
	return nil
}

func (d *docCohort) cohort() (cordon.Cohort, error) {
	var c cordon.Cohort
	var err error
	if c.Platforms, err = oneOf("cohort.platforms", "platform", d.Platforms, cordon.Platforms); err != nil {
		return c, err
	}
	if d.Versions != nil {
		v := *d.Versions
		switch {
		case strings.TrimSpace(v) == "":
			return c, refuse("cohort.versions", "versions is empty; leave it out to mean any version, or give a constraint such as \"< 8.5.0\"")
		case len(v) > maxConstraintLen:
			return c, refuse("cohort.versions", "versions is %d characters; the limit is %d", len(v), maxConstraintLen)
		}
		if _, err := semver.NewConstraint(v); err != nil {
			return c, refuse("cohort.versions", "versions %q is not a version constraint; write e.g. \"< 8.5.0\" or \">= 8.0, < 8.5.0\"", v)
		}
		if !satisfiable(v) {
			return c, refuse("cohort.versions", "versions %q admits no version at all, so this campaign would match nobody; check the bounds, e.g. \">= 8.0, < 8.5.0\"", v)
		}
		c.Versions = v
	}
	if c.Sources, err = oneOf("cohort.sources", "source", d.Sources, cordon.Sources); err != nil {
		return c, err
	}
	if d.AuthenticatedBefore != nil {
		t, err := parseTime("cohort.authenticated_before", *d.AuthenticatedBefore)
		if err != nil {
			return c, err
		}
		c.AuthenticatedBefore = &t
	}
	if c.Users, err = users(d.Users); err != nil {
		return c, err
	}
	if d.UsersFromReport != nil {
		r := *d.UsersFromReport
		if len(r) > maxReportIDLen || !reportID.MatchString(r) {
			return c, refuse("cohort.users_from_report", "users_from_report %q is not a report id such as \"r-42\"", r)
		}
		c.UsersFromReport = r
	}
	if c.Subjects, err = subjects(d.Subjects); err != nil {
		return c, err
	}
	return c, nil
}

// subjects checks cohort.subjects: users of trusted external issuers,
// named as their tokens name them (an exact issuer URL and sub).
func subjects(list []docSubject) ([]cordon.Subject, error) {
	const field = "cohort.subjects"
	switch {
	case list == nil:
		return nil, nil
	case len(list) == 0:
		return nil, refuse(field, "subjects is an empty list; leave it out to mean any user")
	case len(list) > maxUsers:
		return nil, refuse(field, "subjects lists %d entries; the limit is %d", len(list), maxUsers)
	}
	seen := make(map[cordon.Subject]bool, len(list))
	out := make([]cordon.Subject, 0, len(list))
	for i, d := range list {
		if d.Issuer == nil || d.Sub == nil {
			return nil, refuse(field, "subjects entry %d needs issuer and sub", i+1)
		}
		s := cordon.Subject{Issuer: *d.Issuer, Sub: *d.Sub}
		u, err := url.Parse(s.Issuer)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			strings.ContainsAny(s.Issuer, "#?") || len(s.Issuer) > maxIssuerLen:
			return nil, refuse(field, "subjects entry %d: issuer %q is not an issuer URL (http(s), no query or fragment, at most %d bytes), exactly as its tokens' iss", i+1, s.Issuer, maxIssuerLen)
		case s.Sub == "" || len(s.Sub) > maxSubLen || strings.IndexFunc(s.Sub, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
			return nil, refuse(field, "subjects entry %d: sub must be 1 to %d visible ASCII characters, exactly as its tokens' sub", i+1, maxSubLen)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// oneOf checks a list of names against the allowed ones. An empty list is
// refused: read as "any" it would widen the cohort, read as "none" it
// would make a campaign that does nothing, and neither is what was meant.
func oneOf(field, what string, list, allowed []string) ([]string, error) {
	if list == nil {
		return nil, nil
	}
	if len(list) == 0 {
		return nil, refuse(field, "%s is an empty list; leave it out to mean any %s", field, what)
	}
	for i, v := range list {
		if !slices.Contains(allowed, v) {
			return nil, refuse(field, "%s %q is not one of %s%s", what, v, strings.Join(allowed, ", "), lowerHint(allowed, v))
		}
		if slices.Contains(list[:i], v) {
			return nil, refuse(field, "%s %q is listed twice", what, v)
		}
	}
	return list, nil
}

func lowerHint(allowed []string, v string) string {
	if slices.Contains(allowed, strings.ToLower(v)) {
		return " (values are lower-case)"
	}
	return ""
}

func users(list []string) ([]string, error) { return usersAt("cohort.users", list) }

func usersAt(field string, list []string) ([]string, error) {
	switch {
	case list == nil:
		return nil, nil
	case len(list) == 0:
		return nil, refuse(field, "users is an empty list; leave it out to mean any user")
	case len(list) > maxUsers:
		return nil, refuse(field, "users lists %d entries; the limit is %d", len(list), maxUsers)
	}
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for i, u := range list {
		switch {
		case u == "":
			return nil, refuse(field, "users entry %d is empty", i+1)
		case len(u) > maxUserLen:
			return nil, refuse(field, "users entry %d is %d bytes; the limit is %d", i+1, len(u), maxUserLen)
		case strings.IndexFunc(u, unicode.IsControl) >= 0:
			return nil, refuse(field, "users entry %d holds a control character", i+1)
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, refuse(field, "%s %q is not an RFC 3339 time such as \"2014-05-27T08:00:00Z\"", field, s)
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, refuse(field, "%s %q is out of range: times lie between 1970 and 2200", field, s)
	}
	return t.UTC(), nil
}

func (d *docRamp) ramp() (*cordon.Ramp, error) {
	if d.Start == nil {
		return nil, refuse("ramp.start", "a ramp needs a start time, e.g. \"start\": \"2014-05-27T08:00:00Z\"; leave the ramp out to admit everyone at once")
	}
	start, err := parseTime("ramp.start", *d.Start)
	if err != nil {
		return nil, err
	}
	mode := cordon.RampFixed
	if d.Mode != nil {
		mode = *d.Mode
	}
	switch mode {
	case cordon.RampFixed:
		switch {
		case len(d.MaxDuration) > 0:
			return nil, refuse("ramp.max_duration", "only an auto ramp (\"mode\": \"auto\") has a max_duration; a fixed ramp has a duration")
		case d.TargetUtilisation != nil:
			return nil, refuse("ramp.target_utilisation", "only an auto ramp (\"mode\": \"auto\") has a target_utilisation")
		}
		dur, err := parseDuration(d.Duration)
		if err != nil {
			return nil, err
		}
		pr, err := d.Priority.priority()
		if err != nil {
			return nil, err
		}
		return &cordon.Ramp{Start: start, Duration: dur, Priority: pr}, nil
	case cordon.RampAuto:
		if len(d.Duration) > 0 {
			return nil, refuse("ramp.duration", "an auto ramp paces itself: give its max_duration (the latest it may end), not a duration")
		}
		if len(d.MaxDuration) == 0 {
			return nil, refuse("ramp.max_duration", "an auto ramp needs a max_duration, the latest it may end, e.g. \"72h\"")
		}
		dur, err := parseDuration(d.MaxDuration)
		if err != nil {
			var ce *cordon.Error
			if errors.As(err, &ce) {
				c := *ce
				c.Field = "ramp.max_duration"
				c.Message = strings.ReplaceAll(c.Message, "ramp.duration", "ramp.max_duration")
				return nil, &c
			}
			return nil, err
		}
		u := cordon.DefaultTargetUtilisation
		if t := d.TargetUtilisation; t != nil {
			if !(*t > 0 && *t <= 1) {
				return nil, refuse("ramp.target_utilisation", "ramp.target_utilisation must be above 0 and at most 1 (a share of the login tier's capacity), not %v", *t)
			}
			u = *t
		}
		pr, err := d.Priority.priority()
		if err != nil {
			return nil, err
		}
		return &cordon.Ramp{Start: start, Duration: dur, Mode: cordon.RampAuto, TargetUtilisation: u, Priority: pr}, nil
	}
	return nil, refuse("ramp.mode", "ramp.mode %q is not fixed or auto", mode)
}

func (d *docUpgrade) upgrade() (*cordon.UpgradeSpec, error) {
	if d.MinVersion == nil || *d.MinVersion == "" {
		return nil, refuse("upgrade.min_version", "min_version is required: the oldest app version that is let through, e.g. \"8.5.0\"")
	}
	mv := *d.MinVersion
	if err := checkVersion(mv); err != nil {
		return nil, err
	}
	if d.Mode == nil || *d.Mode == "" {
		// No default: "immediate" blocks users and "flexible" only asks,
		// so the operator says which.
		return nil, refuse("upgrade.mode", "mode is required: %q blocks until the app is upgraded, %q only prompts", cordon.UpgradeImmediate, cordon.UpgradeFlexible)
	}
	mode := *d.Mode
	if mode != cordon.UpgradeImmediate && mode != cordon.UpgradeFlexible {
		return nil, refuse("upgrade.mode", "mode %q is not %q or %q", mode, cordon.UpgradeImmediate, cordon.UpgradeFlexible)
	}
	if d.URLs == nil {
		return nil, refuse("upgrade.urls", "urls is required, with at least the \"official\" download page")
	}
	urls := make(map[string]string, len(d.URLs))
	for _, src := range urlSources {
		v, ok := d.URLs[src]
		if !ok {
			continue
		}
		if err := checkURL("upgrade.urls."+src, v); err != nil {
			return nil, err
		}
		urls[src] = v
	}
	if len(urls) != len(d.URLs) {
		for k := range d.URLs {
			if !slices.Contains(urlSources, k) {
				return nil, refuse("upgrade.urls."+k, "urls has no place for %q: the sources with a store page are %s; side-loaded and unknown installs are sent to \"official\"", k, strings.Join(urlSources, ", "))
			}
		}
	}
	if _, ok := urls[cordon.SourceOfficial]; !ok {
		return nil, refuse("upgrade.urls.official", "urls needs \"official\", the service's own download page: side-loaded and unknown installs are sent there and nowhere else")
	}
	return &cordon.UpgradeSpec{MinVersion: mv, Mode: mode, URLs: urls}, nil
}

// checkVersion holds min_version to what clientfacts accepts as an app
// version, since it is compared with those and echoed to apps in the
// upgrade_required body and the Cordon-Upgrade header.
func checkVersion(v string) error {
	const field = "upgrade.min_version"
	if len(v) > maxVersionLen {
		return refuse(field, "min_version is %d characters; the limit is %d", len(v), maxVersionLen)
	}
	if v[0] < '0' || v[0] > '9' {
		return refuse(field, "min_version %q must start with a digit, e.g. \"8.5.0\"", v)
	}
	if _, err := semver.NewVersion(v); err != nil {
		return refuse(field, "min_version %q is not a version such as \"8.5.0\"", v)
	}
	return nil
}

// checkURL admits store and download pages. They are shown to users as
// the place to get a genuine app, so only https will do (http only to a
// loopback host, for tests), never credentials in the URL, and only
// printable ASCII, since the URL travels in the Cordon-Upgrade header.
func checkURL(field, s string) error {
	if len(s) > maxURLLen {
		return refuse(field, "the URL is %d characters; the limit is %d", len(s), maxURLLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return refuse(field, "the URL holds a space, control or non-ASCII character; percent-encode it")
		}
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return refuse(field, "%q is not an absolute URL such as \"https://m.example.com/download\"", s)
	}
	if u.User != nil {
		return refuse(field, "the URL must not hold a user name or password")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return refuse(field, "the URL must be https; http is allowed only for localhost")
		}
	default:
		return refuse(field, "the URL must be https, not %s", u.Scheme)
	}
	return nil
}

// lowerBound matches one term of a Masterminds constraint: an operator and
// a version. Only the operators that set a lower bound matter below.
var lowerBound = regexp.MustCompile(`(!=|>=|=>|<=|=<|~>|>|<|=|~|\^|)\s*(v?[0-9xX*]+(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)`)

// checkReachable refuses an upgrade campaign whose cohort admits only
// versions at or above min_version: the engine would never block anyone,
// and an operator who typed ">= 9" for "< 9" should hear so before
// activating. It only refuses what it can prove: every alternative (||)
// holds a term that bounds the version from below by min_version or more.
func checkReachable(constraint, minVersion string) error {
	if constraint == "" {
		return nil
	}
	mv, err := semver.NewVersion(minVersion)
	if err != nil {
		return nil
	}
	for _, alt := range strings.Split(constraint, "||") {
		if !boundedAbove(alt, mv) {
			return nil
		}
	}
	return refuse("cohort.versions", "versions %q admits no version below min_version %s, so this campaign would match nobody; did you mean \"< %s\"?", constraint, minVersion, minVersion)
}

// boundedAbove reports whether every version satisfying the conjunction
// alt is at least mv.
func boundedAbove(alt string, mv *semver.Version) bool {
	// A hyphen range "1.2 - 1.4" reads as two bare versions here; leave it.
	if strings.Contains(alt, " - ") {
		return false
	}
	for _, m := range lowerBound.FindAllStringSubmatch(alt, -1) {
		op, ver := m[1], m[2]
		switch op {
		case "", "=", ">", ">=", "=>", "~", "~>", "^":
		default:
			continue
		}
		if strings.ContainsAny(ver, "xX*") {
			continue
		}
		v, err := semver.NewVersion(ver)
		if err != nil {
			continue
		}
		if v.Compare(mv) >= 0 {
			return true
		}
	}
	return false
}

// mentioned finds the versions a constraint names, wildcards read as 0.
var mentioned = regexp.MustCompile(`v?[0-9xX*]+(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?(?:-[0-9A-Za-z.-]+)?`)

// satisfiable reports whether any version satisfies the constraint (which
// must parse). The versions a constraint admits are a union of intervals
// whose ends are the versions it names (a caret, tilde or wildcard ends at
// the next minor or major of one), so a non-empty set holds 0.0.0, a
// named version, or the next patch, minor or major after one: trying
// those decides it without reading the constraint's grammar.
func satisfiable(constraint string) bool {
	cs, err := semver.NewConstraint(constraint)
	if err != nil {
		return false
	}
	try := func(v *semver.Version) bool { return cs.Check(v) }
	if try(semver.MustParse("0.0.0")) {
		return true
	}
	for _, m := range mentioned.FindAllString(constraint, -1) {
		m = strings.NewReplacer("x", "0", "X", "0", "*", "0").Replace(m)
		v, err := semver.NewVersion(m)
		if err != nil {
			continue
		}
		for _, c := range []semver.Version{*v, v.IncPatch(), v.IncMinor(), v.IncMajor()} {
			if try(&c) {
				return true
			}
		}
	}
	return false
}

// priority validates a ramp's priority: who goes first. It must name
// someone (a priority that names nobody is a mistake, not "everyone").
func (d *docPriority) priority() (*cordon.RampPriority, error) {
	if d == nil {
		return nil, nil
	}
	var p cordon.RampPriority
	var err error
	if p.Users, err = usersAt("ramp.priority.users", d.Users); err != nil {
		return nil, err
	}
	if d.UsersFromReport != nil {
		r := *d.UsersFromReport
		if len(r) > maxReportIDLen || !reportID.MatchString(r) {
			return nil, refuse("ramp.priority.users_from_report", "users_from_report %q is not a report id such as \"r-42\"", r)
		}
		p.UsersFromReport = r
	}
	if d.UnusualAddresses != nil {
		p.UnusualAddresses = *d.UnusualAddresses
	}
	if len(p.Users) == 0 && p.UsersFromReport == "" && !p.UnusualAddresses {
		return nil, refuse("ramp.priority", "a priority names who goes first: users, users_from_report (a saved audit report: the users whose data was read) or unusual_addresses: true; leave it out for none")
	}
	return &p, nil
}

// Package uafacts infers client facts from the User-Agent header of apps
// that were shipped before they knew of cordon and send no Cordon-Client
// header. Campaigns select sessions by platform, version and source; an
// app in the field that cordon cannot place is "unknown" and escapes every
// cohort that names a platform, so on the day of a breach the operator
// declares what its apps' user agents look like and cordon reads the
// facts from them.
//
// Rules come from two places, tried in this order, first match wins:
//
//   - the operator's rules (a YAML file, see Parse): a regular expression
//     per app family with the platform and source it means, and the app
//     version and device id from named groups (?P<version>…) and
//     (?P<device>…), or the version from a request header the app sends;
//   - the built-in rules for the common shapes of native app user agents,
//     keyed on the product tokens of the operator's apps ("Spotify"):
//     "App/8.4.1 (iPhone; iOS 17.4)", "App/8.4.1 CFNetwork/1490.0.4
//     Darwin/23.2.0", "App/8.4.1 (Linux; U; Android 14; Pixel 8)",
//     "… App/8.4.1 Chrome/120 Electron/28.0.0 …", Windows Phone, TVs and
//     consoles, and the app-less "Dalvik/2.1.0 (Linux; U; Android 14; …)"
//     and "okhttp/4.12.0" with the version in a header the operator names.
//
// The caller applies them only when the request has no Cordon-Client
// header: Cordon-Client > user-agent rules > unknown.
//
// A user agent is a claim like any other header, so the rules never give
// more than Cordon-Client could: the platform and source are always one of
// cordon.Platforms and cordon.Sources, the source is "unknown" unless an
// operator's rule says otherwise (no built-in rule ever names a store), and
// a version or device taken from the string is checked as Cordon-Client's
// are, or dropped. The built-in rules never fill the device: what a user
// agent carries is a model ("Pixel 8"), shared by millions, and cordon
// uses the device id to exempt known devices from login throttling and to
// bind offline grants. A user agent longer than MaxUserAgent bytes, or
// holding control characters, is not read at all.
package uafacts

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// MaxUserAgent bounds the user agents Match reads. Real app user agents
// are under 300 bytes; the bound keeps the per-request cost of the rules
// (linear in the input with Go's RE2 engine, but times the number of
// rules) small whatever a client sends.
const MaxUserAgent = 1024

// Rule names that Result.Rule takes for the built-in rules.
const (
	RuleApp       = "builtin/app"       // the app's product token, platform from the OS it names
	RuleCFNetwork = "builtin/cfnetwork" // App/1 CFNetwork/… Darwin/…
	RuleDalvik    = "builtin/dalvik"    // Dalvik/2.1.0 (Linux; U; Android …)
	RuleOkHttp    = "builtin/okhttp"    // okhttp/4.12.0 with the version header
)

// Rules infers client facts from user agents. It is immutable once built
// and safe for concurrent use; a nil *Rules infers nothing.
type Rules struct {
	rules         []rule
	apps          []app
	versionHeader string // canonical header name; "" when none
	builtin       bool
}

// rule is one compiled operator rule.
type rule struct {
	name          string
	re            *regexp.Regexp
	required      string // a literal every match contains; "" when none is known
	insts         int    // the compiled program's size: its share of the file's budget
	platform      string
	source        string
	versionHeader string // canonical; "" when the version comes from the pattern
	versionGroup  int    // submatch index of (?P<version>…), 0 when none
	deviceGroup   int    // submatch index of (?P<device>…), 0 when none
}

// app is a product token the built-in rules look for.
type app struct {
	token    string
	platform string // "" lets the user agent say
}

// Result is what Match infers from a user agent.
type Result struct {
	// Facts are the inferred facts; cordon.UnknownClient when no rule
	// matched.
	Facts cordon.ClientFacts
	// Rule names the rule that matched: "rule/NAME" for an operator's
	// rule, one of the Rule* constants for a built-in one, "" for none.
	// A rule can match and still leave the platform unknown (an operator's
	// rule that says platform: unknown, or an app token next to OS names
	// that contradict each other).
	Rule string
	// App is the configured product token the built-in rules found, or "".
	App string
}

// FromHeader infers the facts of a request from its User-Agent header
// (and, for the rules that read one, the app's version header). ok is
// false when no rule matched; then f is cordon.UnknownClient. A request
// with several User-Agent lines matches nothing: a client sends one.
func (r *Rules) FromHeader(h http.Header) (f cordon.ClientFacts, ok bool) {
	if r == nil {
		return cordon.UnknownClient, false
	}
	uas := h["User-Agent"]
	if len(uas) != 1 {
		return cordon.UnknownClient, false
	}
	res := r.Match(uas[0], headerGetter(h))
	return res.Facts, res.Rule != ""
}

// headerGetter reads one header of h by canonical name; a header sent
// more than once reads as absent, since its value would be ambiguous.
func headerGetter(h http.Header) func(string) string {
	return func(name string) string {
		if v := h[name]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
}

// Match infers facts from one user agent. header, which may be nil, gives
// the request's other headers by canonical name, for rules that read the
// app's version from one.
func (r *Rules) Match(ua string, header func(string) string) Result {
	unknown := Result{Facts: cordon.UnknownClient}
	if r == nil || !readable(ua) {
		return unknown
	}
	if header == nil {
		header = func(string) string { return "" }
	}
	for i := range r.rules {
		if res, ok := r.rules[i].match(ua, header); ok {
			return res
		}
	}
	if r.builtin {
		if res, ok := r.matchBuiltin(ua, header); ok {
			return res
		}
	}
	return unknown
}

// readable reports whether ua is one the rules may read: not empty, not
// longer than MaxUserAgent, and free of control characters (HTTP forbids
// them in field values; a client that sends them is no app of ours).
func readable(ua string) bool {
	if ua == "" || len(ua) > MaxUserAgent {
		return false
	}
	for i := 0; i < len(ua); i++ {
		if c := ua[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func (ru *rule) match(ua string, header func(string) string) (Result, bool) {
	if ru.required != "" && !strings.Contains(ua, ru.required) {
		return Result{}, false
	}
	f := cordon.ClientFacts{Platform: ru.platform, Source: ru.source}
	if ru.versionGroup == 0 && ru.deviceGroup == 0 {
		if !ru.re.MatchString(ua) {
			return Result{}, false
		}
	} else {
		m := ru.re.FindStringSubmatchIndex(ua)
		if m == nil {
			return Result{}, false
		}
		if g := ru.versionGroup; g > 0 && m[2*g] >= 0 {
			f.Version = validVersion(ua[m[2*g]:m[2*g+1]])
		}
		if g := ru.deviceGroup; g > 0 && m[2*g] >= 0 {
			f.Device = validDevice(ua[m[2*g]:m[2*g+1]])
		}
	}
	if ru.versionHeader != "" && f.Version == "" {
		f.Version = validVersion(header(ru.versionHeader))
	}
	return Result{Facts: f, Rule: "rule/" + ru.name}, true
}

// Limits of the values taken from a user agent: those of Cordon-Client.
const (
	maxVersionLen = 64
	maxDeviceLen  = 128
)

// validVersion returns v if Cordon-Client would accept it as a version
// (a digit first, then letters, digits, ".", "+" and "-"), else "".
func validVersion(v string) string {
	if v == "" || len(v) > maxVersionLen || v[0] < '0' || v[0] > '9' {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && c != '.' && c != '+' && c != '-' {
			return ""
		}
	}
	return v
}

// validDevice returns v if Cordon-Client would accept it as a device id
// (printable ASCII, no spaces), else "".
func validDevice(v string) string {
	if v == "" || len(v) > maxDeviceLen {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

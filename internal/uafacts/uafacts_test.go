package uafacts_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/uafacts"
)

func mustNew(t testing.TB, c uafacts.Config) *uafacts.Rules {
	t.Helper()
	r, err := uafacts.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBuiltinShapes pins each built-in rule on the shape it is for, and
// on the claims that must not move a user agent out of unknown.
func TestBuiltinShapes(t *testing.T) {
	r := mustNew(t, uafacts.Config{
		Apps:          []uafacts.App{{Token: "App"}, {Token: "Discord-Android", Platform: "android"}},
		VersionHeader: "x-app-version",
	})
	type want struct{ platform, version, rule string }
	tests := []struct {
		name    string
		ua      string
		version string // X-App-Version sent with it
		want    want
	}{
		{"afnetworking iphone", "App/8.4.1 (iPhone; iOS 17.4; Scale/3.00)", "", want{"ios", "8.4.1", uafacts.RuleApp}},
		{"ipad", "App/8.4.1 (iPad; iOS 17.4)", "", want{"ios", "8.4.1", uafacts.RuleApp}},
		{"cfnetwork ios", "App/8.4.1 CFNetwork/1490.0.4 Darwin/23.2.0", "", want{"ios", "8.4.1", uafacts.RuleCFNetwork}},
		{"cfnetwork build number is no version", "App/8401 CFNetwork/1490.0.4 Darwin/23.2.0", "", want{"ios", "", uafacts.RuleCFNetwork}},
		{"cfnetwork build number, version header", "App/8401 CFNetwork/1490.0.4 Darwin/23.2.0", "8.4.1", want{"ios", "8.4.1", uafacts.RuleCFNetwork}},
		{"cfnetwork macos x86", "App/8.4.1 CFNetwork/1490.0.4 Darwin/23.2.0 (x86_64)", "", want{"desktop", "8.4.1", uafacts.RuleCFNetwork}},
		{"cfnetwork macos arm", "App/8.4.1 CFNetwork/1490.0.4 Darwin/23.2.0 (arm64)", "", want{"desktop", "8.4.1", uafacts.RuleCFNetwork}},
		{"android app", "App/8.4.1 (Linux; U; Android 14; Pixel 8 Build/UQ1A)", "", want{"android", "8.4.1", uafacts.RuleApp}},
		{"space before version", "App 8.4.1 Android (34/14; 420dpi)", "", want{"android", "8.4.1", uafacts.RuleApp}},
		{"electron windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) App/8.4.1 Chrome/120.0.0.0 Electron/28.0.0 Safari/537.36", "", want{"desktop", "8.4.1", uafacts.RuleApp}},
		{"electron mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) App/8.4.1 Chrome/120 Electron/28.0.0", "", want{"desktop", "8.4.1", uafacts.RuleApp}},
		{"ios web view says like Mac OS X", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) Mobile/15E148 App/8.4.1", "", want{"ios", "8.4.1", uafacts.RuleApp}},
		{"windows phone claims android and iphone", "Mozilla/5.0 (Mobile; Windows Phone 8.1; Android 4.0; ARM; Trident/7.0; IEMobile/11.0; NOKIA; Lumia 930) like iPhone OS 7_0_3 Mac OS X App/8.4.1", "", want{"winphone", "8.4.1", uafacts.RuleApp}},
		{"apple tv", "App/8.4.1 (AppleTV; tvOS 17.2)", "", want{"tv", "8.4.1", uafacts.RuleApp}},
		{"android tv", "App/8.4.1 (Linux; U; Android 11; SHIELD Android TV Build/RQ1A)", "", want{"tv", "8.4.1", uafacts.RuleApp}},
		{"fire tv model", "App/8.4.1 (Linux; U; Android 9; AFTMM Build/PS7633)", "", want{"tv", "8.4.1", uafacts.RuleApp}},
		{"AFT inside a word is no fire tv", "App/8.4.1 (Linux; U; Android 9; DRAFTS Build/X)", "", want{"android", "8.4.1", uafacts.RuleApp}},
		{"xbox", "App/8.4.1 (Windows NT 10.0; Win64; x64; Xbox; Xbox One)", "", want{"tv", "8.4.1", uafacts.RuleApp}},
		{"ios and android at once", "App/8.4.1 (iPhone; iOS 17.4) Android 14", "", want{"unknown", "8.4.1", uafacts.RuleApp}},
		{"desktop and ios at once", "App/8.4.1 (Windows NT 10.0; iPhone)", "", want{"unknown", "8.4.1", uafacts.RuleApp}},
		{"no system named", "App/8.4.1", "", want{"unknown", "8.4.1", uafacts.RuleApp}},
		{"first token wins", "App/8.4.1 (iPhone; iOS 17.4) App/9.9.9", "", want{"ios", "8.4.1", uafacts.RuleApp}},
		{"case-insensitive token", "APP/8.4.1 (iPhone; iOS 17.4)", "", want{"ios", "8.4.1", uafacts.RuleApp}},
		{"pinned platform wins over markers", "Discord-Android/210018;RNA (iPhone)", "", want{"android", "210018", uafacts.RuleApp}},
		{"version not starting with a digit", "App/v8.4.1 (iPhone; iOS 17.4)", "", want{"ios", "", uafacts.RuleApp}},
		{"version of 65 characters", "App/" + strings.Repeat("1", 65) + " (iPhone; iOS 17.4)", "", want{"ios", "", uafacts.RuleApp}},
		{"quote injection stops the version", `App/8.4.1", source=play (iPhone; iOS 17.4)`, "", want{"ios", "8.4.1", uafacts.RuleApp}},
		{"dalvik with header", "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A)", "8.4.1", want{"android", "8.4.1", uafacts.RuleDalvik}},
		{"dalvik without header", "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A)", "", want{"android", "", uafacts.RuleDalvik}},
		{"dalvik on fire tv", "Dalvik/2.1.0 (Linux; U; Android 9; AFTMM Build/PS7633)", "", want{"tv", "", uafacts.RuleDalvik}},
		{"dalvik claiming windows phone", "Dalvik/2.1.0 (Linux; U; Windows Phone 8.1)", "8.4.1", want{"unknown", "", uafacts.RuleDalvik}},
		{"dalvik claiming iphone", "Dalvik/2.1.0 (Linux; U; Android 14; iPhone)", "8.4.1", want{"unknown", "", uafacts.RuleDalvik}},
		{"okhttp with header", "okhttp/4.12.0", "8.4.1", want{"android", "8.4.1", uafacts.RuleOkHttp}},
		{"okhttp without header", "okhttp/4.12.0", "", want{"unknown", "", ""}},
		{"okhttp with a bad header", "okhttp/4.12.0", `8.4.1", source=play`, want{"unknown", "", ""}},
		{"lookalike prefix", "NotApp/8.4.1 (iPhone; iOS 17.4)", "", want{"unknown", "", ""}},
		{"lookalike suffix", "App-Beta/8.4.1 (iPhone; iOS 17.4)", "", want{"unknown", "", ""}},
		{"lookalike longer", "Apps/8.4.1 (iPhone; iOS 17.4)", "", want{"unknown", "", ""}},
		{"kelvin-sign style unicode lookalike", "Ａpp/8.4.1 (iPhone; iOS 17.4)", "", want{"unknown", "", ""}},
		{"browser", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) Version/17.2 Mobile/15E148 Safari/604.1", "", want{"unknown", "", ""}},
		{"empty", "", "", want{"unknown", "", ""}},
		{"control character", "App/8.4.1 (iPhone; iOS 17.4)\x00", "", want{"unknown", "", ""}},
		{"header injection", "App/8.4.1 (iPhone; iOS 17.4)\r\nCordon-Client: platform=android", "", want{"unknown", "", ""}},
		{"longer than MaxUserAgent", "App/8.4.1 (iPhone; iOS 17.4)" + strings.Repeat(" ", 1000), "", want{"unknown", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := r.Match(tt.ua, func(name string) string {
				if name == "X-App-Version" {
					return tt.version
				}
				return ""
			})
			got := want{res.Facts.Platform, res.Facts.Version, res.Rule}
			if got != tt.want {
				t.Errorf("Match(%.60q) = %+v, want %+v", tt.ua, got, tt.want)
			}
			if res.Facts.Source != "unknown" {
				t.Errorf("Match(%.60q) source = %q; a built-in rule never names a source", tt.ua, res.Facts.Source)
			}
			if res.Facts.Device != "" {
				t.Errorf("Match(%.60q) device = %q; a built-in rule never fills the device", tt.ua, res.Facts.Device)
			}
		})
	}
}

// TestOperatorRules: the operator's rules come first, give only the
// platform and source they declare, and take version and device from
// their named groups only when Cordon-Client would accept them.
func TestOperatorRules(t *testing.T) {
	r, err := uafacts.Parse([]byte(`
apps: [{token: App}]
rules:
  - name: fire-tv-amazon
    match: '^App/(?P<version>[^ ]+) \(AFT[A-Z]+\) amzn$'
    platform: tv
    source: amazon
  - name: ios-install
    match: '^App/(?P<version>[^ ]+) \(iPhone; install=(?P<device>[^)]*)\)'
    platform: ios
  - name: header-version
    match: '^Ktor client$'
    platform: android
    version_header: X-Build-Name
  - name: not-ours
    match: '^App/[0-9.]+ \(loadtest\)'
    platform: unknown
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ua, build string
		want            cordon.ClientFacts
		rule            string
	}{
		{"source only when the rule says", "App/8.4.1 (AFTMM) amzn", "", cordon.ClientFacts{Platform: "tv", Version: "8.4.1", Source: "amazon"}, "rule/fire-tv-amazon"},
		{"device from its group", "App/8.4.1 (iPhone; install=abc-123)", "", cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "unknown", Device: "abc-123"}, "rule/ios-install"},
		{"a device with a space is dropped", "App/8.4.1 (iPhone; install=abc 123)", "", cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "unknown"}, "rule/ios-install"},
		{"a version Cordon-Client refuses is dropped", "App/v8;x (iPhone; install=abc)", "", cordon.ClientFacts{Platform: "ios", Source: "unknown", Device: "abc"}, "rule/ios-install"},
		{"version from the rule's header", "Ktor client", "8.4.1", cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "unknown"}, "rule/header-version"},
		{"platform unknown stops the built-in rules", "App/8.4.1 (loadtest)", "", cordon.ClientFacts{Platform: "unknown", Source: "unknown"}, "rule/not-ours"},
		{"built-in after the rules", "App/8.4.1 (iPhone; iOS 17.4)", "", cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "unknown"}, uafacts.RuleApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := r.Match(tt.ua, func(name string) string {
				if name == "X-Build-Name" {
					return tt.build
				}
				return ""
			})
			if res.Facts != tt.want || res.Rule != tt.rule {
				t.Errorf("Match(%q) = %+v by %q, want %+v by %q", tt.ua, res.Facts, res.Rule, tt.want, tt.rule)
			}
		})
	}
}

func TestBuiltinOff(t *testing.T) {
	off := false
	r := mustNew(t, uafacts.Config{Apps: []uafacts.App{{Token: "App"}}, Builtin: &off})
	if res := r.Match("App/8.4.1 (iPhone; iOS 17.4)", nil); res.Facts != cordon.UnknownClient || res.Rule != "" {
		t.Errorf("with builtin: false, Match = %+v by %q, want unknown by no rule", res.Facts, res.Rule)
	}
}

func TestNilRules(t *testing.T) {
	var r *uafacts.Rules
	if res := r.Match("App/8.4.1 (iPhone; iOS 17.4)", nil); res.Facts != cordon.UnknownClient {
		t.Errorf("nil Rules: Match = %+v, want unknown", res.Facts)
	}
	if f, ok := r.FromHeader(http.Header{"User-Agent": {"App/8.4.1 (iPhone; iOS 17.4)"}}); ok || f != cordon.UnknownClient {
		t.Errorf("nil Rules: FromHeader = %+v, %v, want unknown, false", f, ok)
	}
}

func TestFromHeader(t *testing.T) {
	r := mustNew(t, uafacts.Config{Apps: []uafacts.App{{Token: "App"}}, VersionHeader: "X-App-Version"})
	tests := []struct {
		name   string
		h      http.Header
		want   cordon.ClientFacts
		wantOK bool
	}{
		{"one user agent", http.Header{"User-Agent": {"App/8.4.1 (iPhone; iOS 17.4)"}}, cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "unknown"}, true},
		{"two user agents", http.Header{"User-Agent": {"App/8.4.1 (iPhone; iOS 17.4)", "App/8.4.1 (Linux; Android 14)"}}, cordon.UnknownClient, false},
		{"none", http.Header{}, cordon.UnknownClient, false},
		{"version header", http.Header{"User-Agent": {"okhttp/4.12.0"}, "X-App-Version": {"8.4.1"}}, cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "unknown"}, true},
		{"version header twice", http.Header{"User-Agent": {"okhttp/4.12.0"}, "X-App-Version": {"8.4.1", "9.0.0"}}, cordon.UnknownClient, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := r.FromHeader(tt.h)
			if f != tt.want || ok != tt.wantOK {
				t.Errorf("FromHeader = %+v, %v; want %+v, %v", f, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestParseRefuses: a rules file that could make a rule produce a fact
// Cordon-Client would refuse, cost unbounded time, or mean something
// other than it says is refused, naming the rule.
func TestParseRefuses(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"empty", ``, "the rules file is empty"},
		{"unknown field", "apps: [{token: App}]\nrulez: []\n", "field rulez not found"},
		{"misspelt rule field", "rules: [{name: a, match: x, platfrom: ios}]\n", "field platfrom not found"},
		{"repeated key", "version_header: A\nversion_header: B\n", "already defined"},
		{"anchor", "apps: [&a {token: App}, *a]\n", "anchors and aliases are not allowed"},
		{"two documents", "apps: []\n---\napps: []\n", "more than one YAML document"},
		{"invalid platform", "rules: [{name: a, match: x, platform: iphone}]\n", `rules[0] (a): platform "iphone" is not one of`},
		{"platform missing", "rules: [{name: a, match: x}]\n", "rules[0] (a): platform is required"},
		{"invalid source", "rules: [{name: a, match: x, platform: ios, source: appstore2}]\n", `rules[0] (a): source "appstore2" is not one of`},
		{"no name", "rules: [{match: x, platform: ios}]\n", "rules[0] (#1): name is required"},
		{"name twice", "rules: [{name: a, match: x, platform: ios}, {name: a, match: y, platform: ios}]\n", `rules[1]: the name "a" is used twice`},
		{"bad regexp", "rules: [{name: a, match: '(', platform: ios}]\n", "match is not a valid regular expression"},
		{"perl lookahead", "rules: [{name: a, match: '(?=x)', platform: ios}]\n", "match is not a valid regular expression"},
		{"unknown group", "rules: [{name: a, match: '(?P<plat>x)', platform: ios}]\n", `match names a group "plat"`},
		{"too complex", "rules: [{name: a, match: '.{1000}.{1000}.{1000}.{1000}.{1000}.{1000}', platform: ios}]\n", "match is too complex"},
		{"too complex together", "rules: [" + func() string {
			var rs []string
			for i := range 8 { // each under the rule's limit, together over the file's
				rs = append(rs, fmt.Sprintf("{name: r%d, match: 'A%d.{1000}.{1000}.{1000}', platform: ios}", i, i))
			}
			return strings.Join(rs, ", ")
		}() + "]\n", "the rules are too complex together"},
		{"pattern too long", "rules: [{name: a, match: '" + strings.Repeat("a", 1025) + "', platform: ios}]\n", "match is longer than 1024"},
		{"token with a slash", "apps: [{token: App/1}]\n", "apps[0].token"},
		{"token twice", "apps: [{token: App}, {token: app}]\n", `token "app" is listed twice`},
		{"app platform", "apps: [{token: App, platform: watch}]\n", `platform "watch" is not one of`},
		{"version header is the user agent", "version_header: user-agent\n", "cannot be User-Agent"},
		{"not utf-8", "apps: [{token: \"\xff\"}]\n", "not valid UTF-8"},
		{"a list, not an object", "- a\n", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := uafacts.Parse([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	r, err := uafacts.Parse([]byte(`{"apps": [{"token": "App"}], "rules": [{"name": "w", "match": "^W/(?P<version>[0-9.]+) A$", "platform": "android"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := r.Match("W/2.23.25.83 A", nil)
	if want := (cordon.ClientFacts{Platform: "android", Version: "2.23.25.83", Source: "unknown"}); res.Facts != want {
		t.Errorf("Match = %+v, want %+v", res.Facts, want)
	}
}

func TestFamily(t *testing.T) {
	r := mustNew(t, uafacts.Config{Apps: []uafacts.App{{Token: "Spotify"}}})
	tests := []struct{ ua, want string }{
		{"Spotify/8.9.10 iOS/17.2 (iPhone15,2)", "Spotify"},
		{"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Spotify/1.2.26 Safari/537.36", "Spotify"},
		{"okhttp/4.12.0", "okhttp"},
		{"Dalvik/2.1.0 (Linux; U; Android 14)", "Dalvik"},
		{"Mozilla/5.0 (X11; Linux x86_64) discord/0.0.40 Chrome/120 Electron/28.2.10", "Electron"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "browser"},
		{"Instagram 312.0.0.32.112 Android (34/14)", "Instagram"},
		{"NativeHost", "NativeHost"},
		{"(weird)", "(no product)"},
		{"", uafacts.FamilyEmpty},
		{strings.Repeat("a", 1025), uafacts.FamilyOversized},
		{"App\x00/1", uafacts.FamilyMalformed},
		{"Ünïcode/1.0", "??n??code"},
		{strings.Repeat("b", 60) + "/1", strings.Repeat("b", 40)},
	}
	for _, tt := range tests {
		if got := r.Family(tt.ua); got != tt.want {
			t.Errorf("Family(%.50q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	r := mustNew(t, uafacts.Config{Apps: []uafacts.App{{Token: "Spotify"}}})
	rep := r.Classify([]string{
		"Spotify/8.9.10 iOS/17.2 (iPhone15,2)",
		"Spotify/8.8.96 Android/34 (SM-S911B)",
		"Spotify/8.8.96 Android/34 (SM-A546B)",
		"Spotify/8.9.10 watchOS/10.2 (Watch6,2)",
		"okhttp/4.12.0",
		"okhttp/4.11.0",
		"okhttp/4.11.0",
		"",
	})
	if rep.Total != 8 || rep.Resolved != 3 || rep.Unknown != 5 {
		t.Errorf("totals = %d/%d/%d, want total 8, resolved 3, unknown 5", rep.Total, rep.Resolved, rep.Unknown)
	}
	if len(rep.Families) != 3 {
		t.Fatalf("families = %+v, want 3", rep.Families)
	}
	ok := rep.Families[0]
	if ok.Family != "okhttp" || ok.Total != 3 || ok.Unknown != 3 || len(ok.Examples) != 2 {
		t.Errorf("first family = %+v, want okhttp with 3 unknown and 2 distinct examples", ok)
	}
	sp := rep.Families[1]
	if sp.Family != "Spotify" || sp.Total != 4 || sp.Resolved != 3 || sp.Unknown != 1 || sp.Versioned != 3 ||
		sp.Platforms["android"] != 2 || sp.Platforms["ios"] != 1 || sp.Rules[uafacts.RuleApp] != 3 {
		t.Errorf("Spotify = %+v", sp)
	}
	if e := rep.Families[2]; e.Family != "(empty)" || e.Unknown != 1 {
		t.Errorf("last family = %+v, want (empty) with 1 unknown", e)
	}
}

package uafacts_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/uafacts"
)

// FuzzMatch: whatever the user agent and the version header, the rules
// answer facts Cordon-Client could carry, a source of "unknown" unless an
// operator's rule named it, nothing at all for what they must not read,
// and a family that is short printable ASCII.
func FuzzMatch(f *testing.F) {
	for _, e := range readCorpus(f) {
		f.Add(e.ua, e.version)
	}
	for _, e := range hostile() {
		if len(e.ua) <= 4096 {
			f.Add(e.ua, e.version)
		}
	}
	rules := loadRules(f, "testdata/rules.yaml")
	f.Fuzz(func(t *testing.T, ua, version string) {
		res := rules.Match(ua, func(name string) string {
			if name == "X-App-Version" {
				return version
			}
			return ""
		})
		checkFacts(t, ua, res.Facts)
		if res.Facts.Source != cordon.SourceUnknown && res.Rule != "rule/myapp-fire-tv" {
			t.Errorf("Match(%q) source = %q by %q; only the fire-tv rule names one", ua, res.Facts.Source, res.Rule)
		}
		if res.Facts.Device != "" && res.Rule != "rule/myapp-ios-install" {
			t.Errorf("Match(%q) device = %q by %q; only the install rule reads one", ua, res.Facts.Device, res.Rule)
		}
		if len(ua) > uafacts.MaxUserAgent || strings.ContainsAny(ua, "\x00\r\n\x7f") {
			if res.Facts != cordon.UnknownClient || res.Rule != "" {
				t.Errorf("Match(%.80q) = %+v by %q; a user agent too long or with control characters is not read", ua, res.Facts, res.Rule)
			}
		}
		fam := rules.Family(ua)
		if fam == "" || len(fam) > 40 {
			t.Errorf("Family(%q) = %q, want 1 to 40 bytes", ua, fam)
		}
		for i := 0; i < len(fam); i++ {
			if fam[i] < 0x20 || fam[i] > 0x7e {
				t.Errorf("Family(%q) = %q, want printable ASCII", ua, fam)
				break
			}
		}
	})
}

// FuzzParse: a rules file is refused or yields rules whose every answer
// is valid, without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte("apps: [{token: App}]\nversion_header: X-App-Version\nrules:\n  - name: a\n    match: '^A/(?P<version>[0-9.]+)'\n    platform: ios\n    source: appstore\n"))
	f.Add([]byte(`{"rules": [{"name": "b", "match": "(?P<device>[a-z]+)", "platform": "tv"}]}`))
	f.Add([]byte("apps: [&a {token: App}, *a]\n"))
	f.Add([]byte("rules: [{name: a, match: '(', platform: ios}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := uafacts.Parse(data)
		if err != nil {
			return
		}
		for _, ua := range []string{"A/8.4.1 (iPhone; iOS 17.4)", "App/1.0 (Linux; Android 14)", "abc", "okhttp/4.12.0"} {
			res := r.Match(ua, func(string) string { return "8.4.1" })
			checkFacts(t, ua, res.Facts)
		}
	})
}

// The cost on the request path: a Cordon-Client parse (what an app that
// speaks cordon costs) against the rules over a user agent, when an
// operator rule matches, when a built-in one does after 8 operator rules,
// and when nothing does.
func BenchmarkCordonClientParse(b *testing.B) {
	h := http.Header{"Cordon-Client": {`platform=android, version="8.4.1", source=play, device="d-1"`}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := clientfacts.FromHeader(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUserAgent(b *testing.B) {
	rules := loadRules(b, "testdata/rules.yaml")
	cases := []struct {
		name, ua string
		want     string
	}{
		{"builtin-ios", "MyApp/8.4.1 (iPhone; iOS 17.4; Scale/3.00)", "ios"},
		{"builtin-cfnetwork", "Spotify/8.9.10.479 CFNetwork/1490.0.4 Darwin/23.2.0", "ios"},
		{"builtin-electron", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.36.140 Chrome/120.0.6099.199 Electron/28.1.0 Safari/537.36 Sonic Slack_SSB/4.36.140", "desktop"},
		{"rule-whatsapp", "WhatsApp/2.23.25.83 A", "android"},
		{"no-match-browser", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.210 Mobile Safari/537.36", "unknown"},
		{"no-match-1KiB", strings.Repeat("a", uafacts.MaxUserAgent), "unknown"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := http.Header{"User-Agent": {c.ua}}
			b.ReportAllocs()
			for b.Loop() {
				f, _ := rules.FromHeader(h)
				if f.Platform != c.want {
					b.Fatalf("platform %q, want %q", f.Platform, c.want)
				}
			}
		})
	}
}

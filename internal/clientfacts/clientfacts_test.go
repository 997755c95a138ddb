package clientfacts

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// specExample is the header of the wire contract in SPEC.md.
const specExample = `platform=android, version="8.4.1", source=play, device="d-1"`

// padded returns the spec example padded with an unknown member to n bytes.
func padded(n int) string {
	const pre = specExample + `, pad="`
	return pre + strings.Repeat("p", n-len(pre)-1) + `"`
}

var android = cordon.ClientFacts{Platform: "android", Version: "8.4.1", Source: "play", Device: "d-1"}

func TestParseValid(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   cordon.ClientFacts
	}{
		{"spec example", specExample, android},
		{"empty header", "", cordon.UnknownClient},
		{"whitespace only", " \t  ", cordon.UnknownClient},
		{"leading and trailing whitespace", "  \t" + specExample + " \t", android},
		{"no space after commas", `platform=android,version="8.4.1",source=play,device="d-1"`, android},
		{"tabs after commas", "platform=android,\tversion=\"8.4.1\",\tsource=play,\tdevice=\"d-1\"", android},
		{"any member order", `device="d-1", source=play, version="8.4.1", platform=android`, android},
		{"platform only", "platform=ios", cordon.ClientFacts{Platform: "ios", Source: "unknown"}},
		{"source only", "source=amazon", cordon.ClientFacts{Platform: "unknown", Source: "amazon"}},
		{"explicit unknown source", "platform=tv, source=unknown", cordon.ClientFacts{Platform: "tv", Source: "unknown"}},
		{"platform as string", `platform="desktop"`, cordon.ClientFacts{Platform: "desktop", Source: "unknown"}},
		{"source as string", `source="official"`, cordon.ClientFacts{Platform: "unknown", Source: "official"}},
		{"device as token", "platform=web, device=abc-123", cordon.ClientFacts{Platform: "web", Source: "unknown", Device: "abc-123"}},
		{"version two parts", `platform=winphone, version="8.4"`, cordon.ClientFacts{Platform: "winphone", Version: "8.4", Source: "unknown"}},
		{"version pre-release and build", `version="8.4.1-beta.2+b77"`, cordon.ClientFacts{Platform: "unknown", Version: "8.4.1-beta.2+b77", Source: "unknown"}},
		{"version of 64 characters", `version="` + "1" + strings.Repeat("0", 63) + `"`, cordon.ClientFacts{Platform: "unknown", Version: "1" + strings.Repeat("0", 63), Source: "unknown"}},
		{"device of 128 characters", `device="` + strings.Repeat("x", 128) + `"`, cordon.ClientFacts{Platform: "unknown", Source: "unknown", Device: strings.Repeat("x", 128)}},
		{"device with escaped quote and backslash", `device="a\"b\\c"`, cordon.ClientFacts{Platform: "unknown", Source: "unknown", Device: `a"b\c`}},
		{"unknown keys ignored", `platform=ios, screen=?1, dpi=440, locale="de-DE", caps=(a b), source=appstore`, cordon.ClientFacts{Platform: "ios", Source: "appstore"}},
		{"unknown key of a bad value ignored", `platform=ios, color=amiga`, cordon.ClientFacts{Platform: "ios", Source: "unknown"}},
		{"parameters ignored", `platform=android;arch=arm64, version="8.4.1";channel=beta, source=play;x=1, device="d-1";y`, android},
		{"duplicate key, last wins", `platform=ios, platform=android, version="8.4.1", source=play, device="d-1"`, android},
		{"duplicate key, an earlier bad value is overridden", `platform=amiga, platform=android, version="8.4.1", source=play, device="d-1"`, android},
		{"header of exactly the limit", padded(MaxHeaderBytes), android},
		// RFC 8941 allows a space after ";", so this is a parameter of
		// platform, not a member, and is ignored.
		{"semicolon as separator", `platform=android; source=play`, cordon.ClientFacts{Platform: "android", Source: "unknown"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.header)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", c.header, err)
			}
			if got != c.want {
				t.Errorf("Parse(%q) = %+v, want %+v", c.header, got, c.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	cases := []struct {
		name   string
		header string
		// want is a part of the message a person reads.
		want string
	}{
		{"unknown platform", `platform=amiga`, `Cordon-Client: platform "amiga" is not one of android, ios, desktop, web, winphone, tv`},
		{"upper-case platform", `platform=Android`, `platform "Android" is not one of android, ios, desktop, web, winphone, tv (values are lower-case)`},
		{"unknown as platform", `platform=unknown`, `platform "unknown" is not one of`},
		{"empty platform string", `platform=""`, `platform "" is not one of`},
		{"unknown source", `platform=android, source=sideload`, `source "sideload" is not one of play, amazon, appstore, microsoft, official, web, unknown`},
		{"integer platform", `platform=1`, "platform must be a token such as platform=android, not an integer"},
		{"boolean platform", `platform`, "platform must be a token such as platform=android, not a boolean"},
		{"boolean source", `source=?0`, "source must be a token such as source=play, not a boolean"},
		{"inner list platform", `platform=(android ios)`, "platform must be a single value such as platform=android, not an inner list"},
		{"decimal version", `version=8.4`, `version must be a quoted string such as version="8.4.1", not a decimal`},
		{"unquoted three-part version", `version=8.4.1`, `version is malformed; expected e.g. version="8.4.1"`},
		{"integer device", `device=42`, `device must be a quoted string such as device="d-1", not an integer`},
		{"byte sequence device", `device=:AQID:`, "not a byte sequence"},
		{"token version", `version=v8`, `version "v8" must start with a digit`},
		{"empty version", `version=""`, "version is empty"},
		{"version with a space", `version="8.4 beta"`, `version "8.4 beta" may hold only letters, digits`},
		{"version with a slash", `version="8.4/1"`, `may hold only letters, digits`},
		{"version too long", `version="1` + strings.Repeat("0", 64) + `"`, "version is 65 characters; the limit is 64"},
		{"empty device", `device=""`, "device is empty"},
		{"device with a space", `device="my phone"`, `device "my phone" may hold only printable ASCII characters, no spaces`},
		{"device too long", `device="` + strings.Repeat("x", 129) + `"`, "device is 129 characters; the limit is 128"},
		{"truncated quote", `platform=android, version="8.4.1, source=play`, `version is malformed; expected e.g. version="8.4.1"`},
		{"truncated quote at the end", `platform=android, device="d-1`, `device is malformed`},
		{"bad escape in string", `platform=android, device="a\b"`, `device is malformed`},
		{"non-ASCII in string", `platform=android, device="dé"`, `device is malformed`},
		{"non-ASCII token", `platform=andröid`, `platform is malformed`},
		{"non-ASCII key", `plätform=android`, `malformed member "plätform=android"`},
		{"upper-case key", `Platform=android`, `malformed member "Platform=android"; keys are lower-case`},
		{"bad token character", `platform=and@roid`, `platform is malformed`},
		{"token starting with a digit", `source=9play`, `source is malformed`},
		{"trailing comma", `platform=android,`, "empty member"},
		{"two commas", `platform=android,, source=play`, "empty member"},
		{"leading comma", `,platform=android`, `malformed member ",platform=android"`},
		{"unknown key with bad syntax", `platform=android, x-y="unterminated`, `member "x-y" is malformed`},
		{"control character", "platform=android, device=\"d\x01\"", "device is malformed"},
		{"header one byte over the limit", padded(MaxHeaderBytes + 1), "header is 1025 bytes; the limit is 1024"},
		{"2 KiB header", strings.Repeat("a", 2048), "header is 2048 bytes; the limit is 1024"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.header)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", c.header, got)
			}
			var e *cordon.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T %v, want *cordon.Error", c.header, err, err)
			}
			if e.Code != cordon.ECodeInvalidClient {
				t.Errorf("Parse(%q) code = %q, want %q", c.header, e.Code, cordon.ECodeInvalidClient)
			}
			if !strings.HasPrefix(e.Message, "Cordon-Client: ") || !strings.Contains(e.Message, c.want) {
				t.Errorf("Parse(%q) message = %q, want it to contain %q", c.header, e.Message, c.want)
			}
			if got != (cordon.ClientFacts{}) {
				t.Errorf("Parse(%q) facts = %+v with an error, want zero facts", c.header, got)
			}
		})
	}
}

func TestFromHeader(t *testing.T) {
	cases := []struct {
		name    string
		lines   []string
		want    cordon.ClientFacts
		wantErr bool
	}{
		{"no header", nil, cordon.UnknownClient, false},
		{"one line", []string{specExample}, android, false},
		{"split over lines", []string{`platform=android, version="8.4.1"`, `source=play`, `device="d-1"`}, android, false},
		{"empty lines skipped", []string{"", `platform=android, version="8.4.1", source=play`, " ", `device="d-1"`}, android, false},
		{"only empty lines", []string{"", " "}, cordon.UnknownClient, false},
		{"later line wins", []string{`platform=ios, source=appstore`, `platform=android, version="8.4.1", source=play, device="d-1"`}, android, false},
		{"bad line fails the whole", []string{specExample, "platform=amiga"}, cordon.ClientFacts{}, true},
		{"lines joined over the limit", []string{specExample, `pad="` + strings.Repeat("p", MaxHeaderBytes) + `"`}, cordon.ClientFacts{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range c.lines {
				h.Add("cordon-client", l)
			}
			got, err := FromHeader(h)
			if (err != nil) != c.wantErr {
				t.Fatalf("FromHeader(%q) error = %v, want error %v", c.lines, err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("FromHeader(%q) = %+v, want %+v", c.lines, got, c.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	cases := []struct {
		name  string
		facts cordon.ClientFacts
		want  string
	}{
		{"spec example", android, specExample},
		{"unknown client", cordon.UnknownClient, ""},
		{"zero facts", cordon.ClientFacts{}, ""},
		{"no version, no device", cordon.ClientFacts{Platform: "ios", Source: "appstore"}, "platform=ios, source=appstore"},
		{"quote and backslash escaped", cordon.ClientFacts{Platform: "web", Source: "web", Device: `a"b\c`}, `platform=web, source=web, device="a\"b\\c"`},
		// Facts Parse would refuse stay refusable.
		{"platform that is no token", cordon.ClientFacts{Platform: "my tv", Source: "unknown"}, `platform="my tv"`},
		{"non-ASCII device", cordon.ClientFacts{Platform: "ios", Source: "unknown", Device: "é"}, "platform=ios, device=:w6k=:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Format(c.facts); got != c.want {
				t.Errorf("Format(%+v) = %q, want %q", c.facts, got, c.want)
			}
		})
	}
}

// TestFormatRefusable checks that facts Parse refuses are not turned into
// different, acceptable facts on their way through Format.
func TestFormatRefusable(t *testing.T) {
	cases := []struct {
		name  string
		facts cordon.ClientFacts
	}{
		{"unknown platform", cordon.ClientFacts{Platform: "amiga", Source: "unknown"}},
		{"platform with a space", cordon.ClientFacts{Platform: "my tv", Source: "unknown"}},
		{"non-ASCII platform", cordon.ClientFacts{Platform: "andröid", Source: "unknown"}},
		{"unknown source", cordon.ClientFacts{Platform: "ios", Source: "sideload"}},
		{"version without a digit", cordon.ClientFacts{Platform: "ios", Source: "unknown", Version: "beta"}},
		{"device with a newline", cordon.ClientFacts{Platform: "ios", Source: "unknown", Device: "d\n1"}},
		{"device with a space", cordon.ClientFacts{Platform: "ios", Source: "unknown", Device: "d 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := Format(c.facts)
			if got, err := Parse(h); err == nil {
				t.Errorf("Parse(Format(%+v)) = Parse(%q) = %+v, want an error", c.facts, h, got)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		facts cordon.ClientFacts
	}{
		{"spec example", android},
		{"unknown client", cordon.UnknownClient},
		{"every platform and source", cordon.ClientFacts{Platform: "tv", Source: "microsoft"}},
		{"odd device", cordon.ClientFacts{Platform: "desktop", Source: "official", Version: "10.0.0+x-y", Device: `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`}},
	}
	for _, p := range cordon.Platforms {
		for _, s := range cordon.Sources {
			cases = append(cases, struct {
				name  string
				facts cordon.ClientFacts
			}{p + "/" + s, cordon.ClientFacts{Platform: p, Source: s, Version: "1", Device: "d"}})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := Format(c.facts)
			got, err := Parse(h)
			if err != nil {
				t.Fatalf("Parse(Format(%+v)) = Parse(%q) error: %v", c.facts, h, err)
			}
			if got != c.facts {
				t.Errorf("Parse(Format(%+v)) = %+v, want the facts back", c.facts, got)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		specExample,
		"",
		" ",
		"platform=ios",
		`platform="web", source="web", version="1.0.0-rc.1+build.5", device="A/B:C"`,
		`platform=android;a=1, version="8.4.1";b, x=(1 2), y=?0, z=:AQID:, w=1.5, d=@1659578233, s=%"caf%c3%a9"`,
		`platform=ios, platform=android`,
		`device="a\"b\\c"`,
		`version="8.4.1, source=play`,
		`platform=android,`,
		"platform=andröid",
		"platform=\tandroid",
		`version=8.4.1`,
		`version=8.4`,
		strings.Repeat("a=1, ", 200),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		facts, err := Parse(header)
		if err != nil {
			if code := cordon.ErrorCode(err); code != cordon.ECodeInvalidClient {
				t.Fatalf("Parse(%q) error code %q, want %q: %v", header, code, cordon.ECodeInvalidClient, err)
			}
			return
		}
		h := Format(facts)
		again, err := Parse(h)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but Parse(Format) = Parse(%q) error: %v", header, facts, h, err)
		}
		if again != facts {
			t.Fatalf("Parse(%q) = %+v, but Parse(Format) = Parse(%q) = %+v", header, facts, h, again)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(specExample); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Format(android)
	}
}

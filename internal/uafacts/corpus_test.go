package uafacts_test

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/uafacts"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// corpusEntry is one user agent of the corpus, with the version header its
// request sends, if any.
type corpusEntry struct {
	family  string
	ua      string
	version string
}

// readCorpus reads testdata/corpus.txt.
func readCorpus(t testing.TB) []corpusEntry {
	t.Helper()
	f, err := os.Open("testdata/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusEntry
	family := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "# "):
			continue
		case strings.HasPrefix(line, "## "):
			family = strings.TrimPrefix(line, "## ")
			continue
		}
		e := corpusEntry{family: family, ua: line}
		if v, ua, ok := strings.Cut(line, " | "); ok && strings.HasPrefix(v, "X-App-Version: ") {
			e.version, e.ua = strings.TrimPrefix(v, "X-App-Version: "), ua
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostile are the strings a text file cannot hold, or should not: each
// must come out unknown or as the plain app it starts with, and never
// with a fact Cordon-Client would refuse.
func hostile() []corpusEntry {
	app := "MyApp/8.4.1 (iPhone; iOS 17.4)"
	return []corpusEntry{
		{"Hostile", "", ""},
		{"Hostile", " ", ""},
		{"Hostile", strings.Repeat("A", 1<<20), ""},
		{"Hostile", app + strings.Repeat(" ", 1024-len(app)), ""},
		{"Hostile", app + strings.Repeat(" ", 1025-len(app)), ""},
		{"Hostile", app + "\x00", ""},
		{"Hostile", app + "\r\nCordon-Client: platform=android, source=play", ""},
		{"Hostile", app + "\n", ""},
		{"Hostile", "\x1b[31m" + app, ""},
		{"Hostile", app + "\x7f", ""},
		{"Hostile", app + " \xff\xfe\xfd", ""},
		{"Hostile", "MyApp/8.4.1\xc0\xaf (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyApp/8.4.1 (iPhone; iOS 17.4) Android 14", ""},
		{"Hostile", "MyApp/8.4.1 (iPhone; iOS 17.4) MyApp/1.0.0 (Linux; U; Android 14)", ""},
		{"Hostile", "MyApp/8.4.1 (Macintosh; Windows NT 10.0; iPhone; Android 14; X11)", ""},
		{"Hostile", "MyApp/" + strings.Repeat("1.", 400) + "1 (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyApp/8.4.1" + strings.Repeat("(", 900), ""},
		{"Hostile", strings.Repeat("MyApp/", 170), ""},
		{"Hostile", strings.Repeat("a", 1000) + "!", ""},
		{"Hostile", "MyApp/8.4.1<script>alert(1)</script> (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyApp/../../etc/passwd (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyApp/8.4.1; DROP TABLE sessions; --", ""},
		{"Hostile", "MyApp/8.4.1\", platform=winphone, source=play (iPhone; iOS 17.4)", ""},
		{"Hostile", "platform=android, version=\"9.9.9\", source=play", ""},
		{"Hostile", "MyApp/99999999.0.0 (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyApp/" + strings.Repeat("9", 65) + " (iPhone; iOS 17.4)", ""},
		{"Hostile", "ＭyApp/8.4.1 (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyАpp/8.4.1 (iPhone; iOS 17.4)", ""}, // Cyrillic А
		{"Hostile", "XMyApp/8.4.1 (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyAppX/8.4.1 (iPhone; iOS 17.4)", ""},
		{"Hostile", "MyApp_8.4.1 (iPhone; iOS 17.4)", ""},
		{"Hostile", "(MyApp/8.4.1; iPhone; iOS 17.4)", ""},
		{"Hostile", "MyApp/8.4.1 (iPhone; iOS 17.4; install=../../../../etc)", ""},
		{"Hostile", "MyApp/8.4.1 (iPhone; iOS 17.4; install=" + strings.Repeat("f", 65) + ")", ""},
		{"Hostile", "okhttp/4.12.0", "8.4.1\", source=play"},
		{"Hostile", "okhttp/4.12.0", strings.Repeat("9", 65)},
		{"Hostile", "Dalvik/2.1.0 (Linux; U; Android 14; iPhone)", "8.4.1"},
		{"Hostile", "Dalvik/2.1.0 (Linux; U; Windows Phone 8.1; Android 14)", ""},
	}
}

// TestCorpus runs the rules of testdata/rules.yaml over the corpus of
// real-world user agents and the hostile strings, and compares every
// outcome and the hit rate of each family with testdata/corpus.golden
// (go test -run TestCorpus -update rewrites it; read the diff).
func TestCorpus(t *testing.T) {
	rules := loadRules(t, "testdata/rules.yaml")
	entries := append(readCorpus(t), hostile()...)
	if len(entries) < 250 {
		t.Fatalf("the corpus holds %d user agents; it should hold at least 250", len(entries))
	}

	type rate struct{ total, platform, version int }
	rates := map[string]*rate{}
	var order []string
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-9s %-8s %-24s %-7s %-20s %-22s %s\n", "family", "platform", "version", "source", "device", "rule", "user agent")
	for _, e := range entries {
		h := func(name string) string {
			if name == "X-App-Version" {
				return e.version
			}
			return ""
		}
		res := rules.Match(e.ua, h)
		checkFacts(t, e.ua, res.Facts)
		if rates[e.family] == nil {
			rates[e.family] = &rate{}
			order = append(order, e.family)
		}
		r := rates[e.family]
		r.total++
		if res.Facts.Platform != cordon.PlatformUnknown {
			r.platform++
		}
		if res.Facts.Version != "" {
			r.version++
		}
		ua := e.ua
		if len(ua) > 120 {
			ua = fmt.Sprintf("%s… (%d bytes)", ua[:120], len(ua))
		}
		if e.version != "" {
			ua = "[X-App-Version: " + e.version + "] " + ua
		}
		fmt.Fprintf(&b, "%-9s %-8s %-24q %-7s %-20q %-22s %q\n", e.family, res.Facts.Platform, res.Facts.Version, res.Facts.Source, res.Facts.Device, or(res.Rule, "-"), ua)
	}
	fmt.Fprintf(&b, "\nhit rate per family (platform known; version known)\n")
	for _, f := range order {
		r := rates[f]
		line := fmt.Sprintf("%-20s %3d user agents  platform %3d (%3.0f%%)  version %3d (%3.0f%%)", f, r.total,
			r.platform, 100*float64(r.platform)/float64(r.total), r.version, 100*float64(r.version)/float64(r.total))
		fmt.Fprintln(&b, line)
		t.Log(line)
	}
	golden(t, "testdata/corpus.golden", b.Bytes())
}

// checkFacts fails unless f is something Cordon-Client could have said:
// formatted as the header and parsed back, it must come out the same.
func checkFacts(t *testing.T, ua string, f cordon.ClientFacts) {
	t.Helper()
	got, err := clientfacts.Parse(clientfacts.Format(f))
	if err != nil || got != f {
		t.Errorf("Match(%.80q) = %+v, which Cordon-Client could not carry (%v)", ua, f, err)
	}
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func loadRules(t testing.TB, path string) *uafacts.Rules {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := uafacts.Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return r
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("%s line %d:\n got: %s\nwant: %s", path, i+1, g, w)
			}
		}
	}
}

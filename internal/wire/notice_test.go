package wire

import (
	"net/url"
	"strings"
	"testing"
)

func TestNoticeHeader(t *testing.T) {
	ns := CompileNotices([]DenialNotice{
		{ID: "n-z", Campaign: "c-1", Default: "en", Titles: map[string]string{"en": "older"}}, // published first: n-1 wins
		{ID: "n-1", Campaign: "c-1", Default: "en", Titles: map[string]string{"en": "Log in again", "pt-BR": "Entre de novo", "de": "Neu anmelden"}},
		{ID: "n-bad id", Campaign: "c-2", Default: "en", Titles: map[string]string{"en": "x"}},
		{ID: "n-3", Campaign: "c-3", Default: "fr", Titles: map[string]string{"en": "no default text"}},
	})
	tests := []struct{ name, campaign, accept, want string }{
		{"the default", "c-1", "", `id="n-1", lang="en", title*="UTF-8'en'Log%20in%20again"`},
		{"Brazilian Portuguese", "c-1", "pt-BR,pt;q=0.9", `id="n-1", lang="pt-BR", title*="UTF-8'pt-BR'Entre%20de%20novo"`},
		{"German from Austria", "c-1", "de-AT", `id="n-1", lang="de", title*="UTF-8'de'Neu%20anmelden"`},
		{"twice (memo)", "c-1", "de-AT", `id="n-1", lang="de", title*="UTF-8'de'Neu%20anmelden"`},
		{"garbage", "c-1", "\x00\xff;q=", `id="n-1", lang="en", title*="UTF-8'en'Log%20in%20again"`},
		{"no notice", "c-9", "en", ""},
		{"no campaign", "", "en", ""},
		{"an id unfit for a header is left out", "c-2", "en", ""},
		{"a notice without its default's title is left out", "c-3", "en", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ns.Header(tt.campaign, tt.accept); got != tt.want {
				t.Errorf("Header(%q, %q):\n got %s\nwant %s", tt.campaign, tt.accept, got, tt.want)
			}
		})
	}
	var none *Notices
	if got := none.Header("c-1", "en"); got != "" {
		t.Errorf("nil Notices: %q", got)
	}
}

// FuzzNoticeHeader: whatever a title holds, the header is printable
// ASCII with no quote or backslash inside its strings, and the title
// decodes back to what was written.
func FuzzNoticeHeader(f *testing.F) {
	for _, s := range []string{"Log in again", "Bitte neu anmelden\r\nSet-Cookie: x", `"quoted" \ back`, "ü€😀", "\x00\x7f\xff"} {
		f.Add(s, "de, en;q=0.5")
	}
	f.Fuzz(func(t *testing.T, title, accept string) {
		ns := CompileNotices([]DenialNotice{{ID: "n-1", Campaign: "c-1", Default: "en", Titles: map[string]string{"en": title, "de": title}}})
		h := ns.Header("c-1", accept)
		for i := 0; i < len(h); i++ {
			if h[i] < 0x20 || h[i] > 0x7e {
				t.Fatalf("byte %q in %q", h[i], h)
			}
		}
		_, enc, ok := strings.Cut(h, `title*="UTF-8'`)
		if !ok {
			t.Fatalf("no title in %q", h)
		}
		_, enc, _ = strings.Cut(enc, "'")
		enc = strings.TrimSuffix(enc, `"`)
		if strings.ContainsAny(enc, "\"\\ ,;") {
			t.Fatalf("the encoded title holds a delimiter: %q", enc)
		}
		got, err := url.PathUnescape(enc)
		if err != nil || got != title {
			t.Fatalf("title %q encoded as %q decodes to %q (%v)", title, enc, got, err)
		}
	})
}

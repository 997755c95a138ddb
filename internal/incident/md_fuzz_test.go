package incident

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMarkdownCell: whatever an admin writes, the escaped text opens no
// new table cell, link, image (both need an unescaped '['), code span or
// HTML tag, and unescaping gives it back.
func FuzzMarkdownCell(f *testing.F) {
	for _, s := range []string{"plain", "a | b", "[x](http://evil)", "<script>", "![i](x)", `\|`, "# head", "`code`", "https://evil.example", "www.evil.example", "dpo@evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("titles, notes and principals are valid UTF-8 before they are written")
		}
		got := md(s)
		var back strings.Builder
		escaped := false
		for _, r := range got {
			if escaped {
				back.WriteRune(r)
				escaped = false
				continue
			}
			switch r {
			case '\\':
				escaped = true
				continue
			case '|', '[', ']', '<', '>', '`':
				t.Fatalf("md(%q) = %q leaves %q unescaped", s, got, r)
			}
			back.WriteRune(r)
		}
		if escaped || back.String() != s {
			t.Fatalf("md(%q) = %q does not unescape to the input (%q)", s, got, back.String())
		}
		if !strings.ContainsAny(s, "\n\r") {
			rendersInert(t, s)
		}
	})
}

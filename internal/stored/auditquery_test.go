package stored

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrincipalPatterns(t *testing.T) {
	for _, tc := range []struct{ pattern, glob, like string }{
		{"svc-*", "svc-*", "svc-%"},
		{"*", "*", "%"},
		{"%", "%", `\%`},
		{"_", "_", `\_`},
		{`\`, `\`, `\\`},
		{"a?b[c]*", "a[?]b[[]c]*", "a?b[c]%"},
		{`svc_%\*`, `svc_%\*`, `svc\_\%\\%`},
	} {
		if got := GlobPattern(tc.pattern); got != tc.glob {
			t.Errorf("GlobPattern(%q) = %q, want %q", tc.pattern, got, tc.glob)
		}
		if got := LikePattern(tc.pattern); got != tc.like {
			t.Errorf("LikePattern(%q) = %q, want %q", tc.pattern, got, tc.like)
		}
	}
}

// patternRegexp is what a principal pattern means, said another way.
func patternRegexp(p string) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile(`^(?s)` + strings.Join(parts, ".*") + `$`)
}

// FuzzMatchPrincipal holds MatchPrincipal, the memstore's reading of a
// pattern, to the regular expression it stands for, and LikePattern to
// an encoding that decodes back to the pattern.
func FuzzMatchPrincipal(f *testing.F) {
	for _, s := range [][2]string{{"svc-*", "svc-a"}, {"*", ""}, {"a*b*c", "abc"}, {"*%*", "x%y"}, {"a*a", "a"}, {`\*_`, `\x_`}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, principal string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(principal) {
			t.Skip("principals are checked printable UTF-8 before any query")
		}
		if got, want := MatchPrincipal(pattern, principal), patternRegexp(pattern).MatchString(principal); got != want {
			t.Errorf("MatchPrincipal(%q, %q) = %v, want %v", pattern, principal, got, want)
		}
		like := LikePattern(pattern)
		var back strings.Builder
		for i := 0; i < len(like); i++ {
			switch c := like[i]; c {
			case '\\':
				if i+1 >= len(like) || !strings.ContainsRune(`%_\`, rune(like[i+1])) {
					t.Fatalf("LikePattern(%q) = %q: a bare escape", pattern, like)
				}
				i++
				back.WriteByte(like[i])
			case '%':
				back.WriteByte('*')
			case '_':
				t.Fatalf("LikePattern(%q) = %q: an unescaped _", pattern, like)
			default:
				back.WriteByte(c)
			}
		}
		if back.String() != pattern {
			t.Errorf("LikePattern(%q) = %q decodes to %q", pattern, like, back.String())
		}
	})
}

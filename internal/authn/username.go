package authn

// Usernames: which strings may name a new account.
//
// A username is what people read to tell accounts apart, in admin
// consoles, audit reports and campaign cohorts, so two names that look
// alike must not name two accounts. New names are prepared with the PRECIS
// UsernameCaseMapped profile (RFC 8265, golang.org/x/text/secure/precis):
// it maps width and case, and refuses spaces, invisible and control
// characters, and right-to-left tricks (the Bidi Rule of RFC 5893). On top
// of that a name must be written in one script (Unicode TR39's "highly
// restrictive" level: Latin may mix with Han, Hiragana and Katakana, or
// Hangul, or Bopomofo, as Japanese, Korean and Chinese names do), which
// refuses the Latin name with one Cyrillic letter; Skeleton (TR39's
// confusable skeleton) lets the caller refuse a whole-script look-alike of
// an existing name. The prefix "cordon:" is reserved for cordon's own
// principals.
//
// Only new names are judged. Accounts created before keep their names and
// are still found by cordon.UsernameKey, which this file leaves alone.

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/secure/precis"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// MaxUsernameBytes bounds a username; usernames may be e-mail addresses, which RFC
// 5321 bounds at 254.
const MaxUsernameBytes = 254

// ReservedUsernamePrefix starts the names of cordon's own principals (audit
// entries it writes itself); no account may take one.
const ReservedUsernamePrefix = "cordon:"

// PrepareUsername returns the PRECIS UsernameCaseMapped form of name if name may
// name a new account, else a *cordon.Error with code
// cordon.ECodeUnprocessable and field "username" saying why.
func PrepareUsername(name string) (string, error) {
	switch {
	case name == "":
		return "", invalidUsername("username is required")
	case len(name) > MaxUsernameBytes:
		return "", invalidUsername("username must be at most %d bytes", MaxUsernameBytes)
	case !utf8.ValidString(name):
		return "", invalidUsername("username must be valid UTF-8")
	}
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			return "", invalidUsername("username must not contain spaces (U+%04X)", r)
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == unicode.ReplacementChar:
			return "", invalidUsername("username must not contain invisible or control characters (U+%04X)", r)
		}
	}
	p, err := precis.UsernameCaseMapped.String(name)
	if err != nil {
		return "", invalidUsername("username must be letters, digits and symbols that read the same in any direction (RFC 8265)")
	}
	if p == "" || len(p) > MaxUsernameBytes {
		return "", invalidUsername("username must be 1 to %d bytes", MaxUsernameBytes)
	}
	if cordon.UsernameKey(p) != cordon.UsernameKey(name) {
		// Accounts are compared by UsernameKey (simple lower case after
		// NFKC), PRECIS by full lower case; a few letters (İ, U+0130)
		// differ, and would let two accounts share one PRECIS name.
		return "", invalidUsername("username has a letter whose lower case is ambiguous; write it in lower case")
	}
	if strings.HasPrefix(p, ReservedUsernamePrefix) {
		return "", invalidUsername("usernames starting with %q are reserved", ReservedUsernamePrefix)
	}
	if a, b, mixed := mixedScripts(p); mixed {
		return "", invalidUsername("username mixes %s and %s letters; write it in one script", a, b)
	}
	return p, nil
}

// usernameSkeleton returns the TR39 confusable skeleton of a prepared name: two
// names that look alike have the same skeleton ("аре" in Cyrillic and
// "ape" in Latin both give "ape").
func usernameSkeleton(prepared string) string {
	return confusables.Skeleton(prepared)
}

func invalidUsername(format string, args ...any) error {
	return cordon.FieldError(cordon.ECodeUnprocessable, "username", format, args...)
}

// cjk are the scripts that mix with each other and with Latin in the
// names of one language (TR39 §5.2, "highly restrictive").
var cjk = map[string]int{"Han": 1 | 2 | 4, "Hiragana": 1, "Katakana": 1, "Hangul": 2, "Bopomofo": 4}

// mixedScripts reports the first two scripts that p mixes beyond what one
// language writes, ignoring Common and Inherited characters (digits,
// punctuation, combining marks).
func mixedScripts(p string) (string, string, bool) {
	var seen []string // the distinct scripts, in order
	for _, r := range p {
		s := scriptOf(r)
		if s == "" || s == "Common" || s == "Inherited" {
			continue
		}
		found := false
		for _, x := range seen {
			found = found || x == s
		}
		if !found {
			seen = append(seen, s)
		}
	}
	if len(seen) <= 1 {
		return "", "", false
	}
	// Allowed: Latin plus scripts of one CJK language, or those alone.
	langs := 1 | 2 | 4
	for _, s := range seen {
		if s == "Latin" {
			continue
		}
		m, ok := cjk[s]
		if !ok {
			return firstTwo(seen)
		}
		langs &= m
	}
	if langs == 0 {
		return firstTwo(seen)
	}
	return "", "", false
}

func firstTwo(s []string) (string, string, bool) { return s[0], s[1], true }

// scriptOf names the Unicode script of r, "" if none.
func scriptOf(r rune) string {
	for _, name := range []string{"Latin", "Common", "Inherited", "Cyrillic", "Greek"} {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			return name
		}
	}
	return ""
}

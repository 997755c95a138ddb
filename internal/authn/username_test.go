package authn

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func TestPrepareUsername(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" means refused
		msg      string // a part of the refusal's message
	}{
		{"plain", "alice", "alice", ""},
		{"case mapped", "Alice", "alice", ""},
		{"fullwidth mapped", "ａｌｉｃｅ", "alice", ""},
		{"e-mail", "Bob@Example.com", "bob@example.com", ""},
		{"digits and symbols", "user_1-x.y+z", "user_1-x.y+z", ""},
		{"greek", "Οδυσσεύς", "οδυσσεύς", ""},
		{"cyrillic alone", "Алиса", "алиса", ""},
		{"japanese mixes kanji kana and latin", "山田たろうTaro", "山田たろうtaro", ""},
		{"korean with latin", "김철수kim", "김철수kim", ""},
		{"reserved prefix", "cordon:admin", "", "reserved"},
		{"reserved prefix upper case", "CORDON:admin", "", "reserved"},
		{"reserved prefix fullwidth", "ｃｏｒｄｏｎ：admin", "", "reserved"},
		{"zero-width space", "alice\u200b", "", "invisible"},
		{"zero-width joiner", "al\u200dice", "", "invisible"},
		{"right-to-left override", "\u202eecila", "", "invisible"},
		{"left-to-right mark", "alice\u200e", "", "invisible"},
		{"bidi mixed letters", "aliceשלום", "", "RFC 8265"},
		{"cyrillic a in latin", "аlice", "", "mixes Cyrillic and Latin"},
		{"greek omicron in latin", "bοb", "", "mixes"},
		{"cyrillic and greek", "аβ", "", "mixes"},
		{"han with hangul and kana", "山김た", "", "mixes"},
		{"space inside", "alice smith", "", "spaces"},
		{"no-break space", "alice\u00a0", "", "spaces"},
		{"tab", "alice\t", "", "spaces"},
		{"nul", "alice\x00", "", "control"},
		{"replacement char", "alice\ufffd", "", "control"},
		{"invalid utf-8", "alice\xff", "", "UTF-8"},
		{"empty", "", "", "required"},
		{"too long", strings.Repeat("a", 255), "", "at most 254"},
		{"ligature", "ﬁnn", "", "RFC 8265"},
		{"titlecase digraph", "ǅemal", "", "RFC 8265"},
		{"dotted capital I", "İstanbul", "", "ambiguous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PrepareUsername(tt.in)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("PrepareUsername(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var e *cordon.Error
			if !errors.As(err, &e) || e.Code != cordon.ECodeUnprocessable || e.Field != "username" || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("PrepareUsername(%q) = %q, %v; want an unprocessable username error saying %q", tt.in, got, err, tt.msg)
			}
		})
	}
}

func TestUsernameSkeleton(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"аре", "ape"}, // Cyrillic а р е
		{"раураl", "paypal"},
	} {
		if usernameSkeleton(tt.a) != usernameSkeleton(tt.b) {
			t.Errorf("usernameSkeleton(%q) = %q, usernameSkeleton(%q) = %q; want equal", tt.a, usernameSkeleton(tt.a), tt.b, usernameSkeleton(tt.b))
		}
	}
	if usernameSkeleton("alice") == usernameSkeleton("bob") {
		t.Errorf("alice and bob share a skeleton")
	}
}

func FuzzPrepareUsername(f *testing.F) {
	for _, s := range []string{"alice", "аlice", "cordon:x", "\u202eab", "山田たろう", "a\u200bb", "ＡＢ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := PrepareUsername(in)
		if err != nil {
			return
		}
		// A prepared name is valid, bounded, stable, and not reserved.
		if !utf8.ValidString(p) || p == "" || len(p) > MaxUsernameBytes || strings.HasPrefix(p, ReservedUsernamePrefix) {
			t.Fatalf("PrepareUsername(%q) = %q: not a valid name", in, p)
		}
		again, err := PrepareUsername(p)
		if err != nil || again != p {
			t.Fatalf("PrepareUsername(PrepareUsername(%q)) = %q, %v; want %q (idempotent)", in, again, err, p)
		}
		// The store compares names by cordon.UsernameKey: a name and
		// its prepared form must be one account.
		if cordon.UsernameKey(p) != cordon.UsernameKey(in) {
			t.Fatalf("PrepareUsername(%q) = %q, whose key %q differs from the input's %q", in, p, cordon.UsernameKey(p), cordon.UsernameKey(in))
		}
	})
}

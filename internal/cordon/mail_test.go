package cordon

import (
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"Alice@Example.COM", "alice@example.com"},
		{"a.b+tag@sub.example.org", "a.b+tag@sub.example.org"},
		{"Zoë@exämple.de", "zoë@exämple.de"},
	} {
		if got, err := NormalizeEmail(tc.in); err != nil || got != tc.want {
			t.Errorf("NormalizeEmail(%q): got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"alice", "Alice <alice@example.com>", "<alice@example.com>", " alice@example.com", "alice@example.com\r\nBcc: x@y.z",
		"a@example.com, b@example.com", "alice@localhost", "(comment) alice@example.com", strings.Repeat("a", 250) + "@example.com", "\xff@example.com"} {
		if got, err := NormalizeEmail(in); err == nil {
			t.Errorf("NormalizeEmail(%q): got %q, want an error", in, got)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"alice@example.com", "A <a@b.c>", "a@b", "\"quoted local\"@example.com", "a@[127.0.0.1]", "x@y.z\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil || got == "" {
			return
		}
		if strings.ContainsAny(got, "\r\n<>,") && !strings.HasPrefix(got, "\"") {
			t.Fatalf("NormalizeEmail(%q) = %q holds a separator", s, got)
		}
		if len(got) > MaxEmailBytes*2 {
			t.Fatalf("NormalizeEmail(%q) = %q is too long", s, got)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}

package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestShortKeepsUTF8: a long value quoted in an error or an audit record
// is cut at a character's start, and invalid bytes a client sent are
// replaced, so the message is always valid UTF-8.
func TestShortKeepsUTF8(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("a", 63) + "é" + "tail", // é straddles byte 64
		strings.Repeat("a", 62) + "€" + "tail", // a 3-byte character
		strings.Repeat("a", 61) + "😀" + "tail", // a 4-byte character
		"bad \xff\xfe bytes",                   // invalid input, short
		strings.Repeat("\xff", 100),            // invalid input, long
		"plain",
	} {
		got := short(in)
		if !utf8.ValidString(got) {
			t.Errorf("short(%q) = %q: not valid UTF-8", in, got)
		}
		if len(in) > 64 && (!strings.HasSuffix(got, "…") || len(strings.TrimSuffix(got, "…")) > 64*3) {
			t.Errorf("short(%q) = %q: not cut", in, got)
		}
	}
	if got := short("plain"); got != "plain" {
		t.Errorf("short(plain) = %q", got)
	}
}

package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func TestParseTTL(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"12h", 12 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0s", 0, true},
		{"", 0, false},
		{"d", 0, false},
		{"-1d", 0, false},
		{"+1d", 0, false},
		{"1d-1h", 0, false},
		{"-1h", 0, false},
		{"1dd", 0, false},
		{"99999999d", 0, false},
		{"soon", 0, false},
		{strings.Repeat("1", 40) + "h", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseTTL(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := cordon.AccountCursor{CreatedAt: time.Date(2026, 5, 27, 8, 0, 0, 123456000, time.UTC), ID: "u-3kqabc"}
	got, err := ParseCursor(FormatCursor(c))
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("ParseCursor(FormatCursor(%v)) = %v, %v", c, got, err)
	}
	if s := FormatCursor(c); s != "MTc3OTg2ODgwMDEyMzQ1Ni51LTNrcWFiYw" {
		t.Errorf("FormatCursor = %q, want MTc3OTg2ODgwMDEyMzQ1Ni51LTNrcWFiYw", s)
	}
	for _, bad := range []string{"", "AAAA", "MTc3.dS14", "LTEudS14" /* -1.u-x */, "MDEudS14" /* 01.u-x */, "MS4" /* 1. */, "MS51IHg" /* 1.u x */, "=="} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted a cursor this server never gives", bad)
		}
	}
}

// FuzzParseTTL: any input is a duration of at most the bound the parser
// allows, or an error; never a panic or a negative duration.
func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"90d", "1d12h", "12h", "-1h", "d", "1d-1h", "65535d", "1.5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTTL(s)
		if err == nil && d < 0 {
			t.Errorf("ParseTTL(%q) = %v, a negative duration", s, d)
		}
	})
}

// FuzzParseCursor: a cursor the parser accepts is one FormatCursor gives
// back byte for byte, so a cursor has exactly one reading.
func FuzzParseCursor(f *testing.F) {
	f.Add(FormatCursor(cordon.AccountCursor{CreatedAt: time.UnixMicro(1779868800123456), ID: "u-abc"}))
	for _, s := range []string{"", "AAAA", "MS4", "LTEudS14", "MDEudS14"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		if back := FormatCursor(c); back != s {
			t.Errorf("ParseCursor(%q) = %v, which formats as %q", s, c, back)
		}
	})
}

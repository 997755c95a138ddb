package httpapi

import "testing"

func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"abc-123_X.y", true},
		{"", false},
		{"0123456789012345678901234567890123456789012345678901234567890123", true},
		{"01234567890123456789012345678901234567890123456789012345678901234", false},
		{"a b", false},
		{"a\nb", false},
		{`a"b`, false},
		{"é", false},
	} {
		if got := validRequestID(tc.id); got != tc.want {
			t.Errorf("validRequestID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if a, b := newRequestID(), newRequestID(); a == b || len(a) != 16 || !validRequestID(a) {
		t.Errorf("newRequestID gave %q and %q", a, b)
	}
}

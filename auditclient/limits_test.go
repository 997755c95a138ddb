package auditclient

import (
	"testing"

	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/httpapi"
)

// The client keeps copies of the server's limits, so that reporting
// services do not build cordon's server into themselves; this holds the
// copies true.
func TestLimitsMatchServer(t *testing.T) {
	if MaxBatch != auditlog.MaxBatch {
		t.Errorf("MaxBatch = %d, the server's is %d", MaxBatch, auditlog.MaxBatch)
	}
	if maxBody != httpapi.MaxAuditBody {
		t.Errorf("maxBody = %d, the server's is %d", maxBody, httpapi.MaxAuditBody)
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{minBackoff: 100e6, maxBackoff: 30e9}
	for n, want := range []int64{100e6, 200e6, 400e6, 800e6} {
		for range 100 {
			if d := int64(c.backoff(n)); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %d, want within [%d, %d]", n, d, want/2, want)
			}
		}
	}
	for _, n := range []int{9, 30, 63, 64, 1000} {
		if d := int64(c.backoff(n)); d < 15e9 || d > 30e9 {
			t.Errorf("backoff(%d) = %d, want capped at 30s with jitter", n, d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"1", 1e9},
		{"-5", 0},
		{"86400", 300e9},
		{"soon", 0},
		{"Mon, 02 Jan 2006 15:04:05 GMT", 0}, // in the past
	} {
		if got := int64(parseRetryAfter(tc.in)); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

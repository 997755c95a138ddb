package cordon_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func TestRampDurationIsText(t *testing.T) {
	start := time.Date(2026, 5, 27, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		d    time.Duration
		want string
	}{
		{"three days", 72 * time.Hour, `{"start":"2026-05-27T08:00:00Z","duration":"72h"}`},
		{"hours and minutes", 90 * time.Minute, `{"start":"2026-05-27T08:00:00Z","duration":"1h30m"}`},
		{"seconds", 1500 * time.Millisecond, `{"start":"2026-05-27T08:00:00Z","duration":"1.5s"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(&cordon.Ramp{Start: start, Duration: tc.d})
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
			// A campaign holds a *Ramp; its JSON must say the same.
			b, err = json.Marshal(cordon.Campaign{Ramp: &cordon.Ramp{Start: start, Duration: tc.d}})
			if err != nil {
				t.Fatal(err)
			}
			var back cordon.Campaign
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Ramp == nil || back.Ramp.Duration != tc.d || !back.Ramp.Start.Equal(start) {
				t.Errorf("round trip of %s: got %+v", b, back.Ramp)
			}
		})
	}
}

// TestRampDurationReadsBothForms: campaigns stored (and clients built)
// before durations were text hold nanoseconds, and must still read.
func TestRampDurationReadsBothForms(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     time.Duration
		wantErr  bool
	}{
		{"nanoseconds", `{"start":"2026-05-27T08:00:00Z","duration":259200000000000}`, 72 * time.Hour, false},
		{"long form", `{"start":"2026-05-27T08:00:00Z","duration":"72h0m0s"}`, 72 * time.Hour, false},
		{"short form", `{"start":"2026-05-27T08:00:00Z","duration":"72h"}`, 72 * time.Hour, false},
		{"not a duration", `{"start":"2026-05-27T08:00:00Z","duration":"3 days"}`, 0, true},
		{"fraction of a nanosecond", `{"start":"2026-05-27T08:00:00Z","duration":1.5}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r cordon.Ramp
			err := json.Unmarshal([]byte(tc.in), &r)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if err == nil && r.Duration != tc.want {
				t.Errorf("got %v, want %v", r.Duration, tc.want)
			}
		})
	}
}

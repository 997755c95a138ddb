package cordon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MarshalJSON writes the ramp's duration as a Go duration string ("72h",
// "1h30m"), the form the campaign document uses, rather than the
// nanoseconds encoding/json gives a time.Duration: an operator reads
// "72h" in `campaign show`, not 259200000000000.
func (r Ramp) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Start             time.Time     `json:"start"`
		Duration          string        `json:"duration"`
		Mode              string        `json:"mode,omitempty"`
		TargetUtilisation float64       `json:"target_utilisation,omitempty"`
		Pace              *Pace         `json:"pace,omitempty"`
		Priority          *RampPriority `json:"priority,omitempty"`
	}{r.Start, FormatDuration(r.Duration), r.Mode, r.TargetUtilisation, r.Pace, r.Priority})
}

// UnmarshalJSON reads a ramp whose duration is a Go duration string or,
// as stored and served before durations were written as text, an integer
// of nanoseconds.
func (r *Ramp) UnmarshalJSON(b []byte) error {
	var w struct {
		Start             time.Time       `json:"start"`
		Duration          json.RawMessage `json:"duration"`
		Mode              string          `json:"mode"`
		TargetUtilisation float64         `json:"target_utilisation"`
		Pace              *Pace           `json:"pace"`
		Priority          *RampPriority   `json:"priority"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var d time.Duration
	switch raw := bytes.TrimSpace(w.Duration); {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("ramp duration: %w", err)
		}
	default:
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return errors.New("ramp duration: neither a duration string nor an integer of nanoseconds")
		}
		d = time.Duration(n)
	}
	r.Start, r.Duration = w.Start, d
	r.Mode, r.TargetUtilisation, r.Pace, r.Priority = w.Mode, w.TargetUtilisation, w.Pace, w.Priority
	return nil
}

// FormatDuration writes d as time.Duration.String does, without trailing
// zero units ("72h", not "72h0m0s"); time.ParseDuration reads both.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

package campaigndoc

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// maxRampDays bounds a ramp at ten years: longer is a typo, and keeps the
// ramp's end far inside the engine's nanosecond range.
const maxRampDays = 3650

const (
	day     = 24 * time.Hour
	maxRamp = maxRampDays * day
)

// days matches the day forms operators think in: "3d", or "1d12h" with a
// Go duration after the days.
var days = regexp.MustCompile(`^([0-9]+)d(.*)$`)

// parseDuration reads ramp.duration: a Go duration string ("72h", "90m"),
// a number of days ("3d", "1d12h"), or a JSON integer of seconds.
func parseDuration(raw json.RawMessage) (time.Duration, error) {
	const field = "ramp.duration"
	s := string(raw)
	if s == "" || s == "null" {
		return 0, refuse(field, "a ramp needs a duration, e.g. \"72h\", \"3d\" or 259200 (seconds)")
	}
	var d time.Duration
	switch {
	case s[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, refuse(field, "ramp.duration is not a string")
		}
		var err *cordon.Error
		if d, err = durationText(text); err != nil {
			return 0, err
		}
	case s[0] == '-' || (s[0] >= '0' && s[0] <= '9'):
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil && strings.ContainsAny(s, ".eE"):
			return 0, refuse(field, "ramp.duration %s is not a whole number of seconds", s)
		case err != nil, n > int64(maxRamp/time.Second):
			return 0, refuse(field, "ramp.duration %s seconds is longer than %d days", s, maxRampDays)
		case n <= 0:
			return 0, refuse(field, "ramp.duration must be positive, not %s seconds", s)
		}
		d = time.Duration(n) * time.Second
	default:
		return 0, refuse(field, "ramp.duration must be a duration such as \"72h\" or \"3d\", or a number of seconds")
	}
	switch {
	case d <= 0:
		return 0, refuse(field, "ramp.duration must be positive")
	case d > maxRamp:
		return 0, refuse(field, "ramp.duration is longer than %d days", maxRampDays)
	}
	return d, nil
}

func durationText(s string) (time.Duration, *cordon.Error) {
	const field = "ramp.duration"
	bad := func() *cordon.Error {
		return refuse(field, "ramp.duration %q is not a duration such as \"72h\", \"90m\" or \"3d\", or a whole number of seconds", s)
	}
	if strings.HasPrefix(s, "-") {
		return 0, refuse(field, "ramp.duration must be positive, not %q", s)
	}
	m := days.FindStringSubmatch(s)
	if m == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad()
		}
		return d, nil
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > maxRampDays {
		return 0, refuse(field, "ramp.duration %q is longer than %d days", s, maxRampDays)
	}
	d := time.Duration(n) * day
	if rest := m[2]; rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, bad()
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad()
		}
		if r > maxRamp {
			return 0, refuse(field, "ramp.duration %q is longer than %d days", s, maxRampDays)
		}
		d += r
	}
	return d, nil
}

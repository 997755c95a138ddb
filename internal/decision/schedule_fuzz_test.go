package decision

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// FuzzSchedule feeds NewSchedule any ramp JSON a feed could carry. It
// either refuses it or gives a schedule whose share never falls, stays in
// [0, 1], reaches 100 % by the max_duration, and whose admission time for
// a share is the first instant the share is reached (to the microsecond).
func FuzzSchedule(f *testing.F) {
	for _, s := range []string{
		`{"start":"2026-12-01T08:00:00Z","duration":"72h","mode":"auto"}`,
		`{"start":"2026-12-01T08:00:00Z","duration":"72h","mode":"auto","pace":{"points":[{"at":"2026-12-01T08:00:00Z","share":0},{"at":"2026-12-01T09:00:00Z","share":0.25}],"rate":0.00005}}`,
		`{"start":"2026-12-01T08:00:00Z","duration":"1h","mode":"auto","pace":{"points":[{"at":"2026-12-01T10:00:00Z","share":0.5}],"rate":0}}`,
		`{"start":"2026-12-01T08:00:00Z","duration":"1s","mode":"auto","pace":{"points":[{"at":"2026-12-01T08:00:00Z","share":1}],"rate":1e308}}`,
		`{"start":"2026-12-01T08:00:00Z","duration":"72h","mode":"auto","pace":{"points":[{"at":"2026-12-01T08:00:00Z","share":0.3},{"at":"2026-12-01T08:00:01Z","share":0.2}]}}`,
	} {
		f.Add([]byte(s), 0.5, int64(3600))
	}
	f.Fuzz(func(t *testing.T, data []byte, h float64, offset int64) {
		var r cordon.Ramp
		if json.Unmarshal(data, &r) != nil || !r.Auto() {
			return
		}
		sc, err := NewSchedule(&r)
		if err != nil {
			return
		}
		if math.IsNaN(h) || h < 0 || h >= 1 {
			h = math.Abs(math.Mod(h, 1))
			if math.IsNaN(h) {
				h = 0.5
			}
		}
		at := sc.At(h)
		if got := sc.ShareAt(at.Add(time.Microsecond)); got < h-1e-9 {
			t.Fatalf("share %v just after the admission of %v at %v", got, h, at)
		}
		if end, deadline := sc.End(), r.Start.Add(r.Duration); end.After(deadline) && end.After(time.Unix(0, sc.at[len(sc.at)-1])) {
			t.Fatalf("ends at %v, after the max_duration %v and the last point", end, deadline)
		}
		last := -1.0
		base := r.Start.Add(time.Duration(offset%int64(1000*time.Hour/time.Second)) * time.Second)
		for k := range 50 {
			s := sc.ShareAt(base.Add(time.Duration(k) * 17 * time.Minute))
			if s < last || s < 0 || s > 1 || math.IsNaN(s) {
				t.Fatalf("share %v after %v at step %d", s, last, k)
			}
			last = s
		}
	})
}

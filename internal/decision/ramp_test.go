package decision

import (
	"fmt"
	stdfnv "hash/fnv"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestRampHashPinned pins the ramp hash. It must never change: a change
// moves users in and out of every running ramp. The FNV-1a halves are
// checked against the standard library's FNV-1a; the shares and the
// admitted count are the values cordon has always computed.
func TestRampHashPinned(t *testing.T) {
	for _, s := range []string{"", "a", "c-1", "u-3kqabc", "alice"} {
		h := stdfnv.New64a()
		h.Write([]byte(s))
		if got, want := AccountHash(s), h.Sum64(); got != want {
			t.Errorf("AccountHash(%q) = %d, want FNV-1a 64 %d", s, got, want)
		}
		if got, want := Seed(s), h.Sum64(); got != want {
			t.Errorf("Seed(%q) = %d, want FNV-1a 64 %d", s, got, want)
		}
	}
	for _, tc := range []struct {
		campaign, account string
		share             float64
	}{
		{"c-1", "u-1", 0.11663318889732532},
		{"c-may-incident", "u-3kqabc", 0.6966644682920472},
		{"c-x", "alice", 0.0041713268542139526},
	} {
		if got := Share(Seed(tc.campaign), AccountHash(tc.account)); got != tc.share {
			t.Errorf("Share(%s, %s) = %v, want %v", tc.campaign, tc.account, got, tc.share)
		}
	}
	admitted := 0
	for i := range 10000 {
		if Share(Seed("c-ramp"), AccountHash(fmt.Sprintf("u-%d", i))) < 0.25 {
			admitted++
		}
	}
	if admitted != 2457 {
		t.Errorf("a quarter of the way into c-ramp, %d of 10000 users are in, want 2457", admitted)
	}
}

// TestRampedSameSecond: auth_time is known to the second, so a ramped
// admission is rounded up to the next whole second. A session that
// authenticated in the second of its admission is denied; one from the
// next second is allowed. u-1 enters c-1 116.633 s into a 1000 s ramp.
func TestRampedSameSecond(t *testing.T) {
	p := policy(t, active("c-1", cordon.KindReauth, cordon.Cohort{}, ramp(base, 1000*time.Second)))
	now := base.Add(200 * time.Second)
	for _, tc := range []struct {
		name string
		auth time.Duration
		want Outcome
	}{
		{"a second before the admission", 115 * time.Second, Deny},
		{"in the second of the admission, before it", 116*time.Second + 100*time.Millisecond, Deny},
		{"in the second of the admission, after it", 116*time.Second + 900*time.Millisecond, Deny},
		{"the next whole second", 117 * time.Second, Allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &cordon.Session{ID: "s-1", AccountID: "u-1", AuthTime: base.Add(tc.auth), Facts: atLogin}
			if d := Decide(&Input{Session: s, Client: atLogin, Now: now, Policy: p}); d.Outcome != tc.want {
				t.Errorf("decision = %+v, want %v", d, tc.want)
			}
		})
	}
	t.Run("not admitted yet", func(t *testing.T) {
		s := &cordon.Session{ID: "s-1", AccountID: "u-1", AuthTime: base, Facts: atLogin}
		if d := Decide(&Input{Session: s, Client: atLogin, Now: base.Add(116 * time.Second), Policy: p}); d.Outcome != Allow {
			t.Errorf("decision at 116 s = %+v, want allow: u-1 is admitted at 116.633 s", d)
		}
		if d := Decide(&Input{Session: s, Client: atLogin, Now: base.Add(117 * time.Second), Policy: p}); d.Outcome != Deny {
			t.Errorf("decision at 117 s = %+v, want deny", d)
		}
	})
}

package conformance

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func refreshTests() []subtest {
	return []subtest{
		{"Rotate", testRotate},
		{"ReturnsStoredSession", testRotateReturnsStoredSession},
		{"AbsoluteExpiryFromFamily", testRotateKeepsAbsoluteExpiry},
		{"UnknownHash", testRotateUnknown},
		{"ReuseRevokesFamily", testRotateReuse},
		{"Expiry", testRotateExpiry},
		{"RevokedSession", testRotateRevoked},
		{"FailedRotationChangesNothing", testRotateAtomic},
	}
}

func testRotate(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	sess, rt := mustCreateSession(t, s, a.ID, at(0))

	now := at(time.Hour).In(elsewhere())
	next := nextToken(now)
	got, err := s.RotateRefreshToken(ctx, rt.Hash, next, now)
	if err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if got.ID != sess.ID || got.AccountID != a.ID || !got.Live() {
		t.Errorf("RotateRefreshToken: got session %q of account %q, live %t; want %q of %q, live", got.ID, got.AccountID, got.Live(), sess.ID, a.ID)
	}
	var d diff
	d.str("SessionID", next.SessionID, sess.ID)
	d.time("AbsoluteExpiresAt", next.AbsoluteExpiresAt, rt.AbsoluteExpiresAt)
	if !next.IdleExpiresAt.Equal(now.Add(idleTTL)) {
		d = append(d, "IdleExpiresAt moved although it is within the family's absolute expiry")
	}
	if d != nil {
		t.Errorf("next token after RotateRefreshToken: %s", d)
	}

	// The token stored is the one that rotates next, and so on down the family.
	third := mustRotate(t, s, next.Hash, at(2*time.Hour))
	mustRotate(t, s, third.Hash, at(3*time.Hour))
}

// The session returned is the session as stored after the rotation, with
// the same UTC, microsecond times SessionByID gives.
func testRotateReturnsStoredSession(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	sess, rt := mustCreateSession(t, s, a.ID, at(0))
	now := at(time.Hour).In(elsewhere())
	got, err := s.RotateRefreshToken(t.Context(), rt.Hash, nextToken(now), now)
	if err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	if d := sessionDiff(got, mustSession(t, s, sess.ID)); d != "" {
		t.Errorf("RotateRefreshToken returned a session unlike the stored one (got returned, want stored): %s", d)
	}
}

// Rotation never extends the family: the store sets next's absolute expiry
// from the family, whatever the caller put there, and cuts next's idle
// expiry down to it.
func testRotateKeepsAbsoluteExpiry(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	sess := newSession(a.ID, at(0))
	rt := newRefreshToken(sess.ID, at(0))
	end := rt.AbsoluteExpiresAt
	rt.IdleExpiresAt = end // kept alive by use until the family's last hour
	if err := s.CreateSession(ctx, sess, rt); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}

	now := end.Add(-time.Hour)
	next := nextToken(now) // idle: a day, past the family's end
	next.AbsoluteExpiresAt = now.Add(absoluteTTL)
	if _, err := s.RotateRefreshToken(ctx, rt.Hash, next, now); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	var d diff
	d.time("AbsoluteExpiresAt", next.AbsoluteExpiresAt, end)
	if !next.IdleExpiresAt.Equal(end) {
		d = append(d, "IdleExpiresAt: got "+next.IdleExpiresAt.String()+", want "+end.String()+" (clamped to the family's absolute expiry)")
	}
	if d != nil {
		t.Errorf("next token after RotateRefreshToken: %s", d)
	}

	last := nextToken(end.Add(time.Microsecond))
	_, err := s.RotateRefreshToken(ctx, next.Hash, last, end.Add(time.Microsecond))
	checkErr(t, "RotateRefreshToken after the family's absolute expiry", err, cordon.ErrNotFound)
}

func testRotateUnknown(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	mustCreateSession(t, s, a.ID, at(0))
	_, err := s.RotateRefreshToken(t.Context(), newHash(), nextToken(at(time.Hour)), at(time.Hour))
	checkErr(t, "RotateRefreshToken of an unknown hash", err, cordon.ErrNotFound)
}

func testRotateReuse(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	sess, first := mustCreateSession(t, s, a.ID, at(0))
	other, otherRT := mustCreateSession(t, s, a.ID, at(0))
	second := mustRotate(t, s, first.Hash, at(time.Hour))
	before := mustSession(t, s, sess.ID)

	// An attacker replays the first token after the user rotated it.
	replayAt := at(2 * time.Hour).In(elsewhere())
	replayNext := nextToken(replayAt)
	_, err := s.RotateRefreshToken(ctx, first.Hash, replayNext, replayAt)
	checkErr(t, "RotateRefreshToken of a used token", err, cordon.ErrRefreshReused)

	want := withRevoke(before, replayAt, cordon.RevokeRefreshReuse)
	if d := sessionDiff(mustSession(t, s, sess.ID), want); d != "" {
		t.Errorf("session after reuse: %s", d)
	}

	after := []struct {
		name string
		hash []byte
	}{
		{"newer token of the family", second.Hash},
		{"token offered with the replay", replayNext.Hash},
	}
	for _, tt := range after {
		t.Run(tt.name, func(t *testing.T) {
			now := at(3 * time.Hour)
			_, err := s.RotateRefreshToken(t.Context(), tt.hash, nextToken(now), now)
			checkErr(t, "RotateRefreshToken", err, cordon.ErrNotFound)
		})
	}

	t.Run("other family of the account", func(t *testing.T) {
		mustRotate(t, s, otherRT.Hash, at(3*time.Hour))
		if got := mustSession(t, s, other.ID); !got.Live() {
			t.Errorf("another session of the account: got revoked (%q), want live", got.RevokeReason)
		}
	})
}

func testRotateExpiry(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	tests := []struct {
		name string
		// idle and absolute expiry of the first token, from the session's start
		idle, absolute time.Duration
		now            time.Duration
		want           error
	}{
		{"just before idle expiry", idleTTL, absoluteTTL, idleTTL - time.Microsecond, nil},
		{"idle expired", idleTTL, absoluteTTL, idleTTL + time.Microsecond, cordon.ErrNotFound},
		{"long idle expired", idleTTL, absoluteTTL, 10 * idleTTL, cordon.ErrNotFound},
		// The absolute expiry binds even a token whose idle expiry lies beyond it.
		{"just before absolute expiry", 2 * idleTTL, idleTTL, idleTTL - time.Microsecond, nil},
		{"absolute expired", 2 * idleTTL, idleTTL, idleTTL + time.Microsecond, cordon.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			sess := newSession(a.ID, at(0))
			rt := newRefreshToken(sess.ID, at(0))
			rt.IdleExpiresAt, rt.AbsoluteExpiresAt = at(tt.idle), at(tt.absolute)
			if err := s.CreateSession(ctx, sess, rt); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			now := at(tt.now)
			_, err := s.RotateRefreshToken(ctx, rt.Hash, nextToken(now), now)
			checkErr(t, "RotateRefreshToken", err, tt.want)
			if tt.want == nil {
				return
			}
			// An expired token is not a used one: trying again is no reuse,
			// and the session stays as it was.
			_, err = s.RotateRefreshToken(ctx, rt.Hash, nextToken(now), now)
			checkErr(t, "RotateRefreshToken again", err, tt.want)
			if d := sessionDiff(mustSession(t, s, sess.ID), sess); d != "" {
				t.Errorf("session after an expired token: %s", d)
			}
		})
	}
}

func testRotateRevoked(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	tests := []struct {
		name   string
		revoke func(t *testing.T, sess *cordon.Session)
	}{
		{"RevokeSession", func(t *testing.T, sess *cordon.Session) {
			if err := s.RevokeSession(t.Context(), sess.ID, cordon.RevokeLogout, at(time.Hour)); err != nil {
				t.Fatalf("RevokeSession: %v", err)
			}
		}},
		{"RevokeAccountSessions", func(t *testing.T, sess *cordon.Session) {
			if _, err := s.RevokeAccountSessions(t.Context(), a.ID, "", cordon.RevokeLogout, at(time.Hour)); err != nil {
				t.Fatalf("RevokeAccountSessions: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, rt := mustCreateSession(t, s, a.ID, at(0))
			tt.revoke(t, sess)
			now := at(2 * time.Hour)
			_, err := s.RotateRefreshToken(t.Context(), rt.Hash, nextToken(now), now)
			checkErr(t, "RotateRefreshToken of a revoked session", err, cordon.ErrNotFound)
			want := withRevoke(sess, at(time.Hour), cordon.RevokeLogout)
			if d := sessionDiff(mustSession(t, s, sess.ID), want); d != "" {
				t.Errorf("revoked session after RotateRefreshToken: %s", d)
			}
		})
	}
}

// A rotation that cannot store next leaves old unused and the session live.
func testRotateAtomic(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	sess, rt := mustCreateSession(t, s, a.ID, at(0))
	_, taken := mustCreateSession(t, s, a.ID, at(0))

	now := at(time.Hour)
	clash := nextToken(now)
	clash.Hash = taken.Hash
	_, err := s.RotateRefreshToken(ctx, rt.Hash, clash, now)
	checkErr(t, "RotateRefreshToken to a taken hash", err, cordon.ErrAlreadyExists)

	mustRotate(t, s, rt.Hash, now)
	if got := mustSession(t, s, sess.ID); !got.Live() {
		t.Errorf("session after a failed rotation: got revoked (%q), want live", got.RevokeReason)
	}
}

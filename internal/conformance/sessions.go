package conformance

import (
	"slices"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func sessionTests() []subtest {
	return []subtest{
		{"CreateAndByID", testCreateSession},
		{"DuplicateID", testDuplicateSessionID},
		{"DuplicateRefreshHashStoresNothing", testDuplicateRefreshHash},
		{"ByIDNotFound", testSessionNotFound},
		{"ListLiveNewestFirst", testListSessions},
		{"ListUnknownAccount", testListSessionsUnknownAccount},
		{"SinceKeepsThoseEndedAfter", testSessionsSince},
		{"UpdateFacts", testUpdateSessionFacts},
		{"UpdateFactsNotFound", testUpdateSessionFactsNotFound},
		{"RevokeKeepsFirstReason", testRevokeSession},
		{"RevokeNotFound", testRevokeSessionNotFound},
		{"RevokeAccountSessions", testRevokeAccountSessions},
	}
}

func testCreateSession(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	want := newSession(a.ID, at(time.Minute))
	want.AuthTime = at(0) // proved the password before this session began
	want.LastSeenAt = at(2 * time.Minute)
	if err := s.CreateSession(t.Context(), want, newRefreshToken(want.ID, want.CreatedAt)); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got := mustSession(t, s, want.ID)
	if d := sessionDiff(got, want); d != "" {
		t.Errorf("SessionByID(%q): %s", want.ID, d)
	}
	if !got.Live() {
		t.Errorf("new session: got Live() false, want true")
	}
}

func testDuplicateSessionID(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	first, _ := mustCreateSession(t, s, a.ID, at(0))
	dup := newSession(a.ID, at(time.Hour))
	dup.ID = first.ID
	err := s.CreateSession(t.Context(), dup, newRefreshToken(dup.ID, dup.CreatedAt))
	checkErr(t, "CreateSession with a taken id", err, cordon.ErrAlreadyExists)
	if d := sessionDiff(mustSession(t, s, first.ID), first); d != "" {
		t.Errorf("first session after the refused duplicate: %s", d)
	}
}

// The session and its first token are one transaction: when the token
// cannot be stored, neither is the session.
func testDuplicateRefreshHash(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	_, rt := mustCreateSession(t, s, a.ID, at(0))
	sess := newSession(a.ID, at(time.Hour))
	dup := newRefreshToken(sess.ID, sess.CreatedAt)
	dup.Hash = rt.Hash
	checkErr(t, "CreateSession with a taken refresh hash", s.CreateSession(ctx, sess, dup), cordon.ErrAlreadyExists)
	_, err := s.SessionByID(ctx, sess.ID)
	checkErr(t, "SessionByID of the refused session", err, cordon.ErrNotFound)
}

func testSessionNotFound(t *testing.T, s cordon.Store) {
	_, err := s.SessionByID(t.Context(), cordon.NewID("s"))
	checkErr(t, "SessionByID", err, cordon.ErrNotFound)
}

func testListSessions(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	alice := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	// Created out of order, so a backend that lists in insertion order fails.
	middle, _ := mustCreateSession(t, s, alice.ID, at(time.Hour))
	oldest, _ := mustCreateSession(t, s, alice.ID, at(0))
	newest, _ := mustCreateSession(t, s, alice.ID, at(3*time.Hour))
	revoked, _ := mustCreateSession(t, s, alice.ID, at(2*time.Hour))
	mustCreateSession(t, s, bob.ID, at(4*time.Hour))
	if err := s.RevokeSession(ctx, revoked.ID, cordon.RevokeLogout, at(5*time.Hour)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}

	got, err := s.ListSessions(ctx, alice.ID)
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	want := []*cordon.Session{newest, middle, oldest}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("ListSessions: got ids %q, want %q (live, newest first)", ids(got), ids(want))
	}
	for i := range want {
		if d := sessionDiff(got[i], want[i]); d != "" {
			t.Errorf("ListSessions[%d]: %s", i, d)
		}
	}
}

func testSessionsSince(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	alice := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	live, _ := mustCreateSession(t, s, alice.ID, at(0))
	endedBefore, _ := mustCreateSession(t, s, alice.ID, at(time.Hour))
	endedAt, _ := mustCreateSession(t, s, alice.ID, at(2*time.Hour))
	endedAfter, _ := mustCreateSession(t, s, alice.ID, at(3*time.Hour))
	mustCreateSession(t, s, bob.ID, at(4*time.Hour))
	since := at(10 * time.Hour)
	for _, r := range []struct {
		id   string
		when time.Time
	}{{endedBefore.ID, since.Add(-time.Microsecond)}, {endedAt.ID, since}, {endedAfter.ID, since.Add(time.Hour)}} {
		if err := s.RevokeSession(ctx, r.id, cordon.RevokeUser, r.when); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
	}
	got, err := s.SessionsSince(ctx, alice.ID, since)
	if err != nil {
		t.Fatalf("SessionsSince: %v", err)
	}
	if want := []string{endedAfter.ID, endedAt.ID, live.ID}; !slices.Equal(ids(got), want) {
		t.Fatalf("SessionsSince: got ids %q, want %q (live or ended at or after since, newest first)", ids(got), want)
	}
	if !got[2].Live() || got[0].Live() || !got[1].RevokedAt.Equal(since) {
		t.Errorf("SessionsSince: the sessions' revocations were not kept: %+v", got)
	}
	if none, err := s.SessionsSince(ctx, cordon.NewID("u"), since); err != nil || len(none) != 0 {
		t.Errorf("SessionsSince of an unknown account: got %d sessions, %v; want none, nil", len(none), err)
	}
}

func testListSessionsUnknownAccount(t *testing.T, s cordon.Store) {
	got, err := s.ListSessions(t.Context(), cordon.NewID("u"))
	if err != nil || len(got) != 0 {
		t.Errorf("ListSessions of an unknown account: got %d sessions, %v; want none, nil", len(got), err)
	}
}

func ids(ss []*cordon.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func testUpdateSessionFacts(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	sess, _ := mustCreateSession(t, s, a.ID, at(0))
	facts := cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.5.0", Source: cordon.SourcePlay, Device: sess.Facts.Device}
	seen := at(time.Hour).In(elsewhere())
	if err := s.UpdateSessionFacts(t.Context(), sess.ID, facts, seen); err != nil {
		t.Fatalf("UpdateSessionFacts: %v", err)
	}
	want := *sess
	want.Facts = facts
	want.LastSeenAt = seen
	if d := sessionDiff(mustSession(t, s, sess.ID), &want); d != "" {
		t.Errorf("SessionByID after UpdateSessionFacts: %s", d)
	}
}

func testUpdateSessionFactsNotFound(t *testing.T, s cordon.Store) {
	err := s.UpdateSessionFacts(t.Context(), cordon.NewID("s"), cordon.UnknownClient, at(0))
	checkErr(t, "UpdateSessionFacts", err, cordon.ErrNotFound)
}

func testRevokeSession(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	sess, _ := mustCreateSession(t, s, a.ID, at(0))
	revokes := []struct {
		name   string
		reason string
		at     time.Time
	}{
		{"first", cordon.RevokeLogout, at(time.Hour)},
		{"again", cordon.RevokeAdmin, at(2 * time.Hour)},
		{"again with the first reason", cordon.RevokeLogout, at(3 * time.Hour)},
	}
	want := *sess
	want.RevokedAt = revokes[0].at
	want.RevokeReason = revokes[0].reason
	for _, r := range revokes {
		t.Run(r.name, func(t *testing.T) {
			if err := s.RevokeSession(ctx, sess.ID, r.reason, r.at); err != nil {
				t.Fatalf("RevokeSession(%q): got error %v, want nil", r.reason, err)
			}
			got := mustSession(t, s, sess.ID)
			if d := sessionDiff(got, &want); d != "" {
				t.Errorf("SessionByID after RevokeSession(%q): %s", r.reason, d)
			}
			if got.Live() {
				t.Errorf("revoked session: got Live() true, want false")
			}
		})
	}
}

func testRevokeSessionNotFound(t *testing.T, s cordon.Store) {
	err := s.RevokeSession(t.Context(), cordon.NewID("s"), cordon.RevokeLogout, at(0))
	checkErr(t, "RevokeSession", err, cordon.ErrNotFound)
}

func testRevokeAccountSessions(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	alice := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	s1, _ := mustCreateSession(t, s, alice.ID, at(0))
	kept, _ := mustCreateSession(t, s, alice.ID, at(time.Hour))
	s3, _ := mustCreateSession(t, s, alice.ID, at(2*time.Hour))
	loggedOut, _ := mustCreateSession(t, s, alice.ID, at(3*time.Hour))
	bobs, _ := mustCreateSession(t, s, bob.ID, at(4*time.Hour))
	if err := s.RevokeSession(ctx, loggedOut.ID, cordon.RevokeLogout, at(5*time.Hour)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}

	calls := []struct {
		name     string
		exceptID string
		at       time.Time
		want     []*cordon.Session
	}{
		{"all but the current session", kept.ID, at(6 * time.Hour), []*cordon.Session{s1, s3}},
		{"no exception", "", at(7 * time.Hour), []*cordon.Session{kept}},
		{"nothing left", "", at(8 * time.Hour), nil},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.RevokeAccountSessions(ctx, alice.ID, c.exceptID, cordon.RevokePasswordChange, c.at)
			if err != nil {
				t.Fatalf("RevokeAccountSessions: %v", err)
			}
			slices.Sort(got)
			want := ids(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("RevokeAccountSessions: got ids %q, want %q", got, want)
			}
			for _, sess := range c.want {
				got := mustSession(t, s, sess.ID)
				if !got.RevokedAt.Equal(c.at) || got.RevokeReason != cordon.RevokePasswordChange {
					t.Errorf("session %s: got revoked at %v for %q, want %v for %q", sess.ID, got.RevokedAt, got.RevokeReason, c.at, cordon.RevokePasswordChange)
				}
			}
		})
	}

	untouched := []struct {
		name string
		want *cordon.Session
	}{
		{"already revoked keeps its reason", withRevoke(loggedOut, at(5*time.Hour), cordon.RevokeLogout)},
		{"another account's session", bobs},
	}
	for _, u := range untouched {
		t.Run(u.name, func(t *testing.T) {
			if d := sessionDiff(mustSession(t, s, u.want.ID), u.want); d != "" {
				t.Errorf("SessionByID(%q): %s", u.want.ID, d)
			}
		})
	}
}

func withRevoke(s *cordon.Session, when time.Time, reason string) *cordon.Session {
	c := *s
	c.RevokedAt, c.RevokeReason = when, reason
	return &c
}

package conformance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func fleetTests() []subtest {
	return []subtest{
		{"EmptyStore", testFleetEmpty},
		{"BucketsFollowSessionWrites", testBuckets},
		{"SessionsOf", testSessionsOf},
		{"LiveSessions", testLiveSessions},
		{"LiveSessionsStopsOnError", testLiveSessionsStop},
		{"RecordBlocked", testRecordBlocked},
		{"RecordSatisfied", testRecordSatisfied},
		{"ProgressNothingRecorded", testProgressEmpty},
		{"UnknownCampaign", testProgressUnknownCampaign},
	}
}

// fleetConcurrencyTests are run by RunConcurrencyTests.
func fleetConcurrencyTests() []subtest {
	return []subtest{
		{"RecordProgressRace", testRecordRace},
		{"ActivateOneCampaignRace", testActivateRace},
		{"BucketsUnderConcurrentWriters", testBucketsRace},
	}
}

// fleet returns s as a FleetStore; every backend must be one.
func fleet(t *testing.T, s cordon.Store) cordon.FleetStore {
	t.Helper()
	fs, ok := s.(cordon.FleetStore)
	if !ok {
		t.Fatalf("%T does not implement cordon.FleetStore", s)
	}
	return fs
}

// Client facts of the fixtures' sessions, three buckets apart.
var (
	androidPlay  = cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.4.1", Source: cordon.SourcePlay}
	iosAppStore  = cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore}
	desktopSite  = cordon.ClientFacts{Platform: cordon.PlatformDesktop, Version: "8.3.0", Source: cordon.SourceOfficial}
	androidNewer = cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.5.0", Source: cordon.SourcePlay}
)

// utcDay is the UTC midnight of t's day, as buckets give it.
func utcDay(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

// createSessionWith stores a session of the account with the facts (and a
// fresh device id) that last proved the password at auth.
func createSessionWith(t *testing.T, s cordon.Store, accountID string, f cordon.ClientFacts, auth time.Time) (*cordon.Session, *cordon.RefreshToken) {
	t.Helper()
	sess, rt, err := newSessionWith(t.Context(), s, accountID, f, auth)
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess, rt
}

func newSessionWith(ctx context.Context, s cordon.Store, accountID string, f cordon.ClientFacts, auth time.Time) (*cordon.Session, *cordon.RefreshToken, error) {
	sess := newSession(accountID, at(0))
	f.Device = sess.Facts.Device
	sess.Facts, sess.AuthTime = f, auth
	rt := newRefreshToken(sess.ID, sess.CreatedAt)
	return sess, rt, s.CreateSession(ctx, sess, rt)
}

func bucket(f cordon.ClientFacts, day time.Time, sessions, users int64) cordon.Bucket {
	return cordon.Bucket{Platform: f.Platform, Version: f.Version, Source: f.Source, AuthDay: day, Sessions: sessions, Users: users}
}

func sortBuckets(bs []cordon.Bucket) {
	slices.SortFunc(bs, func(a, b cordon.Bucket) int {
		return cmp.Or(cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Source, b.Source), a.AuthDay.Compare(b.AuthDay))
	})
}

func formatBuckets(bs []cordon.Bucket) string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%s/%s/%s/%s: %d sessions, %d users", b.Platform, b.Version, b.Source, b.AuthDay.Format(time.DateOnly), b.Sessions, b.Users))
	}
	return "[" + strings.Join(out, "; ") + "]"
}

// checkBuckets wants exactly the buckets want, in any order, and a live
// session count that is their sum.
func checkBuckets(t *testing.T, fs cordon.FleetStore, want []cordon.Bucket) {
	t.Helper()
	got, err := fs.Buckets(t.Context())
	if err != nil {
		t.Fatalf("Buckets: %v", err)
	}
	got, want = slices.Clone(got), slices.Clone(want)
	sortBuckets(got)
	sortBuckets(want)
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = g.Platform == w.Platform && g.Version == w.Version && g.Source == w.Source &&
			g.AuthDay.Equal(w.AuthDay) && g.AuthDay.Location() == time.UTC && g.Sessions == w.Sessions && g.Users == w.Users
	}
	if !same {
		t.Errorf("Buckets:\ngot  %s\nwant %s", formatBuckets(got), formatBuckets(want))
	}
	var sum int64
	for _, b := range want {
		sum += b.Sessions
	}
	if n, err := fs.LiveSessionCount(t.Context()); err != nil || n != sum {
		t.Errorf("LiveSessionCount: got %d, %v; want %d, nil", n, err, sum)
	}
}

func testFleetEmpty(t *testing.T, s cordon.Store) {
	fs := fleet(t, s)
	checkBuckets(t, fs, nil)
	got, err := fs.SessionsOf(t.Context(), []string{cordon.NewID("u")})
	if err != nil || len(got) != 0 {
		t.Errorf("SessionsOf on an empty store: got %q, %v; want none, nil", ids(got), err)
	}
}

// testBuckets runs session writes one after another and wants the buckets
// exact after each: sessions entered, left, moved, or left alone.
func testBuckets(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	fs := fleet(t, s)
	alice := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	carol := mustCreateAccount(t, s, "carol")

	day0 := utcDay(at(0))
	day1 := day0.Add(24 * time.Hour)
	yesterday := day0.Add(-24 * time.Hour)
	// Late on day0 in UTC, already the next day where it is given; and
	// early on day0 where it is given, still the day before in UTC.
	late := day0.Add(23*time.Hour + 30*time.Minute).In(elsewhere())
	early := day0.Add(-30 * time.Minute).In(elsewhere())

	a1, _ := createSessionWith(t, s, alice.ID, androidPlay, at(0))
	a2, _ := createSessionWith(t, s, alice.ID, androidPlay, late)
	a3, _ := createSessionWith(t, s, alice.ID, iosAppStore, at(0))
	_, b1Token := createSessionWith(t, s, bob.ID, androidPlay, at(0))
	b2, _ := createSessionWith(t, s, bob.ID, androidPlay, at(24*time.Hour))
	createSessionWith(t, s, carol.ID, desktopSite, early)

	steps := []struct {
		name string
		do   func(t *testing.T)
		want []cordon.Bucket
	}{
		{"created", func(t *testing.T) {}, []cordon.Bucket{
			bucket(androidPlay, day0, 3, 2), // two of alice's, one of bob's
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"revoke one of two sessions of an account in a bucket", func(t *testing.T) {
			if err := s.RevokeSession(ctx, a1.ID, cordon.RevokeLogout, at(time.Hour)); err != nil {
				t.Fatalf("RevokeSession: %v", err)
			}
		}, []cordon.Bucket{
			bucket(androidPlay, day0, 2, 2),
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"revoke it again", func(t *testing.T) {
			if err := s.RevokeSession(ctx, a1.ID, cordon.RevokeAdmin, at(2*time.Hour)); err != nil {
				t.Fatalf("RevokeSession: %v", err)
			}
		}, []cordon.Bucket{
			bucket(androidPlay, day0, 2, 2),
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"facts update moves a session", func(t *testing.T) {
			f := androidNewer
			f.Device = a2.Facts.Device
			if err := s.UpdateSessionFacts(ctx, a2.ID, f, at(3*time.Hour)); err != nil {
				t.Fatalf("UpdateSessionFacts: %v", err)
			}
		}, []cordon.Bucket{
			bucket(androidPlay, day0, 1, 1),
			bucket(androidNewer, day0, 1, 1),
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"facts update within the bucket", func(t *testing.T) {
			f := androidNewer
			f.Device = "d-new-device"
			if err := s.UpdateSessionFacts(ctx, a2.ID, f, at(4*time.Hour)); err != nil {
				t.Fatalf("UpdateSessionFacts: %v", err)
			}
		}, []cordon.Bucket{
			bucket(androidPlay, day0, 1, 1),
			bucket(androidNewer, day0, 1, 1),
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"facts update of a revoked session", func(t *testing.T) {
			if err := s.UpdateSessionFacts(ctx, a1.ID, iosAppStore, at(5*time.Hour)); err != nil {
				t.Fatalf("UpdateSessionFacts: %v", err)
			}
		}, []cordon.Bucket{
			bucket(androidPlay, day0, 1, 1),
			bucket(androidNewer, day0, 1, 1),
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"refresh reuse revokes a session", func(t *testing.T) {
			mustRotate(t, s, b1Token.Hash, at(6*time.Hour))
			_, err := s.RotateRefreshToken(ctx, b1Token.Hash, nextToken(at(7*time.Hour)), at(7*time.Hour))
			checkErr(t, "RotateRefreshToken of a used token", err, cordon.ErrRefreshReused)
		}, []cordon.Bucket{
			bucket(androidNewer, day0, 1, 1),
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"revoke an account's sessions but one", func(t *testing.T) {
			if _, err := s.RevokeAccountSessions(ctx, alice.ID, a3.ID, cordon.RevokePasswordChange, at(8*time.Hour)); err != nil {
				t.Fatalf("RevokeAccountSessions: %v", err)
			}
		}, []cordon.Bucket{
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"a new session", func(t *testing.T) {
			createSessionWith(t, s, carol.ID, desktopSite, early)
			createSessionWith(t, s, bob.ID, desktopSite, early)
		}, []cordon.Bucket{
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 3, 2),
		}},
		{"revoke every session of an account", func(t *testing.T) {
			if _, err := s.RevokeAccountSessions(ctx, carol.ID, "", cordon.RevokeAdmin, at(9*time.Hour)); err != nil {
				t.Fatalf("RevokeAccountSessions: %v", err)
			}
		}, []cordon.Bucket{
			bucket(androidPlay, day1, 1, 1),
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"revoke the last of a bucket", func(t *testing.T) {
			if err := s.RevokeSession(ctx, b2.ID, cordon.RevokeLogout, at(10*time.Hour)); err != nil {
				t.Fatalf("RevokeSession: %v", err)
			}
		}, []cordon.Bucket{
			bucket(iosAppStore, day0, 1, 1),
			bucket(desktopSite, yesterday, 1, 1),
		}},
		{"revoke everything", func(t *testing.T) {
			for _, a := range []*cordon.Account{alice, bob, carol} {
				if _, err := s.RevokeAccountSessions(ctx, a.ID, "", cordon.RevokeAdmin, at(11*time.Hour)); err != nil {
					t.Fatalf("RevokeAccountSessions: %v", err)
				}
			}
		}, nil},
	}
	for _, st := range steps {
		// Each step builds on the last: stop at the first that fails.
		if !t.Run(st.name, func(t *testing.T) {
			st.do(t)
			checkBuckets(t, fs, st.want)
		}) {
			return
		}
	}
}

func testSessionsOf(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	fs := fleet(t, s)
	alice := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	carol := mustCreateAccount(t, s, "carol")
	mustCreateAccount(t, s, "dave") // no sessions
	a1, _ := createSessionWith(t, s, alice.ID, androidPlay, at(0))
	a2, _ := createSessionWith(t, s, alice.ID, iosAppStore, at(time.Hour))
	gone, _ := createSessionWith(t, s, alice.ID, iosAppStore, at(2*time.Hour))
	b1, _ := createSessionWith(t, s, bob.ID, desktopSite, at(0))
	c1, _ := createSessionWith(t, s, carol.ID, androidPlay, at(0))
	if err := s.RevokeSession(ctx, gone.ID, cordon.RevokeLogout, at(3*time.Hour)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}

	// More accounts than one IN list holds, the known ones spread out.
	many := make([]string, 1200)
	for i := range many {
		many[i] = cordon.NewID("u")
	}
	many[0], many[700], many[1199] = alice.ID, bob.ID, carol.ID

	tests := []struct {
		name     string
		accounts []string
		want     []*cordon.Session
	}{
		{"one account", []string{alice.ID}, []*cordon.Session{a1, a2}},
		{"several, one unknown", []string{carol.ID, cordon.NewID("u"), alice.ID}, []*cordon.Session{a1, a2, c1}},
		{"repeated", []string{bob.ID, bob.ID}, []*cordon.Session{b1}},
		{"without sessions", []string{mustAccountByName(t, s, "dave").ID}, nil},
		{"none", nil, nil},
		{"more than 500", many, []*cordon.Session{a1, a2, b1, c1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fs.SessionsOf(ctx, tt.accounts)
			if err != nil {
				t.Fatalf("SessionsOf: %v", err)
			}
			checkSessionSet(t, "SessionsOf", got, tt.want)
		})
	}
}

func mustAccountByName(t *testing.T, s cordon.Store, username string) *cordon.Account {
	t.Helper()
	a, err := s.AccountByUsername(t.Context(), username)
	if err != nil {
		t.Fatalf("AccountByUsername(%q): %v", username, err)
	}
	return a
}

// checkSessionSet wants the sessions want, in any order, each as stored.
func checkSessionSet(t *testing.T, op string, got, want []*cordon.Session) {
	t.Helper()
	byID := func(a, b *cordon.Session) int { return cmp.Compare(a.ID, b.ID) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("%s: got ids %q, want %q", op, ids(got), ids(want))
	}
	for i := range want {
		if d := sessionDiff(got[i], want[i]); d != "" {
			t.Errorf("%s: session %s: %s", op, want[i].ID, d)
		}
	}
}

func testLiveSessions(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	fs := fleet(t, s)
	alice := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	a1, _ := createSessionWith(t, s, alice.ID, androidPlay, at(0))
	gone, _ := createSessionWith(t, s, alice.ID, iosAppStore, at(0))
	b1, _ := createSessionWith(t, s, bob.ID, desktopSite, at(time.Hour))
	b2, _ := createSessionWith(t, s, bob.ID, desktopSite, at(2*time.Hour))
	if err := s.RevokeSession(ctx, gone.ID, cordon.RevokeLogout, at(3*time.Hour)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	var got []*cordon.Session
	if err := fs.LiveSessions(ctx, func(sess *cordon.Session) error {
		got = append(got, sess)
		return nil
	}); err != nil {
		t.Fatalf("LiveSessions: %v", err)
	}
	checkSessionSet(t, "LiveSessions", got, []*cordon.Session{a1, b1, b2})
}

func testLiveSessionsStop(t *testing.T, s cordon.Store) {
	fs := fleet(t, s)
	a := mustCreateAccount(t, s, "alice")
	for range 3 {
		createSessionWith(t, s, a.ID, androidPlay, at(0))
	}
	errStop := errors.New("stop")
	calls := 0
	err := fs.LiveSessions(t.Context(), func(*cordon.Session) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("LiveSessions with a callback that fails: got error %v after %d calls, want %v after 1", err, calls, errStop)
	}
}

func mustProgress(t *testing.T, fs cordon.FleetStore, campaignID string) cordon.Progress {
	t.Helper()
	p, err := fs.Progress(t.Context(), campaignID)
	if err != nil {
		t.Fatalf("Progress(%q): %v", campaignID, err)
	}
	return p
}

func testRecordBlocked(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	cs, fs := campaigns(t, s), fleet(t, s)
	c1 := mustCreateCampaign(t, cs, newCampaign("one", at(0)))
	c2 := mustCreateCampaign(t, cs, newCampaign("two", at(0)))
	alice, bob := cordon.NewID("u"), cordon.NewID("u")
	s1, s2, s3 := cordon.NewID("s"), cordon.NewID("s"), cordon.NewID("s")
	calls := []struct {
		name      string
		campaign  string
		session   string
		account   string
		wantFirst bool
	}{
		{"first block of a session", c1.ID, s1, alice, true},
		{"the same session again", c1.ID, s1, alice, false},
		{"another session of the account", c1.ID, s2, alice, true},
		{"another account", c1.ID, s3, bob, true},
		{"the second again", c1.ID, s2, alice, false},
		{"the same session in another campaign", c2.ID, s1, alice, true},
	}
	for i, c := range calls {
		first, err := fs.RecordBlocked(ctx, c.campaign, c.session, c.account, at(time.Duration(i)*time.Minute))
		if err != nil || first != c.wantFirst {
			t.Errorf("RecordBlocked, %s: got %t, %v; want %t, nil", c.name, first, err, c.wantFirst)
		}
	}
	tests := []struct {
		campaign string
		want     cordon.Progress
	}{
		{c1.ID, cordon.Progress{BlockedSessions: 3, BlockedUsers: 2}},
		{c2.ID, cordon.Progress{BlockedSessions: 1, BlockedUsers: 1}},
	}
	for _, tt := range tests {
		if got := mustProgress(t, fs, tt.campaign); got != tt.want {
			t.Errorf("Progress(%q): got %+v, want %+v", tt.campaign, got, tt.want)
		}
	}
}

// An account counts as satisfied once per campaign, and only once the
// campaign has blocked it: SatisfiedUsers never exceeds BlockedUsers.
func testRecordSatisfied(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	cs, fs := campaigns(t, s), fleet(t, s)
	c1 := mustCreateCampaign(t, cs, newCampaign("one", at(0)))
	c2 := mustCreateCampaign(t, cs, newCampaign("two", at(0)))
	alice, bob := cordon.NewID("u"), cordon.NewID("u")
	calls := []struct {
		name      string
		block     bool // RecordBlocked a new session of the account, else RecordSatisfied
		campaign  string
		account   string
		wantFirst bool
	}{
		{"never blocked", false, c1.ID, alice, false},
		{"block", true, c1.ID, alice, true},
		{"first time", false, c1.ID, alice, true},
		{"again", false, c1.ID, alice, false},
		{"blocked by another campaign only", false, c2.ID, alice, false},
		{"block in the other campaign", true, c2.ID, alice, true},
		{"in the other campaign", false, c2.ID, alice, true},
		{"block another account", true, c1.ID, bob, true},
		{"another account", false, c1.ID, bob, true},
		{"again in the other campaign", false, c2.ID, alice, false},
	}
	for i, c := range calls {
		var first bool
		var err error
		if c.block {
			first, err = fs.RecordBlocked(ctx, c.campaign, cordon.NewID("s"), c.account, at(time.Duration(i)*time.Minute))
		} else {
			first, err = fs.RecordSatisfied(ctx, c.campaign, c.account, at(time.Duration(i)*time.Minute))
		}
		if err != nil || first != c.wantFirst {
			t.Errorf("step %d, %s: got %t, %v; want %t, nil", i, c.name, first, err, c.wantFirst)
		}
	}
	tests := []struct {
		campaign string
		want     cordon.Progress
	}{
		{c1.ID, cordon.Progress{BlockedSessions: 2, BlockedUsers: 2, SatisfiedUsers: 2}},
		{c2.ID, cordon.Progress{BlockedSessions: 1, BlockedUsers: 1, SatisfiedUsers: 1}},
	}
	for _, tt := range tests {
		if got := mustProgress(t, fs, tt.campaign); got != tt.want {
			t.Errorf("Progress(%q): got %+v, want %+v", tt.campaign, got, tt.want)
		}
	}
}

func testProgressEmpty(t *testing.T, s cordon.Store) {
	c := mustCreateCampaign(t, campaigns(t, s), newCampaign("quiet", at(0)))
	if got := mustProgress(t, fleet(t, s), c.ID); got != (cordon.Progress{}) {
		t.Errorf("Progress of a campaign with nothing recorded: got %+v, want zero", got)
	}
}

// Progress is kept for stored campaigns only: recording for, or reading,
// an unknown campaign is ErrNotFound.
func testProgressUnknownCampaign(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	fs := fleet(t, s)
	id := cordon.NewID("c")
	_, err := fs.RecordBlocked(ctx, id, cordon.NewID("s"), cordon.NewID("u"), at(0))
	checkErr(t, "RecordBlocked", err, cordon.ErrNotFound)
	_, err = fs.RecordSatisfied(ctx, id, cordon.NewID("u"), at(0))
	checkErr(t, "RecordSatisfied", err, cordon.ErrNotFound)
	_, err = fs.Progress(ctx, id)
	checkErr(t, "Progress", err, cordon.ErrNotFound)
}

// testRecordRace records blocks of 8 sessions of 4 accounts, and the
// satisfaction of those accounts, from 32 callers at once: each is first
// exactly once and the counters are exact.
func testRecordRace(t *testing.T, s cordon.Store) {
	const n, sessions, accounts = 32, 8, 4
	ctx := t.Context()
	cs, fs := campaigns(t, s), fleet(t, s)
	c := mustCreateCampaign(t, cs, newCampaign("race", at(0)))
	sessionIDs, accountIDs := make([]string, sessions), make([]string, accounts)
	for i := range sessionIDs {
		sessionIDs[i] = cordon.NewID("s")
	}
	for i := range accountIDs {
		accountIDs[i] = cordon.NewID("u")
	}
	blocked, satisfied := make([]bool, n), make([]bool, n)
	errs := race(n, func(i int) error {
		var err error
		if blocked[i], err = fs.RecordBlocked(ctx, c.ID, sessionIDs[i%sessions], accountIDs[i%sessions%accounts], at(0)); err != nil {
			return fmt.Errorf("RecordBlocked: %w", err)
		}
		if satisfied[i], err = fs.RecordSatisfied(ctx, c.ID, accountIDs[i%accounts], at(time.Minute)); err != nil {
			return fmt.Errorf("RecordSatisfied: %w", err)
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	count := func(bs []bool) (n int) {
		for _, b := range bs {
			if b {
				n++
			}
		}
		return n
	}
	if got := count(blocked); got != sessions {
		t.Errorf("RecordBlocked reported a first block %d times, want %d (once per session)", got, sessions)
	}
	if got := count(satisfied); got != accounts {
		t.Errorf("RecordSatisfied reported a first time %d times, want %d (once per account)", got, accounts)
	}
	want := cordon.Progress{BlockedSessions: sessions, BlockedUsers: accounts, SatisfiedUsers: accounts}
	if got := mustProgress(t, fs, c.ID); got != want {
		t.Errorf("Progress: got %+v, want %+v", got, want)
	}
}

// testActivateRace activates one draft from 16 callers at once: one wins,
// the rest meet a conflict, and the policy version moves once.
func testActivateRace(t *testing.T, s cordon.Store) {
	const n = 16
	ctx := t.Context()
	cs := campaigns(t, s)
	c := mustCreateCampaign(t, cs, newCampaign("race", at(0)))
	before := mustPolicyVersion(t, cs)
	activate := moveOf(t, "activate")
	versions := make([]uint64, n)
	errs := race(n, func(i int) error {
		var err error
		_, versions[i], err = cs.TransitionCampaign(ctx, c.ID, activate.from, activate.to, trailEntry("activate", at(time.Duration(i+1)*time.Minute)))
		return err
	})
	wins := 0
	var won uint64
	for i, err := range errs {
		switch code := cordon.ErrorCode(err); {
		case err == nil:
			wins++
			won = versions[i]
		case code != cordon.ECodeConflict:
			t.Errorf("activation %d: got error %v, want nil or code %q", i, err, cordon.ECodeConflict)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d activations of one draft succeeded, want exactly 1", wins, n)
	}
	if after := mustPolicyVersion(t, cs); won <= before || after != won {
		t.Errorf("policy version: %d before, winner got %d, %d after; want the winner's above the first and kept", before, won, after)
	}
	if trail, err := cs.Trail(ctx, c.ID); err != nil || len(trail) != 2 {
		t.Errorf("Trail: got %d entries, %v; want 2 (create, activate), nil", len(trail), err)
	}
}

// testBucketsRace has 16 callers each log an account in on four sessions
// sharing buckets with the others', then replay a refresh token, move,
// revoke and mass-revoke, all at once; the buckets must then equal a
// recount of the live sessions.
func testBucketsRace(t *testing.T, s cordon.Store) {
	const n = 16
	ctx := t.Context()
	fs := fleet(t, s)
	facts := []cordon.ClientFacts{androidPlay, iosAppStore, desktopSite}
	errs := race(n, func(i int) error {
		a := newAccount(fmt.Sprintf("user-%02d", i))
		if err := s.CreateAccount(ctx, a); err != nil {
			return fmt.Errorf("CreateAccount: %w", err)
		}
		var sess []*cordon.Session
		var tokens []*cordon.RefreshToken
		for j := range 4 {
			ss, rt, err := newSessionWith(ctx, s, a.ID, facts[(i+j)%len(facts)], at(time.Duration(j)*12*time.Hour))
			if err != nil {
				return fmt.Errorf("CreateSession: %w", err)
			}
			sess, tokens = append(sess, ss), append(tokens, rt)
		}
		if _, err := s.RotateRefreshToken(ctx, tokens[0].Hash, nextToken(at(time.Hour)), at(time.Hour)); err != nil {
			return fmt.Errorf("RotateRefreshToken: %w", err)
		}
		if _, err := s.RotateRefreshToken(ctx, tokens[0].Hash, nextToken(at(time.Hour)), at(time.Hour)); !errors.Is(err, cordon.ErrRefreshReused) {
			return fmt.Errorf("RotateRefreshToken of a used token: got %v, want ErrRefreshReused", err)
		}
		if err := s.UpdateSessionFacts(ctx, sess[1].ID, facts[(i+2)%len(facts)], at(2*time.Hour)); err != nil {
			return fmt.Errorf("UpdateSessionFacts: %w", err)
		}
		if err := s.RevokeSession(ctx, sess[2].ID, cordon.RevokeLogout, at(3*time.Hour)); err != nil {
			return fmt.Errorf("RevokeSession: %w", err)
		}
		if i%2 == 0 {
			if _, err := s.RevokeAccountSessions(ctx, a.ID, sess[3].ID, cordon.RevokePasswordChange, at(4*time.Hour)); err != nil {
				return fmt.Errorf("RevokeAccountSessions: %w", err)
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	want := recount(t, fs)
	var live int64
	for _, b := range want {
		live += b.Sessions
	}
	// Two sessions left to each odd caller, one to each even one.
	if live != n/2*2+n/2*1 {
		t.Errorf("LiveSessions: got %d live sessions, want %d", live, n/2*2+n/2*1)
	}
	checkBuckets(t, fs, want)
}

// recount builds the buckets from scratch, from LiveSessions.
func recount(t *testing.T, fs cordon.FleetStore) []cordon.Bucket {
	t.Helper()
	type key struct {
		platform, version, source string
		day                       time.Time
	}
	sessions := map[key]int64{}
	users := map[key]map[string]bool{}
	err := fs.LiveSessions(t.Context(), func(sess *cordon.Session) error {
		k := key{sess.Facts.Platform, sess.Facts.Version, sess.Facts.Source, utcDay(sess.AuthTime)}
		sessions[k]++
		if users[k] == nil {
			users[k] = map[string]bool{}
		}
		users[k][sess.AccountID] = true
		return nil
	})
	if err != nil {
		t.Fatalf("LiveSessions: %v", err)
	}
	var out []cordon.Bucket
	for k, n := range sessions {
		out = append(out, cordon.Bucket{Platform: k.platform, Version: k.version, Source: k.source, AuthDay: k.day, Sessions: n, Users: int64(len(users[k]))})
	}
	return out
}

package conformance

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func progressTests() []subtest {
	return []subtest{
		{"TargetedNeverSet", testTargetedEmpty},
		{"TargetedReplaced", testTargetedReplaced},
		{"RowsByFactsAtLogin", testProgressRows},
		{"PromptedCountsOnceAndReaches", testRecordPrompted},
		{"Samples", testProgressSamples},
		{"UnknownCampaign", testProgressStoreUnknown},
	}
}

// progressConcurrencyTests are run by RunConcurrencyTests.
func progressConcurrencyTests() []subtest {
	return []subtest{
		{"TwoGatesReportAtOnce", testTwoGatesRace},
	}
}

func progressStore(t *testing.T, s cordon.Store) cordon.ProgressStore {
	t.Helper()
	ps, ok := s.(cordon.ProgressStore)
	if !ok {
		t.Fatalf("%T does not implement cordon.ProgressStore", s)
	}
	return ps
}

func testTargetedEmpty(t *testing.T, s cordon.Store) {
	c := mustCreateCampaign(t, campaigns(t, s), newCampaign("draft", at(0)))
	got, err := progressStore(t, s).CampaignTargeted(t.Context(), c.ID)
	if err != nil || !reflect.DeepEqual(got, cordon.Targeted{}) {
		t.Errorf("CampaignTargeted of a campaign never activated: got %+v, %v; want the zero value, nil", got, err)
	}
}

func testTargetedReplaced(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	ps := progressStore(t, s)
	c := mustCreateCampaign(t, campaigns(t, s), newCampaign("cohort", at(0)))
	first := cordon.Targeted{Sessions: 5, Users: 3, AdmittedSessions: 4, AdmittedUsers: 2, WaitingSessions: 2, WaitingUsers: 1, Exact: true, At: at(time.Minute).In(elsewhere()), Rows: []cordon.TargetedRow{
		{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, Sessions: 2, Users: 1, AdmittedSessions: 2, AdmittedUsers: 1, WaitingSessions: 2, WaitingUsers: 1},
		{Platform: cordon.PlatformAndroid, Version: "8.4.1", Source: cordon.SourcePlay, Sessions: 3, Users: 2, AdmittedSessions: 2, AdmittedUsers: 1},
	}}
	if err := ps.SetTargeted(ctx, c.ID, first); err != nil {
		t.Fatalf("SetTargeted: %v", err)
	}
	got, err := ps.CampaignTargeted(ctx, c.ID)
	want := cordon.Targeted{Sessions: 5, Users: 3, AdmittedSessions: 4, AdmittedUsers: 2, WaitingSessions: 2, WaitingUsers: 1, Exact: true, At: at(time.Minute), Rows: []cordon.TargetedRow{
		{Platform: cordon.PlatformAndroid, Version: "8.4.1", Source: cordon.SourcePlay, Sessions: 3, Users: 2, AdmittedSessions: 2, AdmittedUsers: 1},
		{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, Sessions: 2, Users: 1, AdmittedSessions: 2, AdmittedUsers: 1, WaitingSessions: 2, WaitingUsers: 1},
	}}
	if err != nil || !reflect.DeepEqual(got, want) || got.At.Location() != time.UTC {
		t.Errorf("CampaignTargeted: got %+v, %v; want %+v (rows ordered by facts, time in UTC)", got, err, want)
	}
	// A recomputation replaces every row: a row gone from the fleet is gone.
	second := cordon.Targeted{Sessions: 1, Users: 1, At: at(2 * time.Minute), Rows: []cordon.TargetedRow{
		{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, Sessions: 1, Users: 1},
	}}
	if err := ps.SetTargeted(ctx, c.ID, second); err != nil {
		t.Fatalf("SetTargeted again: %v", err)
	}
	if got, err := ps.CampaignTargeted(ctx, c.ID); err != nil || !reflect.DeepEqual(got, second) {
		t.Errorf("CampaignTargeted after a recomputation: got %+v, %v; want %+v", got, err, second)
	}
}

func mustRows(t *testing.T, ps cordon.ProgressStore, campaignID string) []cordon.ProgressRow {
	t.Helper()
	rs, err := ps.ProgressRows(t.Context(), campaignID)
	if err != nil {
		t.Fatalf("ProgressRows: %v", err)
	}
	return rs
}

func testProgressRows(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	fs, ps := fleet(t, s), progressStore(t, s)
	c := mustCreateCampaign(t, campaigns(t, s), newCampaign("rows", at(0)))
	alice, bob := mustCreateAccount(t, s, "alice"), mustCreateAccount(t, s, "bob")
	a1, _ := createSessionWith(t, s, alice.ID, androidPlay, at(0))
	a2, _ := createSessionWith(t, s, alice.ID, iosAppStore, at(0))
	b1, _ := createSessionWith(t, s, bob.ID, androidPlay, at(0))
	for _, sess := range []*cordon.Session{a1, a2, b1, a1} {
		if _, err := fs.RecordBlocked(ctx, c.ID, sess.ID, sess.AccountID, at(time.Minute)); err != nil {
			t.Fatalf("RecordBlocked: %v", err)
		}
	}
	// A session the store does not hold (a login refused before it had
	// one) counts under unknown facts.
	if _, err := fs.RecordBlocked(ctx, c.ID, "login-"+bob.ID, bob.ID, at(time.Minute)); err != nil {
		t.Fatalf("RecordBlocked of a login: %v", err)
	}
	if _, err := fs.RecordSatisfied(ctx, c.ID, alice.ID, at(2*time.Minute)); err != nil {
		t.Fatalf("RecordSatisfied: %v", err)
	}
	want := []cordon.ProgressRow{
		{BlockedSessions: 1},
		{Platform: cordon.PlatformAndroid, Version: "8.4.1", Source: cordon.SourcePlay, BlockedSessions: 2, BlockedUsers: 2, SatisfiedUsers: 1},
		{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, BlockedSessions: 1},
	}
	if got := mustRows(t, ps, c.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("ProgressRows:\n got %+v\nwant %+v (a user in the row of its first blocked session, satisfied there too)", got, want)
	}
	if got, want := mustProgress(t, fs, c.ID), (cordon.Progress{BlockedSessions: 4, BlockedUsers: 2, SatisfiedUsers: 1}); got != want {
		t.Errorf("Progress: got %+v, want %+v", got, want)
	}
}

func testRecordPrompted(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	fs, ps := fleet(t, s), progressStore(t, s)
	c := mustCreateCampaign(t, campaigns(t, s), newCampaign("flexible", at(0)))
	alice := mustCreateAccount(t, s, "alice")
	a1, _ := createSessionWith(t, s, alice.ID, androidPlay, at(0))
	a2, _ := createSessionWith(t, s, alice.ID, androidPlay, at(0))
	calls := []struct {
		name   string
		prompt bool
		sess   *cordon.Session
		want   bool
	}{
		{"first prompt", true, a1, true},
		{"prompted again", true, a1, false},
		{"a prompted session blocked later is not counted twice", false, a1, false},
		{"another session blocked", false, a2, true},
		{"then prompted", true, a2, false},
	}
	for _, call := range calls {
		rec := fs.RecordBlocked
		if call.prompt {
			rec = ps.RecordPrompted
		}
		got, err := rec(ctx, c.ID, call.sess.ID, call.sess.AccountID, at(time.Minute))
		if err != nil || got != call.want {
			t.Errorf("%s: got %t, %v; want %t", call.name, got, err, call.want)
		}
	}
	want := cordon.Progress{BlockedSessions: 1, PromptedSessions: 1, PromptedUsers: 1}
	if got := mustProgress(t, fs, c.ID); got != want {
		t.Errorf("Progress: got %+v, want %+v", got, want)
	}
	// A prompted account has been reached: an upgrade satisfies it.
	if ok, err := fs.RecordSatisfied(ctx, c.ID, alice.ID, at(2*time.Minute)); err != nil || !ok {
		t.Errorf("RecordSatisfied of a prompted account: got %t, %v; want true", ok, err)
	}
}

func testProgressSamples(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	ps := progressStore(t, s)
	c := mustCreateCampaign(t, campaigns(t, s), newCampaign("samples", at(0)))
	if got, err := ps.ProgressSeries(ctx, c.ID, time.Time{}, 100); err != nil || len(got) != 0 {
		t.Errorf("ProgressSeries with none: got %v, %v; want none", got, err)
	}
	mk := func(m int, satisfied int64) cordon.ProgressSample {
		return cordon.ProgressSample{At: at(time.Duration(m) * time.Minute), TargetedSessions: 10, TargetedUsers: 8, AdmittedShare: 0.25, BlockedSessions: 4, BlockedUsers: 3, PromptedSessions: 1, PromptedUsers: 1, SatisfiedUsers: satisfied}
	}
	for _, sm := range []cordon.ProgressSample{mk(2, 2), mk(0, 0), mk(1, 1), mk(1, 9)} {
		if err := ps.RecordProgressSample(ctx, c.ID, sm); err != nil {
			t.Fatalf("RecordProgressSample: %v", err)
		}
	}
	got, err := ps.ProgressSeries(ctx, c.ID, at(time.Minute), 100)
	want := []cordon.ProgressSample{mk(1, 9), mk(2, 2)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ProgressSeries from minute 1:\n got %+v, %v\nwant %+v (oldest first, the second sample of a minute replaces the first)", got, err, want)
	}
	if got, err := ps.ProgressSeries(ctx, c.ID, time.Time{}, 1); err != nil || len(got) != 1 || !got[0].At.Equal(at(0)) {
		t.Errorf("ProgressSeries limit 1: got %+v, %v; want the oldest alone", got, err)
	}
}

func testProgressStoreUnknown(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	ps := progressStore(t, s)
	const id = "c_unknown"
	errs := map[string]error{
		"SetTargeted":          ps.SetTargeted(ctx, id, cordon.Targeted{Sessions: 1, At: at(0)}),
		"RecordProgressSample": ps.RecordProgressSample(ctx, id, cordon.ProgressSample{At: at(0)}),
	}
	_, errs["CampaignTargeted"] = ps.CampaignTargeted(ctx, id)
	_, errs["ProgressRows"] = ps.ProgressRows(ctx, id)
	_, errs["ProgressSeries"] = ps.ProgressSeries(ctx, id, time.Time{}, 10)
	_, errs["RecordPrompted"] = ps.RecordPrompted(ctx, id, "s_x", "u_x", at(0))
	for name, err := range errs {
		if !errors.Is(err, cordon.ErrNotFound) {
			t.Errorf("%s of an unknown campaign: got %v, want ErrNotFound", name, err)
		}
	}
}

// testTwoGatesRace: two gates report the same sessions at once, one as
// denials and one as prompts, twice over; each session counts once.
func testTwoGatesRace(t *testing.T, s cordon.Store) {
	const sessions, n = 6, 24
	ctx := t.Context()
	fs, ps := fleet(t, s), progressStore(t, s)
	c := mustCreateCampaign(t, campaigns(t, s), newCampaign("gates", at(0)))
	alice, bob := mustCreateAccount(t, s, "alice"), mustCreateAccount(t, s, "bob")
	var ss []*cordon.Session
	for i := range sessions {
		acct := alice.ID
		if i%2 == 1 {
			acct = bob.ID
		}
		sess, _ := createSessionWith(t, s, acct, androidPlay, at(0))
		ss = append(ss, sess)
	}
	firsts := make([]bool, n)
	errs := race(n, func(i int) error {
		sess := ss[i%sessions]
		var err error
		if i%2 == 0 {
			firsts[i], err = fs.RecordBlocked(ctx, c.ID, sess.ID, sess.AccountID, at(time.Minute))
		} else {
			firsts[i], err = ps.RecordPrompted(ctx, c.ID, sess.ID, sess.AccountID, at(time.Minute))
		}
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		return nil
	})
	count := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
		if firsts[i] {
			count++
		}
	}
	if count != sessions {
		t.Errorf("first reports: got %d, want %d (one per session)", count, sessions)
	}
	p := mustProgress(t, fs, c.ID)
	if p.BlockedSessions+p.PromptedSessions != sessions || p.BlockedUsers+p.PromptedUsers != 2 {
		t.Errorf("Progress: got %+v, want %d sessions and 2 users seen in all", p, sessions)
	}
	var rs, ru int64
	for _, r := range mustRows(t, ps, c.ID) {
		rs += r.BlockedSessions + r.PromptedSessions
		ru += r.BlockedUsers + r.PromptedUsers
	}
	if rs != sessions || ru != 2 {
		t.Errorf("rows add up to %d sessions and %d users, want %d and 2", rs, ru, sessions)
	}
}

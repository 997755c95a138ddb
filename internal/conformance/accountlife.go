package conformance

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// accountLifeTests check locking, unlocking, deleting and listing
// accounts.
func accountLifeTests() []subtest {
	return []subtest{
		{"LockRevokesSessions", testLockAccount},
		{"LockTwiceKeepsFirstTime", testLockTwice},
		{"Unlock", testUnlockAccount},
		{"UnknownAccount", testLifeUnknownAccount},
		{"DeleteErasesCredentials", testDeleteAccount},
		{"DeletedUsernameStaysTaken", testDeletedUsername},
		{"ListPages", testListAccountsPages},
		{"ListFilters", testListAccountsFilters},
	}
}

func testLockAccount(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	s1, _ := mustCreateSession(t, s, a.ID, at(0))
	s2, _ := mustCreateSession(t, s, a.ID, at(time.Minute))
	other, _ := mustCreateSession(t, s, bob.ID, at(0))
	ids, err := s.LockAccount(t.Context(), a.ID, at(time.Hour).In(elsewhere()))
	if err != nil {
		t.Fatalf("LockAccount: %v", err)
	}
	var d diff
	d.strings("revoked", sorted(ids), sorted([]string{s1.ID, s2.ID}))
	if d != nil {
		t.Errorf("LockAccount: %s", d)
	}
	for _, id := range []string{s1.ID, s2.ID} {
		if got := mustSession(t, s, id); got.Live() || got.RevokeReason != cordon.RevokeAccountLocked || !got.RevokedAt.Equal(at(time.Hour)) {
			t.Errorf("session %s: revoked %v for %q; want at %v for %q", id, got.RevokedAt, got.RevokeReason, at(time.Hour), cordon.RevokeAccountLocked)
		}
	}
	if got := mustSession(t, s, other.ID); !got.Live() {
		t.Errorf("another account's session was revoked")
	}
	got, err := s.AccountByUsername(t.Context(), "alice")
	if err != nil || !got.LockedAt.Equal(at(time.Hour)) || got.LockedAt.Location() != time.UTC {
		t.Errorf("AccountByUsername: got %v, %v; want LockedAt %v in UTC", got, err, at(time.Hour))
	}
	reset := &cordon.PasswordReset{Hash: newHash(), AccountID: a.ID, CampaignID: "c-1", CreatedAt: at(0), ExpiresAt: at(100 * time.Hour)}
	if err := s.CreatePasswordReset(t.Context(), reset); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LockAccount(t.Context(), a.ID, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err = s.ConsumePasswordReset(t.Context(), reset.Hash, at(time.Hour))
	checkErr(t, "ConsumePasswordReset after a lock", err, cordon.ErrNotFound)
	revoked, err := s.RevokedSince(t.Context(), at(0))
	if err != nil || len(revoked) != 2 {
		t.Errorf("RevokedSince: got %v, %v; want the 2 locked sessions", revoked, err)
	}
	if n, err := s.LiveSessionCount(t.Context()); err != nil || n != 1 {
		t.Errorf("LiveSessionCount: got %d, %v; want 1", n, err)
	}
}

func testLockTwice(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	if _, err := s.LockAccount(t.Context(), a.ID, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A session made after the lock (a login that raced it) ends with the
	// second lock.
	late, _ := mustCreateSession(t, s, a.ID, at(2*time.Hour))
	ids, err := s.LockAccount(t.Context(), a.ID, at(3*time.Hour))
	if err != nil || len(ids) != 1 || ids[0] != late.ID {
		t.Errorf("LockAccount again: got %v, %v; want [%s]", ids, err, late.ID)
	}
	if got, _ := s.AccountByID(t.Context(), a.ID); got == nil || !got.LockedAt.Equal(at(time.Hour)) {
		t.Errorf("LockedAt after a second lock: got %v, want %v", got, at(time.Hour))
	}
}

func testUnlockAccount(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	if err := s.UnlockAccount(t.Context(), a.ID); err != nil {
		t.Errorf("UnlockAccount of an unlocked account: %v", err)
	}
	if _, err := s.LockAccount(t.Context(), a.ID, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlockAccount(t.Context(), a.ID); err != nil {
		t.Fatalf("UnlockAccount: %v", err)
	}
	if got, err := s.AccountByID(t.Context(), a.ID); err != nil || !got.LockedAt.IsZero() {
		t.Errorf("AccountByID after unlock: got %v, %v; want LockedAt zero", got, err)
	}
}

func testLifeUnknownAccount(t *testing.T, s cordon.Store) {
	_, err := s.LockAccount(t.Context(), "u-unknown", at(0))
	checkErr(t, "LockAccount", err, cordon.ErrNotFound)
	checkErr(t, "UnlockAccount", s.UnlockAccount(t.Context(), "u-unknown"), cordon.ErrNotFound)
	_, err = s.DeleteAccount(t.Context(), "u-unknown", at(0))
	checkErr(t, "DeleteAccount", err, cordon.ErrNotFound)
}

func testDeleteAccount(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	a := mustCreateAccount(t, s, "alice")
	bob := mustCreateAccount(t, s, "bob")
	sess, rt := mustCreateSession(t, s, a.ID, at(0))
	bobSess, bobRT := mustCreateSession(t, s, bob.ID, at(0))
	grant := &cordon.OfflineGrant{Hash: newHash(), AccountID: a.ID, SessionID: sess.ID, Facts: sess.Facts, AuthTime: at(0), IssuedAt: at(0), ExpiresAt: at(100 * time.Hour)}
	if err := s.CreateOfflineGrant(ctx, grant); err != nil {
		t.Fatal(err)
	}
	reset := &cordon.PasswordReset{Hash: newHash(), AccountID: a.ID, CampaignID: "c-1", CreatedAt: at(0), ExpiresAt: at(100 * time.Hour)}
	if err := s.CreatePasswordReset(ctx, reset); err != nil {
		t.Fatal(err)
	}
	ids, err := s.DeleteAccount(ctx, a.ID, at(time.Hour))
	if err != nil || len(ids) != 1 || ids[0] != sess.ID {
		t.Fatalf("DeleteAccount: got %v, %v; want [%s]", ids, err, sess.ID)
	}
	_, err = s.AccountByID(ctx, a.ID)
	checkErr(t, "AccountByID of a deleted account", err, cordon.ErrNotFound)
	_, err = s.AccountByUsername(ctx, "alice")
	checkErr(t, "AccountByUsername of a deleted account", err, cordon.ErrNotFound)
	checkErr(t, "SetPasswordHash of a deleted account", s.SetPasswordHash(ctx, a.ID, "$argon2id$x", true, at(2*time.Hour)), cordon.ErrNotFound)
	_, err = s.PeekRefreshToken(ctx, rt.Hash, at(time.Hour))
	checkErr(t, "PeekRefreshToken of a deleted account's token", err, cordon.ErrNotFound)
	_, err = s.RotateRefreshToken(ctx, rt.Hash, nextToken(at(time.Hour)), at(time.Hour))
	checkErr(t, "RotateRefreshToken of a deleted account's token", err, cordon.ErrNotFound)
	_, err = s.OfflineGrantByHash(ctx, grant.Hash)
	checkErr(t, "OfflineGrantByHash of a deleted account's grant", err, cordon.ErrNotFound)
	_, err = s.ConsumePasswordReset(ctx, reset.Hash, at(time.Hour))
	checkErr(t, "ConsumePasswordReset of a deleted account's permission", err, cordon.ErrNotFound)
	got := mustSession(t, s, sess.ID)
	if got.Live() || got.RevokeReason != cordon.RevokeAccountDeleted || got.Facts.Device != "" {
		t.Errorf("the deleted account's session: live %v, reason %q, device %q; want revoked for %q, no device", got.Live(), got.RevokeReason, got.Facts.Device, cordon.RevokeAccountDeleted)
	}
	if live, err := s.ListSessions(ctx, a.ID); err != nil || len(live) != 0 {
		t.Errorf("ListSessions: got %d, %v; want 0", len(live), err)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 1 {
		t.Errorf("CountAccounts: got %d, %v; want 1", n, err)
	}
	// Another account is untouched.
	if got := mustSession(t, s, bobSess.ID); !got.Live() {
		t.Errorf("bob's session was revoked")
	}
	if _, err := s.PeekRefreshToken(ctx, bobRT.Hash, at(time.Hour)); err != nil {
		t.Errorf("bob's refresh token: %v", err)
	}
	_, err = s.DeleteAccount(ctx, a.ID, at(2*time.Hour))
	checkErr(t, "DeleteAccount again", err, cordon.ErrNotFound)
	_, err = s.LockAccount(ctx, a.ID, at(2*time.Hour))
	checkErr(t, "LockAccount of a deleted account", err, cordon.ErrNotFound)
}

func testDeletedUsername(t *testing.T, s cordon.Store) {
	a := mustCreateAccount(t, s, "alice")
	if _, err := s.DeleteAccount(t.Context(), a.ID, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkErr(t, "CreateAccount with a deleted username", s.CreateAccount(t.Context(), newAccount("ALICE")), cordon.ErrAlreadyExists)
	n, err := s.ImportAccounts(t.Context(), []*cordon.Account{newAccount("alice"), newAccount("carol")})
	if err != nil || n != 1 {
		t.Errorf("ImportAccounts with a deleted username: got %d, %v; want 1 created", n, err)
	}
}

func listAccounts(t *testing.T, s cordon.Store, q cordon.AccountQuery) []string {
	t.Helper()
	got, err := s.ListAccounts(t.Context(), q)
	if err != nil {
		t.Fatalf("ListAccounts(%+v): %v", q, err)
	}
	names := []string{}
	for _, a := range got {
		names = append(names, a.Username)
	}
	return names
}

func testListAccountsPages(t *testing.T, s cordon.Store) {
	// Created out of name order, two in the same microsecond.
	for i, name := range []string{"dave", "carol", "bob", "alice", "erin"} {
		a := newAccount(name)
		a.CreatedAt = at(time.Duration(min(i, 3)) * time.Hour)
		if err := s.CreateAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListAccounts(t.Context(), cordon.AccountQuery{Limit: 100})
	if err != nil || len(all) != 5 {
		t.Fatalf("ListAccounts: got %d, %v; want 5", len(all), err)
	}
	// Every page follows on from the previous one; nothing twice, nothing lost.
	var walked []string
	q := cordon.AccountQuery{Limit: 2}
	for page := 0; ; page++ {
		got, err := s.ListAccounts(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || page > 5 {
			break
		}
		for _, a := range got {
			walked = append(walked, a.Username)
		}
		last := got[len(got)-1]
		q.After = cordon.AccountCursor{CreatedAt: last.CreatedAt.In(elsewhere()), ID: last.ID}
	}
	var want []string
	for _, a := range all {
		want = append(want, a.Username)
	}
	var d diff
	d.strings("walked", walked, want)
	d.strings("first three", want[:3], []string{"dave", "carol", "bob"})
	d.strings("same microsecond", sorted(want[3:]), []string{"alice", "erin"})
	if d != nil {
		t.Errorf("ListAccounts pages: %s", d)
	}
}

func testListAccountsFilters(t *testing.T, s cordon.Store) {
	var ids = map[string]string{}
	for i, name := range []string{"ops-anna", "OPS-Ben", "opal", "zed"} {
		a := newAccount(name)
		a.CreatedAt = at(time.Duration(i) * time.Hour)
		if err := s.CreateAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		ids[name] = a.ID
	}
	if _, err := s.LockAccount(t.Context(), ids["OPS-Ben"], at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteAccount(t.Context(), ids["zed"], at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    cordon.AccountQuery
		want []string
	}{
		{"all but the deleted", cordon.AccountQuery{Limit: 10}, []string{"ops-anna", "OPS-Ben", "opal"}},
		{"prefix, any case", cordon.AccountQuery{Prefix: "Ops-", Limit: 10}, []string{"ops-anna", "OPS-Ben"}},
		{"prefix op", cordon.AccountQuery{Prefix: "op", Limit: 10}, []string{"ops-anna", "OPS-Ben", "opal"}},
		{"prefix of a deleted name", cordon.AccountQuery{Prefix: "zed", Limit: 10}, []string{}},
		{"prefix with LIKE characters", cordon.AccountQuery{Prefix: "op%", Limit: 10}, []string{}},
		{"locked", cordon.AccountQuery{Locked: cordon.LockedOnly, Limit: 10}, []string{"OPS-Ben"}},
		{"unlocked", cordon.AccountQuery{Locked: cordon.UnlockedOnly, Limit: 10}, []string{"ops-anna", "opal"}},
		{"prefix and unlocked", cordon.AccountQuery{Prefix: "ops", Locked: cordon.UnlockedOnly, Limit: 10}, []string{"ops-anna"}},
		{"limit", cordon.AccountQuery{Limit: 1}, []string{"ops-anna"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d diff
			d.strings("usernames", listAccounts(t, s, tt.q), tt.want)
			if d != nil {
				t.Errorf("ListAccounts(%+v): %s", tt.q, d)
			}
		})
	}
	locked, err := s.ListAccounts(t.Context(), cordon.AccountQuery{Locked: cordon.LockedOnly, Limit: 10})
	if err != nil || len(locked) != 1 || !locked[0].LockedAt.Equal(at(time.Hour)) {
		t.Errorf("locked account's LockedAt: got %v, %v; want %v", locked, err, at(time.Hour))
	}
}

func testDeleteAccountRace(t *testing.T, s cordon.Store) {
	const n = 6
	a := mustCreateAccount(t, s, "alice")
	for range 3 {
		mustCreateSession(t, s, a.ID, at(0))
	}
	revoked := make([][]string, n)
	errs := race(n, func(i int) error {
		var err error
		if i%2 == 0 {
			revoked[i], err = s.DeleteAccount(t.Context(), a.ID, at(time.Hour))
		} else {
			revoked[i], err = s.LockAccount(t.Context(), a.ID, at(time.Hour))
		}
		return err
	})
	deletes, total := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if i%2 == 0 {
				deletes++
			}
			total += len(revoked[i])
		case errors.Is(err, cordon.ErrNotFound):
		default:
			t.Errorf("call %d: got error %v, want nil or ErrNotFound", i, err)
		}
	}
	if deletes != 1 {
		t.Errorf("%d deletions of one account succeeded, want exactly 1", deletes)
	}
	if total != 3 {
		t.Errorf("sessions reported revoked: %d, want 3 (each once)", total)
	}
	if n, err := s.LiveSessionCount(t.Context()); err != nil || n != 0 {
		t.Errorf("LiveSessionCount: got %d, %v; want 0", n, err)
	}
}

// sorted returns a sorted copy of ss.
func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// adminLifeTests check listing, revoking, expiring and rotating admin
// tokens, and that a token's name names one lineage.
func adminLifeTests() []subtest {
	return []subtest{
		{"NameIsUnique", testAdminTokenNameUnique},
		{"ListOldestFirst", testListAdminTokens},
		{"ByIDUnknown", testAdminTokenByIDUnknown},
		{"Revoke", testRevokeAdminToken},
		{"RevokeKeepsLastAdmin", testRevokeLastAdmin},
		{"RevokeLastAdminAfterOthersExpired", testRevokeLastAdminExpired},
		{"Expiry", testAdminTokenExpiry},
		{"RotateRevokesOld", testRotateAdminToken},
		{"RotateWithGrace", testRotateAdminTokenGrace},
		{"RotateEndedToken", testRotateEndedToken},
	}
}

func mustCreateAdminToken(t *testing.T, s cordon.Store, name string, scopes ...string) *cordon.AdminToken {
	t.Helper()
	tok := newAdminToken(name, scopes...)
	if err := s.CreateAdminToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateAdminToken(%q): %v", name, err)
	}
	return tok
}

func mustAdminTokenByID(t *testing.T, s cordon.Store, id string) *cordon.AdminToken {
	t.Helper()
	got, err := s.AdminTokenByID(t.Context(), id)
	if err != nil {
		t.Fatalf("AdminTokenByID(%s): %v", id, err)
	}
	return got
}

func checkCode(t *testing.T, op string, err error, want string) {
	t.Helper()
	if got := cordon.ErrorCode(err); err == nil || got != want {
		t.Errorf("%s: got error %v, want code %s", op, err, want)
	}
}

func testAdminTokenNameUnique(t *testing.T, s cordon.Store) {
	mustCreateAdminToken(t, s, "root", cordon.ScopeAll)
	checkErr(t, "CreateAdminToken of a second root", s.CreateAdminToken(t.Context(), newAdminToken("root", cordon.ScopeGate)), cordon.ErrAlreadyExists)
	// A revoked token keeps its name: the audit log already names it.
	ci := mustCreateAdminToken(t, s, "ci", cordon.ScopeGate)
	if _, err := s.RevokeAdminToken(t.Context(), ci.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeAdminToken: %v", err)
	}
	checkErr(t, "CreateAdminToken with a revoked token's name", s.CreateAdminToken(t.Context(), newAdminToken("ci", cordon.ScopeGate)), cordon.ErrAlreadyExists)
	if n, err := s.CountAdminTokens(t.Context()); err != nil || n != 2 {
		t.Errorf("CountAdminTokens: got %d, %v; want 2, nil", n, err)
	}
}

func testListAdminTokens(t *testing.T, s cordon.Store) {
	if got, err := s.AdminTokens(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("AdminTokens on an empty store: got %d, %v; want 0, nil", len(got), err)
	}
	b := newAdminToken("b", cordon.ScopeGate)
	b.CreatedAt = at(2 * time.Hour)
	a := newAdminToken("a", cordon.ScopeAll)
	a.CreatedAt = at(time.Hour)
	a.ExpiresAt = at(48 * time.Hour).In(elsewhere())
	for _, tok := range []*cordon.AdminToken{b, a} {
		if err := s.CreateAdminToken(t.Context(), tok); err != nil {
			t.Fatalf("CreateAdminToken: %v", err)
		}
	}
	got, err := s.AdminTokens(t.Context())
	if err != nil || len(got) != 2 {
		t.Fatalf("AdminTokens: got %d, %v; want 2, nil", len(got), err)
	}
	for i, want := range []*cordon.AdminToken{a, b} {
		if d := adminTokenDiff(got[i], want); d != "" {
			t.Errorf("AdminTokens[%d]: %s", i, d)
		}
	}
	if !got[0].ExpiresAt.Equal(at(48*time.Hour)) || got[0].ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt: got %v, want %v in UTC", got[0].ExpiresAt, at(48*time.Hour))
	}
}

func testAdminTokenByIDUnknown(t *testing.T, s cordon.Store) {
	_, err := s.AdminTokenByID(t.Context(), "t-unknown")
	checkErr(t, "AdminTokenByID", err, cordon.ErrNotFound)
	_, err = s.RevokeAdminToken(t.Context(), "t-unknown", at(0))
	checkErr(t, "RevokeAdminToken", err, cordon.ErrNotFound)
	_, err = s.SetAdminTokenExpiry(t.Context(), "t-unknown", at(time.Hour), at(0))
	checkErr(t, "SetAdminTokenExpiry", err, cordon.ErrNotFound)
	_, err = s.RotateAdminToken(t.Context(), "t-unknown", newAdminToken("", cordon.ScopeAll), time.Time{})
	checkErr(t, "RotateAdminToken", err, cordon.ErrNotFound)
}

func testRevokeAdminToken(t *testing.T, s cordon.Store) {
	mustCreateAdminToken(t, s, "root", cordon.ScopeAll)
	gate := mustCreateAdminToken(t, s, "gate", cordon.ScopeGate)
	got, err := s.RevokeAdminToken(t.Context(), gate.ID, at(time.Hour).In(elsewhere()))
	if err != nil {
		t.Fatalf("RevokeAdminToken: %v", err)
	}
	if !got.RevokedAt.Equal(at(time.Hour)) || got.Usable(at(time.Hour)) {
		t.Errorf("RevokeAdminToken: RevokedAt %v, usable %v; want %v, false", got.RevokedAt, got.Usable(at(time.Hour)), at(time.Hour))
	}
	// Again: the first time stays.
	if got, err = s.RevokeAdminToken(t.Context(), gate.ID, at(2*time.Hour)); err != nil || !got.RevokedAt.Equal(at(time.Hour)) {
		t.Errorf("RevokeAdminToken again: got %v, %v; want RevokedAt %v, nil", got, err, at(time.Hour))
	}
	byHash := mustAdminToken(t, s, gate.Hash)
	if !byHash.RevokedAt.Equal(at(time.Hour)) || byHash.RevokedAt.Location() != time.UTC {
		t.Errorf("AdminTokenByHash: RevokedAt %v, want %v in UTC", byHash.RevokedAt, at(time.Hour))
	}
}

func testRevokeLastAdmin(t *testing.T, s cordon.Store) {
	root := mustCreateAdminToken(t, s, "root", cordon.ScopeAll)
	mustCreateAdminToken(t, s, "tokens", cordon.ScopeTokens, cordon.ScopeAccounts)
	_, err := s.RevokeAdminToken(t.Context(), root.ID, at(time.Hour))
	checkCode(t, "RevokeAdminToken of the last * token", err, cordon.ECodeLastAdmin)
	if got := mustAdminTokenByID(t, s, root.ID); !got.RevokedAt.IsZero() {
		t.Errorf("refused revocation revoked the token at %v", got.RevokedAt)
	}
	ops := mustCreateAdminToken(t, s, "ops", cordon.ScopeAll)
	if _, err := s.RevokeAdminToken(t.Context(), root.ID, at(time.Hour)); err != nil {
		t.Fatalf("RevokeAdminToken with another * token: %v", err)
	}
	_, err = s.RevokeAdminToken(t.Context(), ops.ID, at(time.Hour))
	checkCode(t, "RevokeAdminToken of the new last * token", err, cordon.ECodeLastAdmin)
}

func testRevokeLastAdminExpired(t *testing.T, s cordon.Store) {
	root := mustCreateAdminToken(t, s, "root", cordon.ScopeAll)
	old := newAdminToken("old", cordon.ScopeAll)
	old.ExpiresAt = at(time.Hour)
	if err := s.CreateAdminToken(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	// At 30m "old" still acts, so root may go; but not once it expired.
	_, err := s.RevokeAdminToken(t.Context(), root.ID, at(2*time.Hour))
	checkCode(t, "RevokeAdminToken when the other * token expired", err, cordon.ECodeLastAdmin)
	if _, err := s.RevokeAdminToken(t.Context(), root.ID, at(30*time.Minute)); err != nil {
		t.Errorf("RevokeAdminToken while the other * token acts: %v", err)
	}
}

func testAdminTokenExpiry(t *testing.T, s cordon.Store) {
	tok := mustCreateAdminToken(t, s, "ci", cordon.ScopeGate)
	got, err := s.SetAdminTokenExpiry(t.Context(), tok.ID, at(time.Hour).In(elsewhere()), at(0))
	if err != nil || !got.ExpiresAt.Equal(at(time.Hour)) {
		t.Fatalf("SetAdminTokenExpiry: got %v, %v; want ExpiresAt %v", got, err, at(time.Hour))
	}
	if b := mustAdminToken(t, s, tok.Hash); !b.ExpiresAt.Equal(at(time.Hour)) || !b.Usable(at(59*time.Minute)) || b.Usable(at(time.Hour)) {
		t.Errorf("AdminTokenByHash: ExpiresAt %v; want %v, usable before it only", b.ExpiresAt, at(time.Hour))
	}
	// Clearing it.
	if got, err = s.SetAdminTokenExpiry(t.Context(), tok.ID, time.Time{}, at(0)); err != nil || !got.ExpiresAt.IsZero() {
		t.Fatalf("SetAdminTokenExpiry(zero): got %v, %v; want no expiry", got, err)
	}
	// An ended token is never revived.
	if _, err := s.SetAdminTokenExpiry(t.Context(), tok.ID, at(time.Hour), at(0)); err != nil {
		t.Fatal(err)
	}
	_, err = s.SetAdminTokenExpiry(t.Context(), tok.ID, at(100*time.Hour), at(2*time.Hour))
	checkErr(t, "SetAdminTokenExpiry of an expired token", err, cordon.ErrTokenEnded)
	rev := mustCreateAdminToken(t, s, "rev", cordon.ScopeGate)
	if _, err := s.RevokeAdminToken(t.Context(), rev.ID, at(0)); err != nil {
		t.Fatal(err)
	}
	_, err = s.SetAdminTokenExpiry(t.Context(), rev.ID, at(100*time.Hour), at(0))
	checkErr(t, "SetAdminTokenExpiry of a revoked token", err, cordon.ErrTokenEnded)
}

func testRotateAdminToken(t *testing.T, s cordon.Store) {
	old := mustCreateAdminToken(t, s, "root", cordon.ScopeAll, cordon.ScopeGate)
	next := &cordon.AdminToken{ID: cordon.NewID("t"), Hash: newHash(), CreatedAt: at(time.Hour)}
	got, err := s.RotateAdminToken(t.Context(), old.ID, next, time.Time{})
	if err != nil {
		t.Fatalf("RotateAdminToken: %v", err)
	}
	if got.ReplacedBy != next.ID || !got.RevokedAt.Equal(at(time.Hour)) {
		t.Errorf("old token: ReplacedBy %q, RevokedAt %v; want %q, %v", got.ReplacedBy, got.RevokedAt, next.ID, at(time.Hour))
	}
	want := &cordon.AdminToken{ID: next.ID, Name: "root", Hash: next.Hash, Scopes: []string{cordon.ScopeAll, cordon.ScopeGate}, CreatedAt: at(time.Hour)}
	if d := adminTokenDiff(mustAdminToken(t, s, next.Hash), want); d != "" {
		t.Errorf("the new token: %s", d)
	}
	if o := mustAdminToken(t, s, old.Hash); o.Usable(at(time.Hour)) || o.ReplacedBy != next.ID {
		t.Errorf("the old token by hash: usable %v, ReplacedBy %q; want false, %q", o.Usable(at(time.Hour)), o.ReplacedBy, next.ID)
	}
	// The new token holds the name now.
	checkErr(t, "CreateAdminToken named root", s.CreateAdminToken(t.Context(), newAdminToken("root", cordon.ScopeAll)), cordon.ErrAlreadyExists)
}

func testRotateAdminTokenGrace(t *testing.T, s cordon.Store) {
	old := newAdminToken("ci", cordon.ScopeGate)
	old.ExpiresAt = at(10 * time.Hour)
	if err := s.CreateAdminToken(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	next := &cordon.AdminToken{ID: cordon.NewID("t"), Hash: newHash(), CreatedAt: at(time.Hour), ExpiresAt: at(100 * time.Hour)}
	got, err := s.RotateAdminToken(t.Context(), old.ID, next, at(90*time.Minute))
	if err != nil {
		t.Fatalf("RotateAdminToken: %v", err)
	}
	if !got.RevokedAt.IsZero() || !got.ExpiresAt.Equal(at(90*time.Minute)) || !got.Usable(at(80*time.Minute)) || got.Usable(at(90*time.Minute)) {
		t.Errorf("old token: RevokedAt %v, ExpiresAt %v; want none, %v", got.RevokedAt, got.ExpiresAt, at(90*time.Minute))
	}
	if n := mustAdminToken(t, s, next.Hash); !n.ExpiresAt.Equal(at(100 * time.Hour)) {
		t.Errorf("new token ExpiresAt %v, want %v", n.ExpiresAt, at(100*time.Hour))
	}
	// A grace longer than the old expiry keeps the old expiry.
	c2 := newAdminToken("c2", cordon.ScopeGate)
	c2.ExpiresAt = at(2 * time.Hour)
	if err := s.CreateAdminToken(t.Context(), c2); err != nil {
		t.Fatal(err)
	}
	got, err = s.RotateAdminToken(t.Context(), c2.ID, &cordon.AdminToken{ID: cordon.NewID("t"), Hash: newHash(), CreatedAt: at(time.Hour)}, at(5*time.Hour))
	if err != nil || !got.ExpiresAt.Equal(at(2*time.Hour)) {
		t.Errorf("RotateAdminToken with a long grace: got %v, %v; want ExpiresAt %v", got, err, at(2*time.Hour))
	}
	// A replaced token in its grace cannot be rotated again.
	_, err = s.RotateAdminToken(t.Context(), old.ID, &cordon.AdminToken{ID: cordon.NewID("t"), Hash: newHash(), CreatedAt: at(time.Hour)}, time.Time{})
	checkErr(t, "RotateAdminToken of a replaced token", err, cordon.ErrTokenEnded)
}

func testRotateEndedToken(t *testing.T, s cordon.Store) {
	mustCreateAdminToken(t, s, "root", cordon.ScopeAll)
	rev := mustCreateAdminToken(t, s, "rev", cordon.ScopeGate)
	if _, err := s.RevokeAdminToken(t.Context(), rev.ID, at(0)); err != nil {
		t.Fatal(err)
	}
	_, err := s.RotateAdminToken(t.Context(), rev.ID, &cordon.AdminToken{ID: cordon.NewID("t"), Hash: newHash(), CreatedAt: at(time.Hour)}, time.Time{})
	checkErr(t, "RotateAdminToken of a revoked token", err, cordon.ErrTokenEnded)
	exp := newAdminToken("exp", cordon.ScopeGate)
	exp.ExpiresAt = at(time.Minute)
	if err := s.CreateAdminToken(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateAdminToken(t.Context(), exp.ID, &cordon.AdminToken{ID: cordon.NewID("t"), Hash: newHash(), CreatedAt: at(time.Hour)}, time.Time{})
	checkErr(t, "RotateAdminToken of an expired token", err, cordon.ErrTokenEnded)
	if got, err := s.AdminTokens(t.Context()); err != nil || len(got) != 3 {
		t.Errorf("AdminTokens after refused rotations: got %d, %v; want 3, nil", len(got), err)
	}
}

// adminConcurrencyTests race revocations, rotations and creations.
func adminConcurrencyTests() []subtest {
	return []subtest{
		{"RevokeLastTwoAdminsRace", testRevokeLastTwoRace},
		{"RotateOneAdminTokenRace", testRotateAdminRace},
		{"CreateOneTokenNameRace", testCreateTokenNameRace},
		{"DeleteOneAccountRace", testDeleteAccountRace},
	}
}

func testRevokeLastTwoRace(t *testing.T, s cordon.Store) {
	a := mustCreateAdminToken(t, s, "a", cordon.ScopeAll)
	b := mustCreateAdminToken(t, s, "b", cordon.ScopeAll)
	ids := []string{a.ID, b.ID}
	for round := range 5 {
		errs := race(2, func(i int) error {
			_, err := s.RevokeAdminToken(t.Context(), ids[i], at(time.Hour))
			return err
		})
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if cordon.ErrorCode(err) != cordon.ECodeLastAdmin {
				t.Errorf("round %d: got error %v, want nil or %s", round, err, cordon.ECodeLastAdmin)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 2 revocations of the last two * tokens succeeded, want exactly 1", round, ok)
		}
		// A fresh pair for the next round.
		c := mustCreateAdminToken(t, s, cordon.NewID("c"), cordon.ScopeAll)
		live := ids[0]
		if errs[0] == nil {
			live = ids[1]
		}
		ids = []string{live, c.ID}
	}
}

func testRotateAdminRace(t *testing.T, s cordon.Store) {
	const n = 8
	old := mustCreateAdminToken(t, s, "root", cordon.ScopeAll)
	errs := race(n, func(i int) error {
		_, err := s.RotateAdminToken(t.Context(), old.ID, &cordon.AdminToken{ID: cordon.NewID("t"), Hash: newHash(), CreatedAt: at(time.Hour)}, time.Time{})
		return err
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, cordon.ErrTokenEnded):
		default:
			t.Errorf("rotation %d: got error %v, want nil or ErrTokenEnded", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d rotations of one token succeeded, want exactly 1", wins, n)
	}
	list, err := s.AdminTokens(t.Context())
	if err != nil || len(list) != 2 {
		t.Errorf("AdminTokens: got %d, %v; want 2 (old and one successor)", len(list), err)
	}
}

func testCreateTokenNameRace(t *testing.T, s cordon.Store) {
	const n = 8
	errs := race(n, func(i int) error { return s.CreateAdminToken(t.Context(), newAdminToken("deploy", cordon.ScopeGate)) })
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, cordon.ErrAlreadyExists):
		default:
			t.Errorf("create %d: got error %v, want nil or ErrAlreadyExists", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d creations of one name succeeded, want exactly 1", wins, n)
	}
}

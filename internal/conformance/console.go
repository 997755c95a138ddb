package conformance

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// consoleTests check the web console's admins and sessions.
func consoleTests() []subtest {
	return []subtest{
		{"AdminNameIsUnique", testConsoleAdminUnique},
		{"TOTPStepOnlyMovesForward", testConsoleTOTPStep},
		{"SessionExpires", testConsoleSessionExpiry},
		{"SessionOfNoAdmin", testConsoleSessionNoAdmin},
		{"TransitionCarriesAudit", testTransitionCarriesAudit},
		{"AdminRemovedWithItsSessions", testConsoleAdminRemoved},
	}
}

// testConsoleAdminRemoved: admins list by name; removing one ends every
// one of its sessions in the same write and leaves the others' alone; an
// unknown name is ErrNotFound.
func testConsoleAdminRemoved(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	bo, ada := mustConsoleAdmin(t, s, "bo"), mustConsoleAdmin(t, s, "ada")
	list, err := s.ConsoleAdmins(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "ada" || list[1].Name != "bo" {
		t.Fatalf("ConsoleAdmins = %v, %v; want ada, bo", list, err)
	}
	sess := func(a *cordon.ConsoleAdmin, h string) []byte {
		x := &cordon.ConsoleSession{Hash: []byte(h), AdminID: a.ID, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
		if err := s.CreateConsoleSession(ctx, x); err != nil {
			t.Fatalf("CreateConsoleSession: %v", err)
		}
		return x.Hash
	}
	b1, b2, a1 := sess(bo, "bo-session-1-0000000000000000000"), sess(bo, "bo-session-2-0000000000000000000"), sess(ada, "ada-session-00000000000000000000")
	if err := s.DeleteConsoleAdmin(ctx, "bo"); err != nil {
		t.Fatalf("DeleteConsoleAdmin(bo): %v", err)
	}
	for _, h := range [][]byte{b1, b2} {
		_, _, err := s.ConsoleSession(ctx, h, at(time.Minute))
		checkErr(t, "a removed admin's session", err, cordon.ErrNotFound)
	}
	if _, a, err := s.ConsoleSession(ctx, a1, at(time.Minute)); err != nil || a.Name != "ada" {
		t.Errorf("ada's session after bo's removal: %v, %v", a, err)
	}
	_, err = s.ConsoleAdminByName(ctx, "bo")
	checkErr(t, "ConsoleAdminByName of a removed admin", err, cordon.ErrNotFound)
	checkErr(t, "DeleteConsoleAdmin of no admin", s.DeleteConsoleAdmin(ctx, "bo"), cordon.ErrNotFound)
	if list, _ := s.ConsoleAdmins(ctx); len(list) != 1 || list[0].Name != "ada" {
		t.Errorf("ConsoleAdmins after the removal = %v, want ada", list)
	}
}

func mustConsoleAdmin(t *testing.T, s cordon.Store, name string) *cordon.ConsoleAdmin {
	t.Helper()
	a := &cordon.ConsoleAdmin{ID: cordon.NewID("ca"), Name: name, Role: cordon.RoleResponder, PasswordHash: "$argon2id$x", TOTPSecret: "JBSWY3DPEHPK3PXP", CreatedAt: at(0)}
	if err := s.CreateConsoleAdmin(t.Context(), a); err != nil {
		t.Fatalf("CreateConsoleAdmin(%s): %v", name, err)
	}
	return a
}

func testConsoleAdminUnique(t *testing.T, s cordon.Store) {
	a := mustConsoleAdmin(t, s, "ada")
	dup := &cordon.ConsoleAdmin{ID: cordon.NewID("ca"), Name: "ada", Role: cordon.RoleOwner, PasswordHash: "h", TOTPSecret: "s", CreatedAt: at(0)}
	checkErr(t, "CreateConsoleAdmin of a second ada", s.CreateConsoleAdmin(t.Context(), dup), cordon.ErrAlreadyExists)
	got, err := s.ConsoleAdminByName(t.Context(), "ada")
	if err != nil {
		t.Fatalf("ConsoleAdminByName: %v", err)
	}
	if got.ID != a.ID || got.Role != cordon.RoleResponder || got.PasswordHash != "$argon2id$x" || got.TOTPSecret != "JBSWY3DPEHPK3PXP" || !got.CreatedAt.Equal(at(0)) {
		t.Errorf("ConsoleAdminByName = %+v, want the admin created", got)
	}
	_, err = s.ConsoleAdminByName(t.Context(), "Ada")
	checkErr(t, "ConsoleAdminByName(Ada)", err, cordon.ErrNotFound)
}

func testConsoleTOTPStep(t *testing.T, s cordon.Store) {
	a := mustConsoleAdmin(t, s, "ada")
	if err := s.UseConsoleTOTPStep(t.Context(), a.ID, 100); err != nil {
		t.Fatalf("UseConsoleTOTPStep(100): %v", err)
	}
	// The same code again, or an older one, is a replay.
	checkErr(t, "UseConsoleTOTPStep(100) again", s.UseConsoleTOTPStep(t.Context(), a.ID, 100), cordon.ErrAlreadyExists)
	checkErr(t, "UseConsoleTOTPStep(99)", s.UseConsoleTOTPStep(t.Context(), a.ID, 99), cordon.ErrAlreadyExists)
	if err := s.UseConsoleTOTPStep(t.Context(), a.ID, 101); err != nil {
		t.Fatalf("UseConsoleTOTPStep(101): %v", err)
	}
	got, _ := s.ConsoleAdminByName(t.Context(), "ada")
	if got.TOTPStep != 101 {
		t.Errorf("TOTPStep = %d, want 101", got.TOTPStep)
	}
	checkErr(t, "UseConsoleTOTPStep of no admin", s.UseConsoleTOTPStep(t.Context(), "ca_none", 5), cordon.ErrNotFound)
}

func testConsoleSessionExpiry(t *testing.T, s cordon.Store) {
	a := mustConsoleAdmin(t, s, "ada")
	sess := &cordon.ConsoleSession{Hash: []byte("0123456789abcdef0123456789abcdef"), AdminID: a.ID, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	if err := s.CreateConsoleSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateConsoleSession: %v", err)
	}
	got, admin, err := s.ConsoleSession(t.Context(), sess.Hash, at(time.Hour-time.Second))
	if err != nil {
		t.Fatalf("ConsoleSession before expiry: %v", err)
	}
	if admin.Name != "ada" || got.AdminID != a.ID || !got.ExpiresAt.Equal(at(time.Hour)) {
		t.Errorf("ConsoleSession = %+v of %s, want ada's, expiring at +1h", got, admin.Name)
	}
	_, _, err = s.ConsoleSession(t.Context(), sess.Hash, at(time.Hour))
	checkErr(t, "ConsoleSession at expiry", err, cordon.ErrNotFound)
	_, _, err = s.ConsoleSession(t.Context(), []byte("another"), at(0))
	checkErr(t, "ConsoleSession of an unknown hash", err, cordon.ErrNotFound)
	if err := s.DeleteConsoleSession(t.Context(), sess.Hash); err != nil {
		t.Fatalf("DeleteConsoleSession: %v", err)
	}
	_, _, err = s.ConsoleSession(t.Context(), sess.Hash, at(0))
	checkErr(t, "ConsoleSession after sign-out", err, cordon.ErrNotFound)
	if err := s.DeleteConsoleSession(t.Context(), sess.Hash); err != nil {
		t.Errorf("DeleteConsoleSession twice: %v", err)
	}
}

func testConsoleSessionNoAdmin(t *testing.T, s cordon.Store) {
	sess := &cordon.ConsoleSession{Hash: []byte("h"), AdminID: "ca_none", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	checkErr(t, "CreateConsoleSession of no admin", s.CreateConsoleSession(t.Context(), sess), cordon.ErrNotFound)
}

// testTransitionCarriesAudit: a campaign's lifecycle change by a console
// admin and its audit record commit together (the memstore once dropped
// the record).
func testTransitionCarriesAudit(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	c := mustCreateCampaign(t, s, newCampaign("audited", at(0)))
	e := newAuditEntry("activate", at(time.Minute), "cordon:console/ada", "cordon:campaign/"+c.ID, "campaigns")
	if _, _, err := s.TransitionCampaign(cordon.WithAudit(ctx, e), c.ID, []cordon.State{cordon.StateDraft}, cordon.StateActive, trailEntry("activate", at(time.Minute))); err != nil {
		t.Fatalf("TransitionCampaign: %v", err)
	}
	if size, err := s.AuditSize(ctx); err != nil || size != 1 {
		t.Fatalf("after an audited transition: audit size %d, %v; want 1", size, err)
	}
	// A refused transition leaves no record.
	e2 := newAuditEntry("activate-again", at(2*time.Minute), "cordon:console/ada", "cordon:campaign/"+c.ID, "campaigns")
	if _, _, err := s.TransitionCampaign(cordon.WithAudit(ctx, e2), c.ID, []cordon.State{cordon.StateDraft}, cordon.StateActive, trailEntry("activate", at(2*time.Minute))); err == nil {
		t.Fatal("a second activation of an active campaign: nil error")
	}
	if size, _ := s.AuditSize(ctx); size != 1 {
		t.Errorf("a refused transition appended its record: size %d, want 1", size)
	}
}

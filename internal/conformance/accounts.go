package conformance

import (
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func accountTests() []subtest {
	return []subtest{
		{"CreateAndByID", testCreateAccount},
		{"ByUsernameFoldsCaseAndWidth", testAccountByUsername},
		{"DuplicateUsername", testDuplicateUsername},
		{"DuplicateID", testDuplicateAccountID},
		{"NotFound", testAccountNotFound},
		{"ImportSkipsExisting", testImportAccounts},
		{"ImportNothing", testImportNothing},
		{"SetPasswordHash", testSetPasswordHash},
		{"Count", testCountAccounts},
	}
}

func testCreateAccount(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	want := newAccount("alice")
	if err := s.CreateAccount(ctx, want); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	got, err := s.AccountByID(ctx, want.ID)
	if err != nil {
		t.Fatalf("AccountByID(%q): %v", want.ID, err)
	}
	if d := accountDiff(got, want); d != "" {
		t.Errorf("AccountByID(%q): %s", want.ID, d)
	}
}

func testAccountByUsername(t *testing.T, s cordon.Store) {
	alice := mustCreateAccount(t, s, "Alice")
	bob := mustCreateAccount(t, s, "Ｂｏｂ") // full-width at sign-up
	fiona := mustCreateAccount(t, s, "Fiona")
	tests := []struct {
		name   string
		lookup string
		want   *cordon.Account
	}{
		{"as created", "Alice", alice},
		{"lower case", "alice", alice},
		{"upper case", "ALICE", alice},
		{"full-width", "Ａｌｉｃｅ", alice},
		{"full-width upper case", "ＡＬＩＣＥ", alice},
		{"ASCII for a full-width username", "bob", bob},
		{"ligature", "ﬁona", fiona},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AccountByUsername(t.Context(), tt.lookup)
			if err != nil {
				t.Fatalf("AccountByUsername(%q): got error %v, want account %q", tt.lookup, err, tt.want.Username)
			}
			// The username comes back as typed at sign-up, not folded.
			if d := accountDiff(got, tt.want); d != "" {
				t.Errorf("AccountByUsername(%q): %s", tt.lookup, d)
			}
		})
	}
}

func testDuplicateUsername(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	first := mustCreateAccount(t, s, "Alice")
	tests := []struct {
		name     string
		username string
	}{
		{"same", "Alice"},
		{"lower case", "alice"},
		{"upper case", "ALICE"},
		{"full-width", "Ａｌｉｃｅ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateAccount(t.Context(), newAccount(tt.username))
			checkErr(t, "CreateAccount("+tt.username+")", err, cordon.ErrAlreadyExists)
		})
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 1 {
		t.Errorf("CountAccounts: got %d, %v; want 1, nil", n, err)
	}
	got, err := s.AccountByUsername(ctx, "alice")
	if err != nil {
		t.Fatalf("AccountByUsername: %v", err)
	}
	if d := accountDiff(got, first); d != "" {
		t.Errorf("AccountByUsername after duplicates: %s", d)
	}
}

func testDuplicateAccountID(t *testing.T, s cordon.Store) {
	first := mustCreateAccount(t, s, "alice")
	dup := newAccount("bob")
	dup.ID = first.ID
	checkErr(t, "CreateAccount with a taken id", s.CreateAccount(t.Context(), dup), cordon.ErrAlreadyExists)
	_, err := s.AccountByUsername(t.Context(), "bob")
	checkErr(t, "AccountByUsername of the refused account", err, cordon.ErrNotFound)
}

func testAccountNotFound(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	mustCreateAccount(t, s, "Alice")
	tests := []struct {
		name string
		call func() error
	}{
		{"AccountByID", func() error {
			_, err := s.AccountByID(ctx, cordon.NewID("u"))
			return err
		}},
		{"AccountByUsername", func() error {
			_, err := s.AccountByUsername(ctx, "nobody")
			return err
		}},
		{"AccountByUsername prefix", func() error {
			_, err := s.AccountByUsername(ctx, "Ali")
			return err
		}},
		{"SetPasswordHash", func() error {
			return s.SetPasswordHash(ctx, cordon.NewID("u"), "$argon2id$x", true, at(time.Hour))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.name, tt.call(), cordon.ErrNotFound)
		})
	}
}

func testImportAccounts(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	alice := mustCreateAccount(t, s, "alice")
	bob := newAccount("bob")
	bob.PasswordHash = "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234" // bcrypt, as imported
	bob.PasswordChangedAt = at(-48 * time.Hour)
	bob.CreatedAt = at(-72 * time.Hour)
	aliceAgain := newAccount("ALICE")
	aliceAgain.PasswordHash = "$2b$10$overwrite"
	carol := newAccount("carol")
	bobAgain := newAccount("Bob") // taken by an earlier row of the same batch

	created, err := s.ImportAccounts(ctx, []*cordon.Account{bob, aliceAgain, carol, bobAgain})
	if err != nil {
		t.Fatalf("ImportAccounts: %v", err)
	}
	if created != 2 {
		t.Errorf("ImportAccounts: got created %d, want 2 (bob, carol)", created)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 3 {
		t.Errorf("CountAccounts: got %d, %v; want 3, nil", n, err)
	}

	stored := []struct {
		name string
		want *cordon.Account
	}{
		{"existing account not overwritten", alice},
		{"imported account", bob},
		{"second imported account", carol},
	}
	for _, tt := range stored {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AccountByUsername(t.Context(), tt.want.Username)
			if err != nil {
				t.Fatalf("AccountByUsername(%q): %v", tt.want.Username, err)
			}
			if d := accountDiff(got, tt.want); d != "" {
				t.Errorf("AccountByUsername(%q): %s", tt.want.Username, d)
			}
		})
	}
	skipped := []struct {
		name string
		a    *cordon.Account
	}{
		{"taken before the import", aliceAgain},
		{"taken earlier in the batch", bobAgain},
	}
	for _, tt := range skipped {
		t.Run("skipped "+tt.name, func(t *testing.T) {
			_, err := s.AccountByID(t.Context(), tt.a.ID)
			checkErr(t, "AccountByID of a skipped account", err, cordon.ErrNotFound)
		})
	}
}

func testImportNothing(t *testing.T, s cordon.Store) {
	created, err := s.ImportAccounts(t.Context(), nil)
	if err != nil || created != 0 {
		t.Errorf("ImportAccounts(nil): got %d, %v; want 0, nil", created, err)
	}
}

func testSetPasswordHash(t *testing.T, s cordon.Store) {
	tests := []struct {
		name     string
		username string
		changed  bool
	}{
		{"rehash keeps PasswordChangedAt", "rehashed", false},
		{"new password moves PasswordChangedAt", "changed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			a := mustCreateAccount(t, s, tt.username)
			when := at(time.Hour).In(elsewhere())
			const hash = "$argon2id$v=19$m=131072,t=4,p=4$bmV3c2FsdA$bmV3aGFzaA"
			if err := s.SetPasswordHash(ctx, a.ID, hash, tt.changed, when); err != nil {
				t.Fatalf("SetPasswordHash: %v", err)
			}
			want := *a
			want.PasswordHash = hash
			if tt.changed {
				want.PasswordChangedAt = when
			}
			got, err := s.AccountByID(ctx, a.ID)
			if err != nil {
				t.Fatalf("AccountByID: %v", err)
			}
			if d := accountDiff(got, &want); d != "" {
				t.Errorf("after SetPasswordHash(changed=%t): %s", tt.changed, d)
			}
		})
	}
}

func testCountAccounts(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	if n, err := s.CountAccounts(ctx); err != nil || n != 0 {
		t.Fatalf("CountAccounts on an empty store: got %d, %v; want 0, nil", n, err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		mustCreateAccount(t, s, u)
	}
	if _, err := s.ImportAccounts(ctx, []*cordon.Account{newAccount("dave"), newAccount("erin")}); err != nil {
		t.Fatalf("ImportAccounts: %v", err)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 5 {
		t.Errorf("CountAccounts: got %d, %v; want 5, nil", n, err)
	}
}

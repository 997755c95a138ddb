package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func signingKeyTests() []subtest {
	return []subtest{
		{"NoneAtFirst", testNoSigningKeys},
		{"AddRetiresPrevious", testAddSigningKey},
		{"DuplicateIDChangesNothing", testDuplicateSigningKey},
		{"PruneRetiredBefore", testPruneSigningKeys},
	}
}

func adminTokenTests() []subtest {
	return []subtest{
		{"CreateAndByHash", testCreateAdminToken},
		{"ScopesRoundTrip", testAdminTokenScopes},
		{"UnknownHash", testAdminTokenNotFound},
		{"DuplicateHash", testDuplicateAdminToken},
		{"Count", testCountAdminTokens},
	}
}

func newSigningKey(created time.Time) *cordon.SigningKey {
	der := newHash() // stands in for PKCS #8 DER: bytes that must survive unchanged
	return &cordon.SigningKey{ID: cordon.NewID("k"), Algorithm: "EdDSA", PrivateKey: der, CreatedAt: created}
}

// addKeys adds one key per creation time, in order, and returns them as
// the store should now hold them: each retired when the next was added.
func addKeys(t *testing.T, s cordon.Store, created ...time.Time) []*cordon.SigningKey {
	t.Helper()
	var keys []*cordon.SigningKey
	for i, c := range created {
		k := newSigningKey(c)
		if err := s.AddSigningKey(t.Context(), k); err != nil {
			t.Fatalf("AddSigningKey #%d: %v", i, err)
		}
		if i > 0 {
			keys[i-1].RetiredAt = c
		}
		keys = append(keys, k)
	}
	return keys
}

func checkSigningKeys(t *testing.T, s cordon.Store, want []*cordon.SigningKey) {
	t.Helper()
	got, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("SigningKeys: got %d keys %s, want %d %s", len(got), keyIDs(got), len(want), keyIDs(want))
	}
	for i := range want {
		if d := signingKeyDiff(got[i], want[i]); d != "" {
			t.Errorf("SigningKeys[%d]: %s", i, d)
		}
	}
}

func keyIDs(ks []*cordon.SigningKey) string {
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return fmt.Sprintf("%q", ids)
}

func testNoSigningKeys(t *testing.T, s cordon.Store) {
	checkSigningKeys(t, s, nil)
}

func testAddSigningKey(t *testing.T, s cordon.Store) {
	want := addKeys(t, s, at(0), at(time.Hour), at(2*time.Hour))
	checkSigningKeys(t, s, want)
}

// A key that cannot be stored retires nothing: the key that signed still
// signs.
func testDuplicateSigningKey(t *testing.T, s cordon.Store) {
	want := addKeys(t, s, at(0))
	dup := newSigningKey(at(time.Hour))
	dup.ID = want[0].ID
	checkErr(t, "AddSigningKey with a taken id", s.AddSigningKey(t.Context(), dup), cordon.ErrAlreadyExists)
	checkSigningKeys(t, s, want)
}

func testPruneSigningKeys(t *testing.T, s cordon.Store) {
	// Retired at 1h and 2h; the third signs.
	keys := addKeys(t, s, at(0), at(time.Hour), at(2*time.Hour))
	// Each cutoff is later than the one before, so one store serves them all.
	tests := []struct {
		name   string
		cutoff time.Time
		want   []*cordon.SigningKey
	}{
		{"before every retirement", at(0), keys},
		{"at a retirement keeps that key", at(time.Hour), keys},
		{"between retirements", at(90 * time.Minute), keys[1:]},
		{"in another zone", at(2 * time.Hour).In(elsewhere()), keys[1:]},
		{"after every retirement keeps the signing key", at(1000 * time.Hour), keys[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.DeleteSigningKeysRetiredBefore(t.Context(), tt.cutoff); err != nil {
				t.Fatalf("DeleteSigningKeysRetiredBefore(%v): %v", tt.cutoff, err)
			}
			checkSigningKeys(t, s, tt.want)
		})
	}
}

func newAdminToken(name string, scopes ...string) *cordon.AdminToken {
	return &cordon.AdminToken{ID: cordon.NewID("t"), Name: name, Hash: newHash(), Scopes: scopes, CreatedAt: at(0)}
}

func mustAdminToken(t *testing.T, s cordon.Store, hash []byte) *cordon.AdminToken {
	t.Helper()
	got, err := s.AdminTokenByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("AdminTokenByHash: %v", err)
	}
	return got
}

func testCreateAdminToken(t *testing.T, s cordon.Store) {
	want := newAdminToken("ops", cordon.ScopeAccounts, cordon.ScopeAuditRead)
	if err := s.CreateAdminToken(t.Context(), want); err != nil {
		t.Fatalf("CreateAdminToken: %v", err)
	}
	if d := adminTokenDiff(mustAdminToken(t, s, want.Hash), want); d != "" {
		t.Errorf("AdminTokenByHash: %s", d)
	}
}

func testAdminTokenScopes(t *testing.T, s cordon.Store) {
	tests := []struct {
		name   string
		scopes []string
	}{
		{"none", nil},
		{"all", []string{cordon.ScopeAll}},
		{"one", []string{cordon.ScopeSessions}},
		{"several in order", []string{cordon.ScopeKeys, cordon.ScopeAccounts, cordon.ScopeAuditWrite, cordon.ScopeCampaigns}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := newAdminToken(tt.name, tt.scopes...)
			if err := s.CreateAdminToken(t.Context(), want); err != nil {
				t.Fatalf("CreateAdminToken: %v", err)
			}
			got := mustAdminToken(t, s, want.Hash)
			var d diff
			d.strings("Scopes", got.Scopes, tt.scopes)
			if d != nil {
				t.Errorf("AdminTokenByHash: %s", d)
			}
		})
	}
}

func testAdminTokenNotFound(t *testing.T, s cordon.Store) {
	if err := s.CreateAdminToken(t.Context(), newAdminToken("ops", cordon.ScopeAll)); err != nil {
		t.Fatalf("CreateAdminToken: %v", err)
	}
	_, err := s.AdminTokenByHash(t.Context(), newHash())
	checkErr(t, "AdminTokenByHash of an unknown hash", err, cordon.ErrNotFound)
}

func testDuplicateAdminToken(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	first := newAdminToken("ops", cordon.ScopeAll)
	if err := s.CreateAdminToken(ctx, first); err != nil {
		t.Fatalf("CreateAdminToken: %v", err)
	}
	tests := []struct {
		name string
		dup  func() *cordon.AdminToken
	}{
		{"same hash", func() *cordon.AdminToken {
			d := newAdminToken("intruder", cordon.ScopeAll)
			d.Hash = first.Hash
			return d
		}},
		{"same id", func() *cordon.AdminToken {
			d := newAdminToken("intruder", cordon.ScopeAll)
			d.ID = first.ID
			return d
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, "CreateAdminToken", s.CreateAdminToken(t.Context(), tt.dup()), cordon.ErrAlreadyExists)
		})
	}
	if d := adminTokenDiff(mustAdminToken(t, s, first.Hash), first); d != "" {
		t.Errorf("AdminTokenByHash after duplicates: %s", d)
	}
	if n, err := s.CountAdminTokens(ctx); err != nil || n != 1 {
		t.Errorf("CountAdminTokens: got %d, %v; want 1, nil", n, err)
	}
}

func testCountAdminTokens(t *testing.T, s cordon.Store) {
	ctx := t.Context()
	if n, err := s.CountAdminTokens(ctx); err != nil || n != 0 {
		t.Fatalf("CountAdminTokens on an empty store: got %d, %v; want 0, nil", n, err)
	}
	for _, name := range []string{"ops", "ci"} {
		if err := s.CreateAdminToken(ctx, newAdminToken(name, cordon.ScopeAll)); err != nil {
			t.Fatalf("CreateAdminToken(%q): %v", name, err)
		}
	}
	if n, err := s.CountAdminTokens(ctx); err != nil || n != 2 {
		t.Errorf("CountAdminTokens: got %d, %v; want 2, nil", n, err)
	}
}

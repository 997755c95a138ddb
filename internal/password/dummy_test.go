package password

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestSchemeAndFamily(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, encoded, scheme string
		family                Family
	}{
		{"argon2id", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U", "$argon2id$v=19$m=19456,t=2,p=1$", "argon2id-m19456-t2-p1"},
		{"bcrypt 2a", string(bc), "$2a$04$", "bcrypt-4"},
		{"bcrypt 2b cost 12", "$2b$12$" + string(bc[7:]), "$2b$12$", "bcrypt-12"},
		{"bcrypt cost 31 refused", "$2b$31$" + string(bc[7:]), "$2b$31$", ""},
		{"unknown scheme", "$1$abc$def", "$1$", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Scheme(tt.encoded); got != tt.scheme {
				t.Errorf("Scheme = %q, want %q", got, tt.scheme)
			}
			if got := FamilyOf(Scheme(tt.encoded)); got != tt.family {
				t.Errorf("FamilyOf(Scheme) = %q, want %q", got, tt.family)
			}
		})
	}
}

// An unknown username costs one verification of a family present among
// the accounts, the same name always the same family, and names spread
// over families as the accounts do.
func TestVerifyDummyFollowsFamilies(t *testing.T) {
	h := newCheap(t)
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	argon := mustHash(t, h, "pw")
	h.SetSchemes(map[string]int{Scheme(string(bc)): 1})
	if err := h.VerifyDummy(t.Context(), "wrong", "nobody"); err != nil {
		t.Fatal(err)
	}
	if got := h.Verifications(); got["bcrypt-4"] != 1 || len(got) != 1 {
		t.Fatalf("after one dummy with only bcrypt-4 accounts: verifications = %v, want map[bcrypt-4:1]", got)
	}

	h = newCheap(t)
	h.SetSchemes(map[string]int{Scheme(argon): 3, Scheme(string(bc)): 1})
	for i := range 2000 {
		if err := h.VerifyDummy(t.Context(), "wrong", fmt.Sprintf("user-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got := h.Verifications()
	if got["bcrypt-4"] < 400 || got["bcrypt-4"] > 600 || got["bcrypt-4"]+got["argon2id-m64-t1-p1"] != 2000 {
		t.Errorf("2000 unknown names over 3 argon2id : 1 bcrypt accounts: verifications = %v, want about 500 bcrypt-4", got)
	}
	for i := range 50 {
		name := fmt.Sprintf("user-%d", i)
		before := h.Verifications()["bcrypt-4"]
		h.VerifyDummy(t.Context(), "a", name)
		first := h.Verifications()["bcrypt-4"] - before
		h.VerifyDummy(t.Context(), "b", name)
		if second := h.Verifications()["bcrypt-4"] - before - first; second != first {
			t.Fatalf("%s cost bcrypt %d then %d times: the pick must be stable", name, first, second)
		}
	}
}

// A wrong password whose NFKC form differs runs bcrypt once.
func TestBcryptRunsOnce(t *testing.T) {
	h := newCheap(t)
	bc, err := bcrypt.GenerateFromPassword([]byte("finance-2024"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(t.Context(), "ﬁnance-2025", string(bc)); err != nil || ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if got := h.Verifications()["bcrypt-4"]; got != 1 {
		t.Errorf("bcrypt verifications = %d, want 1", got)
	}
}

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
)

// Hostile new usernames are refused at the admin API and at import, with
// a 422 (or 409 for a look-alike) naming the field.
func TestHostileUsernamesRefused(t *testing.T) {
	m := apiServer(t)
	addUser(t, m, "alice", "alice's long password")
	addUser(t, m, "ape", "ape's long password")
	tests := []struct {
		name, username string
		status         int
		code           string
	}{
		{"zero-width space", "alice\u200b", 422, "invalid_field"},
		{"cyrillic a", "\u0430lice", 422, "invalid_field"},
		{"right-to-left override", "\u202eecila", 422, "invalid_field"},
		{"reserved prefix", "cordon:admin", 422, "invalid_field"},
		{"reserved prefix, other case", "Cordon:Admin", 422, "invalid_field"},
		{"space", "alice smith", 422, "invalid_field"},
		{"whole-script cyrillic look-alike", "\u0430\u0440\u0435", 409, "conflict"},
		{"fullwidth of an existing name", "ａｌｉｃｅ", 409, "conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]string{"username": tt.username, "password": "a long new password"})
			r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), b)
			wantError(t, r, tt.status, tt.code)
			if r.body["field"] != "username" {
				t.Errorf("answer %v does not name the field username", r.body)
			}
			imp := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"),
				ndjson(map[string]string{"username": tt.username, "password": "a long new password"}))
			if imp.status != http.StatusOK || imp.body["created"] != float64(0) {
				t.Errorf("import of %q: %v, want it refused as a problem", tt.username, imp)
			}
		})
	}
	// Two look-alikes in one import batch: the second is refused.
	imp := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"),
		ndjson(map[string]string{"username": "paypal", "password": "a long new password"},
			map[string]string{"username": "\u0440\u0430\u0443\u0440\u0430l", "password": "a long new password"}))
	if imp.body["created"] != float64(1) || imp.body["invalid"] != float64(1) {
		t.Errorf("import of paypal and a Cyrillic look-alike: %v, want 1 created and 1 invalid", imp.body)
	}
}

// Accounts whose names the new rules would refuse keep logging in.
func TestLegacyUsernamesStillLogIn(t *testing.T) {
	m := apiServer(t)
	h, err := password.NewHasher(m.Config.Hash, password.Limits{}).Hash(context.Background(), "legacy long password")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, name := range []string{"Alice Smith", "\u0430lice", "cordon:legacy"} {
		a := &cordon.Account{ID: cordon.NewID("u"), Username: name, PasswordHash: h, PasswordChangedAt: now, CreatedAt: now}
		if err := m.store.CreateAccount(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"Alice Smith", "alice smith", "\u0430lice", "cordon:legacy"} {
		if r := loginAs(t, m, name, "legacy long password", nil); r.status != 200 {
			t.Errorf("legacy account %q: %v, want 200", name, r)
		}
	}
}

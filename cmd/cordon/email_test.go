package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func createBody(name, pw, email string) []byte {
	b, _ := json.Marshal(map[string]string{"username": name, "password": pw, "email": email})
	return b
}

// TestAccountEmail: an admin gives an account an email address at
// creation, sees it, changes it (with an audit record), and cannot give
// one address to two accounts; apps never see it.
func TestAccountEmail(t *testing.T) {
	m := apiServer(t)
	r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), createBody("alice", "a long enough password", "Alice@Example.COM"))
	if r.status != http.StatusCreated || r.body["email"] != "alice@example.com" {
		t.Fatalf("create alice: %v, want email alice@example.com (lower-cased)", r)
	}
	id := r.body["id"].(string)
	if r := send(t, "GET", m.URL()+"/admin/v1/accounts/alice", admin(), nil); r.body["email"] != "alice@example.com" {
		t.Errorf("GET alice: %v", r)
	}
	// Showing the address is a read of the category email.
	shown := false
	for _, e := range auditLeaves(t, m) {
		if e.Purpose != "" && strings.HasPrefix(e.Purpose, "account shown") && e.Subject == "alice" && strings.Join(e.Categories, ",") == "email,profile" {
			shown = true
		}
	}
	if !shown {
		t.Error("showing alice's address is not recorded as a read of email")
	}

	bad := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"taken by another account", createBody("bob", "a long enough password", "ALICE@example.com"), 409, "conflict"},
		{"display name", createBody("bob", "a long enough password", "Bob <bob@example.com>"), 400, "invalid_request"},
		{"two addresses", createBody("bob", "a long enough password", "bob@example.com, eve@example.com"), 400, "invalid_request"},
		{"header injection", createBody("bob", "a long enough password", "bob@example.com\r\nBcc: eve@example.com"), 400, "invalid_request"},
		{"no domain dot", createBody("bob", "a long enough password", "bob@localhost"), 400, "invalid_request"},
		{"too long", createBody("bob", "a long enough password", strings.Repeat("b", 250)+"@example.com"), 400, "invalid_request"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), tc.body)
			wantError(t, r, tc.status, tc.code)
			if r.body["field"] != "email" {
				t.Errorf("field = %v, want email", r.body["field"])
			}
		})
	}
	if r := send(t, "GET", m.URL()+"/admin/v1/accounts/bob", admin(), nil); r.status != http.StatusNotFound {
		t.Errorf("bob exists after refused creations: %v", r)
	}

	emailChanges := func() int {
		n := 0
		for _, e := range auditLeaves(t, m) {
			if strings.HasPrefix(e.Purpose, "email address") {
				n++
			}
		}
		return n
	}
	r = send(t, "PUT", m.URL()+"/admin/v1/accounts/alice/email", admin(), []byte(`{"email":"alice@new.example"}`))
	if acc, _ := r.body["account"].(map[string]any); r.status != http.StatusOK || acc["email"] != "alice@new.example" {
		t.Fatalf("set email: %v", r)
	}
	var changed []string
	for _, e := range auditLeaves(t, m) {
		if strings.HasPrefix(e.Purpose, "email address changed") && e.Subject == "alice" && e.Action == "write" && strings.Join(e.Categories, ",") == "email" {
			changed = append(changed, e.Principal)
		}
	}
	if len(changed) != 1 || changed[0] != "cordon:admin/root" {
		t.Errorf("audit records of the change: got principals %v, want one by cordon:admin/root", changed)
	}
	addUser(t, m, "carol", "a long enough password")
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"taken", "/admin/v1/accounts/carol/email", `{"email":"alice@new.example"}`, 409, "conflict"},
		{"missing field", "/admin/v1/accounts/carol/email", `{}`, 400, "invalid_request"},
		{"null", "/admin/v1/accounts/carol/email", `{"email":null}`, 400, "invalid_request"},
		{"unknown field", "/admin/v1/accounts/carol/email", `{"email":"c@example.com","verified":true}`, 400, "invalid_request"},
		{"not a string", "/admin/v1/accounts/carol/email", `{"email":42}`, 400, "invalid_request"},
		{"no such account", "/admin/v1/accounts/nobody/email", `{"email":"n@example.com"}`, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, send(t, "PUT", m.URL()+tc.path, admin(), []byte(tc.body)), tc.status, tc.code)
		})
	}
	if n := emailChanges(); n != 1 {
		t.Errorf("refused changes wrote audit records: %d email changes recorded, want 1", n)
	}
	r = send(t, "PUT", m.URL()+"/admin/v1/accounts/"+id+"/email", admin(), []byte(`{"email":""}`))
	if acc, _ := r.body["account"].(map[string]any); r.status != http.StatusOK || acc["email"] != nil {
		t.Errorf("remove email: %v", r)
	}
	if r := send(t, "PUT", m.URL()+"/admin/v1/accounts/carol/email", admin(), []byte(`{"email":"alice@new.example"}`)); r.status != http.StatusOK {
		t.Errorf("an address freed by removal: %v", r)
	}

	// Apps see no address, not even their own account's.
	tok := mustLogin(t, m, "carol", "a long enough password", "")
	r = send(t, "GET", m.URL()+"/v1/session", hdr("Authorization", "Bearer "+accessToken(t, tok)), nil)
	if r.status != http.StatusOK || strings.Contains(string(r.raw), "alice@new.example") {
		t.Errorf("GET /v1/session: %v, want no email address", r)
	}
}

// TestCLIUserEmail: `cordon user add --email`, `user show` and
// `user set-email`.
func TestCLIUserEmail(t *testing.T) {
	cliServer(t)
	if r := cli(t, "a long enough password\n", "user", "add", "dana", "--email", "dana@example.com"); r.err != nil {
		t.Fatalf("user add: %v", r)
	}
	if r := cli(t, "", "user", "show", "dana"); !strings.Contains(r.stdout, "email:               dana@example.com\n") {
		t.Errorf("user show: %q", r.stdout)
	}
	if r := cli(t, "", "user", "set-email", "dana", "d2@example.com"); r.err != nil || r.stdout != "dana: email d2@example.com\n" {
		t.Errorf("set-email: %v", r)
	}
	if r := cli(t, "", "user", "set-email", "dana", ""); r.err != nil || r.stdout != "dana has no email address now\n" {
		t.Errorf("set-email '': %v", r)
	}
	if r := cli(t, "", "user", "set-email", "dana"); r.code != 2 {
		t.Errorf("set-email with one argument: exit %d, want 2", r.code)
	}
	if r := cli(t, "", "user", "set-email", "dana", "not an address"); r.code == 0 || r.err == nil || !strings.Contains(r.err.Error(), "bare address") {
		t.Errorf("set-email with a bad address: %v", r)
	}
}

// TestImportEmail: cordon's import format carries email; a taken address
// skips the record as existing, a hostile or repeated one is a problem.
func TestImportEmail(t *testing.T) {
	m := apiServer(t)
	if r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), createBody("alice", "a long enough password", "alice@example.com")); r.status != http.StatusCreated {
		t.Fatal(r)
	}
	const pw = "another long password"
	body := ndjson(
		map[string]string{"username": "bob", "password": pw, "email": "Bob@Example.com"},
		map[string]string{"username": "carol", "password": pw, "email": "ALICE@example.com"},
		map[string]string{"username": "dave", "password": pw, "email": "bob@example.com"},
		map[string]string{"username": "erin", "password": pw, "email": "erin@example.com\r\nBcc: x@example.com"},
		map[string]string{"username": "frank", "password": pw},
	)
	r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"), body)
	if r.status != http.StatusOK || r.body["created"] != float64(2) || r.body["existing"] != float64(1) || r.body["invalid"] != float64(2) {
		t.Fatalf("import: %v, want bob and frank created, carol existing (alice's address), dave and erin invalid", r)
	}
	for name, want := range map[string]string{"bob": "bob@example.com", "frank": ""} {
		if a := mustAccount(t, m, name); a.Email != want {
			t.Errorf("%s: email %q, want %q", name, a.Email, want)
		}
	}
	for _, name := range []string{"carol", "dave", "erin"} {
		if _, err := m.store.AccountByUsername(t.Context(), name); err == nil {
			t.Errorf("%s was imported", name)
		}
	}
}

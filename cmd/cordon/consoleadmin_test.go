package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAdminCreateCLI(t *testing.T) {
	cliServer(t)
	r := cli(t, "a long admin passphrase\n", "admin", "create", "ada", "--role", "owner")
	if r.code != 0 || !strings.Contains(r.stdout, "created console admin ada") || !strings.Contains(r.stdout, "otpauth://totp/cordon:ada?") {
		t.Fatalf("admin create: %v", r)
	}
	r = cli(t, "another long passphrase\n", "admin", "create", "bo", "-o", "json")
	var out struct {
		Role string `json:"role"`
		URI  string `json:"otpauth_uri"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Role != "responder" || !strings.HasPrefix(out.URI, "otpauth://") {
		t.Fatalf("admin create -o json (default role responder): %v", r)
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"a taken name", "a long admin passphrase\n", []string{"ada"}, "exists already"},
		{"an unknown role", "a long admin passphrase\n", []string{"cy", "--role", "root"}, "unknown role"},
		{"a weak password", "short\n", []string{"cy"}, "password"},
		{"no name", "", nil, "NAME"},
	} {
		r := cli(t, tc.stdin, append([]string{"admin", "create"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.String(), tc.want) {
			t.Errorf("%s: %v, want a failure naming %q", tc.name, r, tc.want)
		}
	}
}

// TestAdminListRemoveCLI: the admins are listed; one is removed (the
// table no longer holds it); removing an unknown one, or none, fails with
// what to do.
func TestAdminListRemoveCLI(t *testing.T) {
	cliServer(t)
	for _, n := range []string{"ada", "bo"} {
		if r := cli(t, "a long admin passphrase\n", "admin", "create", n, "--role", "auditor"); r.code != 0 {
			t.Fatalf("admin create %s: %v", n, r)
		}
	}
	r := cli(t, "", "admin", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, "ada") || !strings.Contains(r.stdout, "bo") {
		t.Fatalf("admin list: %v", r)
	}
	if r := cli(t, "", "admin", "remove", "ada"); r.code != 0 || !strings.Contains(r.stdout, "removed console admin ada") {
		t.Fatalf("admin remove: %v", r)
	}
	r = cli(t, "", "admin", "list", "-o", "json")
	var out struct {
		Admins []struct{ Name string } `json:"admins"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Admins) != 1 || out.Admins[0].Name != "bo" {
		t.Fatalf("admin list -o json after the removal: %v", r)
	}
	if r := cli(t, "", "admin", "remove", "ada"); r.code == 0 || !strings.Contains(r.String(), "cordon admin list") {
		t.Errorf("removing ada twice: %v, want a failure pointing to cordon admin list", r)
	}
	if r := cli(t, "", "admin", "remove"); r.code != 2 {
		t.Errorf("admin remove without a name: %v, want a usage error", r)
	}
}

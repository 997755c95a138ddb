package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestCLITokenLifecycle: token create --ttl, list, rotate, revoke and
// expire as an operator types them.
func TestCLITokenLifecycle(t *testing.T) {
	m := cliServer(t)
	r := cli(t, "", "token", "create", "deploy", "--scope", "accounts,gate", "--ttl", "90d")
	if r.err != nil || !strings.HasPrefix(r.stdout, "cat_") || !strings.Contains(r.stderr, ", until ") {
		t.Fatalf("token create --ttl: %v", r)
	}
	secret := strings.TrimSpace(r.stdout)
	if r := cli(t, "", "token", "create", "deploy", "--scope", "gate"); r.code != 1 || !strings.Contains(r.err.Error(), "exists already") {
		t.Errorf("token create of a taken name: %v\nwant exit 1, exists already", r)
	}
	if r := cli(t, "", "token", "create", "x", "--scope", "gate", "--expires", "next week"); r.code != 1 || !strings.Contains(r.err.Error(), "RFC 3339") {
		t.Errorf("token create --expires 'next week': %v\nwant exit 1 naming RFC 3339", r)
	}

	r = cli(t, "", "token", "list")
	if r.err != nil || !regexp.MustCompile(`(?m)^t-\S+ +deploy +accounts,gate +active +\S+ +20\d\d-`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^t-\S+ +root +\* +active +\S+ +-`).MatchString(r.stdout) {
		t.Fatalf("token list: %v", r)
	}

	r = cli(t, "", "token", "rotate", "deploy", "--grace", "10m")
	if r.err != nil || !strings.HasPrefix(r.stdout, "cat_") || !strings.Contains(r.stderr, "stops working at ") {
		t.Fatalf("token rotate --grace: %v", r)
	}
	next := strings.TrimSpace(r.stdout)
	for _, s := range []string{secret, next} {
		if code, _, _ := call(t, "GET", m.URL()+"/admin/v1/accounts", asToken(s), ""); code != http.StatusOK {
			t.Errorf("a secret within the grace: %d", code)
		}
	}
	r = cli(t, "", "token", "revoke", "deploy")
	if r.err != nil || !regexp.MustCompile(`(?m)^state: +revoked$`).MatchString(r.stdout) {
		t.Fatalf("token revoke: %v", r)
	}
	if code, _, _ := call(t, "GET", m.URL()+"/admin/v1/accounts", asToken(next), ""); code != http.StatusUnauthorized {
		t.Errorf("the revoked token: %d, want 401", code)
	}
	if r := cli(t, "", "token", "revoke", "root"); r.code != 1 || !strings.Contains(r.err.Error(), "last_admin_token") {
		t.Errorf("token revoke root: %v\nwant exit 1, last_admin_token", r)
	}
	if r := cli(t, "", "token", "revoke", "t-nosuchtoken"); r.code != 1 || !strings.Contains(r.err.Error(), "no admin token") {
		t.Errorf("token revoke of an unknown id: %v", r)
	}
	if r := cli(t, "", "token", "expire", "root"); r.code != 2 {
		t.Errorf("token expire with no end: %v\nwant exit 2", r)
	}
	r = cli(t, "", "token", "expire", "root", "--expires", "2030-01-01T00:00:00Z")
	if r.err != nil || !strings.Contains(r.stdout, "expires: 2030-01-01T00:00:00Z") {
		t.Fatalf("token expire --expires: %v", r)
	}
	if r := cli(t, "", "token", "expire", "root", "--never"); r.err != nil || !strings.Contains(r.stdout, "expires: -") {
		t.Errorf("token expire --never: %v", r)
	}
}

// TestCLIUserLockDeleteList: user lock, unlock, delete and list.
func TestCLIUserLockDeleteList(t *testing.T) {
	m := cliServer(t)
	const pw = "a long enough password"
	for _, n := range []string{"gina", "gus", "hal"} {
		addUser(t, m, n, pw)
	}
	if code, tok := login(t, m, "gina", pw, ""); code != http.StatusOK {
		t.Fatalf("login: %d %v", code, tok)
	}
	if r := cli(t, "", "user", "lock", "gina"); r.err != nil || r.stdout != "locked gina; ended 1 session(s)\n" {
		t.Fatalf("user lock: %v", r)
	}
	if code, out := login(t, m, "gina", pw, ""); code != http.StatusForbidden || out["error"] != "account_locked" {
		t.Errorf("login of a locked account: %d %v", code, out)
	}
	if r := cli(t, "", "user", "show", "gina"); r.err != nil || !regexp.MustCompile(`(?m)^locked: +20\d\d-`).MatchString(r.stdout) {
		t.Errorf("user show of a locked account: %v", r)
	}
	r := cli(t, "", "user", "list", "--locked")
	if r.err != nil || !regexp.MustCompile(`(?m)^u-\S+ +gina +\S+ +20\d\d-`).MatchString(r.stdout) || strings.Contains(r.stdout, "gus") {
		t.Errorf("user list --locked: %v", r)
	}
	r = cli(t, "", "user", "list", "--prefix", "G", "--limit", "1")
	if r.err != nil || !strings.Contains(r.stdout, "gina") || !strings.Contains(r.stdout, "more: --cursor ") {
		t.Fatalf("user list --limit 1: %v", r)
	}
	cursor := strings.TrimSpace(r.stdout[strings.Index(r.stdout, "--cursor ")+len("--cursor "):])
	r = cli(t, "", "user", "list", "--prefix", "g", "--limit", "1", "--cursor", cursor)
	if r.err != nil || !strings.Contains(r.stdout, "gus") || strings.Contains(r.stdout, "gina") {
		t.Errorf("user list --cursor: %v", r)
	}
	if r := cli(t, "", "user", "list", "--all", "--limit", "1"); r.err != nil || strings.Count(r.stdout, "\n") != 4 {
		t.Errorf("user list --all: %v\nwant a header and 3 accounts", r)
	}
	if r := cli(t, "", "user", "list", "--locked", "--unlocked"); r.code != 2 {
		t.Errorf("user list --locked --unlocked: %v\nwant exit 2", r)
	}
	if r := cli(t, "", "user", "unlock", "gina"); r.err != nil || r.stdout != "unlocked gina\n" {
		t.Errorf("user unlock: %v", r)
	}
	if r := cli(t, "", "user", "delete", "hal"); r.err != nil || !strings.HasPrefix(r.stdout, "deleted hal; ended 0 session(s)") {
		t.Errorf("user delete: %v", r)
	}
	if r := cli(t, "", "user", "delete", "hal"); r.code != 1 || !strings.Contains(r.err.Error(), "no account") {
		t.Errorf("user delete twice: %v\nwant exit 1, no account", r)
	}
	if r := cli(t, "", "user", "lock"); r.code != 2 {
		t.Errorf("user lock with no USER: %v\nwant exit 2", r)
	}
}

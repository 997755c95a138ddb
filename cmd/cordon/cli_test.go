package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cliResult is what one CLI invocation did.
type cliResult struct {
	err            error
	code           int // the exit status main would give; 0 on success
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d, err %v\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
}

// cli runs the CLI in-process with stdin, as main would.
func cli(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	r := cliResult{err: err, stdout: out.String(), stderr: errb.String()}
	if err != nil {
		r.code = exitCode(err)
	}
	return r
}

// cliServer runs a test server and points the CLI at it through the
// environment, as an operator would.
func cliServer(t *testing.T) *Main {
	t.Helper()
	m := testServer(t)
	t.Setenv("CORDON_SERVER", m.URL())
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	return m
}

// freeAddr returns a loopback address nothing listens on (at the moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestCLIUserAdd(t *testing.T) {
	m := cliServer(t)
	addUser(t, m, "taken", "a long enough password")
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string // in the error's text; "" means success
		loginPW  string // a password that must log the user in afterwards
	}{
		{name: "created", args: []string{"alice"}, stdin: "correct horse battery staple\n", loginPW: "correct horse battery staple"},
		{name: "CRLF line ending is not part of the password", args: []string{"bob"}, stdin: "a long enough password\r\n", loginPW: "a long enough password"},
		{name: "no final newline", args: []string{"carol"}, stdin: "a long enough password", loginPW: "a long enough password"},
		{name: "flag after the name", args: []string{"dave", "--server", ""}, stdin: "a long enough password\n", loginPW: "a long enough password"},
		{name: "too short", args: []string{"erin"}, stdin: "short\n", wantCode: 1, wantErr: "at least 8 characters"},
		{name: "same as the username", args: []string{"frank-the-user"}, stdin: "frank-the-user\n", wantCode: 1, wantErr: "same as the username"},
		{name: "username taken", args: []string{"taken"}, stdin: "another long password\n", wantCode: 1, wantErr: "taken"},
		{name: "empty stdin", args: []string{"gina"}, stdin: "", wantCode: 1, wantErr: "no password on stdin"},
		{name: "no username", args: nil, stdin: "a long enough password\n", wantCode: 2, wantErr: "user add takes one USERNAME"},
		{name: "two usernames", args: []string{"hal", "ida"}, stdin: "a long enough password\n", wantCode: 2, wantErr: "user add takes one USERNAME"},
		{name: "unknown flag", args: []string{"--nope", "hal"}, stdin: "a long enough password\n", wantCode: 2, wantErr: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.stdin, append([]string{"user", "add"}, tt.args...)...)
			if tt.wantErr == "" {
				if r.err != nil {
					t.Fatalf("user add %q: %v", tt.args, r)
				}
				if !strings.HasPrefix(r.stdout, "created "+tt.args[0]+" (u-") {
					t.Errorf("stdout = %q, want created %s (u-...)", r.stdout, tt.args[0])
				}
				if code, out := login(t, m, tt.args[0], tt.loginPW, ""); code != http.StatusOK {
					t.Errorf("login as %s after user add: %d %v, want 200", tt.args[0], code, out)
				}
				return
			}
			if r.err == nil || r.code != tt.wantCode || !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Errorf("user add %q: %v\nwant exit %d and an error saying %q", tt.args, r, tt.wantCode, tt.wantErr)
			}
		})
	}
	// The password is never read from argv, so a weak one was never stored.
	if code, _ := login(t, m, "erin", "short", ""); code == http.StatusOK {
		t.Error("erin logs in although user add refused her password")
	}
}

func TestCLIUserImport(t *testing.T) {
	const (
		oldPW   = "imported from the old system"
		carolPW = "carol keeps her password"
	)
	hash := bcryptHash(t, oldPW)
	jsonl := func(names ...string) string {
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, `{"username":%q,"password_hash":%q}`+"\n", n, hash)
		}
		return b.String()
	}
	tests := []struct {
		name, file, content string
		flags               []string
		wantCode            int
		wantStdout          string   // the summary line
		wantStderr          []string // each must appear
		loginOK             []string // usernames that must log in with oldPW
	}{
		{
			name: "JSONL", file: "accounts.jsonl", content: jsonl("alice", "bob", "carol"),
			wantStdout: "imported 2 account(s); 1 existed already; 0 invalid\n", loginOK: []string{"alice", "bob"},
		},
		{
			name: "JSONL with blank lines", file: "accounts.ndjson", content: "\n" + jsonl("alice") + "\n\n" + jsonl("bob"),
			wantStdout: "imported 2 account(s); 0 existed already; 0 invalid\n", loginOK: []string{"alice", "bob"},
		},
		{
			name: "JSONL bad line", file: "accounts.jsonl", content: jsonl("alice") + "\n" + "this is not json\n" + jsonl("bob"),
			wantCode: 1, wantStdout: "imported 2 account(s); 0 existed already; 1 invalid\n", wantStderr: []string{"line 3"}, loginOK: []string{"alice", "bob"},
		},
		{
			name: "JSONL unknown field", file: "accounts.jsonl", content: jsonl("alice") + `{"username":"bob","hash":"x"}` + "\n",
			wantCode: 1, wantStdout: "imported 1 account(s); 0 existed already; 1 invalid\n", wantStderr: []string{"line 2"}, loginOK: []string{"alice"},
		},
		{
			name: "CSV", file: "accounts.csv", content: "username,password_hash\nalice," + hash + "\ncarol," + hash + "\n",
			wantStdout: "imported 1 account(s); 1 existed already; 0 invalid\n", loginOK: []string{"alice"},
		},
		{
			name: "CSV header in another order and case", file: "ACCOUNTS.CSV", content: "Password_Hash, Username\n" + hash + ",alice\n",
			wantStdout: "imported 1 account(s); 0 existed already; 0 invalid\n", loginOK: []string{"alice"},
		},
		{
			name: "CSV bad hash", file: "accounts.csv", content: "username,password_hash\nalice," + hash + "\nbob,not-a-hash\ndan," + hash + "\n",
			wantCode: 1, wantStdout: "imported 2 account(s); 0 existed already; 1 invalid\n", wantStderr: []string{"line 3 (bob)", "password_hash"}, loginOK: []string{"alice", "dan"},
		},
		{
			name: "CSV malformed quote", file: "accounts.csv", content: "username,password_hash\nalice," + hash + "\nbob,\"x\"y\n",
			wantCode: 1, wantStdout: "imported 1 account(s); 0 existed already; 1 invalid\n", wantStderr: []string{"line 3"}, loginOK: []string{"alice"},
		},
		{
			name: "CSV malformed quote in the first column", file: "accounts.csv", content: "username,password_hash\nalice," + hash + "\nbo\"b,x\n",
			wantCode: 1, wantStdout: "imported 1 account(s); 0 existed already; 1 invalid\n", wantStderr: []string{"line 3"}, loginOK: []string{"alice"},
		},
		{
			name: "CSV plain passwords", file: "accounts.csv", content: "username,password\nalice," + oldPW + "\nbob,short\n",
			wantCode: 1, wantStdout: "imported 1 account(s); 0 existed already; 1 invalid\n", wantStderr: []string{"line 3 (bob)", "at least 8 characters"}, loginOK: []string{"alice"},
		},
		{
			name: "line numbers across batches", file: "accounts.jsonl", flags: []string{"--batch", "1"},
			content:    jsonl("alice", "bob") + `{"username":"dan","password_hash":"$2b$04$short"}` + "\n" + jsonl("erin"),
			wantCode:   1,
			wantStdout: "imported 3 account(s); 0 existed already; 1 invalid\n", wantStderr: []string{"line 3 (dan)"}, loginOK: []string{"alice", "bob", "erin"},
		},
		{
			name: "--format jsonl overrides the extension", file: "accounts.txt", content: jsonl("alice"), flags: []string{"--format", "jsonl"},
			wantStdout: "imported 1 account(s); 0 existed already; 0 invalid\n", loginOK: []string{"alice"},
		},
		{
			name: "--format csv overrides the extension", file: "accounts.jsonl", content: "username,password_hash\nalice," + hash + "\n", flags: []string{"--format", "csv"},
			wantStdout: "imported 1 account(s); 0 existed already; 0 invalid\n", loginOK: []string{"alice"},
		},
		{name: "unknown extension", file: "accounts.txt", content: jsonl("alice"), wantCode: 2, wantStderr: nil},
		{name: "unknown --format", file: "accounts.jsonl", content: jsonl("alice"), flags: []string{"--format", "xml"}, wantCode: 2},
		{name: "--batch out of range", file: "accounts.jsonl", content: jsonl("alice"), flags: []string{"--batch", "10001"}, wantCode: 2},
		{name: "CSV without a username column", file: "accounts.csv", content: "user,password_hash\nalice," + hash + "\n", wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := cliServer(t)
			addUser(t, m, "carol", carolPW)
			path := writeFile(t, tt.file, tt.content)
			args := append([]string{"user", "import", path}, tt.flags...)
			var r cliResult
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("user import %s panicked: %v", tt.file, p)
					}
				}()
				r = cli(t, "", args...)
			}()
			if r.code != tt.wantCode {
				t.Fatalf("user import: %v\nwant exit %d", r, tt.wantCode)
			}
			if tt.wantCode == 2 {
				if !strings.Contains(r.err.Error(), "Usage:") {
					t.Errorf("a usage error should show the usage: %v", r.err)
				}
				return
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.wantStdout)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not name %q:\n%s", s, r.stderr)
				}
			}
			for _, u := range tt.loginOK {
				if code, out := login(t, m, u, oldPW, ""); code != http.StatusOK {
					t.Errorf("login as imported %s: %d %v, want 200", u, code, out)
				}
			}
			// An existing account is left untouched.
			if code, _ := login(t, m, "carol", carolPW, ""); code != http.StatusOK {
				t.Errorf("carol's own password stopped working after the import: %d", code)
			}
			if code, _ := login(t, m, "carol", oldPW, ""); code == http.StatusOK {
				t.Error("the import replaced carol's password")
			}
		})
	}
}

// TestCLIUserImportLongLine: a JSONL line longer than the reader's 64 KiB
// buffer must be reported once by its number, and the import must end.
func TestCLIUserImportLongLine(t *testing.T) {
	cliServer(t)
	path := writeFile(t, "accounts.jsonl", `{"username":"alice","password":"`+strings.Repeat("x", 70<<10)+`"}`+"\n")
	r := cli(t, "", "user", "import", path)
	if r.code != 1 || r.err == nil || !strings.Contains(r.err.Error(), "line 1") {
		t.Errorf("user import of a 70 KiB line: %v\nwant exit 1 naming line 1", r)
	}
}

func TestCLIUserShowSessionsRevoke(t *testing.T) {
	m := cliServer(t)
	const pw = "a long enough password"
	id := addUser(t, m, "erin", pw)
	var access, sids []string
	for _, dev := range []string{"d-1", "d-2"} {
		code, tok := login(t, m, "erin", pw, `platform=android, version="8.4.1", source=play, device="`+dev+`"`)
		if code != http.StatusOK {
			t.Fatalf("login: %d %v", code, tok)
		}
		access = append(access, tok["access_token"].(string))
		sids = append(sids, tok["session_id"].(string))
	}
	live := func(i int) bool {
		t.Helper()
		code, _, _ := call(t, "GET", m.URL()+"/v1/session", bearerH(access[i]), "")
		return code == http.StatusOK
	}

	for _, ref := range []string{"erin", id, "ERIN"} {
		r := cli(t, "", "user", "show", ref)
		if r.err != nil || !regexp.MustCompile(`(?m)^id: +`+id+`$`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^username: +erin$`).MatchString(r.stdout) {
			t.Errorf("user show %s: %v\nwant id %s and username erin", ref, r, id)
		}
	}
	if r := cli(t, "", "user", "show", "nobody"); r.code != 1 || !strings.Contains(r.err.Error(), "no account") {
		t.Errorf("user show nobody: %v\nwant exit 1, no account", r)
	}

	r := cli(t, "", "user", "sessions", "erin")
	if r.err != nil || !strings.HasPrefix(r.stdout, "SESSION") {
		t.Fatalf("user sessions: %v", r)
	}
	for _, sid := range sids {
		if !regexp.MustCompile(`(?m)^` + sid + ` +android +8\.4\.1 +play +d-\d`).MatchString(r.stdout) {
			t.Errorf("user sessions does not list %s with its client facts:\n%s", sid, r.stdout)
		}
	}

	r = cli(t, "", "session", "revoke", sids[0])
	if r.err != nil || r.stdout != "revoked "+sids[0]+"\n" {
		t.Fatalf("session revoke: %v", r)
	}
	if live(0) || !live(1) {
		t.Errorf("after session revoke %s: first session live %v, second %v; want false, true", sids[0], live(0), live(1))
	}
	if r := cli(t, "", "session", "revoke", "s-nonexistent"); r.code != 1 || !strings.Contains(r.err.Error(), "no session") {
		t.Errorf("session revoke of an unknown id: %v\nwant exit 1, no session", r)
	}
	if r := cli(t, "", "user", "sessions", "erin"); r.err != nil || strings.Contains(r.stdout, sids[0]) || !strings.Contains(r.stdout, sids[1]) {
		t.Errorf("user sessions after revoking %s: %v", sids[0], r)
	}

	r = cli(t, "", "user", "revoke-sessions", "erin")
	if r.err != nil || r.stdout != "revoked 1 session(s)\n" {
		t.Fatalf("user revoke-sessions: %v\nwant revoked 1 session(s)", r)
	}
	if live(1) {
		t.Error("a session is still live after user revoke-sessions")
	}
	if r := cli(t, "", "user", "revoke-sessions", id); r.err != nil || r.stdout != "revoked 0 session(s)\n" {
		t.Errorf("user revoke-sessions again, by id: %v\nwant revoked 0 session(s)", r)
	}
	if r := cli(t, "", "user", "sessions", "erin"); r.err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("user sessions after revoke-sessions: %v\nwant the header alone", r)
	}
	if r := cli(t, "", "user", "sessions", "nobody"); r.code != 1 {
		t.Errorf("user sessions nobody: %v\nwant exit 1", r)
	}
}

func jwksKids(t *testing.T, m *Main) []string {
	t.Helper()
	code, _, out := call(t, "GET", m.URL()+"/.well-known/jwks.json", nil, "")
	if code != http.StatusOK {
		t.Fatalf("jwks: %d", code)
	}
	var kids []string
	for _, k := range out["keys"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	return kids
}

func TestCLIKeysRotate(t *testing.T) {
	m := cliServer(t)
	addUser(t, m, "frank", "a long enough password")
	_, tok := login(t, m, "frank", "a long enough password", "")
	before := jwksKids(t, m)
	r := cli(t, "", "keys", "rotate")
	match := regexp.MustCompile(`^new signing key (\S+); `).FindStringSubmatch(r.stdout)
	if r.err != nil || match == nil {
		t.Fatalf("keys rotate: %v", r)
	}
	after := jwksKids(t, m)
	if !strings.Contains(strings.Join(after, " "), match[1]) {
		t.Errorf("JWKS after rotation = %v, lacks the new key %s", after, match[1])
	}
	for _, k := range before {
		if !strings.Contains(strings.Join(after, " "), k) {
			t.Errorf("JWKS after rotation = %v, dropped the previous key %s", after, k)
		}
	}
	// A token signed by the previous key still works.
	if code, _, out := call(t, "GET", m.URL()+"/v1/session", bearerH(tok["access_token"].(string)), ""); code != http.StatusOK {
		t.Errorf("access token signed before the rotation: %d %v", code, out)
	}
	_, next := login(t, m, "frank", "a long enough password", "")
	if kid := jwtKid(t, next["access_token"].(string)); kid != match[1] {
		t.Errorf("a login after the rotation signs with %s, want %s", kid, match[1])
	}
}

func jwtKid(t *testing.T, jwt string) string {
	t.Helper()
	head, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return h.Kid
}

func TestCLIUsageErrors(t *testing.T) {
	t.Setenv("CORDON_SERVER", "http://"+freeAddr(t)) // nothing may be called
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"user without a verb", []string{"user"}, "user needs a verb"},
		{"unknown user verb", []string{"user", "frob"}, "unknown verb user frob"},
		{"user show without USER", []string{"user", "show"}, "takes one USER"},
		{"user sessions with two", []string{"user", "sessions", "a", "b"}, "takes one USER"},
		{"user import without FILE", []string{"user", "import"}, "takes one FILE"},
		{"session without a verb", []string{"session"}, "session needs a verb"},
		{"session revoke without id", []string{"session", "revoke"}, "takes one SESSION_ID"},
		{"keys without a verb", []string{"keys"}, "keys needs a verb"},
		{"keys rotate with an argument", []string{"keys", "rotate", "now"}, "takes no arguments"},
		{"serve with a short minimum", []string{"serve", "--min-password-length", "3"}, "--min-password-length must be between 8 and 64"},
		{"serve with a long minimum", []string{"serve", "--min-password-length=65"}, "--min-password-length must be between 8 and 64"},
		{"serve with a bad number", []string{"serve", "--min-password-length", "eight"}, `invalid argument "eight"`},
		{"serve with an argument", []string{"serve", "now"}, "serve takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, "", tt.args...)
			if r.code != 2 || !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Errorf("cordon %q: %v\nwant exit 2 and an error saying %q", tt.args, r, tt.wantErr)
			}
		})
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		if r := cli(t, "", args...); r.err != nil || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("cordon %q: %v\nwant the usage on stdout", args, r)
		}
	}
}

func TestCLIAdminTokenAndServer(t *testing.T) {
	m := testServer(t)
	down := "http://" + freeAddr(t)
	tests := []struct {
		name, server, token string
		flags               []string
		wantErr             []string // "" alone means success
	}{
		{name: "no admin token", server: m.URL(), wantErr: []string{"set CORDON_ADMIN_TOKEN"}},
		{name: "wrong admin token", server: m.URL(), token: "cat_not-the-admin-token-at-all", wantErr: []string{"not valid"}},
		{name: "server unreachable", server: down, token: testAdminToken, wantErr: []string{down, "CORDON_SERVER"}},
		{name: "--server wins over CORDON_SERVER", server: down, token: testAdminToken, flags: []string{"--server", m.URL()}},
		{name: "--server unreachable", server: m.URL(), token: testAdminToken, flags: []string{"--server", down + "/"}, wantErr: []string{down, "CORDON_SERVER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CORDON_SERVER", tt.server)
			t.Setenv("CORDON_ADMIN_TOKEN", tt.token)
			r := cli(t, "", append([]string{"keys", "rotate"}, tt.flags...)...)
			if tt.wantErr == nil {
				if r.err != nil {
					t.Errorf("keys rotate: %v", r)
				}
				return
			}
			if r.code != 1 {
				t.Fatalf("keys rotate: %v\nwant exit 1", r)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(r.err.Error(), s) {
					t.Errorf("error %q does not say %q", r.err, s)
				}
			}
		})
	}
}

func TestCLIServeAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("CORDON_ADMIN_TOKEN", testAdminToken)
	addr := ln.Addr().String()
	r := cli(t, "", "serve", "--addr", addr, "--data", t.TempDir())
	if r.code != 1 || !strings.Contains(r.err.Error(), "listen on "+addr) || !errors.Is(r.err, syscall.EADDRINUSE) {
		t.Errorf("serve on a taken port: %v\nwant exit 1 saying it cannot listen on %s", r, addr)
	}
}

// TestCLIServeProcess runs the real binary: the first start prints a
// generated admin token, SIGTERM stops it cleanly, and a second start on
// the same data keeps that token and prints none.
func TestCLIServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "cordon")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr

	first := startServe(t, bin, addr, data)
	var tok string
	select {
	case tok = <-first.out.token:
	case <-time.After(60 * time.Second):
		t.Fatalf("no admin token printed within 60 s; stderr:\n%s", first.out)
	}
	waitHealthy(t, base)
	authz := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok}
	if code, _, out := call(t, "POST", base+"/admin/v1/accounts", authz, `{"username":"alice","password":"a long enough password"}`); code != http.StatusCreated {
		t.Fatalf("create an account with the printed token: %d %v", code, out)
	}
	if code, _, _ := call(t, "GET", base+"/admin/v1/accounts/alice", map[string]string{"Authorization": "Bearer cat_a-token-that-was-never-made"}, ""); code != http.StatusUnauthorized {
		t.Errorf("an unknown admin token answered %d, want 401", code)
	}
	// The binary's admin verbs reach the process through the environment.
	show := exec.Command(bin, "user", "show", "alice")
	show.Env = append(cleanEnv(), "CORDON_SERVER="+base, "CORDON_ADMIN_TOKEN="+tok)
	if out, err := show.CombinedOutput(); err != nil || !strings.Contains(string(out), "username:            alice") {
		t.Errorf("cordon user show alice: %v\n%s", err, out)
	}
	first.stop(t)

	second := startServe(t, bin, addr, data)
	waitHealthy(t, base)
	if code, _, out := call(t, "GET", base+"/admin/v1/accounts/alice", map[string]string{"Authorization": "Bearer " + tok}, ""); code != http.StatusOK {
		t.Errorf("the first token after a restart: %d %v, want 200 with alice", code, out)
	}
	second.stop(t)
	if s := second.out.String(); strings.Contains(s, "CORDON_ADMIN_TOKEN=") {
		t.Errorf("the second start printed an admin token again:\n%s", s)
	}
	if !strings.Contains(second.out.String(), `"msg":"cordon serving"`) {
		t.Errorf("the second start did not log that it serves:\n%s", second.out)
	}
}

// serveProc is one `cordon serve` process.
type serveProc struct {
	cmd  *exec.Cmd
	out  *procOutput
	done chan error
}

func startServe(t *testing.T, bin, addr, data string) *serveProc {
	t.Helper()
	p := &serveProc{out: &procOutput{token: make(chan string, 1)}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve", "--addr", addr, "--data", data)
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends SIGTERM and wants a clean exit within 10 seconds.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("cordon serve after SIGTERM: %v; output:\n%s", err, p.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("cordon serve still running 10 s after SIGTERM; output:\n%s", p.out)
	}
}

// cleanEnv is this process's environment without cordon's variables, so
// the server generates its own admin token.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CORDON_") {
			env = append(env, kv)
		}
	}
	return env
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz not answering 200 within 30 s: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond) // an outside process has no channel to wait on
	}
}

var adminTokenLine = regexp.MustCompile(`export CORDON_ADMIN_TOKEN=(cat_[A-Za-z0-9_-]+)\n`)

// procOutput collects a process's output and hands over the first
// generated admin token it prints.
type procOutput struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	sent  bool
	token chan string
}

func (p *procOutput) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	if !p.sent {
		if m := adminTokenLine.FindSubmatch(p.buf.Bytes()); m != nil {
			p.sent = true
			p.token <- string(m[1])
		}
	}
	return len(b), nil
}

func (p *procOutput) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

func TestCLIUserImportArrayAndBOM(t *testing.T) {
	cliServer(t)
	h := testHash(t)
	arr := writeFile(t, "accounts.json", `[{"username":"arr-1","password_hash":"`+h+`"},{"username":"arr-2","password_hash":"`+h+`"}]`)
	if r := cli(t, "", "user", "import", arr); r.code != 0 || !strings.Contains(r.stdout, "imported 2 account(s)") {
		t.Errorf("import of a JSON array: %v", r)
	}
	bad := writeFile(t, "object.json", `{"username":"x"}`)
	if r := cli(t, "", "user", "import", bad); r.code != 1 || r.err == nil || !strings.Contains(r.err.Error(), "JSON array") {
		t.Errorf("import of a .json object: %v, want exit 1 saying it needs an array", r)
	}
	bom := writeFile(t, "excel.csv", "\ufeffusername,password_hash\nbom-1,\""+h+"\"\n")
	if r := cli(t, "", "user", "import", bom); r.code != 0 || !strings.Contains(r.stdout, "imported 1 account(s)") {
		t.Errorf("import of a CSV with a byte-order mark: %v", r)
	}
}

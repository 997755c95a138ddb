package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestCreateConsoleAdmin: the one API call of the console. A token grants
// only the scopes it holds; names, roles and passwords are checked; the
// TOTP secret is answered once.
func TestCreateConsoleAdmin(t *testing.T) {
	e := newEnv(t)
	const path = "/admin/v1/console/admins"
	for _, tc := range []struct {
		name, token, body string
		status            int
		code, field       string
	}{
		{"no token", "", `{"name":"ada","role":"owner","password":"a long admin passphrase"}`, 401, "unauthorized", ""},
		{"a token without the tokens scope", "campaigner", `{"name":"ada","role":"auditor","password":"a long admin passphrase"}`, 403, "forbidden", ""},
		{"minting a role above the token", "minter", `{"name":"ada","role":"auditor","password":"a long admin passphrase"}`, 403, "forbidden", "role"},
		{"an owner from a partial token", "delegate", `{"name":"ada","role":"owner","password":"a long admin passphrase"}`, 403, "forbidden", "role"},
		{"unknown role", "root", `{"name":"ada","role":"god","password":"a long admin passphrase"}`, 422, "invalid_field", "role"},
		{"hostile name", "root", `{"name":"<script>x</script>","role":"owner","password":"a long admin passphrase"}`, 422, "invalid_field", "name"},
		{"name with a slash", "root", `{"name":"a/b","role":"owner","password":"a long admin passphrase"}`, 422, "invalid_field", "name"},
		{"empty name", "root", `{"name":"","role":"owner","password":"a long admin passphrase"}`, 422, "invalid_field", "name"},
		{"short password", "root", `{"name":"ada","role":"owner","password":"short pw"}`, 422, "weak_password", ""},
		{"unknown field", "root", `{"name":"ada","role":"owner","password":"a long admin passphrase","totp":"x"}`, 400, "invalid_request", ""},
		{"not JSON", "root", `name=ada`, 400, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := e.do(t, "POST", path, "application/json", tc.body, tc.token)
			if resp.StatusCode != tc.status || out["error"] != tc.code {
				t.Fatalf("%d %v, want %d %s", resp.StatusCode, out, tc.status, tc.code)
			}
			if tc.field != "" && out["field"] != tc.field {
				t.Errorf("field %v, want %s", out["field"], tc.field)
			}
		})
	}
	if _, err := e.store.ConsoleAdminByName(t.Context(), "ada"); err == nil {
		t.Fatal("a refused request stored an admin")
	}
	resp, out := e.do(t, "POST", path, "application/json", `{"name":"ada","role":"responder","password":"a long admin passphrase"}`, "root")
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %v", resp.StatusCode, out)
	}
	u, err := url.Parse(out["otpauth_uri"].(string))
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("issuer") != "cordon" || len(u.Query().Get("secret")) < 16 {
		t.Fatalf("otpauth URI %v", out["otpauth_uri"])
	}
	a, err := e.store.ConsoleAdminByName(t.Context(), "ada")
	if err != nil || a.Role != cordon.RoleResponder || a.TOTPSecret != u.Query().Get("secret") || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("stored admin %+v, %v", a, err)
	}
	if resp, out := e.do(t, "POST", path, "application/json", `{"name":"ada","role":"auditor","password":"another long passphrase"}`, "root"); resp.StatusCode != http.StatusConflict || out["field"] != "name" {
		t.Errorf("a second ada: %d %v, want 409 at name", resp.StatusCode, out)
	}
}

// TestRemoveConsoleAdmin: admins are listed without their secrets; one is
// removed (its sessions end in the same write) only by a token holding
// every scope of its role; unknown and hostile names are 404; the removal
// is an audit record.
func TestRemoveConsoleAdmin(t *testing.T) {
	e := newEnv(t)
	const path = "/admin/v1/console/admins"
	for _, name := range []string{"ada", "bo"} {
		if resp, out := e.do(t, "POST", path, "application/json", `{"name":"`+name+`","role":"auditor","password":"a long admin passphrase"}`, "root"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d %v", name, resp.StatusCode, out)
		}
	}
	ada, _ := e.store.ConsoleAdminByName(t.Context(), "ada")
	hash := []byte("ada-session-00000000000000000000")
	if err := e.store.CreateConsoleSession(t.Context(), &cordon.ConsoleSession{Hash: hash, AdminID: ada.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	resp, out := e.do(t, "GET", path, "", "", "root")
	raw, _ := json.Marshal(out)
	if resp.StatusCode != http.StatusOK || len(out["admins"].([]any)) != 2 || strings.Contains(string(raw), "argon2") || strings.Contains(string(raw), ada.TOTPSecret) {
		t.Fatalf("list: %d %s", resp.StatusCode, raw)
	}
	for _, tc := range []struct {
		name, token, target string
		status              int
		code                string
	}{
		{"no token", "", "ada", 401, "unauthorized"},
		{"a token without the tokens scope", "campaigner", "ada", 403, "forbidden"},
		{"a token without the role's scopes", "minter", "ada", 403, "forbidden"},
		{"unknown", "root", "nobody", 404, "not_found"},
		{"hostile", "root", "%3Cscript%3E", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := e.do(t, "DELETE", path+"/"+tc.target, "", "", tc.token)
			if resp.StatusCode != tc.status || out["error"] != tc.code {
				t.Fatalf("%d %v, want %d %s", resp.StatusCode, out, tc.status, tc.code)
			}
		})
	}
	if _, _, err := e.store.ConsoleSession(t.Context(), hash, time.Now()); err != nil {
		t.Fatalf("a refused removal ended ada's session: %v", err)
	}
	before, _ := e.store.AuditSize(t.Context())
	if resp, out := e.do(t, "DELETE", path+"/ada", "", "", "root"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remove ada: %d %v", resp.StatusCode, out)
	}
	if _, _, err := e.store.ConsoleSession(t.Context(), hash, time.Now()); err == nil {
		t.Error("ada's session outlived her removal")
	}
	if after, _ := e.store.AuditSize(t.Context()); after != before+1 {
		t.Errorf("audit log grew by %d, want 1 record of the removal", after-before)
	}
	if resp, out := e.do(t, "GET", path, "", "", "root"); len(out["admins"].([]any)) != 1 || resp.StatusCode != http.StatusOK {
		t.Errorf("list after removal: %v", out)
	}
}

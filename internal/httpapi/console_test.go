package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

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

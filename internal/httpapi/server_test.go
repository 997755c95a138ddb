package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/httpapi"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
	"github.com/cordon-dev/cordon/internal/token"
)

// The HTTP surface on the real services over the in-memory store, served
// in process by httptest: no database, no listener, a fake clock.

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const alicePassword = "correct horse battery staple"

type env struct {
	srv    *httpapi.Server
	store  *memstore.Store
	clk    *clock.Fake
	tokens map[string]string // admin token name to its secret
	log    *auditlog.Service
}

// admins are the admin tokens every env holds, by name.
var admins = []struct {
	name      string
	scopes    []string
	revoked   bool
	expiresIn time.Duration // 0: never; negative: expired
}{
	{"root", []string{"*"}, false, 0},
	{"campaigner", []string{"campaigns"}, false, 0},
	{"auditor", []string{"audit:read"}, false, 0},
	{"ingester", []string{"audit:write"}, false, 0},
	{"minter", []string{"tokens"}, false, 0},
	{"delegate", []string{"tokens", "campaigns"}, false, 0},
	{"revoked", []string{"*"}, true, 0},
	{"expired", []string{"*"}, false, -time.Minute},
	{"expiring", []string{"*"}, false, time.Minute},
	{"responder", []string{"incidents"}, false, 0},
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := t.Context()
	e := &env{store: memstore.New(), clk: clock.NewFake(t0), tokens: map[string]string{}}
	hasher := password.NewHasher(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{})
	camps, err := campaign.New(ctx, e.store, e.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	an, err := authn.New(ctx, authn.Deps{Store: e.store, Hasher: hasher, Policy: password.DefaultPolicy(),
		Throttle: throttle.New(throttle.DefaultConfig(), e.clk), Clock: e.clk, Campaigns: camps}, authn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	al, err := auditlog.New(ctx, auditlog.Config{Store: e.store, Clock: e.clk, Origin: "test.example/audit", Categories: []string{"tickets"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := an.CreateAccount(ctx, "alice", alicePassword); err != nil {
		t.Fatal(err)
	}
	for _, a := range admins {
		plain, hash := token.NewSecret("cat_")
		at := &cordon.AdminToken{ID: cordon.NewID("t"), Name: a.name, Hash: hash, Scopes: a.scopes, CreatedAt: t0.Add(-time.Hour)}
		if a.revoked {
			at.RevokedAt = t0.Add(-time.Minute)
		}
		if a.expiresIn != 0 {
			at.ExpiresAt = t0.Add(a.expiresIn)
		}
		if err := e.store.CreateAdminToken(ctx, at); err != nil {
			t.Fatal(err)
		}
		e.tokens[a.name] = plain
	}
	e.log = al
	inc, err := incident.New(incident.Config{Store: e.store, Audit: al, Campaigns: camps, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := notices.New(notices.Config{Store: e.store, Audit: al, Campaigns: camps, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httpapi.New(httpapi.Deps{Authn: an, Campaigns: camps, Audit: al, Incidents: inc, Notices: nt, Store: e.store, Hasher: hasher, Clock: e.clk})
	return e
}

// do serves one request; bearer is a secret (or a token name of e.tokens).
func (e *env) do(t *testing.T, method, path, contentType, body, bearer string) (*http.Response, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if s, ok := e.tokens[bearer]; ok {
		bearer = s
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	res := w.Result()
	data, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(data) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, data, err)
		}
	}
	return res, out
}

func (e *env) auditSize(t *testing.T) uint64 {
	t.Helper()
	n, err := e.store.AuditSize(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every JSON body is decoded strictly: content type, size, one object,
// no unknown or repeated member, valid UTF-8, the right types.
func TestStrictJSON(t *testing.T) {
	good := `{"username":"alice","password":"` + alicePassword + `"}`
	tests := []struct {
		name, contentType, body string
		status                  int
		code, field             string
		msg                     string // a part of the message
	}{
		{"valid", "application/json", good, 200, "", "", ""},
		{"valid with a charset", "application/json; charset=utf-8", good, 200, "", "", ""},
		{"unknown field", "application/json", `{"username":"alice","password":"x","remember_me":true}`, 400, "invalid_request", "remember_me", `unknown field "remember_me"`},
		{"repeated field", "application/json", `{"username":"bob","password":"x","username":"alice"}`, 400, "invalid_request", "username", "appears more than once"},
		{"invalid UTF-8", "application/json", "{\"username\":\"al\xffice\",\"password\":\"x\"}", 400, "invalid_request", "username", "not valid UTF-8"},
		{"malformed", "application/json", `{"username":"alice",`, 400, "invalid_request", "", ""},
		{"syntax error", "application/json", `{"username" "alice"}`, 400, "invalid_request", "", "malformed JSON at byte"},
		{"empty", "application/json", ``, 400, "invalid_request", "", "the body is empty"},
		{"two objects", "application/json", good + good, 400, "invalid_request", "", "exactly one JSON object"},
		{"an array", "application/json", `[` + good + `]`, 400, "invalid_request", "", "must be a JSON object"},
		{"a wrong type", "application/json", `{"username":"alice","password":7}`, 400, "invalid_request", "password", `field "password" must be a string`},
		{"oversized", "application/json", `{"username":"alice","password":"` + strings.Repeat("a", 64<<10) + `"}`, 413, "payload_too_large", "", "larger than 65536 bytes"},
		{"no content type", "", good, 415, "unsupported_media_type", "", "application/json"},
		{"a form", "application/x-www-form-urlencoded", "username=alice", 415, "unsupported_media_type", "", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res, body := e.do(t, "POST", "/v1/login", tt.contentType, tt.body, "")
			if res.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", res.StatusCode, body, tt.status)
			}
			if tt.status == 200 {
				if s, _ := body["access_token"].(string); strings.Count(s, ".") != 2 {
					t.Errorf("no access token in %v", body)
				}
				return
			}
			field, _ := body["field"].(string)
			msg, _ := body["message"].(string)
			if body["error"] != tt.code || field != tt.field || !strings.Contains(msg, tt.msg) {
				t.Errorf("body %v, want error %q on field %q saying %q", body, tt.code, tt.field, tt.msg)
			}
		})
	}
}

// Each admin route takes a usable token holding its scope, and nothing
// else: "*" holds every scope.
func TestAdminTokenScopes(t *testing.T) {
	tests := []struct {
		token        string
		method, path string
		status       int
		code         string
	}{
		{"", "GET", "/admin/v1/campaigns", 401, "unauthorized"},
		{"cat_not_a_token", "GET", "/admin/v1/campaigns", 401, "invalid_token"},
		{"revoked", "GET", "/admin/v1/campaigns", 401, "invalid_token"},
		{"expired", "GET", "/admin/v1/campaigns", 401, "invalid_token"},
		{"expiring", "GET", "/admin/v1/campaigns", 200, ""},
		{"root", "GET", "/admin/v1/campaigns", 200, ""},
		{"campaigner", "GET", "/admin/v1/campaigns", 200, ""},
		{"campaigner", "GET", "/admin/v1/accounts/alice", 403, "forbidden"},
		{"campaigner", "GET", "/admin/v1/tokens", 403, "forbidden"},
		{"campaigner", "GET", "/admin/v1/audit/report?principal=svc", 403, "forbidden"},
		{"root", "GET", "/admin/v1/accounts/alice", 200, ""},
		{"auditor", "GET", "/admin/v1/audit/report?principal=svc", 200, ""},
		{"auditor", "GET", "/audit/v1/checkpoints", 200, ""},
		{"ingester", "GET", "/audit/v1/checkpoints", 403, "forbidden"},
		{"auditor", "GET", "/admin/v1/campaigns", 403, "forbidden"},
		{"minter", "GET", "/admin/v1/tokens", 200, ""},
		{"minter", "GET", "/admin/v1/accounts", 403, "forbidden"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.token+" "+tt.method+" "+tt.path, func(t *testing.T) {
			res, body := e.do(t, tt.method, tt.path, "", "", tt.token)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", res.StatusCode, body, tt.status)
			}
			if tt.code != "" && body["error"] != tt.code {
				t.Errorf("error %v, want %q", body["error"], tt.code)
			}
		})
	}
	// The clock moves past the expiring token's end: refused from then on.
	e.clk.Advance(time.Minute)
	if res, body := e.do(t, "GET", "/admin/v1/campaigns", "", "", "expiring"); res.StatusCode != 401 || body["error"] != "invalid_token" {
		t.Errorf("an expired token: %d %v, want 401 invalid_token", res.StatusCode, body)
	}
}

// A token grants only scopes it holds; "*" only a "*" token grants.
func TestAdminTokenDelegation(t *testing.T) {
	tests := []struct {
		caller string
		scopes string
		status int
		code   string
	}{
		{"minter", `["campaigns"]`, 403, "forbidden"},
		{"minter", `["tokens"]`, 201, ""},
		{"delegate", `["campaigns"]`, 201, ""},
		{"delegate", `["campaigns","tokens"]`, 201, ""},
		{"delegate", `["campaigns","accounts"]`, 403, "forbidden"},
		{"delegate", `["*"]`, 403, "forbidden"},
		{"root", `["*"]`, 201, ""},
		{"root", `["accounts","gate"]`, 201, ""},
		{"root", `["everything"]`, 422, "invalid_field"},
		{"root", `[]`, 422, "invalid_field"},
		{"campaigner", `["campaigns"]`, 403, "forbidden"},
	}
	for i, tt := range tests {
		t.Run(tt.caller+" grants "+tt.scopes, func(t *testing.T) {
			e := newEnv(t)
			before := e.auditSize(t)
			res, body := e.do(t, "POST", "/admin/v1/tokens", "application/json", `{"name":"new-`+string(rune('a'+i))+`","scopes":`+tt.scopes+`}`, tt.caller)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d (%v), want %d", res.StatusCode, body, tt.status)
			}
			grown := e.auditSize(t) - before
			if tt.status != 201 {
				if body["error"] != tt.code {
					t.Errorf("error %v, want %q", body["error"], tt.code)
				}
				if grown != 0 {
					t.Errorf("a refused grant was recorded: the log grew by %d", grown)
				}
				return
			}
			secret, _ := body["token"].(string)
			if !strings.HasPrefix(secret, "cat_") || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("answer %v (Cache-Control %q), want a cat_ token not to be stored", body, res.Header.Get("Cache-Control"))
			}
			// The change and its record commit together.
			if grown != 1 {
				t.Errorf("the log grew by %d entries, want the grant's one record", grown)
			}
			var want []string
			json.Unmarshal([]byte(tt.scopes), &want)
			at, err := e.store.AdminTokenByHash(t.Context(), token.HashSecret(secret))
			if err != nil || !slices.Equal(at.Scopes, want) {
				t.Errorf("stored token %+v, %v; want scopes %v", at, err, want)
			}
		})
	}
}

// Reads of the audit log are recorded in it, before the answer; reading
// checkpoints is not, and neither is a refused request.
func TestAuditLogReadsAreRecorded(t *testing.T) {
	e := newEnv(t)
	events := `[{"time":"2026-12-01T08:59:00Z","principal":"svc-support","action":"read","subject":"alice","categories":["profile"]},
		{"time":"2026-12-01T08:59:30Z","principal":"svc-support","action":"read","subject":"bob","categories":["email"]}]`
	if res, body := e.do(t, "POST", "/audit/v1/events", "application/json", events, "ingester"); res.StatusCode != 200 {
		t.Fatalf("ingest: %d %v", res.StatusCode, body)
	}
	if n := e.auditSize(t); n != 2 {
		t.Fatalf("log size %d after ingesting 2, want 2", n)
	}
	q := "/admin/v1/audit/report?" + url.Values{"principal": {"svc-support"}, "from": {"2026-12-01T08:00:00Z"}, "to": {"2026-12-01T10:00:00Z"}}.Encode()
	steps := []struct {
		name   string
		token  string
		path   string
		status int
		size   uint64 // the log's size after
	}{
		{"checkpoints are not recorded", "auditor", "/audit/v1/checkpoints", 200, 2},
		{"a report is", "auditor", q, 200, 3},
		{"a refused report is not", "campaigner", q, 403, 3},
		{"a report again", "root", q, 200, 4},
		{"an account shown to an admin", "root", "/admin/v1/accounts/alice", 200, 5},
	}
	for _, st := range steps {
		res, body := e.do(t, "GET", st.path, "", "", st.token)
		if res.StatusCode != st.status {
			t.Fatalf("%s: status %d (%v), want %d", st.name, res.StatusCode, body, st.status)
		}
		if n := e.auditSize(t); n != st.size {
			t.Errorf("%s: log size %d, want %d", st.name, n, st.size)
		}
		if st.path == q && st.status == 200 {
			// The report counts the ingested events, not its own records;
			// alice is an account, bob names none.
			if rep, _ := body["report"].(map[string]any); rep["users"] != 1.0 || rep["unresolved_subjects"] != 1.0 || rep["events"] != 2.0 {
				t.Errorf("%s: report %v, want 1 user and 1 unresolved subject in 2 events", st.name, body)
			}
		}
	}
	var recs []*cordon.AuditEntry
	e.store.AuditEntries(t.Context(), 2, 5, func(a *cordon.AuditEntry) error { recs = append(recs, a); return nil })
	want := []struct{ principal, subject, category string }{
		{"cordon:admin/auditor", "cordon:audit-log", "audit_log"},
		{"cordon:admin/root", "cordon:audit-log", "audit_log"},
		{"cordon:admin/root", "alice", "profile"},
	}
	for i, w := range want {
		if i >= len(recs) {
			t.Fatalf("%d records, want %d", len(recs), len(want))
		}
		if r := recs[i]; r.Principal != w.principal || r.Subject != w.subject || !slices.Equal(r.Categories, []string{w.category}) || r.Action != "read" {
			t.Errorf("record %d = %s %s %s %v, want read by %s of %s (%s)", i, r.Principal, r.Action, r.Subject, r.Categories, w.principal, w.subject, w.category)
		}
	}
}

// A session's life over HTTP: login, the session, logout, then 401 with a
// bearer challenge.
func TestSessionOverHTTP(t *testing.T) {
	e := newEnv(t)
	res, body := e.do(t, "POST", "/v1/login", "application/json", `{"username":"alice","password":"`+alicePassword+`"}`, "")
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login: %d %v (Cache-Control %q)", res.StatusCode, body, res.Header.Get("Cache-Control"))
	}
	access, _ := body["access_token"].(string)
	refresh, _ := body["refresh_token"].(string)
	sid, _ := body["session_id"].(string)
	res, body = e.do(t, "GET", "/v1/session", "", "", access)
	sess, _ := body["session"].(map[string]any)
	dec, _ := body["decision"].(map[string]any)
	if res.StatusCode != 200 || sess["id"] != sid || dec["outcome"] != "allow" {
		t.Fatalf("session: %d %v, want session %s allowed", res.StatusCode, body, sid)
	}
	// The token endpoint refuses a JSON body in OAuth's terms, with the
	// message of the wrapped error.
	if res, body := e.do(t, "POST", "/oauth2/token", "application/json", `{}`, ""); res.StatusCode != 400 || body["error"] != "invalid_request" || body["error_description"] != "Content-Type must be application/x-www-form-urlencoded" {
		t.Errorf("token endpoint with JSON: %d %v", res.StatusCode, body)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode()
	res, body = e.do(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded", form, "")
	if res.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", res.StatusCode, body)
	}
	// The spent refresh token again: reuse, and the session ends.
	if res, body := e.do(t, "POST", "/oauth2/token", "application/x-www-form-urlencoded", form, ""); res.StatusCode != 400 || body["error"] != "invalid_grant" || body["reason"] != "refresh_token_reused" {
		t.Errorf("reuse: %d %v, want 400 invalid_grant for refresh_token_reused", res.StatusCode, body)
	}
	res, body = e.do(t, "GET", "/v1/session", "", "", access)
	if res.StatusCode != 401 || body["error"] != "session_revoked" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `Bearer realm="cordon", error="invalid_token"`) {
		t.Errorf("session after reuse: %d %v (WWW-Authenticate %q), want 401 session_revoked with a challenge", res.StatusCode, body, res.Header.Get("WWW-Authenticate"))
	}

	res, body = e.do(t, "POST", "/v1/login", "application/json", `{"username":"alice","password":"`+alicePassword+`"}`, "")
	if res.StatusCode != 200 {
		t.Fatalf("login: %d %v", res.StatusCode, body)
	}
	access, _ = body["access_token"].(string)
	if res, _ := e.do(t, "POST", "/v1/logout", "", "", access); res.StatusCode != 204 {
		t.Fatalf("logout: %d, want 204", res.StatusCode)
	}
	if res, body := e.do(t, "GET", "/v1/session", "", "", access); res.StatusCode != 401 || body["error"] != "session_revoked" {
		t.Errorf("session after logout: %d %v, want 401 session_revoked", res.StatusCode, body)
	}
}

// TestAuditReadRecordKeepsWhoAndWhen: a report padded with long principal
// names that match nothing cannot push the token, the window or the
// number of principals off the record of the read (it is cut to
// audit.MaxPurpose).
func TestAuditReadRecordKeepsWhoAndWhen(t *testing.T) {
	e := newEnv(t)
	pad := []string{strings.Repeat("x", 250), strings.Repeat("y", 250), strings.Repeat("z", 250)}
	q := "/admin/v1/audit/report?" + url.Values{"principal": append(pad, "svc-support"), "from": {"2026-12-01T08:00:00Z"}, "to": {"2026-12-01T10:00:00Z"}}.Encode()
	if res, body := e.do(t, "GET", q, "", "", "auditor"); res.StatusCode != 200 {
		t.Fatalf("report: %d %v", res.StatusCode, body)
	}
	var rec *cordon.AuditEntry
	e.store.AuditEntries(t.Context(), 0, e.auditSize(t), func(a *cordon.AuditEntry) error { rec = a; return nil })
	if rec == nil {
		t.Fatal("no record of the read")
	}
	ev, err := audit.ParseLeaf(rec.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2026-12-01T08:00:00Z to 2026-12-01T10:00:00Z", "4 principal(s)", "(admin token "} {
		if !strings.Contains(ev.Purpose, want) {
			t.Errorf("the record's purpose %q lacks %q", ev.Purpose, want)
		}
	}
	if len(ev.Purpose) > audit.MaxPurpose {
		t.Errorf("purpose of %d bytes, more than %d", len(ev.Purpose), audit.MaxPurpose)
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/pgtest"
)

// asToken is the admin headers of another token.
func asToken(tok string) map[string]string {
	return map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok}
}

// newToken mints an admin token through the API and returns its id and
// secret.
func newToken(t *testing.T, m *Main, auth map[string]string, body string) (id, secret string) {
	t.Helper()
	code, _, out := call(t, "POST", m.URL()+"/admin/v1/tokens", auth, body)
	if code != http.StatusCreated {
		t.Fatalf("create token %s: %d %v", body, code, out)
	}
	return out["id"].(string), out["token"].(string)
}

// adminProbes are requests to every admin-token endpoint family: each must
// answer 401 to a revoked token.
var adminProbes = []struct{ method, path, body string }{
	{"GET", "/admin/v1/tokens", ""},
	{"POST", "/admin/v1/tokens", `{"name":"x","scopes":["gate"]}`},
	{"POST", "/admin/v1/tokens/root/revoke", ""},
	{"POST", "/admin/v1/tokens/root/rotate", `{}`},
	{"POST", "/admin/v1/accounts", `{"username":"probe","password":"a long enough password"}`},
	{"GET", "/admin/v1/accounts", ""},
	{"GET", "/admin/v1/accounts/nora", ""},
	{"POST", "/admin/v1/accounts/nora/lock", ""},
	{"DELETE", "/admin/v1/accounts/nora", ""},
	{"GET", "/admin/v1/accounts/nora/sessions", ""},
	{"DELETE", "/admin/v1/sessions/s-x", ""},
	{"POST", "/admin/v1/keys/rotate", ""},
	{"GET", "/admin/v1/campaigns", ""},
	{"POST", "/admin/v1/campaigns", `{"kind":"reauth","name":"x"}`},
	{"GET", "/admin/v1/audit/report?principal=p&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", ""},
	{"POST", "/audit/v1/events", `[]`},
	{"GET", "/audit/v1/entries", ""},
	{"GET", "/v1/gate/feed", ""},
}

// TestAdminTokenRevokedOnEveryNode: a token revoked on node A answers 401
// on every admin endpoint of node B, which shares A's PostgreSQL, at B's
// very next request, and a gate feed stream B serves with it closes
// within a second.
func TestAdminTokenRevokedOnEveryNode(t *testing.T) {
	url := pgtest.URL(t)
	a := pgNode(t, url)
	b := pgNode(t, url)
	addUser(t, a, "nora", "a long enough password")
	id, secret := newToken(t, a, admin(), `{"name":"ops","scopes":["*"]}`)
	if code, _, out := call(t, "GET", b.URL()+"/admin/v1/tokens", asToken(secret), ""); code != 200 {
		t.Fatalf("the new token on B: %d %v", code, out)
	}
	_, gateSecret := newToken(t, a, admin(), `{"name":"edge","scopes":["gate"]}`)

	// A feed stream on B, held by the gate token.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", b.URL()+"/v1/gate/feed", nil)
	req.Header.Set("Authorization", "Bearer "+gateSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feed on B: %v %v", resp, err)
	}
	defer resp.Body.Close()
	closed := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
		closed <- time.Now()
	}()

	code, _, out := call(t, "POST", a.URL()+"/admin/v1/tokens/"+id+"/revoke", admin(), "")
	if code != 200 || out["state"] != "revoked" {
		t.Fatalf("revoke on A: %d %v", code, out)
	}
	revokedAt := time.Now()
	for _, p := range adminProbes {
		r := send(t, p.method, b.URL()+p.path, asToken(secret), []byte(p.body))
		wantError(t, r, 401, "invalid_token")
	}
	t.Logf("all %d admin endpoints of node B refused the revoked token %v after the revocation on A", len(adminProbes), time.Since(revokedAt))

	code, _, out = call(t, "POST", a.URL()+"/admin/v1/tokens/edge/revoke", admin(), "")
	if code != 200 {
		t.Fatalf("revoke the gate token: %d %v", code, out)
	}
	gateRevoked := time.Now()
	select {
	case at := <-closed:
		took := at.Sub(gateRevoked)
		t.Logf("node B closed the revoked gate token's feed stream %v after the revocation on A", took)
		if took > time.Second {
			t.Errorf("feed stream closed after %v, want within 1s", took)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("node B kept the revoked gate token's feed stream open for 2s")
	}
	r := send(t, "GET", b.URL()+"/v1/gate/feed", asToken(gateSecret), nil)
	wantError(t, r, 401, "invalid_token")
}

// TestAdminTokenLifecycle: names are unique, expiry and rotation end a
// secret at the time they say, acting on a token needs its scopes, the
// last "*" token cannot be revoked, and bad input is a clear 4xx.
func TestAdminTokenLifecycle(t *testing.T) {
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk))
	base := m.URL() + "/admin/v1/tokens"

	t.Run("names are unique", func(t *testing.T) {
		r := send(t, "POST", base, admin(), []byte(`{"name":"root","scopes":["gate"]}`))
		wantError(t, r, 409, "conflict")
		if r.body["field"] != "name" {
			t.Errorf("field = %v, want name", r.body["field"])
		}
		newToken(t, m, admin(), `{"name":"dup","scopes":["gate"]}`)
		wantError(t, send(t, "POST", base, admin(), []byte(`{"name":"dup","scopes":["gate"]}`)), 409, "conflict")
	})

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name, method, path, body string
			status                   int
			code                     string
		}{
			{"malformed expires_at", "POST", "", `{"name":"e1","scopes":["gate"],"expires_at":"tomorrow"}`, 400, "invalid_request"},
			{"expires_at in the past", "POST", "", `{"name":"e2","scopes":["gate"],"expires_at":"2026-05-27T07:59:59Z"}`, 422, "invalid_field"},
			{"expires_at and ttl", "POST", "", `{"name":"e3","scopes":["gate"],"expires_at":"2026-06-01T00:00:00Z","ttl":"1h"}`, 400, "invalid_request"},
			{"malformed ttl", "POST", "", `{"name":"e4","scopes":["gate"],"ttl":"soon"}`, 400, "invalid_request"},
			{"negative ttl", "POST", "", `{"name":"e5","scopes":["gate"],"ttl":"-1h"}`, 400, "invalid_request"},
			{"zero ttl", "POST", "", `{"name":"e6","scopes":["gate"],"ttl":"0s"}`, 422, "invalid_field"},
			{"ttl over ten years", "POST", "", `{"name":"e7","scopes":["gate"],"ttl":"4000d"}`, 422, "invalid_field"},
			{"revoke an unknown id", "POST", "/t-nosuchtoken/revoke", ``, 404, "not_found"},
			{"rotate an unknown name", "POST", "/nobody/rotate", `{}`, 404, "not_found"},
			{"expiry of an unknown token", "POST", "/t-nosuchtoken/expiry", `{"ttl":"1h"}`, 404, "not_found"},
			{"expiry with nothing", "POST", "/dup/expiry", `{}`, 400, "invalid_request"},
			{"expiry with never and a ttl", "POST", "/dup/expiry", `{"ttl":"1h","never":true}`, 400, "invalid_request"},
			{"rotate with a malformed grace", "POST", "/dup/rotate", `{"grace":"a while"}`, 400, "invalid_request"},
			{"rotate with a grace over 7d", "POST", "/dup/rotate", `{"grace":"8d"}`, 400, "invalid_request"},
			{"rotate with an unknown field", "POST", "/dup/rotate", `{"grace":"1m","scopes":["*"]}`, 400, "invalid_request"},
			{"revoke the last * token", "POST", "/root/revoke", ``, 409, "last_admin_token"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, send(t, tt.method, base+tt.path, admin(), []byte(tt.body)), tt.status, tt.code)
			})
		}
	})

	t.Run("expiry ends a token at its time", func(t *testing.T) {
		_, secret := newToken(t, m, admin(), `{"name":"short","scopes":["accounts"],"ttl":"1h"}`)
		if code, _, out := call(t, "GET", m.URL()+"/admin/v1/accounts", asToken(secret), ""); code != 200 {
			t.Fatalf("before expiry: %d %v", code, out)
		}
		clk.Advance(time.Hour)
		wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts", asToken(secret), nil), 401, "invalid_token")
		// An expired token is never revived.
		wantError(t, send(t, "POST", base+"/short/expiry", admin(), []byte(`{"ttl":"10h"}`)), 409, "conflict")
		clk.Set(fakeNow)
		// Before its end it may be given another.
		if code, _, out := call(t, "POST", base+"/short/expiry", admin(), `{"expires_at":"2026-05-27T09:30:00Z"}`); code != 200 || out["expires_at"] != "2026-05-27T09:30:00Z" {
			t.Errorf("a new expiry before the end: %d %v", code, out)
		}
	})

	t.Run("acting on a token needs its scopes", func(t *testing.T) {
		_, narrow := newToken(t, m, admin(), `{"name":"narrow","scopes":["tokens","gate"]}`)
		wantError(t, send(t, "POST", base+"/root/rotate", asToken(narrow), []byte(`{}`)), 403, "forbidden")
		wantError(t, send(t, "POST", base+"/root/revoke", asToken(narrow), nil), 403, "forbidden")
		wantError(t, send(t, "POST", base+"/root/expiry", asToken(narrow), []byte(`{"ttl":"1h"}`)), 403, "forbidden")
		if code, _, out := call(t, "POST", base+"/dup/revoke", asToken(narrow), ""); code != 200 {
			t.Errorf("narrow token revoking a gate token: %d %v", code, out)
		}
	})

	t.Run("rotation", func(t *testing.T) {
		_, old := newToken(t, m, admin(), `{"name":"ci","scopes":["accounts","tokens"]}`)
		code, _, out := call(t, "POST", base+"/ci/rotate", admin(), `{"grace":"10m"}`)
		if code != 201 || out["name"] != "ci" {
			t.Fatalf("rotate: %d %v", code, out)
		}
		next := out["token"].(string)
		for _, s := range []string{old, next} {
			if code, _, out := call(t, "GET", m.URL()+"/admin/v1/accounts", asToken(s), ""); code != 200 {
				t.Errorf("within the grace: %d %v", code, out)
			}
		}
		clk.Advance(10 * time.Minute)
		wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts", asToken(old), nil), 401, "invalid_token")
		if code, _, out := call(t, "GET", m.URL()+"/admin/v1/accounts", asToken(next), ""); code != 200 {
			t.Errorf("the new secret after the grace: %d %v", code, out)
		}
		// Without a grace the old secret ends at once; the token may rotate itself.
		code, _, out = call(t, "POST", base+"/ci/rotate", asToken(next), `{}`)
		if code != 201 {
			t.Fatalf("rotate again: %d %v", code, out)
		}
		wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts", asToken(next), nil), 401, "invalid_token")
		clk.Set(fakeNow)
	})

	t.Run("root can be rotated and the list says so", func(t *testing.T) {
		clk.Set(fakeNow.Add(2 * time.Hour))
		code, _, out := call(t, "POST", base+"/root/rotate", admin(), `{}`)
		if code != 201 {
			t.Fatalf("rotate root: %d %v", code, out)
		}
		newRoot := out["token"].(string)
		wantError(t, send(t, "GET", base, admin(), nil), 401, "invalid_token")
		code, _, out = call(t, "GET", base, asToken(newRoot), "")
		if code != 200 {
			t.Fatalf("list: %d %v", code, out)
		}
		states := map[string][]string{}
		for _, x := range out["tokens"].([]any) {
			tok := x.(map[string]any)
			states[tok["name"].(string)] = append(states[tok["name"].(string)], tok["state"].(string))
		}
		want := map[string]string{"root": "active,replaced", "dup": "revoked", "short": "expired", "ci": "active,replaced,replaced", "narrow": "active"}
		for name, w := range want {
			got := slices.Clone(states[name])
			slices.Sort(got)
			if strings.Join(got, ",") != w {
				t.Errorf("states of %s: got %v, want %s", name, got, w)
			}
		}
		// Every change is in the audit log, under the token's name.
		purposes := auditPurposes(t, m, newRoot)
		for _, s := range []string{`(dup) revoked`, `(ci) rotated into`, `(root) rotated into`, `(short) expires at`} {
			if !strings.Contains(purposes, s) {
				t.Errorf("audit entries lack %q", s)
			}
		}
		if !strings.Contains(purposes, `"principal":"cordon:admin/narrow"`) {
			t.Errorf("no audit entry by the principal cordon:admin/narrow")
		}
	})
}

// auditPurposes returns the decoded leaves of the whole audit log, one
// per line.
func auditPurposes(t *testing.T, m *Main, tok string) string {
	t.Helper()
	r := send(t, "GET", m.URL()+"/audit/v1/entries", asToken(tok), nil)
	if r.status != 200 {
		t.Fatalf("audit entries: %v", r)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(r.raw)), "\n") {
		var e struct {
			Leaf []byte `json:"leaf"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit entry %q: %v", line, err)
		}
		b.Write(e.Leaf)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestAccountLockUnlockDelete: a lock ends every session (on the server,
// at the token endpoint and toward gates), refuses the right password
// with 403 account_locked and the wrong one as for anybody; a deletion
// erases sessions, grants and credentials and keeps the audit entries and
// the username.
func TestAccountLockUnlockDelete(t *testing.T) {
	m := testServer(t)
	const pw = "a long enough password"
	addUser(t, m, "alice", pw)
	addUser(t, m, "bob", pw)
	_, tok1 := login(t, m, "alice", pw, `platform=ios, version="8.4.1", source=appstore, device="d-1"`)
	_, tok2 := login(t, m, "alice", pw, "")
	_, bobTok := login(t, m, "bob", pw, "")
	access := tok1["access_token"].(string)

	// A gate's feed, to see the lock reported like a revocation.
	_, gateSecret := newToken(t, m, admin(), `{"name":"edge","scopes":["gate"]}`)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", m.URL()+"/v1/gate/feed", nil)
	req.Header.Set("Authorization", "Bearer "+gateSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feed: %v %v", resp, err)
	}
	defer resp.Body.Close()
	var mu sync.Mutex
	var feed strings.Builder
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			mu.Lock()
			feed.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()

	code, _, out := call(t, "POST", m.URL()+"/admin/v1/accounts/alice/lock", admin(), "")
	if code != 200 || len(out["revoked"].([]any)) != 2 || out["account"].(map[string]any)["locked_at"] == nil {
		t.Fatalf("lock: %d %v", code, out)
	}
	wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(access), nil), 401, "session_revoked")
	if code, body := refresh(t, m, tok2["refresh_token"].(string)); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh of a locked account: %d %v, want 400 invalid_grant", code, body)
	}
	waitFor(t, time.Second, "the lock's revocations on the gate feed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(feed.String(), tok1["session_id"].(string)) && strings.Contains(feed.String(), tok2["session_id"].(string))
	})
	r := send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("alice", pw))
	wantError(t, r, 403, "account_locked")
	// The wrong password learns nothing of the lock.
	wrong := send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("alice", "not the password at all"))
	wantError(t, wrong, 401, "invalid_credentials")
	unknown := send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("nobody-here", "not the password at all"))
	if wrong.body["message"] != unknown.body["message"] {
		t.Errorf("a locked account's wrong password says %q, an unknown user %q", wrong.body["message"], unknown.body["message"])
	}
	// Bob is untouched.
	if code, _, _ := call(t, "GET", m.URL()+"/v1/session", bearerH(bobTok["access_token"].(string)), ""); code != 200 {
		t.Errorf("bob's session after alice's lock: %d", code)
	}
	code, _, out = call(t, "GET", m.URL()+"/admin/v1/accounts?locked=true", admin(), "")
	if code != 200 || len(out["accounts"].([]any)) != 1 {
		t.Errorf("locked accounts: %d %v", code, out)
	}

	if code, _, out := call(t, "POST", m.URL()+"/admin/v1/accounts/alice/unlock", admin(), ""); code != 200 {
		t.Fatalf("unlock: %d %v", code, out)
	}
	code, tok3 := login(t, m, "alice", pw, `platform=ios, version="8.4.1", source=appstore, device="d-1"`)
	if code != 200 {
		t.Fatalf("login after unlock: %d %v", code, tok3)
	}
	// The old sessions stay ended.
	wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(access), nil), 401, "session_revoked")

	// An offline grant, to see deletion erase it.
	code, _, grant := call(t, "POST", m.URL()+"/v1/offline/grants", map[string]string{"Authorization": "Bearer " + tok3["access_token"].(string),
		"Cordon-Client": `platform=ios, version="8.4.1", source=appstore, device="d-1"`, "Content-Type": "application/json"}, "")
	if code != 200 && code != 201 {
		t.Fatalf("offline grant: %d %v", code, grant)
	}
	code, _, out = call(t, "DELETE", m.URL()+"/admin/v1/accounts/alice", admin(), "")
	if code != 200 || len(out["revoked"].([]any)) != 1 {
		t.Fatalf("delete: %d %v", code, out)
	}
	wantError(t, send(t, "GET", m.URL()+"/v1/session", bearerH(tok3["access_token"].(string)), nil), 401, "session_revoked")
	if code, body := refresh(t, m, tok3["refresh_token"].(string)); code != 400 {
		t.Errorf("refresh of a deleted account: %d %v, want 400", code, body)
	}
	gb, _ := json.Marshal(map[string]string{"grant": grant["grant"].(string)})
	code, _, chk := call(t, "POST", m.URL()+"/v1/offline/grants/check", map[string]string{"Content-Type": "application/json",
		"Cordon-Client": `platform=ios, version="8.4.1", source=appstore, device="d-1"`}, string(gb))
	if chk["valid"] == true {
		t.Errorf("a deleted account's offline grant: %d %v, want not valid", code, chk)
	}
	wantError(t, send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("alice", pw)), 401, "invalid_credentials")
	wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts/alice", admin(), nil), 404, "not_found")
	wantError(t, send(t, "GET", m.URL()+"/admin/v1/accounts/alice/sessions", admin(), nil), 404, "not_found")
	wantError(t, send(t, "DELETE", m.URL()+"/admin/v1/accounts/alice", admin(), nil), 404, "not_found")
	// The username is never reused.
	b, _ := json.Marshal(map[string]string{"username": "Alice", "password": pw})
	wantError(t, send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), b), 409, "conflict")
	// The audit log keeps what it had, and records the lifecycle.
	entries := auditPurposes(t, m, testAdminToken)
	for _, s := range []string{"account created", "account locked", "account unlocked", "account deleted"} {
		if !strings.Contains(entries, s) {
			t.Errorf("audit entries lack %q", s)
		}
	}

	for _, ref := range []string{"nobody", "u-nosuchaccount"} {
		for _, verb := range []string{"lock", "unlock"} {
			wantError(t, send(t, "POST", m.URL()+"/admin/v1/accounts/"+ref+"/"+verb, admin(), nil), 404, "not_found")
		}
	}
}

// TestLockRacesLogins: logins in flight while an account is locked never
// leave a live session behind: a login that read the account before the
// lock and stored its session after it is caught and revoked.
func TestLockRacesLogins(t *testing.T) {
	m := testServer(t)
	const pw = "a long enough password"
	addUser(t, m, "carol", pw)
	const n = 24
	var wg sync.WaitGroup
	tokens := make([]map[string]any, n)
	codes := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r, err := do("POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("carol", pw))
			if err == nil {
				codes[i], tokens[i] = r.status, r.body
			}
		})
	}
	close(start)
	time.Sleep(5 * time.Millisecond) // let some logins get under way
	if code, _, out := call(t, "POST", m.URL()+"/admin/v1/accounts/carol/lock", admin(), ""); code != 200 {
		t.Fatalf("lock: %d %v", code, out)
	}
	wg.Wait()
	ok, locked := 0, 0
	for i := range n {
		switch codes[i] {
		case 200:
			ok++
			if code, _, _ := call(t, "GET", m.URL()+"/v1/session", bearerH(tokens[i]["access_token"].(string)), ""); code != 401 {
				t.Errorf("login %d, made before the lock, still works after it: %d", i, code)
			}
		case 403:
			locked++
		default:
			t.Errorf("login %d: %d %v", i, codes[i], tokens[i])
		}
	}
	_, _, out := call(t, "GET", m.URL()+"/admin/v1/accounts/carol/sessions", admin(), "")
	if s := out["sessions"].([]any); len(s) != 0 {
		t.Errorf("%d live sessions after the lock, want 0", len(s))
	}
	t.Logf("%d logins before the lock (all ended), %d refused with account_locked", ok, locked)
}

// TestAccountList: cursor paging walks every account once, filters by
// prefix and lock, and refuses bad parameters with a 400 that names them.
func TestAccountList(t *testing.T) {
	m := testServer(t)
	for _, name := range []string{"ops-anna", "ops-ben", "opal", "zed", "ops-cleo"} {
		addUser(t, m, name, "a long enough password")
	}
	var walked []string
	cursor := ""
	for range 10 {
		q := url.Values{"limit": {"2"}, "prefix": {"OPS"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		code, _, out := call(t, "GET", m.URL()+"/admin/v1/accounts?"+q.Encode(), admin(), "")
		if code != 200 {
			t.Fatalf("list: %d %v", code, out)
		}
		for _, a := range out["accounts"].([]any) {
			walked = append(walked, a.(map[string]any)["username"].(string))
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if got := strings.Join(walked, ","); got != "ops-anna,ops-ben,ops-cleo" {
		t.Errorf("walked %s, want ops-anna,ops-ben,ops-cleo", got)
	}
	for _, tt := range []struct{ name, query, field string }{
		{"limit zero", "limit=0", "limit"},
		{"limit too big", "limit=1001", "limit"},
		{"limit not a number", "limit=ten", "limit"},
		{"locked not a bool", "locked=yes", "locked"},
		{"cursor forged", "cursor=AAAA", "cursor"},
		{"cursor not base64", "cursor=%25%25", "cursor"},
		{"unknown parameter", "user=zed", "user"},
		{"prefix twice", "prefix=a&prefix=b", "prefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, "GET", m.URL()+"/admin/v1/accounts?"+tt.query, admin(), nil)
			wantError(t, r, 400, "invalid_request")
			if r.body["field"] != tt.field {
				t.Errorf("field = %v, want %s", r.body["field"], tt.field)
			}
		})
	}
}

// TestLockEndsPendingReset: a reset token handed out before a lock cannot
// set a password or open a session after it.
func TestLockEndsPendingReset(t *testing.T) {
	clk := clock.NewFake(time.Date(2014, 5, 20, 8, 0, 0, 0, time.UTC))
	m := fakeServer(t, clk)
	const pw = "a long enough password"
	id := addUser(t, m, "ivan", pw)
	const ios = `platform=ios, version="8.4.1", source=appstore`
	if code, out := login(t, m, "ivan", pw, ios); code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	clk.Advance(time.Hour)
	c := campaignCall(t, m, "POST", "", fmt.Sprintf(`{"kind":"password_reset","name":"reset ivan","cohort":{"users":[%q]}}`, id))
	campaignCall(t, m, "POST", "/"+c["id"].(string)+"/activate", "")
	clk.Advance(time.Minute)
	code, body := login(t, m, "ivan", pw, ios)
	if code != 401 || body["reset_token"] == nil {
		t.Fatalf("login under a reset campaign: %d %v", code, body)
	}
	if code, _, out := call(t, "POST", m.URL()+"/admin/v1/accounts/"+id+"/lock", admin(), ""); code != 200 {
		t.Fatalf("lock: %d %v", code, out)
	}
	b, _ := json.Marshal(map[string]string{"reset_token": body["reset_token"].(string), "new_password": "a brand new passphrase"})
	wantError(t, send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, b), 401, "invalid_token")
	wantError(t, send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("ivan", pw)), 403, "account_locked")
}

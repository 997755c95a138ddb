package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	evSessionRevoked   = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	evCredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	evVerification     = "https://schemas.openid.net/secevent/ssf/event-type/verification"
)

func withSSF(c *Config) { c.SSFAllowHTTP, c.SSFTick = true, 20*time.Millisecond }

// ssfToken mints an admin token of scope ssf and returns its secret.
func ssfToken(t *testing.T, m *Main, name string) map[string]string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "scopes": []string{"ssf"}})
	r := send(t, "POST", m.URL()+"/admin/v1/tokens", admin(), b)
	if r.status != http.StatusCreated {
		t.Fatalf("create token %s: %v", name, r)
	}
	return map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + r.body["token"].(string)}
}

// receiver is an RFC 8935 push receiver: it answers with what answer
// says and records every SET it was sent and every one it accepted.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	answer   func(n int) (int, string) // n counts requests from 1
	requests []string
	accepted []string
	auth     []string
	ctype    []string
}

func newReceiver(t *testing.T, answer func(n int) (int, string)) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, string(body))
		rc.auth = append(rc.auth, r.Header.Get("Authorization"))
		rc.ctype = append(rc.ctype, r.Header.Get("Content-Type"))
		code, msg := rc.answer(len(rc.requests))
		if code == http.StatusAccepted {
			rc.accepted = append(rc.accepted, string(body))
		}
		rc.mu.Unlock()
		if msg != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		io.WriteString(w, msg)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) snapshot() (requests, accepted []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.requests), slices.Clone(rc.accepted)
}

// waitFor polls cond for up to 10 s.
func ssfWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// checkSET verifies a SET as a receiver would, trusting only cordon's
// JWKS fetched over HTTP: the signature, typ, iss, aud, iat, a jti, one
// event. It returns the claims.
func checkSET(t *testing.T, m *Main, set, aud string) map[string]any {
	t.Helper()
	resp, err := http.Get(m.URL() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var keys jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&keys)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(set, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("SET does not parse as an EdDSA JWS: %v", err)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "secevent+jwt" {
		t.Errorf("typ = %q, want secevent+jwt", typ)
	}
	ks := keys.Key(h.KeyID)
	if len(ks) != 1 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(ks[0].Key)
	if err != nil {
		t.Fatalf("signature does not verify against the JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c["iss"] != m.Config.Issuer {
		t.Errorf("iss = %v, want %s", c["iss"], m.Config.Issuer)
	}
	if c["aud"] != aud {
		t.Errorf("aud = %v, want %s", c["aud"], aud)
	}
	if iat, _ := c["iat"].(float64); time.Since(time.Unix(int64(iat), 0)) > time.Minute || time.Until(time.Unix(int64(iat), 0)) > 2*time.Second {
		t.Errorf("iat = %v, not now", c["iat"])
	}
	if j, _ := c["jti"].(string); len(j) < 16 {
		t.Errorf("jti = %v, want a unique id", c["jti"])
	}
	if evs, _ := c["events"].(map[string]any); len(evs) != 1 {
		t.Errorf("events = %v, want exactly one", c["events"])
	}
	if _, ok := c["sub_id"].(map[string]any); !ok {
		t.Errorf("sub_id = %v, want a subject identifier", c["sub_id"])
	}
	return c
}

func eventOf(c map[string]any) (string, map[string]any) {
	for k, v := range c["events"].(map[string]any) {
		return k, v.(map[string]any)
	}
	return "", nil
}

// TestSSFPushAndPoll: a logout, an admin revocation and a password change
// reach a push receiver and a poll receiver as signed SETs.
func TestSSFPushAndPoll(t *testing.T) {
	m := apiServer(t, withSSF)
	rc := newReceiver(t, func(int) (int, string) { return http.StatusAccepted, "" })
	pushTok, pollTok := ssfToken(t, m, "rp-push"), ssfToken(t, m, "rp-poll")

	// The metadata names the endpoints and cordon's JWKS.
	md := send(t, "GET", m.URL()+"/.well-known/ssf-configuration", nil, nil)
	if md.status != 200 || md.body["jwks_uri"] != m.Config.Issuer+"/.well-known/jwks.json" || md.body["configuration_endpoint"] != m.Config.Issuer+"/ssf/stream" ||
		md.body["issuer"] != m.Config.Issuer {
		t.Fatalf("metadata: %v", md)
	}

	cfg := fmt.Sprintf(`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":%q,"authorization_header":"Bearer rp-secret"},"events_requested":[%q,%q,"https://example.com/unknown"]}`,
		rc.URL+"/events", evSessionRevoked, evCredentialChange)
	push := send(t, "POST", m.URL()+"/ssf/stream", pushTok, []byte(cfg))
	if push.status != http.StatusCreated {
		t.Fatalf("create push stream: %v", push)
	}
	if got := push.body["events_delivered"].([]any); len(got) != 2 {
		t.Errorf("events_delivered = %v, want the two supported", got)
	}
	if _, shown := push.body["delivery"].(map[string]any)["authorization_header"]; shown {
		t.Errorf("the authorization header is shown back: %v", push.body)
	}
	poll := send(t, "POST", m.URL()+"/ssf/stream", pollTok, []byte(fmt.Sprintf(`{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":[%q,%q]}`, evSessionRevoked, evCredentialChange)))
	if poll.status != http.StatusCreated {
		t.Fatalf("create poll stream: %v", poll)
	}
	pollURL := poll.body["delivery"].(map[string]any)["endpoint_url"].(string)
	if pollURL != m.Config.Issuer+"/ssf/poll/"+poll.body["stream_id"].(string) {
		t.Errorf("poll endpoint_url = %s", pollURL)
	}

	uid := addUser(t, m, "alice", "correct horse battery")
	a := mustLogin(t, m, "alice", "correct horse battery", "")
	b := mustLogin(t, m, "alice", "correct horse battery", "")
	c := mustLogin(t, m, "alice", "correct horse battery", "")
	// a logs out; an admin revokes b; a password change from c ends nothing
	// else, but is a credential change.
	if r := send(t, "POST", m.URL()+"/v1/logout", bearerH(accessToken(t, a)), nil); r.status != http.StatusNoContent {
		t.Fatalf("logout: %v", r)
	}
	if r := send(t, "DELETE", m.URL()+"/admin/v1/sessions/"+b["session_id"].(string), admin(), nil); r.status/100 != 2 {
		t.Fatalf("admin revoke: %v", r)
	}
	d := mustLogin(t, m, "alice", "correct horse battery", "")
	pw := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + accessToken(t, c)}
	if r := send(t, "POST", m.URL()+"/v1/password", pw, []byte(`{"current_password":"correct horse battery","new_password":"a new battery staple"}`)); r.status/100 != 2 {
		t.Fatalf("password change: %v", r)
	}
	// 3 session-revoked (a by the user, b by an admin, d by the password
	// change) and 1 credential-change.
	ssfWait(t, "4 pushed SETs", func() bool { _, acc := rc.snapshot(); return len(acc) >= 4 })
	time.Sleep(100 * time.Millisecond)
	_, acc := rc.snapshot()
	if len(acc) != 4 {
		t.Fatalf("pushed %d SETs, want 4", len(acc))
	}
	rc.mu.Lock()
	for i := range rc.auth {
		if rc.auth[i] != "Bearer rp-secret" || rc.ctype[i] != "application/secevent+jwt" {
			t.Errorf("push %d: Authorization %q, Content-Type %q", i, rc.auth[i], rc.ctype[i])
		}
	}
	rc.mu.Unlock()
	jtis := map[string]bool{}
	bySession := map[string]map[string]any{}
	var cred map[string]any
	for _, set := range acc {
		cl := checkSET(t, m, set, "rp-push")
		jtis[cl["jti"].(string)] = true
		typ, ev := eventOf(cl)
		sub := cl["sub_id"].(map[string]any)
		switch typ {
		case evSessionRevoked:
			sess := sub["session"].(map[string]any)
			user := sub["user"].(map[string]any)
			if sub["format"] != "complex" || sess["format"] != "opaque" || user["format"] != "iss_sub" || user["iss"] != m.Config.Issuer || user["sub"] != uid {
				t.Errorf("session-revoked sub_id = %v", sub)
			}
			bySession[sess["id"].(string)] = ev
		case evCredentialChange:
			if sub["format"] != "iss_sub" || sub["sub"] != uid || ev["credential_type"] != "password" || ev["change_type"] != "update" {
				t.Errorf("credential-change: sub_id %v, event %v", sub, ev)
			}
			if cl["txn"] == nil {
				t.Errorf("credential-change has no txn")
			}
			cred = cl
		default:
			t.Errorf("unexpected event %s", typ)
		}
	}
	if len(jtis) != 4 {
		t.Errorf("%d distinct jtis among 4 SETs", len(jtis))
	}
	for sid, want := range map[string]string{a["session_id"].(string): "user", b["session_id"].(string): "admin", d["session_id"].(string): "user"} {
		ev := bySession[sid]
		if ev == nil || ev["initiating_entity"] != want {
			t.Errorf("session %s: event %v, want initiating_entity %s", sid, ev, want)
		}
	}
	if cred == nil {
		t.Fatal("no credential-change")
	}
	// The change and the session it ended are one transaction.
	var dTxn any
	for _, set := range acc {
		cl := checkSET(t, m, set, "rp-push")
		if sess, _ := cl["sub_id"].(map[string]any)["session"].(map[string]any); sess != nil && sess["id"] == d["session_id"] {
			dTxn = cl["txn"]
		}
	}
	if dTxn == nil || dTxn != cred["txn"] {
		t.Errorf("credential-change txn %v, session-revoked (password change) txn %v: want one", cred["txn"], dTxn)
	}

	// Poll: the same four, then acknowledged, then gone.
	var got map[string]any
	ssfWait(t, "4 SETs to poll", func() bool {
		r := send(t, "POST", pollURL, pollTok, []byte(`{"maxEvents":10,"returnImmediately":true}`))
		got = r.body
		return r.status == 200 && len(r.body["sets"].(map[string]any)) == 4
	})
	var acks []string
	for jti, set := range got["sets"].(map[string]any) {
		cl := checkSET(t, m, set.(string), "rp-poll")
		if cl["jti"] != jti {
			t.Errorf("sets key %s holds jti %v", jti, cl["jti"])
		}
		if jtis[jti] {
			t.Errorf("jti %s is used on two streams", jti)
		}
		acks = append(acks, jti)
	}
	// Two at a time says there is more.
	r := send(t, "POST", pollURL, pollTok, []byte(`{"maxEvents":2,"returnImmediately":true}`))
	if len(r.body["sets"].(map[string]any)) != 2 || r.body["moreAvailable"] != true {
		t.Errorf("maxEvents 2: %v", r)
	}
	ackBody, _ := json.Marshal(map[string]any{"ack": acks, "maxEvents": 10, "returnImmediately": true})
	r = send(t, "POST", pollURL, pollTok, ackBody)
	if r.status != 200 || len(r.body["sets"].(map[string]any)) != 0 {
		t.Errorf("after acknowledging all: %v", r)
	}

	// Verification: a SET with the receiver's state, then one per interval.
	v := send(t, "POST", m.URL()+"/ssf/verification", pollTok, []byte(`{"stream_id":"`+poll.body["stream_id"].(string)+`","state":"xyz"}`))
	if v.status != http.StatusNoContent {
		t.Fatalf("verification: %v", v)
	}
	r = send(t, "POST", pollURL, pollTok, []byte(`{"returnImmediately":true}`))
	sets := r.body["sets"].(map[string]any)
	if len(sets) != 1 {
		t.Fatalf("after verification: %v", r)
	}
	for _, set := range sets {
		typ, ev := eventOf(checkSET(t, m, set.(string), "rp-poll"))
		if typ != evVerification || ev["state"] != "xyz" {
			t.Errorf("verification SET: %s %v", typ, ev)
		}
	}
	again := send(t, "POST", m.URL()+"/ssf/verification", pollTok, []byte(`{"stream_id":"`+poll.body["stream_id"].(string)+`"}`))
	wantError(t, again, http.StatusTooManyRequests, "too_many_attempts")
}

// TestSSFPushRetriesAndGivesUp: a 500 is retried with the same SET until a
// 202; a 400 is given up at once with its reason in the status.
func TestSSFPushRetriesAndGivesUp(t *testing.T) {
	m := apiServer(t, withSSF)
	flaky := newReceiver(t, func(n int) (int, string) {
		if n == 1 {
			return http.StatusInternalServerError, ""
		}
		return http.StatusAccepted, ""
	})
	refuses := newReceiver(t, func(int) (int, string) {
		return http.StatusBadRequest, `{"err":"invalid_audience","description":"not us"}`
	})
	mk := func(name, url string) (map[string]string, string) {
		tok := ssfToken(t, m, name)
		r := send(t, "POST", m.URL()+"/ssf/stream", tok, []byte(fmt.Sprintf(`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":%q},"events_requested":[%q]}`, url, evSessionRevoked)))
		if r.status != http.StatusCreated {
			t.Fatalf("create: %v", r)
		}
		return tok, r.body["stream_id"].(string)
	}
	_, _ = mk("rp-flaky", flaky.URL)
	refTok, refID := mk("rp-refuses", refuses.URL)
	addUser(t, m, "bob", "correct horse battery")
	s := mustLogin(t, m, "bob", "correct horse battery", "")
	send(t, "POST", m.URL()+"/v1/logout", bearerH(accessToken(t, s)), nil)

	ssfWait(t, "the retry to be accepted", func() bool { _, acc := flaky.snapshot(); return len(acc) == 1 })
	reqs, acc := flaky.snapshot()
	if len(reqs) != 2 || reqs[0] != reqs[1] || acc[0] != reqs[0] {
		t.Errorf("flaky receiver got %d requests (same SET both times: %v), want 2", len(reqs), len(reqs) == 2 && reqs[0] == reqs[1])
	}
	ssfWait(t, "the refusal to show in the status", func() bool {
		r := send(t, "GET", m.URL()+"/ssf/status?stream_id="+refID, refTok, nil)
		e, _ := r.body["last_error"].(string)
		return strings.Contains(e, "400") && strings.Contains(e, "invalid_audience")
	})
	time.Sleep(300 * time.Millisecond)
	if reqs, _ := refuses.snapshot(); len(reqs) != 1 {
		t.Errorf("a refused SET was sent %d times, want once", len(reqs))
	}
	time.Sleep(1200 * time.Millisecond) // past the first backoff
	if reqs, _ := flaky.snapshot(); len(reqs) != 2 {
		t.Errorf("an accepted SET was sent again: %d requests", len(reqs))
	}
}

// TestSSFRestartLosesNothing: SETs queued while the receiver is down
// survive a restart and are delivered once each, with the jti they had.
func TestSSFRestartLosesNothing(t *testing.T) {
	var mu sync.Mutex
	down := true
	rc := newReceiver(t, func(int) (int, string) {
		mu.Lock()
		isDown := down
		mu.Unlock()
		if isDown {
			// Slow to refuse: the node is stopped with a push in flight
			// and SETs claimed, which it must give back (not leave to a
			// 15 s lease) so the restarted node sends them at once.
			time.Sleep(150 * time.Millisecond)
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusAccepted, ""
	})
	data := t.TempDir()
	// Retries 50 ms apart at first: a loaded machine may try each SET
	// several times before the restart, and the default backoff (1 s,
	// doubling) could then put the next try past the wait below.
	quick := func(c *Config) { c.Data, c.SSFBackoff = data, 50*time.Millisecond }
	m := apiServer(t, withSSF, quick)
	tok := ssfToken(t, m, "rp")
	r := send(t, "POST", m.URL()+"/ssf/stream", tok, []byte(fmt.Sprintf(`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":%q},"events_requested":[%q]}`, rc.URL, evSessionRevoked)))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %v", r)
	}
	addUser(t, m, "carol", "correct horse battery")
	for range 5 {
		s := mustLogin(t, m, "carol", "correct horse battery", "")
		send(t, "POST", m.URL()+"/v1/logout", bearerH(accessToken(t, s)), nil)
	}
	// Every SET has been tried at least once and refused.
	ssfWait(t, "5 failed pushes", func() bool {
		reqs, _ := rc.snapshot()
		seen := map[string]bool{}
		for _, q := range reqs {
			seen[q] = true
		}
		return len(seen) == 5
	})
	before, _ := rc.snapshot()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	m2 := apiServer(t, withSSF, quick)
	_ = m2
	ssfWait(t, "5 accepted SETs after the restart", func() bool { _, acc := rc.snapshot(); return len(acc) >= 5 })
	time.Sleep(200 * time.Millisecond)
	_, acc := rc.snapshot()
	if len(acc) != 5 {
		t.Errorf("accepted %d SETs, want 5 (none lost, none twice)", len(acc))
	}
	seen := map[string]bool{}
	for _, s := range acc {
		if seen[s] {
			t.Errorf("a SET was accepted twice")
		}
		seen[s] = true
		if !slices.Contains(before, s) {
			t.Errorf("a SET delivered after the restart was not the one tried before it (new jti or bytes)")
		}
	}
}

// TestSSFCampaignAdmission: a reauth campaign naming its users sends RISC
// account-credential-change-required to each admitted user, once, and to
// nobody outside it.
func TestSSFCampaignAdmission(t *testing.T) {
	const evChangeRequired = "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required"
	m := apiServer(t, withSSF)
	rc := newReceiver(t, func(int) (int, string) { return http.StatusAccepted, "" })
	tok := ssfToken(t, m, "rp")
	r := send(t, "POST", m.URL()+"/ssf/stream", tok, []byte(fmt.Sprintf(`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":%q},"events_requested":[%q]}`, rc.URL, evChangeRequired)))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %v", r)
	}
	alice := addUser(t, m, "alice", "correct horse battery")
	addUser(t, m, "bob", "correct horse battery")
	cid := activateOn(t, m.URL(), `{"kind":"password_reset","name":"leak","cohort":{"users":["alice"]}}`)
	ssfWait(t, "the admission SET", func() bool { _, acc := rc.snapshot(); return len(acc) >= 1 })
	time.Sleep(6 * time.Second) // past the next look for admissions
	_, acc := rc.snapshot()
	if len(acc) != 1 {
		t.Fatalf("%d SETs, want 1 (alice, once)", len(acc))
	}
	c := checkSET(t, m, acc[0], "rp")
	typ, _ := eventOf(c)
	sub := c["sub_id"].(map[string]any)
	if typ != evChangeRequired || sub["format"] != "iss_sub" || sub["sub"] != alice || sub["iss"] != m.Config.Issuer || c["txn"] != cid {
		t.Errorf("admission SET: %s, sub_id %v, txn %v", typ, sub, c["txn"])
	}
}

// TestSSFCredentialChangeAlone: a password change that ends no other
// session (the user's only one) is still a credential-change; a new
// account is not.
func TestSSFCredentialChangeAlone(t *testing.T) {
	m := apiServer(t, withSSF)
	tok := ssfToken(t, m, "rp")
	r := send(t, "POST", m.URL()+"/ssf/stream", tok, []byte(`{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":["`+evCredentialChange+`","`+evSessionRevoked+`"]}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %v", r)
	}
	pollURL := r.body["delivery"].(map[string]any)["endpoint_url"].(string)
	uid := addUser(t, m, "frank", "correct horse battery")
	s := mustLogin(t, m, "frank", "correct horse battery", "")
	pw := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + accessToken(t, s)}
	if r := send(t, "POST", m.URL()+"/v1/password", pw, []byte(`{"current_password":"correct horse battery","new_password":"a new battery staple"}`)); r.status/100 != 2 {
		t.Fatalf("password change: %v", r)
	}
	var sets map[string]any
	ssfWait(t, "a SET", func() bool {
		r := send(t, "POST", pollURL, tok, []byte(`{"returnImmediately":true}`))
		sets = r.body["sets"].(map[string]any)
		return len(sets) > 0
	})
	time.Sleep(200 * time.Millisecond)
	sets = send(t, "POST", pollURL, tok, []byte(`{"returnImmediately":true}`)).body["sets"].(map[string]any)
	if len(sets) != 1 {
		t.Fatalf("%d SETs, want 1 credential-change", len(sets))
	}
	for _, set := range sets {
		c := checkSET(t, m, set.(string), "rp")
		typ, ev := eventOf(c)
		if typ != evCredentialChange || c["sub_id"].(map[string]any)["sub"] != uid || ev["change_type"] != "update" {
			t.Errorf("got %s %v", typ, c)
		}
	}
}

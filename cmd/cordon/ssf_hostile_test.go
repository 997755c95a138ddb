package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestSSFHostileInput: every endpoint refuses malformed, oversized,
// unknown, internal-address and other-token input with a clear 4xx.
func TestSSFHostileInput(t *testing.T) {
	m := apiServer(t) // no --ssf-allow-http
	mine, theirs := ssfToken(t, m, "rp-mine"), ssfToken(t, m, "rp-theirs")
	b, _ := ssfBody(`{"name":"campaigns-only","scopes":["campaigns"]}`)
	wrong := send(t, "POST", m.URL()+"/admin/v1/tokens", admin(), b)
	wrongScope := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + wrong.body["token"].(string)}

	ok := send(t, "POST", m.URL()+"/ssf/stream", theirs, []byte(`{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":["`+evSessionRevoked+`"]}`))
	if ok.status != http.StatusCreated {
		t.Fatalf("create: %v", ok)
	}
	id := ok.body["stream_id"].(string)
	push := func(url string) string {
		return fmt.Sprintf(`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":%q}}`, url)
	}
	big := `{"description":"` + strings.Repeat("a", 70<<10) + `","delivery":{"method":"urn:ietf:rfc:8936"}}`
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		status             int
		code               string
	}{
		{"malformed JSON", "POST", "/ssf/stream", mine, `{"delivery":`, 400, "invalid_request"},
		{"not an object", "POST", "/ssf/stream", mine, `[]`, 400, "invalid_request"},
		{"unknown field", "POST", "/ssf/stream", mine, `{"delivery":{"method":"urn:ietf:rfc:8936"},"format":"x"}`, 400, "invalid_request"},
		{"a member twice", "POST", "/ssf/stream", mine, `{"delivery":{"method":"urn:ietf:rfc:8936"},"description":"a","description":"b"}`, 400, "invalid_request"},
		{"no delivery", "POST", "/ssf/stream", mine, `{"events_requested":[]}`, 400, "invalid_request"},
		{"unknown method", "POST", "/ssf/stream", mine, `{"delivery":{"method":"urn:example:smtp"}}`, 400, "invalid_request"},
		{"stream_id chosen by the receiver", "POST", "/ssf/stream", mine, `{"stream_id":"ssf-mine","delivery":{"method":"urn:ietf:rfc:8936"}}`, 400, "invalid_request"},
		{"oversized body", "POST", "/ssf/stream", mine, big, 413, "payload_too_large"},
		{"wrong content type", "POST", "/ssf/stream", map[string]string{"Authorization": mine["Authorization"], "Content-Type": "text/plain"}, `{}`, 415, "unsupported_media_type"},
		{"http endpoint", "POST", "/ssf/stream", mine, push("http://rp.example.com/events"), 400, "invalid_request"},
		{"loopback endpoint", "POST", "/ssf/stream", mine, push("https://127.0.0.1/events"), 400, "invalid_request"},
		{"localhost endpoint", "POST", "/ssf/stream", mine, push("https://localhost:8443/events"), 400, "invalid_request"},
		{"private endpoint", "POST", "/ssf/stream", mine, push("https://10.0.0.7/events"), 400, "invalid_request"},
		{"cloud metadata endpoint", "POST", "/ssf/stream", mine, push("https://169.254.169.254/latest/meta-data"), 400, "invalid_request"},
		{"IPv6 loopback endpoint", "POST", "/ssf/stream", mine, push("https://[::1]/events"), 400, "invalid_request"},
		{"IPv4-mapped private endpoint", "POST", "/ssf/stream", mine, push("https://[::ffff:192.168.1.1]/events"), 400, "invalid_request"},
		{"CGNAT endpoint", "POST", "/ssf/stream", mine, push("https://100.64.1.1/events"), 400, "invalid_request"},
		{"internal name", "POST", "/ssf/stream", mine, push("https://metadata.google.internal/x"), 400, "invalid_request"},
		{"user info", "POST", "/ssf/stream", mine, push("https://user:pw@rp.example.com/events"), 400, "invalid_request"},
		{"file URL", "POST", "/ssf/stream", mine, push("file:///etc/passwd"), 400, "invalid_request"},
		{"header injection", "POST", "/ssf/stream", mine, `{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://rp.example.com/e","authorization_header":"Bearer x\r\nX-Evil: 1"}}`, 400, "invalid_request"},
		{"too many events", "POST", "/ssf/stream", mine, `{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 17), ",") + `]}`, 400, "invalid_request"},
		{"wrong scope", "POST", "/ssf/stream", wrongScope, `{"delivery":{"method":"urn:ietf:rfc:8936"}}`, 403, "forbidden"},
		{"no token", "GET", "/ssf/stream", nil, ``, 401, "unauthorized"},
		{"another token's stream: read", "GET", "/ssf/stream?stream_id=" + id, mine, ``, 404, "not_found"},
		{"another token's stream: patch", "PATCH", "/ssf/stream", mine, `{"stream_id":"` + id + `","description":"mine now"}`, 404, "not_found"},
		{"another token's stream: put", "PUT", "/ssf/stream", mine, `{"stream_id":"` + id + `","delivery":{"method":"urn:ietf:rfc:8936"}}`, 404, "not_found"},
		{"another token's stream: delete", "DELETE", "/ssf/stream?stream_id=" + id, mine, ``, 404, "not_found"},
		{"another token's stream: status", "GET", "/ssf/status?stream_id=" + id, mine, ``, 404, "not_found"},
		{"another token's stream: set status", "POST", "/ssf/status", mine, `{"stream_id":"` + id + `","status":"disabled"}`, 404, "not_found"},
		{"another token's stream: verification", "POST", "/ssf/verification", mine, `{"stream_id":"` + id + `"}`, 404, "not_found"},
		{"another token's stream: poll", "POST", "/ssf/poll/" + id, mine, `{"returnImmediately":true}`, 404, "not_found"},
		{"delete without stream_id", "DELETE", "/ssf/stream", theirs, ``, 400, "invalid_request"},
		{"patch without stream_id", "PATCH", "/ssf/stream", theirs, `{"description":"x"}`, 400, "invalid_request"},
		{"unknown status", "POST", "/ssf/status", theirs, `{"stream_id":"` + id + `","status":"on"}`, 400, "invalid_request"},
		{"status unknown field", "POST", "/ssf/status", theirs, `{"stream_id":"` + id + `","status":"paused","why":"x"}`, 400, "invalid_request"},
		{"verification state too long", "POST", "/ssf/verification", theirs, `{"stream_id":"` + id + `","state":"` + strings.Repeat("s", 300) + `"}`, 400, "invalid_request"},
		{"poll maxEvents too large", "POST", "/ssf/poll/" + id, theirs, `{"maxEvents":100000,"returnImmediately":true}`, 400, "invalid_request"},
		{"poll negative maxEvents", "POST", "/ssf/poll/" + id, theirs, `{"maxEvents":-1}`, 400, "invalid_request"},
		{"poll unknown field", "POST", "/ssf/poll/" + id, theirs, `{"acks":[]}`, 400, "invalid_request"},
		{"poll malformed", "POST", "/ssf/poll/" + id, theirs, `{"ack":"x"}`, 400, "invalid_request"},
		{"poll unknown stream", "POST", "/ssf/poll/ssf-nope", theirs, `{"returnImmediately":true}`, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, m.URL()+tc.path, tc.hdr, []byte(tc.body))
			wantError(t, r, tc.status, tc.code)
		})
	}
	// Nothing above changed their stream.
	got := send(t, "GET", m.URL()+"/ssf/stream?stream_id="+id, theirs, nil)
	if got.status != 200 || got.body["description"] != nil {
		t.Errorf("their stream after the attacks: %v", got)
	}
	if l := send(t, "GET", m.URL()+"/ssf/stream", mine, nil); l.status != 200 || string(l.raw) != "[]\n" {
		t.Errorf("my streams: %v, want none", l)
	}
}

func ssfBody(s string) ([]byte, error) { return []byte(s), nil }

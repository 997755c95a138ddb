package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSSFOpenAPIConformance drives every Shared Signals route of a real
// server and checks each request and answer against the description it
// serves.
func TestSSFOpenAPIConformance(t *testing.T) {
	m := apiServer(t, withSSF)
	check := conformanceCheck(t, m)
	tok := ssfToken(t, m, "rp")
	check("GET", "/.well-known/ssf-configuration", nil, "", 200)
	s := check("POST", "/ssf/stream", tok, `{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":["`+evSessionRevoked+`"],"description":"d"}`, 201)
	id := s.body["stream_id"].(string)
	check("POST", "/ssf/stream", tok, `{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"http://10.0.0.1/"}}`, 400)
	check("GET", "/ssf/stream", tok, "", 200)
	check("GET", "/ssf/stream?stream_id="+id, tok, "", 200)
	check("GET", "/ssf/stream?stream_id=ssf-nope", tok, "", 404)
	check("PATCH", "/ssf/stream", tok, `{"stream_id":"`+id+`","description":"e"}`, 200)
	check("PUT", "/ssf/stream", tok, `{"stream_id":"`+id+`","delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":["`+evCredentialChange+`"]}`, 200)
	check("GET", "/ssf/status?stream_id="+id, tok, "", 200)
	check("POST", "/ssf/status", tok, `{"stream_id":"`+id+`","status":"paused","reason":"maintenance"}`, 200)
	check("POST", "/ssf/status", tok, `{"stream_id":"`+id+`","status":"enabled"}`, 200)
	check("POST", "/ssf/verification", tok, `{"stream_id":"`+id+`","state":"s1"}`, 204)
	check("POST", "/ssf/verification", tok, `{"stream_id":"`+id+`"}`, 429)
	check("POST", "/ssf/poll/"+id, tok, `{"maxEvents":5,"returnImmediately":true}`, 200)
	check("POST", "/ssf/poll/"+id, tok, `{"ack":["x"],"setErrs":{"y":{"err":"invalid_key","description":"no"}},"returnImmediately":true}`, 200)
	check("POST", "/ssf/poll/"+id, admin(), `{"returnImmediately":true}`, 404)
	check("DELETE", "/ssf/stream?stream_id="+id, tok, "", 204)
	check("DELETE", "/ssf/stream?stream_id="+id, tok, "", 404)
}

// TestSSFChangesAudited: creating, changing, pausing and deleting a
// stream each leave an admin record in the audit log, naming the
// receiver's token; a refused change leaves none.
func TestSSFChangesAudited(t *testing.T) {
	m := apiServer(t, withSSF)
	tok := ssfToken(t, m, "rp-audited")
	s := send(t, "POST", m.URL()+"/ssf/stream", tok, []byte(`{"delivery":{"method":"urn:ietf:rfc:8936"}}`))
	id := s.body["stream_id"].(string)
	send(t, "PATCH", m.URL()+"/ssf/stream", tok, []byte(`{"stream_id":"`+id+`","description":"x"}`))
	send(t, "POST", m.URL()+"/ssf/status", tok, []byte(`{"stream_id":"`+id+`","status":"paused"}`))
	send(t, "PATCH", m.URL()+"/ssf/stream", tok, []byte(`{"stream_id":"ssf-not-mine","description":"x"}`))
	send(t, "DELETE", m.URL()+"/ssf/stream?stream_id="+id, tok, nil)
	r := send(t, "GET", m.URL()+"/audit/v1/entries", admin(), nil)
	if r.status != 200 {
		t.Fatalf("entries: %v", r)
	}
	var got []string
	for _, line := range strings.Split(string(r.raw), "\n") {
		var e struct {
			Leaf []byte `json:"leaf"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && strings.Contains(string(e.Leaf), "cordon:ssf-streams") {
			got = append(got, string(e.Leaf))
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d audit records of stream changes, want 4 (create, patch, pause, delete):\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, want := range []string{"created for rp-audited", "changed", "set \\\"paused\\\"", "deleted"} {
		if !strings.Contains(got[i], want) || !strings.Contains(got[i], "rp-audited") {
			t.Errorf("record %d: %s, want %q and the token's name", i, got[i], want)
		}
	}
}

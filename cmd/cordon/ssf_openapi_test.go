package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// TestSSFOpenAPIConformance drives every Shared Signals route of a real
// server and checks each request and answer against the description it
// serves.
func TestSSFOpenAPIConformance(t *testing.T) {
	m := apiServer(t, withSSF)
	router := servedDescription(t, m)
	check := func(method, path string, hdr map[string]string, body string, want int) apiResp {
		t.Helper()
		req, err := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s is not in the description: %v", method, path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}}
		if want < 400 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s %s: the request does not fit the description: %v", method, path, err)
			}
			req.Body = io.NopCloser(strings.NewReader(body))
		}
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := send(t, method, m.URL()+path, hdr, b)
		if r.status != want {
			t.Fatalf("%s %s: %v, want %d", method, path, r, want)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header, Options: in.Options}
		out.SetBodyBytes(r.raw)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s: the %d answer does not fit the description: %v\n%.500s", method, path, r.status, err, r.raw)
		}
		return r
	}
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

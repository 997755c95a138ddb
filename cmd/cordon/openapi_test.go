package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// servedDescription loads /openapi.json as a running server serves it,
// the campaign schema it refers to fetched from the same server.
func servedDescription(t *testing.T, m *Main) routers.Router {
	t.Helper()
	fetch := func(path string) []byte {
		r := send(t, "GET", m.URL()+path, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %v", path, r)
		}
		return r.raw
	}
	loader := openapi3.NewLoader()
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) { return fetch(u.Path), nil }
	base, _ := url.Parse(m.URL() + "/openapi.json")
	doc, err := loader.LoadFromDataWithPath(fetch("/openapi.json"), base)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: m.URL()}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return router
}

// TestOpenAPIConformance drives a real server through the main paths of
// the API, and checks each request and each answer (status, headers,
// body) against the description it serves: the description is held to
// what the server does, not only to its list of routes.
func TestOpenAPIConformance(t *testing.T) {
	m := testServer(t)
	check := conformanceCheck(t, m)
	const client = `platform=android, version="8.4.1", source=play`
	check("GET", "/healthz", nil, "", 200)
	check("GET", "/readyz", nil, "", 200)
	check("GET", "/.well-known/jwks.json", nil, "", 200)
	check("GET", "/.well-known/openid-configuration", nil, "", 200)
	check("GET", "/.well-known/oauth-authorization-server", nil, "", 200)
	check("POST", "/admin/v1/accounts", admin(), `{"username":"olive","password":"`+userPassword+`"}`, 201)
	check("GET", "/admin/v1/accounts/olive", admin(), "", 200)
	check("GET", "/admin/v1/accounts?limit=10", admin(), "", 200)
	check("GET", "/admin/v1/accounts/nobody", admin(), "", 404)
	check("POST", "/v1/login", hdr("Content-Type", "application/json", "Cordon-Client", client), `{"username":"olive","password":"wrong password!"}`, 401)
	r := check("POST", "/v1/login", hdr("Content-Type", "application/json", "Cordon-Client", client), `{"username":"olive","password":"`+userPassword+`"}`, 200)
	access, _ := r.body["access_token"].(string)
	refreshTok, _ := r.body["refresh_token"].(string)
	user := hdr("Authorization", "Bearer "+access, "Cordon-Client", client)
	check("GET", "/v1/session", user, "", 200)
	check("GET", "/v1/sessions", user, "", 200)
	check("POST", "/v1/decide", user, "", 200)
	check("GET", "/v1/session", hdr("Authorization", "Bearer not-a-token"), "", 401)
	check("POST", "/oauth2/token", hdr("Content-Type", "application/x-www-form-urlencoded", "Cordon-Client", client),
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshTok}}.Encode(), 200)
	check("POST", "/oauth2/token", hdr("Content-Type", "application/x-www-form-urlencoded", "Cordon-Client", client),
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"crt_unknown"}}.Encode(), 400)
	check("GET", "/admin/v1/tokens", admin(), "", 200)
	check("POST", "/admin/v1/tokens", admin(), `{"name":"edge-1","scopes":["gate"]}`, 201)
	check("GET", "/admin/v1/tokens/edge-1", admin(), "", 200)
	c := check("POST", "/admin/v1/campaigns", admin(),
		`{"kind":"reauth","name":"conformance","cohort":{"platforms":["ios"]},"ramp":{"start":"2026-05-27T08:00:00Z","duration":"72h"}}`, 201)
	id, _ := c.body["id"].(string)
	check("GET", "/admin/v1/campaigns", admin(), "", 200)
	check("GET", "/admin/v1/campaigns/"+id, admin(), "", 200)
	check("GET", "/admin/v1/campaigns/"+id+"/preview", admin(), "", 200)
	check("POST", "/admin/v1/campaigns/"+id+"/activate", admin(), "", 200)
	check("GET", "/admin/v1/campaigns/"+id+"/trail", admin(), "", 200)
	check("GET", "/admin/v1/campaigns/"+id+"/admission?user=olive", admin(), "", 200)
	check("GET", "/admin/v1/campaigns/"+id+"/admission", admin(), "", 400)
	check("GET", "/admin/v1/campaigns/c-nothing", admin(), "", 404)
	check("POST", "/admin/v1/campaigns", admin(), `{"kind":"reauth"}`, 422)
	check("POST", "/audit/v1/events", admin(), `[{"time":"`+time.Now().UTC().Format(time.RFC3339)+`","principal":"svc-support","action":"read","subject":"olive","categories":["email"]}]`, 200)
	check("GET", "/audit/v1/checkpoints", admin(), "", 200)
	check("GET", "/audit/v1/entries?from=0", admin(), "", 200)
	check("GET", "/admin/v1/audit/report?principal=svc-support", admin(), "", 200)
	nr := check("POST", "/admin/v1/notices", admin(), `{"campaign":"`+id+`","cohort":{"platforms":["android"]},"default_language":"en","texts":{"en":{"title":"Hello","body":"**Hi**"}}}`, 201)
	nid, _ := nr.body["id"].(string)
	check("GET", "/admin/v1/notices", admin(), "", 200)
	check("POST", "/admin/v1/notices/"+nid+"/publish", admin(), "", 200)
	check("GET", "/admin/v1/notices/"+nid, admin(), "", 200)
	check("GET", "/v1/notices", user, "", 200)
	check("POST", "/v1/notices/"+nid+"/ack", user, "", 200)
	check("POST", "/v1/notices/n-nothing/ack", user, "", 404)
	check("POST", "/admin/v1/notices/"+nid+"/withdraw", admin(), "", 200)
	check("POST", "/admin/v1/notices", admin(), `{"default_language":"en"}`, 400)
	ir := check("POST", "/admin/v1/incidents", admin(), `{"title":"conformance","severity":"low"}`, 201)
	iid, _ := ir.body["id"].(string)
	check("POST", "/admin/v1/incidents/"+iid+"/page", admin(), `{"slug":"conformance","default_language":"en","texts":{"en":{"title":"T","body":"B"}}}`, 201)
	check("GET", "/admin/v1/incidents/"+iid+"/page", admin(), "", 200)
	check("GET", "/status/conformance.json", nil, "", 200)
	check("GET", "/status/nothing", nil, "", 404)
	check("POST", "/v1/logout", user, "", 204)
	check("GET", "/admin/v1/accounts", nil, "", 401)
	check("GET", "/admin/v1/alerts?state=open&limit=5", admin(), "", 200)
	check("GET", "/admin/v1/alerts?state=shut", admin(), "", 422)
	check("GET", "/admin/v1/alerts/al-nope", admin(), "", 404)
	check("POST", "/admin/v1/alerts/al-nope/ack", admin(), `{}`, 404)
	check("POST", "/admin/v1/alerts/al-nope/escalate", admin(), `{"severity":"high"}`, 404)

	var desc map[string]any
	if err := json.Unmarshal(send(t, "GET", m.URL()+"/openapi.json", nil, nil).raw, &desc); err != nil || desc["openapi"] != "3.1.0" {
		t.Errorf("/openapi.json: %v %v", err, desc["openapi"])
	}
}

// conformanceCheck returns a function that sends one request to m, wants
// the status given, and checks the request (when it should succeed) and
// the answer against the description m serves.
func conformanceCheck(t *testing.T, m *Main) func(method, path string, hdr map[string]string, body string, want int) apiResp {
	router := servedDescription(t, m)
	return func(method, path string, hdr map[string]string, body string, want int) apiResp {
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
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRampDurationOnTheWire: the API writes a ramp's duration as a Go
// duration string, not as nanoseconds (it printed 259200000000000), in
// every answer that holds a campaign; `campaign show` prints that JSON.
func TestRampDurationOnTheWire(t *testing.T) {
	m := testServer(t)
	r := send(t, "POST", m.URL()+"/admin/v1/campaigns", admin(),
		[]byte(`{"kind":"reauth","name":"ramp","ramp":{"start":"2026-05-27T08:00:00Z","duration":"3d"}}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %v", r)
	}
	id, _ := r.body["id"].(string)
	const want = `"duration":"72h"`
	for _, step := range []struct {
		name string
		resp apiResp
	}{
		{"create", r},
		{"get", send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id, admin(), nil)},
		{"list", send(t, "GET", m.URL()+"/admin/v1/campaigns", admin(), nil)},
		{"activate", send(t, "POST", m.URL()+"/admin/v1/campaigns/"+id+"/activate", admin(), nil)},
	} {
		if !strings.Contains(string(step.resp.raw), want) || strings.Contains(string(step.resp.raw), "259200000000000") {
			t.Errorf("%s: %s, want it to hold %s", step.name, step.resp.raw, want)
		}
	}
}

// TestDescriptionsServed: the OpenAPI description and the campaign
// schema answer on a real server without a credential.
func TestDescriptionsServed(t *testing.T) {
	m := testServer(t)
	for _, path := range []string{"/openapi.json", "/schema/campaign.json"} {
		r := send(t, "GET", m.URL()+path, nil, nil)
		if r.status != http.StatusOK || !json.Valid(r.raw) {
			t.Errorf("GET %s: %v, want 200 with JSON", path, r)
		}
	}
}

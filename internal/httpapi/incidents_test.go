package httpapi_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// openIncident opens one and returns its id.
func (e *env) openIncident(t *testing.T) string {
	t.Helper()
	res, body := e.do(t, "POST", "/admin/v1/incidents", "application/json", `{"title":"support tool read user data","severity":"high","aware_at":"2026-12-01T07:00:00Z"}`, "responder")
	if res.StatusCode != 201 {
		t.Fatalf("open: %d %v", res.StatusCode, body)
	}
	if res.Header.Get("Location") != "/admin/v1/incidents/"+body["id"].(string) {
		t.Errorf("Location %q", res.Header.Get("Location"))
	}
	return body["id"].(string)
}

func TestIncidentOverHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	id := e.openIncident(t)
	res, body := e.do(t, "GET", "/admin/v1/incidents/"+id, "", "", "responder")
	if res.StatusCode != 200 || body["state"] != "investigating" || body["severity"] != "high" || body["notify_by"] != "2026-12-04T07:00:00Z" ||
		body["notify_left"] != "70h" || body["notify_overdue"] != false || body["version"] != 1.0 {
		t.Fatalf("get: %d %v", res.StatusCode, body)
	}
	if _, _, err := e.log.Ingest(ctx, []audit.Event{{Time: t0.Add(-3 * time.Hour), Principal: "support-tool", Action: "read", Subject: "alice", Categories: []string{"email"}}}); err != nil {
		t.Fatal(err)
	}
	_, rep := e.do(t, "POST", "/admin/v1/audit/reports", "application/json", `{"principals":["support-tool"],"from":"2026-11-30T00:00:00Z","to":"2026-12-01T09:00:00Z"}`, "root")
	repBody, _ := rep["report"].(map[string]any)
	repID, _ := repBody["id"].(string)
	_, camp := e.do(t, "POST", "/admin/v1/campaigns", "application/json", `{"kind":"reauth","name":"alice logs in again","cohort":{"users_from_report":"`+repID+`"}}`, "root")
	campID, _ := camp["id"].(string)
	if repID == "" || campID == "" {
		t.Fatalf("report %v, campaign %v", rep, camp)
	}
	steps := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/admin/v1/incidents/" + id + "/links", `{"kind":"report","id":"` + repID + `"}`, 200},
		{"POST", "/admin/v1/incidents/" + id + "/links", `{"kind":"campaign","id":"` + campID + `"}`, 200},
		{"POST", "/admin/v1/incidents/" + id + "/notes", `{"text":"consequences: alice's email may be phished"}`, 200},
		{"POST", "/admin/v1/incidents/" + id + "/state", `{"state":"contained","version":4}`, 200},
		{"POST", "/admin/v1/incidents/" + id + "/close", ``, 200},
	}
	for _, st := range steps {
		before := e.auditSize(t)
		if res, body := e.do(t, st.method, st.path, "application/json", st.body, "responder"); res.StatusCode != st.status {
			t.Fatalf("%s %s: %d %v", st.method, st.path, res.StatusCode, body)
		}
		if got := e.auditSize(t) - before; got != 1 {
			t.Errorf("%s %s appended %d audit entries, want 1", st.method, st.path, got)
		}
	}
	before := e.auditSize(t)
	res, body = e.do(t, "GET", "/admin/v1/incidents/"+id+"/timeline", "", "", "responder")
	entries, _ := body["entries"].([]any)
	if got := e.auditSize(t) - before; got != 1 {
		t.Errorf("reading the timeline appended %d audit entries, want 1 (the read is recorded)", got)
	}
	if res.StatusCode != 200 || len(entries) != 8 {
		t.Fatalf("timeline: %d, %d entries (%v); want 8: opened, report saved, campaign created, 2 links, note, 2 moves", res.StatusCode, len(entries), body)
	}
	first := entries[0].(map[string]any)
	if first["principal"] != "cordon:admin/responder" || !strings.HasPrefix(first["what"].(string), "incident opened: severity high") {
		t.Errorf("first entry: %v", first)
	}
	r := httptest.NewRequest("GET", "/admin/v1/incidents/"+id+"/summary?format=md", nil)
	r.Header.Set("Authorization", "Bearer "+e.tokens["responder"])
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	md, _ := io.ReadAll(w.Result().Body)
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/markdown; charset=utf-8" ||
		!strings.Contains(string(md), "### Approximate number of data subjects concerned\n\n1 (from report "+repID+")") ||
		!strings.Contains(string(md), "| "+campID+" | reauth | alice logs in again | draft | 0 | 0 | – |") {
		t.Errorf("summary md: %d %q\n%s", w.Code, w.Header().Get("Content-Type"), md)
	}
	res, body = e.do(t, "GET", "/admin/v1/incidents", "", "", "responder")
	if list, _ := body["incidents"].([]any); res.StatusCode != 200 || len(list) != 1 {
		t.Errorf("list: %d %v", res.StatusCode, body)
	}
	// An ingested event may not pass for an incident record.
	_, _, err := e.log.Ingest(ctx, []audit.Event{{Time: t0, Principal: "svc", Action: "write", Subject: "alice", Categories: []string{"incidents"}}})
	if cordon.ErrorCode(err) != cordon.ECodeUnprocessable {
		t.Errorf("an ingested event in category incidents: %v, want refused", err)
	}
	res, body = e.do(t, "POST", "/audit/v1/events", "application/json", `[{"time":"2026-12-01T09:00:00Z","principal":"svc","action":"write","subject":"cordon:incident/`+id+`","categories":["profile"]}]`, "ingester")
	if res.StatusCode != 422 {
		t.Errorf("an ingested event about the incident: %d %v, want 422", res.StatusCode, body)
	}
}

// Bad input on every incident endpoint gets a 4xx with its code, and
// appends nothing to the log.
func TestIncidentBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.openIncident(t)
	base := "/admin/v1/incidents/" + id
	long := strings.Repeat("x", 401)
	tests := []struct {
		name             string
		token            string
		method, path, ct string
		body             string
		status           int
		code, field      string
	}{
		{"no token", "", "POST", "/admin/v1/incidents", "application/json", `{"title":"x","severity":"low"}`, 401, "unauthorized", ""},
		{"wrong scope", "campaigner", "POST", "/admin/v1/incidents", "application/json", `{"title":"x","severity":"low"}`, 403, "forbidden", ""},
		{"wrong scope reading", "auditor", "GET", base + "/timeline", "", ``, 403, "forbidden", ""},
		{"revoked token", "revoked", "GET", "/admin/v1/incidents", "", ``, 401, "invalid_token", ""},
		{"malformed JSON", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":`, 400, "invalid_request", ""},
		{"unknown field", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"x","severity":"low","state":"resolved"}`, 400, "invalid_request", ""},
		{"duplicate member", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"x","title":"y","severity":"low"}`, 400, "invalid_request", ""},
		{"wrong content type", "responder", "POST", "/admin/v1/incidents", "text/plain", `{"title":"x","severity":"low"}`, 415, "unsupported_media_type", ""},
		{"oversized body", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"` + strings.Repeat("x", 17<<10) + `","severity":"low"}`, 413, "payload_too_large", ""},
		{"oversized title", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"` + strings.Repeat("x", 201) + `","severity":"low"}`, 422, "invalid_field", "title"},
		{"title with a newline", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"a\n| forged |","severity":"low"}`, 422, "invalid_field", "title"},
		{"missing title", "responder", "POST", "/admin/v1/incidents", "application/json", `{"severity":"low"}`, 422, "invalid_field", "title"},
		{"bad severity", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"x","severity":"extreme"}`, 422, "invalid_field", "severity"},
		{"aware in the future", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"x","severity":"low","aware_at":"2027-01-01T00:00:00Z"}`, 422, "invalid_field", "aware_at"},
		{"aware not a time", "responder", "POST", "/admin/v1/incidents", "application/json", `{"title":"x","severity":"low","aware_at":"yesterday"}`, 400, "invalid_request", ""},
		{"unknown incident", "responder", "GET", "/admin/v1/incidents/i-nope", "", ``, 404, "not_found", ""},
		{"oversized note", "responder", "POST", base + "/notes", "application/json", `{"text":"` + long + `"}`, 422, "invalid_field", "text"},
		{"empty note", "responder", "POST", base + "/notes", "application/json", `{"text":""}`, 422, "invalid_field", "text"},
		{"note on an unknown incident", "responder", "POST", "/admin/v1/incidents/i-nope/notes", "application/json", `{"text":"x"}`, 404, "not_found", ""},
		{"bad state", "responder", "POST", base + "/state", "application/json", `{"state":"panicking"}`, 422, "invalid_field", "state"},
		{"the same state", "responder", "POST", base + "/state", "application/json", `{"state":"investigating"}`, 422, "invalid_field", "state"},
		{"reopen of an open incident", "responder", "POST", base + "/state", "application/json", `{"state":"contained","reopen":true}`, 422, "invalid_field", "reopen"},
		{"a stale version", "responder", "POST", base + "/state", "application/json", `{"state":"contained","version":7}`, 409, "conflict", ""},
		{"a negative version", "responder", "POST", base + "/state", "application/json", `{"state":"contained","version":-1}`, 422, "invalid_field", "version"},
		{"close with an unknown field", "responder", "POST", base + "/close", "application/json", `{"why":"done"}`, 400, "invalid_request", ""},
		{"unknown link kind", "responder", "POST", base + "/links", "application/json", `{"kind":"ticket","id":"x"}`, 422, "invalid_field", "kind"},
		{"unknown report", "responder", "POST", base + "/links", "application/json", `{"kind":"report","id":"r-nope"}`, 404, "not_found", "id"},
		{"unknown campaign", "responder", "POST", base + "/links", "application/json", `{"kind":"campaign","id":"c-nope"}`, 404, "not_found", "id"},
		{"unknown notice", "responder", "POST", base + "/links", "application/json", `{"kind":"notice","id":"n-nope"}`, 404, "not_found", "id"},
		{"a hostile link id", "responder", "POST", base + "/links", "application/json", `{"kind":"report","id":"r-1 | <script>"}`, 422, "invalid_field", "id"},
		{"unlink what is not linked", "responder", "DELETE", base + "/links/campaign/c-nope", "", ``, 404, "not_found", "id"},
		{"unlink an unknown kind", "responder", "DELETE", base + "/links/ticket/x", "", ``, 422, "invalid_field", "kind"},
		{"timeline in a bad format", "responder", "GET", base + "/timeline?format=pdf", "", ``, 400, "invalid_request", "format"},
		{"summary of an unknown incident", "responder", "GET", "/admin/v1/incidents/i-nope/summary", "", ``, 404, "not_found", ""},
	}
	before := e.auditSize(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, tt.method, tt.path, tt.ct, tt.body, tt.token)
			if res.StatusCode != tt.status || body["error"] != tt.code {
				t.Fatalf("%d %v, want %d %s", res.StatusCode, body, tt.status, tt.code)
			}
			if tt.field != "" && body["field"] != tt.field {
				t.Errorf("field %v, want %q", body["field"], tt.field)
			}
			if m, _ := body["message"].(string); m == "" {
				t.Errorf("no message")
			}
		})
	}
	if after := e.auditSize(t); after != before {
		t.Errorf("refused requests appended %d audit entries", after-before)
	}
}

// A campaign created with ?incident= is linked to it, and the link is
// refused before anything is created when the token may not change
// incidents or the incident does not exist.
func TestCampaignCreatedWithIncident(t *testing.T) {
	e := newEnv(t)
	id := e.openIncident(t)
	doc := `{"kind":"reauth","name":"everyone logs in again"}`
	tests := []struct {
		name, token, incident string
		status                int
		code                  string
	}{
		{"a campaigns-only token", "campaigner", id, 403, "forbidden"},
		{"an unknown incident", "root", "i-nope", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, "POST", "/admin/v1/campaigns?incident="+tt.incident, "application/json", doc, tt.token)
			if res.StatusCode != tt.status || body["error"] != tt.code || body["field"] != "incident" {
				t.Errorf("%d %v, want %d %s on incident", res.StatusCode, body, tt.status, tt.code)
			}
		})
	}
	if _, body := e.do(t, "GET", "/admin/v1/campaigns", "", "", "root"); len(body["campaigns"].([]any)) != 0 {
		t.Errorf("a refused creation made a campaign: %v", body)
	}
	res, c := e.do(t, "POST", "/admin/v1/campaigns?incident="+id, "application/json", doc, "root")
	if res.StatusCode != 201 {
		t.Fatalf("create with incident: %d %v", res.StatusCode, c)
	}
	_, inc := e.do(t, "GET", "/admin/v1/incidents/"+id, "", "", "responder")
	links, _ := inc["links"].([]any)
	if len(links) != 1 || links[0].(map[string]any)["id"] != c["id"] || links[0].(map[string]any)["kind"] != "campaign" {
		t.Errorf("links after creation: %v", inc["links"])
	}
}

// Two admins move one incident from the version they both read, at once:
// exactly one move is stored and the other answers 409 naming the state
// the incident is in now.
func TestIncidentMoveRaceOverHTTP(t *testing.T) {
	for round := range 20 {
		e := newEnv(t)
		id := e.openIncident(t)
		before := e.auditSize(t)
		targets := []string{"contained", "resolved"}
		type answer struct {
			status int
			body   map[string]any
		}
		answers := make([]answer, len(targets))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, to := range targets {
			wg.Go(func() {
				<-start
				res, body := e.do(t, "POST", "/admin/v1/incidents/"+id+"/state", "application/json", `{"state":"`+to+`","version":1}`, "responder")
				answers[i] = answer{res.StatusCode, body}
			})
		}
		close(start)
		wg.Wait()
		won := ""
		for i, a := range answers {
			switch a.status {
			case 200:
				if won != "" {
					t.Fatalf("round %d: both moves won", round)
				}
				won = targets[i]
			case 409:
				if m, _ := a.body["message"].(string); a.body["error"] != "conflict" || !strings.Contains(m, "changed by someone else meanwhile") {
					t.Errorf("round %d: the loser's answer %v", round, a.body)
				}
			default:
				t.Fatalf("round %d: %d %v", round, a.status, a.body)
			}
		}
		_, got := e.do(t, "GET", "/admin/v1/incidents/"+id, "", "", "responder")
		if won == "" || got["state"] != won || got["version"] != 2.0 || e.auditSize(t)-before != 1 {
			t.Errorf("round %d: winner %q, incident %v, %d entries appended; want the winner's state at version 2 and one entry", round, won, got, e.auditSize(t)-before)
		}
	}
}

package httpapi_test

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzIncidentBodies sends arbitrary bodies to the incident endpoints
// that read one: each answers a 2xx or a 4xx with a code and a message,
// never a 5xx, and an incident it opens has a title of one printable
// line.
func FuzzIncidentBodies(f *testing.F) {
	for _, s := range []string{`{"title":"x","severity":"low"}`, `{"title":"x","severity":"low","aware_at":"2026-12-01T08:00:00Z"}`,
		`{"text":"note"}`, `{"state":"contained","version":1}`, `{"kind":"report","id":"r-1"}`, `{}`, ``, `[`, `{"title":"\u0000","severity":"low"}`} {
		f.Add(s)
	}
	e := newEnv(f)
	id := ""
	f.Fuzz(func(t *testing.T, body string) {
		if id == "" {
			_, b := e.do(t, "POST", "/admin/v1/incidents", "application/json", `{"title":"fuzz","severity":"low"}`, "responder")
			id, _ = b["id"].(string)
		}
		for _, path := range []string{"/admin/v1/incidents", "/admin/v1/incidents/" + id + "/notes", "/admin/v1/incidents/" + id + "/state",
			"/admin/v1/incidents/" + id + "/links", "/admin/v1/incidents/" + id + "/close"} {
			res, out := e.do(t, "POST", path, "application/json", body, "responder")
			switch {
			case res.StatusCode >= 500:
				t.Fatalf("POST %s %q: %d %v", path, body, res.StatusCode, out)
			case res.StatusCode >= 400:
				if out["error"] == nil || out["message"] == "" {
					t.Fatalf("POST %s %q: %d without a code and message: %v", path, body, res.StatusCode, out)
				}
			case path == "/admin/v1/incidents":
				title, _ := out["title"].(string)
				if strings.TrimSpace(title) == "" || strings.IndexFunc(title, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
					t.Fatalf("opened an incident titled %q", title)
				}
			}
		}
	})
}

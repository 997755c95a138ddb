package httpapi_test

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNoticeBodies sends arbitrary bodies to the endpoints that read a
// notice document or a public page statement: each answers a 2xx or a
// 4xx with a code and a message, never a 5xx; a notice it creates has a
// default language among its texts, and no page slug it accepts holds
// anything but lower-case letters, digits and dashes.
func FuzzNoticeBodies(f *testing.F) {
	for _, s := range []string{
		`{"default_language":"en","texts":{"en":{"title":"t","body":"b"}}}`,
		`{"cohort":{"platforms":["ios"]},"default_language":"de","texts":{"de":{"title":"Hallo","body":"<script>x</script>"}}}`,
		`{"slug":"may-2026","default_language":"en","texts":{"en":{"title":"t","body":"[x](javascript:y)"}}}`,
		`{"slug":"../x","default_language":"en","texts":{"en":{"title":"t","body":"b"}}}`,
		`{}`, ``, `[`, `{"texts":{"en":{"title":"\u0000","body":"b"}},"default_language":"en"}`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	id := ""
	f.Fuzz(func(t *testing.T, body string) {
		if id == "" {
			_, b := e.do(t, "POST", "/admin/v1/incidents", "application/json", `{"title":"fuzz","severity":"low"}`, "root")
			id, _ = b["id"].(string)
		}
		for _, path := range []string{"/admin/v1/notices", "/admin/v1/incidents/" + id + "/page"} {
			res, out := e.do(t, "POST", path, "application/json", body, "root")
			switch {
			case res.StatusCode >= 500:
				t.Fatalf("POST %s %q: %d %v", path, body, res.StatusCode, out)
			case res.StatusCode >= 400:
				if out["error"] == nil || out["message"] == "" {
					t.Fatalf("POST %s %q: %d without a code and message: %v", path, body, res.StatusCode, out)
				}
			case path == "/admin/v1/notices":
				texts, _ := out["texts"].(map[string]any)
				def, _ := out["default_language"].(string)
				if texts[def] == nil {
					t.Fatalf("created a notice whose default %q has no text: %v", def, out)
				}
				for _, tx := range texts {
					title, _ := tx.(map[string]any)["title"].(string)
					if strings.ContainsAny(title, "\r\n") || !utf8.ValidString(title) {
						t.Fatalf("created a notice titled %q", title)
					}
				}
			default:
				slug, _ := out["slug"].(string)
				if strings.Trim(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
					t.Fatalf("a page slug %q", slug)
				}
			}
		}
	})
}

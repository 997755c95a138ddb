package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzForms posts arbitrary text to every form a signed-in admin fills in
// (a campaign document, an incident title, blast-radius principals and
// window): never a 5xx, and the text never comes back as markup.
func FuzzForms(f *testing.F) {
	for _, s := range []string{"", "kind: reauth\nname: x\n", "<script>alert(1)</script>", "a: &a [*a, *a]", "\x00\xff", "2026-13-45", "svc-*", strings.Repeat("x", 5000)} {
		f.Add(s)
	}
	e := newEnv(f, false)
	c := e.signIn(f, "ada")
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, resp *http.Response, body string) {
			if resp.StatusCode >= 500 {
				t.Fatalf("%s with %q: %d", what, s, resp.StatusCode)
			}
			if strings.Contains(s, "<") && strings.Contains(body, "<script>alert") {
				t.Fatalf("%s with %q renders markup", what, s)
			}
		}
		resp, body := c.do(t, "POST", "/console/campaigns", url.Values{"document": {s}}, nil)
		check("campaign", resp, body)
		// A severity that is refused, after the title is checked: the title
		// comes back in the form, and the store does not grow (a growing
		// incident room would slow each run down).
		resp, body = c.do(t, "POST", "/console/incidents", url.Values{"title": {s}, "severity": {"x"}}, nil)
		check("incident", resp, body)
		resp, body = c.do(t, "GET", "/console/blast?"+url.Values{"principals": {s}, "from": {s}, "to": {s}}.Encode(), nil, nil)
		check("blast radius", resp, body)
		resp, body = c.do(t, "GET", "/console/fleet?"+url.Values{"below": {s}, "platform": {s}}.Encode(), nil, nil)
		check("fleet", resp, body)
	})
}

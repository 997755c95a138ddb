package console_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzForms posts arbitrary text to every form a signed-in admin fills in
// (a campaign document, an incident title, blast-radius principals and
// window, a notice previewed, a public statement): never a 5xx, and the text never comes back as markup.
func FuzzForms(f *testing.F) {
	for _, s := range []string{"", "kind: reauth\nname: x\n", "<script>alert(1)</script>", "a: &a [*a, *a]", "\x00\xff", "2026-13-45", "svc-*", strings.Repeat("x", 5000)} {
		f.Add(s)
	}
	e := newEnv(f, false)
	c := e.signIn(f, "ada")
	c.do(f, "POST", "/console/incidents", url.Values{"title": {"fuzz"}, "severity": {"high"}}, nil)
	incs, err := e.inc.List(f.Context())
	if err != nil || len(incs) != 1 {
		f.Fatalf("incident: %v", err)
	}
	pagePath := "/console/incidents/" + incs[0].ID + "/page"
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
		// Notices are previewed, never stored: the text as the document
		// and as a title and body (JSON strings are YAML's double-quoted
		// scalars), rendered as the phone shows it.
		resp, body = c.do(t, "POST", "/console/notices", url.Values{"document": {s}, "preview": {"1"}}, nil)
		check("notice document", resp, body)
		q := strconv.Quote(s)
		resp, body = c.do(t, "POST", "/console/notices", url.Values{"document": {"default_language: en\ntexts:\n  en: {title: " + q + ", body: " + q + "}\n"}, "preview": {"1"}}, nil)
		check("notice text", resp, body)
		// A statement refused at its slug comes back with its text.
		resp, body = c.do(t, "POST", pagePath, url.Values{"slug": {"Not A Slug"}, "language": {s}, "title": {s}, "body": {s}}, nil)
		check("public statement", resp, body)
	})
}

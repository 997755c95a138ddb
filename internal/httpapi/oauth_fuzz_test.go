package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzReadOAuthForm feeds arbitrary bodies, content types and query
// strings to the form reader of revocation and introspection: it either
// returns a form with exactly one non-empty token and no repeated
// parameter, or refuses with 400 or 413 and a message, never panics.
func FuzzReadOAuthForm(f *testing.F) {
	for _, s := range []struct{ body, ctype, query string }{
		{"token=abc", "application/x-www-form-urlencoded", ""},
		{"token=abc&token_type_hint=refresh_token", "application/x-www-form-urlencoded; charset=utf-8", ""},
		{"token=a&token=b", "application/x-www-form-urlencoded", ""},
		{"token=%zz", "application/x-www-form-urlencoded", ""},
		{"", "application/x-www-form-urlencoded", "token=x"},
		{`{"token":"x"}`, "application/json", ""},
		{"token=x", "", ""},
		{"a=1&&&=&token=%00", "application/x-www-form-urlencoded", "a=%"},
	} {
		f.Add([]byte(s.body), s.ctype, s.query)
	}
	f.Fuzz(func(t *testing.T, body []byte, ctype, query string) {
		r := httptest.NewRequest("POST", "/oauth2/revoke", bytes.NewReader(body))
		r.URL.RawQuery = query
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		form, fe := readOAuthForm(w, r)
		if fe != nil {
			if fe.status != http.StatusBadRequest && fe.status != http.StatusRequestEntityTooLarge || fe.code != "invalid_request" || fe.msg == "" {
				t.Fatalf("refusal %+v: want 400 or 413 invalid_request with a message", fe)
			}
			if len(fe.msg) > 200 {
				t.Fatalf("refusal message of %d bytes echoes too much input", len(fe.msg))
			}
			return
		}
		if len(body) > maxFormBody {
			t.Fatalf("accepted a body of %d bytes, over %d", len(body), maxFormBody)
		}
		if form.Get("token") == "" {
			t.Fatal("accepted a form without a token")
		}
		q, _ := url.ParseQuery(query)
		if q.Has("token") {
			t.Fatal("accepted a token in the query string")
		}
		for k, v := range form {
			if len(v) != 1 {
				t.Fatalf("accepted parameter %q %d times", k, len(v))
			}
		}
	})
}

package main

import (
	"strings"
	"testing"

	cmail "github.com/cordon-dev/cordon/internal/mail"
)

func TestRelayConfig(t *testing.T) {
	const from = "Security <security@example.com>"
	good := []struct {
		url        string
		allowPlain bool
		want       cmail.Security
		user, pass string
	}{
		{"smtp://cordon:s3cret@smtp.example.com:587", false, cmail.StartTLS, "cordon", "s3cret"},
		{"smtps://cordon:p%40ss@smtp.example.com:465", false, cmail.ImplicitTLS, "cordon", "p@ss"},
		{"smtp://localhost:1025", true, cmail.Plain, "", ""},
		{"smtp://127.0.0.1:1025", true, cmail.Plain, "", ""},
		{"smtp://[::1]:1025", true, cmail.Plain, "", ""},
	}
	for _, tc := range good {
		c, err := relayConfig(tc.url, from, tc.allowPlain, nil)
		if err != nil || c.Security != tc.want || c.Username != tc.user || c.Password != tc.pass {
			t.Errorf("relayConfig(%q): got %+v, %v; want %s as %q", tc.url, c, err, tc.want, tc.user)
		}
	}
	bad := []struct {
		name, url, from string
		allowPlain      bool
		want            string
	}{
		{"plain to another host", "smtp://smtp.example.com:25", from, true, "only for a relay on this machine"},
		{"plain with a password", "smtp://u:p@127.0.0.1:25", from, true, "never sent in clear"},
		{"no port", "smtp://smtp.example.com", from, false, "a host and a port"},
		{"http scheme", "http://smtp.example.com:587", from, false, "use smtp (STARTTLS) or smtps"},
		{"a path", "smtp://smtp.example.com:587/x", from, false, "want smtp://"},
		{"a query", "smtp://smtp.example.com:587?tls=off", from, false, "want smtp://"},
		{"no from", "smtp://smtp.example.com:587", "", false, "--smtp-from is required"},
		{"bad from", "smtp://smtp.example.com:587", "security at example", false, "--smtp-from"},
		{"not a URL", "smtp.example.com:587", from, false, "want smtp://"},
	}
	for _, tc := range bad {
		_, err := relayConfig(tc.url, tc.from, tc.allowPlain, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "p@ss") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}

func FuzzRelayConfig(f *testing.F) {
	for _, s := range []string{"smtp://u:p@h:587", "smtps://h:465", "smtp://127.0.0.1:25", "smtp://[::1]:25", "smtp://u@h", "%zz", "smtp://u:pa%ss@h:1"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, allowPlain bool) {
		c, err := relayConfig(raw, "a@example.com", allowPlain, nil)
		if err != nil {
			return
		}
		if c.Security == cmail.Plain && (c.Username != "" || c.Password != "") {
			t.Fatalf("%q: a password over a plain connection", raw)
		}
		if c.Security == cmail.Plain && !allowPlain {
			t.Fatalf("%q: plain without --smtp-allow-plain", raw)
		}
		if _, err := cmail.New(c); err != nil {
			t.Fatalf("%q: accepted, but mail.New refuses it: %v", raw, err)
		}
	})
}

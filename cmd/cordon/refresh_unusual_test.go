package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/httpapi"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address local, so the server sees a peer other than 127.0.0.1.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// refreshVia refreshes rt at m from the peer c with the X-Forwarded-For
// xff ("" for none), returning the status and the next refresh token.
func refreshVia(t *testing.T, m *Main, c *http.Client, xff, rt string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", m.URL()+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cordon-Client", `platform=ios, version="8.4.1", source=appstore, device="d-home"`)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.RefreshToken
}

// TestRefreshFromSomewhereNewOverHTTP: behind a trusted proxy
// (127.0.0.1), a session refreshed at POST /oauth2/token from a network
// its account never logged in from admits the account early in a ramp
// that puts unusual addresses first; the address is the one the server
// trusts, so neither a forged entry left of the proxy's nor an
// X-Forwarded-For sent straight from an untrusted peer hides where the
// refresh came from, or makes one look new. The admission is read back
// as an operator reads it, after serve's own once-a-second flush.
func TestRefreshFromSomewhereNewOverHTTP(t *testing.T) {
	trusted, err := httpapi.ParseTrustedProxies("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk), func(c *Config) { c.TrustedProxies = trusted })
	proxy := http.DefaultClient         // from 127.0.0.1, the trusted proxy
	stranger := clientFrom("127.1.0.1") // straight to the server, not via the proxy
	rt := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		addUser(t, m, u, "a long enough password")
		r := loginAs(t, m, u, "a long enough password", map[string]string{
			"X-Forwarded-For": "198.51.100.1", "Cordon-Client": `platform=ios, version="8.4.1", source=appstore, device="d-home"`})
		if r.status != http.StatusOK {
			t.Fatalf("login %s: %v", u, r)
		}
		rt[u] = r.body["refresh_token"].(string)
	}
	c, err := m.Campaigns.Create(context.Background(), []byte(`{"kind":"reauth","name":"n","ramp":{"start":"`+clk.Now().Add(time.Hour).Format(time.RFC3339)+`","duration":"72h","priority":{"unusual_addresses":true}}}`), "json", "a-admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Campaigns.Transition(context.Background(), c.ID, "activate", "a-admin"); err != nil {
		t.Fatal(err)
	}

	// Refreshes that fail, from elsewhere: a made-up token, and frank's
	// spent one (which ends his session). Neither counts.
	if status, _ := refreshVia(t, m, stranger, "", "crt_"+strings.Repeat("x", 43)); status != http.StatusBadRequest {
		t.Fatalf("a made-up refresh token: %d, want 400", status)
	}
	if status, _ := refreshVia(t, m, proxy, "198.51.100.1", rt["frank"]); status != http.StatusOK {
		t.Fatalf("frank's refresh from home: %d", status)
	}
	if status, _ := refreshVia(t, m, stranger, "", rt["frank"]); status != http.StatusBadRequest {
		t.Fatalf("frank's spent refresh token: %d, want 400", status)
	}
	// The rest in this order: whatever was queued before erin, the last,
	// is flushed no later than erin is.
	type step struct {
		user     string
		from     *http.Client
		xff      string
		wantSeen bool
	}
	steps := []step{
		{"alice", proxy, "198.51.100.77", false},           // home's /24, through the proxy
		{"bob", proxy, "203.0.113.9, 198.51.100.1", false}, // a forged entry left of what the proxy saw
		{"carol", stranger, "", true},                      // from elsewhere, no header
		{"dave", stranger, "198.51.100.1", true},           // from elsewhere, claiming home
		{"erin", proxy, "203.0.113.5", true},               // from elsewhere, through the proxy
	}
	for _, s := range steps {
		if status, next := refreshVia(t, m, s.from, s.xff, rt[s.user]); status != http.StatusOK || next == "" {
			t.Fatalf("refresh %s: %d", s.user, status)
		}
	}
	steps = append(steps, step{user: "frank"})

	why := func(user string) string {
		r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+c.ID+"/admission?user="+user, admin(), nil)
		if r.status != http.StatusOK {
			t.Fatalf("admission of %s: %v", user, r)
		}
		return r.body["why"].(string)
	}
	// serve flushes the sightings every second (real time), at most one
	// a second (by the server's clock, this fake one) until its pacer
	// measures the tier.
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range steps {
		if !s.wantSeen {
			continue
		}
		for why(s.user) != "unusual_address" {
			if time.Now().After(deadline) {
				t.Fatalf("%s, refreshed from elsewhere, not admitted early within 10 s: %s", s.user, why(s.user))
			}
			clk.Advance(100 * time.Millisecond)
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, s := range steps {
		if w := why(s.user); !s.wantSeen && w != "ramp" {
			t.Errorf("%s, no successful refresh from elsewhere: admitted by %s, want ramp (their place)", s.user, w)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/mail/mailtest"
	"github.com/cordon-dev/cordon/internal/resetmail"
)

func withRelay(r *mailtest.Relay) func(*Config) {
	return func(c *Config) {
		c.SMTPURL = "smtp://cordon:s3cret@" + r.Addr
		c.SMTPFrom = "Example Security <security@example.com>"
		c.SMTPTLS = r.TLS
		c.ResetURL = "https://app.example.com/reset#token="
		c.OutboxPoll = 20 * time.Millisecond
		c.PolicyPoll = 50 * time.Millisecond
	}
}

var linkToken = regexp.MustCompile(`https://app\.example\.com/reset#token=(cre_[A-Za-z0-9_-]{43})`)

// waitLinks waits until the relay has n messages and returns the token of
// each recipient's link.
func waitLinks(t *testing.T, r *mailtest.Relay, n int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.Messages()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := map[string]string{}
	for _, m := range r.Messages() {
		if _, dup := got[m.To]; dup {
			t.Errorf("%s got two links", m.To)
		}
		got[m.To] = linkOf(t, m)
	}
	if len(got) != n {
		t.Fatalf("the relay got links for %d recipients, want %d: %v", len(got), n, got)
	}
	return got
}

// linkOf returns the token of the reset link a message carries.
func linkOf(t *testing.T, m mailtest.Received) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	tok := linkToken.FindSubmatch(body)
	if tok == nil {
		t.Fatalf("message to %s holds no link:\n%s", m.To, body)
	}
	return string(tok[1])
}

func resetBody(tok, pw string) []byte {
	b, _ := json.Marshal(map[string]string{"reset_token": tok, "new_password": pw})
	return b
}

// TestPasswordResetByEmail plays a password_reset campaign with verify:
// email end to end, with the attacker's moves: the old password, a
// stolen session, a guessed, reused, expired or another account's token.
func TestPasswordResetByEmail(t *testing.T) {
	relay := mailtest.Start(t)
	clk := clock.NewFake(fakeNow)
	m := apiServer(t, withClock(clk), withRelay(relay))
	for _, u := range []struct{ name, email string }{{"alice", "alice@example.org"}, {"bob", "bob@example.org"}, {"carol", ""}, {"dave", "dave@example.org"}} {
		if r := send(t, "POST", m.URL()+"/admin/v1/accounts", admin(), createBody(u.name, "the leaked password", u.email)); r.status != http.StatusCreated {
			t.Fatalf("create %s: %v", u.name, r)
		}
	}
	// An attacker holds alice's old password and a session made with it.
	stolen := accessToken(t, mustLogin(t, m, "alice", "the leaked password", ""))
	clk.Advance(time.Second)
	id := activateOn(t, m.URL(), `{"kind":"password_reset","name":"hashes leaked","verify":"email","cohort":{"users":["alice","bob","carol"]}}`)

	links := waitLinks(t, relay, 2) // carol has no address; dave is not in the cohort
	if links["alice@example.org"] == "" || links["bob@example.org"] == "" {
		t.Fatalf("links: %v", links)
	}
	// The relay has both; the worker records each just after its 250.
	var c cordon.MailCounts
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err = m.Outbox.Counts(t.Context(), resetmail.Prefix(id)); err != nil || c.Sent == 2 {
			break
		}
	}
	if err != nil || c != (cordon.MailCounts{Sent: 2}) {
		t.Errorf("outbox counts: %+v, %v; want 2 sent", c, err)
	}
	r := send(t, "GET", m.URL()+"/admin/v1/campaigns/"+id, admin(), nil)
	if e, _ := r.body["email"].(map[string]any); e["sent"] != float64(2) || e["queued"] != float64(0) || e["failed"] != float64(0) {
		t.Errorf("the campaign's email counts: %v, want 2 sent", r.body["email"])
	}
	stored, err := m.store.MailByKey(t.Context(), resetmail.Key(id, mustAccount(t, m, "alice").ID))
	if err != nil || strings.Contains(stored.Text, "cre_") {
		t.Errorf("the outbox keeps the link's secret (or lost the message): %v", err)
	}

	var resent string // alice's second link
	t.Run("old password earns no token", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("alice", "the leaked password"))
		wantError(t, r, http.StatusUnauthorized, "password_reset_required")
		if r.body["reset_by_email"] != true || r.body["reset_token"] != nil {
			t.Errorf("login with the old password: %v, want reset_by_email and no reset_token", r)
		}
		// The held-back login sends a fresh link to the account's own
		// address (the first may have expired), once per 30 minutes.
		send(t, "POST", m.URL()+"/v1/login", jsonCT, loginBodyJSON("alice", "the leaked password"))
		deadline := time.Now().Add(10 * time.Second)
		for len(relay.Messages()) < 3 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		msgs := relay.Messages()
		if len(msgs) != 3 || msgs[2].To != "alice@example.org" {
			t.Fatalf("after two held-back logins the relay has %d messages, want 3 (one fresh link to alice)", len(msgs))
		}
		resent = linkOf(t, msgs[2])
	})
	t.Run("stolen session cannot change the password with the old one", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/v1/password", hdr("Content-Type", "application/json", "Authorization", "Bearer "+stolen),
			[]byte(`{"current_password":"the leaked password","new_password":"attacker's own password"}`))
		// The campaign holds the session itself (authn's
		// TestPasswordResetByEmailCampaign checks the change refuses the
		// old password even past that).
		wantError(t, r, http.StatusUnauthorized, "password_reset_required")
		if code, _ := login(t, m, "alice", "attacker's own password", ""); code == http.StatusOK {
			t.Fatal("the attacker's password works")
		}
	})
	t.Run("guessed tokens", func(t *testing.T) {
		real := links["alice@example.org"]
		for _, guess := range []string{"cre_" + strings.Repeat("A", 43), real[:len(real)-1] + "x", "crs_" + real[4:], real + "A", real[:20], "", strings.Repeat("c", 5000)} {
			r := send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, resetBody(guess, "a brand new password"))
			if r.status != http.StatusUnauthorized && r.status != http.StatusBadRequest {
				t.Errorf("guess %.20q: %v, want refused", guess, r)
			}
		}
	})
	t.Run("weak password spends the link but gives a fresh one", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, resetBody(links["bob@example.org"], "bob"))
		if r.status != http.StatusUnauthorized && r.status != http.StatusUnprocessableEntity {
			t.Fatalf("weak password: %v", r)
		}
		fresh, _ := r.body["reset_token"].(string)
		if r.status == http.StatusUnauthorized {
			if !strings.HasPrefix(fresh, "cre_") {
				t.Fatalf("weak password after the token was spent: %v, want a fresh email token", r)
			}
			links["bob@example.org"] = fresh
		}
	})
	t.Run("bob's token sets bob's password, not alice's", func(t *testing.T) {
		r := send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, resetBody(links["bob@example.org"], "bob's brand new password"))
		if r.status != http.StatusOK {
			t.Fatalf("bob's reset: %v", r)
		}
		if code, _ := login(t, m, "alice", "bob's brand new password", ""); code == http.StatusOK {
			t.Error("bob's token changed alice's password")
		}
		mustLogin(t, m, "bob", "bob's brand new password", "")
	})
	t.Run("the link sets the password once, ends the stolen session, satisfies the campaign", func(t *testing.T) {
		tok := links["alice@example.org"]
		r := send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, resetBody(tok, "alice's brand new password"))
		if r.status != http.StatusOK || r.body["access_token"] == nil {
			t.Fatalf("reset: %v", r)
		}
		r = send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, resetBody(tok, "another new password"))
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
		// Her other link, unused, died with the reset.
		r = send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, resetBody(resent, "another new password"))
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
		if r := send(t, "GET", m.URL()+"/v1/session", hdr("Authorization", "Bearer "+stolen), nil); r.status != http.StatusUnauthorized {
			t.Errorf("the stolen session after the reset: %v, want 401", r)
		}
		mustLogin(t, m, "alice", "alice's brand new password", "")
		if p := progressOf(t, m, id); p.SatisfiedUsers != 2 {
			t.Errorf("satisfied users: %d, want 2 (alice and bob)", p.SatisfiedUsers)
		}
	})
	t.Run("expired link", func(t *testing.T) {
		plain, err := m.Authn.EmailResetLink(t.Context(), id, mustAccount(t, m, "alice").ID, "alice@example.org")
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(30*time.Minute + time.Second)
		wantError(t, send(t, "POST", m.URL()+"/v1/password/reset", jsonCT, resetBody(plain, "a late new password")), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("no link to an address changed since", func(t *testing.T) {
		_, err := m.Authn.EmailResetLink(t.Context(), id, mustAccount(t, m, "alice").ID, "attacker@example.net")
		if err == nil {
			t.Error("a link was issued for an address the account does not have")
		}
		_, err = m.Authn.EmailResetLink(t.Context(), "c-nonesuch", mustAccount(t, m, "alice").ID, "alice@example.org")
		if err == nil {
			t.Error("a link was issued for a campaign that is not a verify: email campaign")
		}
	})
}

func mustAccount(t *testing.T, m *Main, name string) *cordon.Account {
	t.Helper()
	a, err := m.store.AccountByUsername(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

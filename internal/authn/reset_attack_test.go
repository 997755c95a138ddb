package authn_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// TestEmailCampaignOutranksPasswordCampaign: an account held by a
// password_reset campaign with verify: email and, later, by one without
// (whose cohort a login's claimed facts match) is answered by the email
// campaign: the stolen password earns no token. A login's token issued
// before the email campaign reached the account is refused after.
func TestEmailCampaignOutranksPasswordCampaign(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.account(t, "alice", alicePassword)
	if err := e.store.SetAccountEmail(ctx, e.acct(t, "alice").ID, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	activate := func(doc string) string {
		t.Helper()
		c, err := e.camps.Create(ctx, []byte(doc), "json", "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.camps.Transition(ctx, c.ID, "activate", "test"); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	// First a password campaign: the login earns a token (kept for later).
	e.clk.Advance(time.Minute)
	activate(`{"kind":"password_reset","name":"broad","cohort":{"platforms":["ios"]}}`)
	e.clk.Advance(time.Minute)
	_, err := e.svc.Login(ctx, authn.LoginRequest{Username: "alice", Password: alicePassword, Client: iphone, Address: "192.0.2.1"})
	var early *authn.ResetRequiredError
	if !errors.As(err, &early) || early.ResetToken == "" {
		t.Fatalf("login under the password campaign: %v, want a reset token", err)
	}
	// Then the email campaign, and a later password one the claim matches.
	e.clk.Advance(time.Minute)
	email := activate(`{"kind":"password_reset","name":"leaked","verify":"email","cohort":{"users":["alice"]}}`)
	e.clk.Advance(time.Minute)
	activate(`{"kind":"password_reset","name":"later","cohort":{"platforms":["ios"]}}`)
	e.clk.Advance(time.Minute)
	_, err = e.svc.Login(ctx, authn.LoginRequest{Username: "alice", Password: alicePassword, Client: iphone, Address: "192.0.2.1"})
	var rr *authn.ResetRequiredError
	if !errors.As(err, &rr) || rr.ResetToken != "" || !rr.ByEmail || rr.Decision.Campaign != email {
		t.Fatalf("login with the stolen password: %+v (%v), want the email campaign %s and no token", rr, err, email)
	}
	if _, err := e.svc.ResetPassword(ctx, early.ResetToken, "the attacker's passphrase 2026", iphone); cordon.ErrorCode(err) != cordon.ECodeInvalidToken {
		t.Errorf("a login's token from before the email campaign: %v, want invalid_token", err)
	}
	e.loginFails(t, "alice", "the attacker's passphrase 2026")
}

// TestEmailLinkCannotBeRenewed: a link spent on a refused password gives
// a retry token that expires when the link did, never later; a link
// stops working once the account's address changes or its campaign ends.
func TestEmailLinkCannotBeRenewed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.account(t, "alice", alicePassword)
	id := e.acct(t, "alice").ID
	if err := e.store.SetAccountEmail(ctx, id, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	c, err := e.camps.Create(ctx, []byte(`{"kind":"password_reset","name":"leaked","verify":"email","cohort":{"users":["alice"]}}`), "json", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.camps.Transition(ctx, c.ID, "activate", "test"); err != nil {
		t.Fatal(err)
	}
	link, err := e.svc.EmailResetLink(ctx, c.ID, id, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	// Retried with the stolen password every 10 minutes: the retry
	// tokens die with the first link, 30 minutes after it was made.
	for i := 0; ; i++ {
		e.clk.Advance(10 * time.Minute)
		_, err := e.svc.ResetPassword(ctx, link, alicePassword, iphone)
		var rr *authn.ResetRequiredError
		if !errors.As(err, &rr) {
			if cordon.ErrorCode(err) != cordon.ECodeInvalidToken || i < 2 {
				t.Fatalf("retry %d: %v, want invalid_token only after 30 minutes", i, err)
			}
			break
		}
		if rr.ResetToken == "" || rr.ExpiresIn > int((30*time.Minute-time.Duration(i+1)*10*time.Minute)/time.Second) {
			t.Fatalf("retry %d: token %q expiring in %d s: outlives the link", i, rr.ResetToken, rr.ExpiresIn)
		}
		link = rr.ResetToken
	}
	// A fresh link dies with the address it was sent to.
	link, err = e.svc.EmailResetLink(ctx, c.ID, id, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetEmail(ctx, id, "alice-new@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResetPassword(ctx, link, "the attacker's passphrase 2026", iphone); cordon.ErrorCode(err) != cordon.ECodeInvalidToken {
		t.Errorf("a link to the old address: %v, want invalid_token", err)
	}
	// And with its campaign.
	link, err = e.svc.EmailResetLink(ctx, c.ID, id, "alice-new@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.camps.Transition(ctx, c.ID, "cancel", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResetPassword(ctx, link, "the attacker's passphrase 2026", iphone); cordon.ErrorCode(err) != cordon.ECodeInvalidToken {
		t.Errorf("a link of a cancelled campaign: %v, want invalid_token", err)
	}
	e.loginFails(t, "alice", "the attacker's passphrase 2026")
}

// loginFails checks a password does not log the user in: it was never set.
func (e *env) loginFails(t *testing.T, name, pw string) {
	t.Helper()
	_, err := e.svc.Login(t.Context(), authn.LoginRequest{Username: name, Password: pw, Client: iphone, Address: "192.0.2.1"})
	if cordon.ErrorCode(err) != cordon.ECodeInvalidCredentials {
		t.Errorf("login with %q: %v, want invalid_credentials (the attacker's password was never set)", pw, err)
	}
}

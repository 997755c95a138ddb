package authn_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// TestPasswordResetByEmailCampaign: under a verify: email campaign the
// old password is no proof anywhere — not at login, not in a password
// change by a session made with it, not through a login's reset token —
// and only the emailed link's token sets the password and satisfies the
// campaign.
func TestPasswordResetByEmailCampaign(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.account(t, "alice", alicePassword)
	if err := e.store.SetAccountEmail(ctx, e.acct(t, "alice").ID, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	old := e.principal(t, e.login(t, "alice", alicePassword, iphone))
	e.clk.Advance(time.Minute)
	c, err := e.camps.Create(ctx, []byte(`{"kind":"password_reset","name":"leaked","verify":"email","cohort":{"users":["alice"]}}`), "json", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.camps.Transition(ctx, c.ID, "activate", "test"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)

	_, err = e.svc.Login(ctx, authn.LoginRequest{Username: "alice", Password: alicePassword, Client: iphone, Address: "192.0.2.1"})
	var rr *authn.ResetRequiredError
	if !errors.As(err, &rr) || !rr.ByEmail || rr.ResetToken != "" || rr.Decision.Campaign != c.ID {
		t.Fatalf("Login with the old password = %#v, want reset required by email with no token", err)
	}

	// A session made with the old password (held by whoever has it) cannot
	// use it to set a new one.
	err = e.svc.ChangePassword(ctx, old, alicePassword, "the attacker's passphrase 2026", "192.0.2.9")
	if code(err) != cordon.ECodeForbidden || !strings.Contains(err.Error(), "link sent to its email address") {
		t.Fatalf("ChangePassword with the old password = %v, want forbidden (email link only)", err)
	}

	// A login-style token bound to the campaign (issued before it was an
	// email campaign, or forged into the store) is refused.
	plain, hash := token.NewSecret("crs_")
	now := e.clk.Now().UTC().Truncate(time.Microsecond)
	if err := e.store.CreatePasswordReset(ctx, &cordon.PasswordReset{Hash: hash, AccountID: e.acct(t, "alice").ID, CampaignID: c.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResetPassword(ctx, plain, "a brand new passphrase 2026", iphone); code(err) != cordon.ECodeInvalidToken {
		t.Fatalf("ResetPassword with a login token for an email campaign = %v, want invalid_token", err)
	}
	if p, _ := e.store.Progress(ctx, c.ID); p.SatisfiedUsers != 0 {
		t.Fatalf("satisfied before the link was used: %+v", p)
	}

	link, err := e.svc.EmailResetLink(ctx, c.ID, e.acct(t, "alice").ID, "alice@example.org")
	if err != nil || !strings.HasPrefix(link, "cre_") {
		t.Fatalf("EmailResetLink = %q, %v", link, err)
	}
	if _, err := e.svc.ResetPassword(ctx, link, "a brand new passphrase 2026", iphone); err != nil {
		t.Fatalf("ResetPassword with the link: %v", err)
	}
	if p, _ := e.store.Progress(ctx, c.ID); p.SatisfiedUsers != 1 {
		t.Errorf("satisfied after the link: %+v, want 1", p)
	}
	if s := e.session(t, old.Session.ID); s.Live() {
		t.Error("the old session survived the reset")
	}
	e.login(t, "alice", "a brand new passphrase 2026", iphone)
}

func (e *env) acct(t *testing.T, name string) *cordon.Account {
	t.Helper()
	a, err := e.store.AccountByUsername(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

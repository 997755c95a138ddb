package authn_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
)

// TestEndingTheHeldSessionDoesNotEscapeReset: an attacker with the
// stolen password and a token of the victim's session in a ramped
// password_reset campaign's cohort ends that session before the ramp
// reaches the account (while the token still works), by every path a
// token holder has, then logs in claiming a platform outside the cohort
// once the ramp is over. The account stays in the cohort: the login must
// set a new password.
// A session that ended before the campaign began puts nobody in it.
func TestEndingTheHeldSessionDoesNotEscapeReset(t *testing.T) {
	ends := []struct {
		name string
		end  func(t *testing.T, e *env, victim *authn.Tokens)
	}{
		{"RFC 7009 revocation of the refresh token", func(t *testing.T, e *env, v *authn.Tokens) {
			if err := e.svc.Revoke(t.Context(), v.RefreshToken); err != nil {
				t.Fatal(err)
			}
		}},
		{"a spent refresh token replayed", func(t *testing.T, e *env, v *authn.Tokens) {
			if _, err := e.svc.Refresh(t.Context(), v.RefreshToken, android, "192.0.2.1"); err != nil { // the victim's app rotates
				t.Fatal(err)
			}
			if _, err := e.svc.Refresh(t.Context(), v.RefreshToken, android, "192.0.2.1"); err == nil { // the attacker replays
				t.Fatal("a replayed refresh token was accepted")
			}
		}},
		{"logout", func(t *testing.T, e *env, v *authn.Tokens) {
			if err := e.svc.Logout(t.Context(), e.principal(t, v)); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleting one's own session", func(t *testing.T, e *env, v *authn.Tokens) {
			p := e.principal(t, v)
			if err := e.svc.RevokeOwnSession(t.Context(), p, p.Session.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range ends {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.account(t, "alice", alicePassword)
			victim := e.login(t, "alice", alicePassword, android)
			e.clk.Advance(time.Minute)
			activateDoc(t, e, `{"kind":"password_reset","name":"pr","cohort":{"platforms":["android"]},"ramp":{"start":"`+
				e.clk.Now().UTC().Format(time.RFC3339)+`","duration":"72h"}}`)
			e.clk.Advance(time.Minute)
			tc.end(t, e, victim)
			e.clk.Advance(73 * time.Hour)
			_, err := e.svc.Login(t.Context(), authn.LoginRequest{Username: "alice", Password: alicePassword, Client: iphone, Address: "192.0.2.1"})
			var rr *authn.ResetRequiredError
			if !errors.As(err, &rr) {
				t.Fatalf("login claiming ios after ending the android session: %v, want password_reset_required", err)
			}
		})
	}
	t.Run("a session ended before the campaign counts for nothing", func(t *testing.T) {
		e := newEnv(t)
		e.account(t, "alice", alicePassword)
		old := e.login(t, "alice", alicePassword, android)
		if err := e.svc.Logout(t.Context(), e.principal(t, old)); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		activateDoc(t, e, `{"kind":"password_reset","name":"pr","cohort":{"platforms":["android"]}}`)
		e.clk.Advance(time.Minute)
		if _, err := e.svc.Login(t.Context(), authn.LoginRequest{Username: "alice", Password: alicePassword, Client: iphone, Address: "192.0.2.1"}); err != nil {
			t.Fatalf("an iOS login of an account whose only android session ended before the campaign: %v, want a session", err)
		}
	})
}

func activateDoc(t *testing.T, e *env, doc string) string {
	t.Helper()
	c, err := e.camps.Create(t.Context(), []byte(doc), "json", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.camps.Transition(t.Context(), c.ID, "activate", "test"); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

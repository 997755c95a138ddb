package authn_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/decision"
	"github.com/cordon-dev/cordon/internal/memstore"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
)

// The service's rules, on the in-memory store with a fake clock and the
// real campaign engine: no database, no sleeping.

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

var (
	iphone  = cordon.ClientFacts{Platform: cordon.PlatformIOS, Version: "8.4.0", Source: cordon.SourceAppStore, Device: "d-iphone"}
	android = cordon.ClientFacts{Platform: cordon.PlatformAndroid, Version: "8.4.0", Source: cordon.SourcePlay, Device: "d-android"}
)

const (
	alicePassword = "correct horse battery staple"
	bobPassword   = "tr0ub4dor&3 is not enough"
)

// env is one service on a fresh store, and what it told enforcement
// points.
type env struct {
	svc   *authn.Service
	store *memstore.Store
	clk   *clock.Fake
	camps *campaign.Service

	mu      sync.Mutex
	revoked []string // session ids OnRevoke heard of, in order
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	e := &env{store: memstore.New(), clk: clock.NewFake(t0)}
	camps, err := campaign.New(ctx, e.store, e.clk, nil)
	if err != nil {
		t.Fatalf("campaign.New: %v", err)
	}
	e.camps = camps
	e.svc, err = authn.New(ctx, authn.Deps{
		Store:    e.store,
		Hasher:   password.NewHasher(password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, password.Limits{}),
		Policy:   password.DefaultPolicy(),
		Throttle: throttle.New(throttle.DefaultConfig(), e.clk),
		Clock:    e.clk,
		// Campaigns is the real engine: a campaign decision is the one the
		// server would take.
		Campaigns: camps,
		OnRevoke: func(ids []string, at time.Time) {
			if !at.Equal(e.clk.Now()) {
				t.Errorf("OnRevoke at %v, want the clock's %v", at, e.clk.Now())
			}
			e.mu.Lock()
			e.revoked = append(e.revoked, ids...)
			e.mu.Unlock()
		},
	}, authn.Config{})
	if err != nil {
		t.Fatalf("authn.New: %v", err)
	}
	return e
}

// published returns and forgets the revocations heard so far, sorted.
func (e *env) published() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := slices.Sorted(slices.Values(e.revoked))
	e.revoked = nil
	return got
}

func (e *env) account(t *testing.T, name, pw string) *cordon.Account {
	t.Helper()
	a, err := e.svc.CreateAccount(t.Context(), name, pw)
	if err != nil {
		t.Fatalf("CreateAccount(%q): %v", name, err)
	}
	return a
}

func (e *env) login(t *testing.T, name, pw string, c cordon.ClientFacts) *authn.Tokens {
	t.Helper()
	tok, err := e.svc.Login(t.Context(), authn.LoginRequest{Username: name, Password: pw, Client: c, Address: "192.0.2.1"})
	if err != nil {
		t.Fatalf("Login(%q): %v", name, err)
	}
	return tok
}

func (e *env) principal(t *testing.T, tok *authn.Tokens) *authn.Principal {
	t.Helper()
	p, err := e.svc.Authenticate(t.Context(), tok.AccessToken, iphone)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

func (e *env) session(t *testing.T, id string) *cordon.Session {
	t.Helper()
	s, err := e.store.SessionByID(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionByID(%q): %v", id, err)
	}
	return s
}

func code(err error) string {
	var e *cordon.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		user, pw string
		locked   bool
		wantCode string // "" for a session
	}{
		{"right password", "alice", alicePassword, false, ""},
		{"username case and width fold", "ALICE", alicePassword, false, ""},
		{"wrong password", "alice", "correct horse battery stapler", false, cordon.ECodeInvalidCredentials},
		{"unknown user answers as a wrong password", "mallory", alicePassword, false, cordon.ECodeInvalidCredentials},
		{"no password", "alice", "", false, cordon.ECodeInvalid},
		{"no username", "", alicePassword, false, cordon.ECodeInvalid},
		{"username too long", strings.Repeat("a", 1025), alicePassword, false, cordon.ECodeInvalid},
		{"locked account, right password", "alice", alicePassword, true, cordon.ECodeAccountLocked},
		{"locked account, wrong password tells nothing", "alice", "not the password at all", true, cordon.ECodeInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.account(t, "alice", alicePassword)
			if tt.locked {
				if _, err := e.svc.LockAccount(t.Context(), a.ID); err != nil {
					t.Fatalf("LockAccount: %v", err)
				}
			}
			tok, err := e.svc.Login(t.Context(), authn.LoginRequest{Username: tt.user, Password: tt.pw, Client: iphone, Address: "192.0.2.1"})
			if tt.wantCode != "" {
				if code(err) != tt.wantCode {
					t.Fatalf("Login = %v, %v; want error %q", tok, err, tt.wantCode)
				}
				if n, _ := e.store.LiveSessionCount(t.Context()); n != 0 {
					t.Errorf("live sessions = %d after a refused login, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.ExpiresIn != 900 || !strings.HasPrefix(tok.RefreshToken, "crt_") || !strings.HasPrefix(tok.SessionID, "s-") {
				t.Errorf("Login = %+v, want a Bearer token for 900 s, a crt_ refresh token and an s- session", tok)
			}
			s := e.session(t, tok.SessionID)
			if s.AccountID != a.ID || s.Facts != iphone || !s.AuthTime.Equal(t0) || !s.Live() {
				t.Errorf("session = %+v, want a live session of %s with the login's facts and auth_time %v", s, a.ID, t0)
			}
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	e.account(t, "alice", alicePassword)
	first := e.login(t, "alice", alicePassword, iphone)
	e.clk.Advance(time.Minute)

	second, err := e.svc.Refresh(t.Context(), first.RefreshToken, iphone, "192.0.2.1")
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.SessionID != first.SessionID {
		t.Fatalf("Refresh = %+v, want new tokens of session %s", second, first.SessionID)
	}
	if got := e.published(); len(got) != 0 {
		t.Fatalf("a refresh published revocations %v", got)
	}

	// The spent token again: reuse ends the whole session, and gates hear it.
	e.clk.Advance(time.Minute)
	_, err = e.svc.Refresh(t.Context(), first.RefreshToken, iphone, "192.0.2.1")
	var re *authn.RefreshError
	if !errors.As(err, &re) || re.Reason != "refresh_token_reused" {
		t.Fatalf("reused Refresh = %v, want a RefreshError with reason refresh_token_reused", err)
	}
	if s := e.session(t, first.SessionID); s.Live() || s.RevokeReason != "refresh_token_reused" || !s.RevokedAt.Equal(e.clk.Now()) {
		t.Errorf("session after reuse = %+v, want revoked now for refresh_token_reused", s)
	}
	if got := e.published(); !slices.Equal(got, []string{first.SessionID}) {
		t.Errorf("published %v after reuse, want [%s]", got, first.SessionID)
	}
	// The thief's (or the owner's) newer token is dead too.
	if _, err := e.svc.Refresh(t.Context(), second.RefreshToken, iphone, "192.0.2.1"); !errors.As(err, &re) || re.Reason != "invalid_refresh_token" {
		t.Errorf("Refresh of the newest token after reuse = %v, want invalid_refresh_token", err)
	}
	if _, err := e.svc.Authenticate(t.Context(), second.AccessToken, iphone); err == nil {
		t.Errorf("the access token of a session revoked for reuse still authenticates")
	}
}

func TestRefreshRefused(t *testing.T) {
	tests := []struct {
		name    string
		token   func(tok *authn.Tokens) string
		advance time.Duration
		reason  string
	}{
		{"unknown", func(*authn.Tokens) string { return "crt_nothing" }, 0, "invalid_refresh_token"},
		{"empty", func(*authn.Tokens) string { return "" }, 0, "invalid_refresh_token"},
		{"too long", func(*authn.Tokens) string { return strings.Repeat("x", 513) }, 0, "invalid_refresh_token"},
		{"the access token", func(tok *authn.Tokens) string { return tok.AccessToken }, 0, "invalid_refresh_token"},
		{"idle 30 days", func(tok *authn.Tokens) string { return tok.RefreshToken }, 30 * 24 * time.Hour, "invalid_refresh_token"},
		{"idle just under 30 days", func(tok *authn.Tokens) string { return tok.RefreshToken }, 30*24*time.Hour - time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.account(t, "alice", alicePassword)
			tok := e.login(t, "alice", alicePassword, iphone)
			e.clk.Advance(tt.advance)
			got, err := e.svc.Refresh(t.Context(), tt.token(tok), iphone, "192.0.2.1")
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Refresh: %v", err)
				}
				if got.SessionID != tok.SessionID {
					t.Errorf("Refresh session = %s, want %s", got.SessionID, tok.SessionID)
				}
				return
			}
			var re *authn.RefreshError
			if !errors.As(err, &re) || re.Reason != tt.reason {
				t.Fatalf("Refresh = %v, %v; want reason %q", got, err, tt.reason)
			}
			if got := e.published(); len(got) != 0 {
				t.Errorf("a refused refresh published %v", got)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name     string
		token    func(tok *authn.Tokens) string
		before   func(t *testing.T, e *env, tok *authn.Tokens)
		wantCode string // "" allowed
		denied   string // a DeniedError's reason
	}{
		{name: "fresh token", token: func(tok *authn.Tokens) string { return tok.AccessToken }},
		{name: "at 14 minutes", token: func(tok *authn.Tokens) string { return tok.AccessToken },
			before: func(t *testing.T, e *env, _ *authn.Tokens) { e.clk.Advance(14 * time.Minute) }},
		{name: "expired, within the leeway", token: func(tok *authn.Tokens) string { return tok.AccessToken },
			before: func(t *testing.T, e *env, _ *authn.Tokens) { e.clk.Advance(15*time.Minute + 59*time.Second) }},
		{name: "expired, past the leeway", token: func(tok *authn.Tokens) string { return tok.AccessToken }, wantCode: cordon.ECodeInvalidToken,
			before: func(t *testing.T, e *env, _ *authn.Tokens) { e.clk.Advance(16*time.Minute + time.Second) }},
		{name: "signature broken", token: func(tok *authn.Tokens) string { return tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA" }, wantCode: cordon.ECodeInvalidToken},
		{name: "a refresh token", token: func(tok *authn.Tokens) string { return tok.RefreshToken }, wantCode: cordon.ECodeInvalidToken},
		{name: "session logged out", token: func(tok *authn.Tokens) string { return tok.AccessToken }, denied: decision.ReasonSessionRevoked,
			before: func(t *testing.T, e *env, tok *authn.Tokens) {
				if err := e.svc.Logout(t.Context(), e.principal(t, tok)); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.account(t, "alice", alicePassword)
			tok := e.login(t, "alice", alicePassword, iphone)
			if tt.before != nil {
				tt.before(t, e, tok)
			}
			p, err := e.svc.Authenticate(t.Context(), tt.token(tok), iphone)
			var de *authn.DeniedError
			switch {
			case tt.denied != "":
				if !errors.As(err, &de) || de.Decision.Reason != tt.denied {
					t.Fatalf("Authenticate = %v, want denied for %s", err, tt.denied)
				}
			case tt.wantCode != "":
				if code(err) != tt.wantCode {
					t.Fatalf("Authenticate = %v, want %s", err, tt.wantCode)
				}
			default:
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if p.Session.ID != tok.SessionID || p.Claims.Subject != a.ID || p.Decision.Outcome != decision.Allow {
					t.Errorf("Authenticate = session %s, subject %s, %v; want %s, %s, allow", p.Session.ID, p.Claims.Subject, p.Decision.Outcome, tok.SessionID, a.ID)
				}
			}
		})
	}
}

// A reauth campaign on alice: her old session is denied with the
// campaign's decision (and counted once), her refresh is refused without
// spending the token, bob is untouched, a new login satisfies it, and
// cancelling restores the old session.
func TestAuthenticateWithCampaign(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice := e.account(t, "alice", alicePassword)
	e.account(t, "bob", bobPassword)
	aliceTok := e.login(t, "alice", alicePassword, iphone)
	bobTok := e.login(t, "bob", bobPassword, iphone)
	e.clk.Advance(time.Minute)

	c, err := e.camps.Create(ctx, []byte(`{"kind":"reauth","name":"stolen laptop","cohort":{"users":["alice"]}}`), "json", "test")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := e.camps.Transition(ctx, c.ID, "activate", "test"); err != nil {
		t.Fatalf("activate: %v", err)
	}
	e.clk.Advance(time.Minute)

	for i := range 2 {
		_, err = e.svc.Authenticate(ctx, aliceTok.AccessToken, iphone)
		var de *authn.DeniedError
		if !errors.As(err, &de) || de.Decision.Reason != decision.ReasonReauthRequired || de.Decision.Campaign != c.ID {
			t.Fatalf("Authenticate alice (try %d) = %v, want reauth_required by %s", i+1, err, c.ID)
		}
	}
	if _, err := e.svc.Authenticate(ctx, bobTok.AccessToken, iphone); err != nil {
		t.Errorf("Authenticate bob, outside the cohort: %v", err)
	}
	if pr, err := e.store.Progress(ctx, c.ID); err != nil || pr.BlockedSessions != 1 || pr.BlockedUsers != 1 || pr.SatisfiedUsers != 0 {
		t.Errorf("Progress = %+v, %v; want 1 blocked session, 1 blocked user, 0 satisfied", pr, err)
	}

	// Decide answers the same denial as a value.
	if p, err := e.svc.Decide(ctx, aliceTok.AccessToken, iphone); err != nil || p.Decision.Reason != decision.ReasonReauthRequired {
		t.Errorf("Decide = %+v, %v; want a reauth_required decision and no error", p, err)
	}

	var re *authn.RefreshError
	if _, err := e.svc.Refresh(ctx, aliceTok.RefreshToken, iphone, "192.0.2.1"); !errors.As(err, &re) || re.Reason != decision.ReasonReauthRequired {
		t.Fatalf("Refresh alice = %v, want reauth_required", err)
	}

	// A new login from the cohort satisfies the campaign.
	fresh := e.login(t, "alice", alicePassword, iphone)
	if p := e.principal(t, fresh); p.Session.AccountID != alice.ID {
		t.Errorf("new session of %s, want %s", p.Session.AccountID, alice.ID)
	}
	if pr, _ := e.store.Progress(ctx, c.ID); pr.SatisfiedUsers != 1 {
		t.Errorf("SatisfiedUsers = %d after a new login, want 1", pr.SatisfiedUsers)
	}

	// Cancel restores the old session at once, and the refused refresh
	// left its token usable (no reuse, no revocation).
	if _, err := e.camps.Transition(ctx, c.ID, "cancel", "test"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, aliceTok.AccessToken, iphone); err != nil {
		t.Errorf("Authenticate alice after cancel: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, aliceTok.RefreshToken, iphone, "192.0.2.1"); err != nil {
		t.Errorf("Refresh alice after cancel: %v (a refused refresh must not spend the token)", err)
	}
	if got := e.published(); len(got) != 0 {
		t.Errorf("published %v; a campaign revokes nothing", got)
	}
}

// Every way a session ends is told to enforcement points, with the
// sessions it ended and no others.
func TestRevocationsArePublished(t *testing.T) {
	type sessions struct{ a1, a2, b *authn.Tokens }
	tests := []struct {
		name   string
		act    func(t *testing.T, e *env, s sessions) error
		ended  func(s sessions) []string
		reason string
	}{
		{"logout", func(t *testing.T, e *env, s sessions) error {
			return e.svc.Logout(t.Context(), e.principal(t, s.a1))
		}, func(s sessions) []string { return []string{s.a1.SessionID} }, cordon.RevokeLogout},
		{"own session deleted", func(t *testing.T, e *env, s sessions) error {
			return e.svc.RevokeOwnSession(t.Context(), e.principal(t, s.a1), s.a2.SessionID)
		}, func(s sessions) []string { return []string{s.a2.SessionID} }, cordon.RevokeUser},
		{"password change ends the others", func(t *testing.T, e *env, s sessions) error {
			return e.svc.ChangePassword(t.Context(), e.principal(t, s.a1), alicePassword, "a brand new passphrase 2026", "192.0.2.1")
		}, func(s sessions) []string { return []string{s.a2.SessionID} }, cordon.RevokePasswordChange},
		{"admin revokes a session", func(t *testing.T, e *env, s sessions) error {
			return e.svc.RevokeSession(t.Context(), s.b.SessionID)
		}, func(s sessions) []string { return []string{s.b.SessionID} }, cordon.RevokeAdmin},
		{"admin revokes an account", func(t *testing.T, e *env, s sessions) error {
			_, err := e.svc.RevokeAccountSessions(t.Context(), e.session(t, s.a1.SessionID).AccountID)
			return err
		}, func(s sessions) []string { return []string{s.a1.SessionID, s.a2.SessionID} }, cordon.RevokeAdmin},
		{"admin locks an account", func(t *testing.T, e *env, s sessions) error {
			_, err := e.svc.LockAccount(t.Context(), e.session(t, s.a1.SessionID).AccountID)
			return err
		}, func(s sessions) []string { return []string{s.a1.SessionID, s.a2.SessionID} }, cordon.RevokeAccountLocked},
		{"admin deletes an account", func(t *testing.T, e *env, s sessions) error {
			_, err := e.svc.DeleteAccount(t.Context(), e.session(t, s.b.SessionID).AccountID)
			return err
		}, func(s sessions) []string { return []string{s.b.SessionID} }, cordon.RevokeAccountDeleted},
		{"RFC 7009 revoke of a refresh token", func(t *testing.T, e *env, s sessions) error {
			return e.svc.Revoke(t.Context(), s.a2.RefreshToken)
		}, func(s sessions) []string { return []string{s.a2.SessionID} }, cordon.RevokeLogout},
		{"refresh-token reuse", func(t *testing.T, e *env, s sessions) error {
			if _, err := e.svc.Refresh(t.Context(), s.b.RefreshToken, iphone, "192.0.2.1"); err != nil {
				return err
			}
			_, err := e.svc.Refresh(t.Context(), s.b.RefreshToken, iphone, "192.0.2.1")
			if err == nil {
				t.Errorf("reuse accepted")
			}
			return nil
		}, func(s sessions) []string { return []string{s.b.SessionID} }, cordon.RevokeRefreshReuse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.account(t, "alice", alicePassword)
			e.account(t, "bob", bobPassword)
			s := sessions{e.login(t, "alice", alicePassword, iphone), e.login(t, "alice", alicePassword, android), e.login(t, "bob", bobPassword, iphone)}
			e.clk.Advance(time.Minute)
			if err := tt.act(t, e, s); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			want := slices.Sorted(slices.Values(tt.ended(s)))
			if got := e.published(); !slices.Equal(got, want) {
				t.Errorf("published %v, want %v", got, want)
			}
			for _, tok := range []*authn.Tokens{s.a1, s.a2, s.b} {
				sess := e.session(t, tok.SessionID)
				if ended := slices.Contains(want, tok.SessionID); ended != !sess.Live() || (ended && sess.RevokeReason != tt.reason) {
					t.Errorf("session %s: live %v, reason %q; want ended %v with reason %q", tok.SessionID, sess.Live(), sess.RevokeReason, ended, tt.reason)
				}
			}
		})
	}
}

func TestChangePassword(t *testing.T) {
	const next = "a brand new passphrase 2026"
	tests := []struct {
		name, current, next string
		wantCode, wantField string
	}{
		{"changed", alicePassword, next, "", ""},
		{"wrong current password", "guess", next, cordon.ECodeForbidden, "current_password"},
		{"weak new password", alicePassword, "password", cordon.ECodeWeakPassword, ""},
		{"missing new password", alicePassword, "", cordon.ECodeInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.account(t, "alice", alicePassword)
			tok := e.login(t, "alice", alicePassword, iphone)
			other := e.login(t, "alice", alicePassword, android)
			err := e.svc.ChangePassword(t.Context(), e.principal(t, tok), tt.current, tt.next, "192.0.2.1")
			if tt.wantCode != "" {
				var ce *cordon.Error
				if !errors.As(err, &ce) || ce.Code != tt.wantCode || (tt.wantField != "" && ce.Field != tt.wantField) {
					t.Fatalf("ChangePassword = %v, want %s on field %q", err, tt.wantCode, tt.wantField)
				}
				if got := e.published(); len(got) != 0 {
					t.Errorf("a refused change published %v", got)
				}
				e.login(t, "alice", alicePassword, iphone) // the old password still works
				return
			}
			if err != nil {
				t.Fatalf("ChangePassword: %v", err)
			}
			if got := e.published(); !slices.Equal(got, []string{other.SessionID}) {
				t.Errorf("published %v, want the other session [%s]", got, other.SessionID)
			}
			if !e.session(t, tok.SessionID).Live() {
				t.Errorf("the session that changed the password was ended")
			}
			if _, err := e.svc.Login(t.Context(), authn.LoginRequest{Username: "alice", Password: alicePassword, Client: iphone, Address: "192.0.2.1"}); code(err) != cordon.ECodeInvalidCredentials {
				t.Errorf("login with the old password = %v, want invalid_credentials", err)
			}
			e.login(t, "alice", tt.next, iphone)
		})
	}
}

// An import names each refused record with the person-readable message,
// not the error's code.
func TestImportProblems(t *testing.T) {
	e := newEnv(t)
	res, err := e.svc.Import(t.Context(), []authn.ImportRecord{
		{Username: "carol", Password: "a fine long passphrase"},
		{Username: "dave", Password: "password"},
		{Username: "erin"},
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if res.Created != 1 || res.Invalid != 2 || len(res.Problems) != 2 {
		t.Fatalf("Import = %+v, want 1 created, 2 invalid", res)
	}
	for i, want := range []struct {
		index int
		user  string
	}{{1, "dave"}, {2, "erin"}} {
		p := res.Problems[i]
		if p.Index != want.index || p.Username != want.user || p.Error == "" || strings.HasPrefix(p.Error, cordon.ECodeWeakPassword) {
			t.Errorf("problem %d = %+v, want index %d, user %q and a message without its code", i, p, want.index, want.user)
		}
	}
	if want := "give exactly one of password and password_hash"; res.Problems[1].Error != want {
		t.Errorf("problem 1 = %q, want %q", res.Problems[1].Error, want)
	}
	if _, err := e.svc.Login(context.Background(), authn.LoginRequest{Username: "carol", Password: "a fine long passphrase", Client: iphone, Address: "192.0.2.1"}); err != nil {
		t.Errorf("login of the imported account: %v", err)
	}
}

// A password_reset campaign: a login with the right password gets a
// single-use reset token instead of a session; the old password is
// refused as the new one; a new password ends every session of the
// account (told to enforcement points), opens a new one, and satisfies
// the campaign.
func TestPasswordResetCampaign(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.account(t, "alice", alicePassword)
	e.account(t, "bob", bobPassword)
	old1 := e.login(t, "alice", alicePassword, iphone)
	old2 := e.login(t, "alice", alicePassword, android)
	bob := e.login(t, "bob", bobPassword, iphone)
	e.clk.Advance(time.Minute)
	c, err := e.camps.Create(ctx, []byte(`{"kind":"password_reset","name":"leaked","cohort":{"users":["alice"]}}`), "json", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.camps.Transition(ctx, c.ID, "activate", "test"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)

	// Whatever the login claims to be, the account must reset.
	_, err = e.svc.Login(ctx, authn.LoginRequest{Username: "alice", Password: alicePassword, Client: cordon.ClientFacts{}, Address: "192.0.2.1"})
	var rr *authn.ResetRequiredError
	if !errors.As(err, &rr) || rr.Decision.Reason != decision.ReasonPasswordResetRequired || rr.Decision.Campaign != c.ID || !strings.HasPrefix(rr.ResetToken, "crs_") || rr.ExpiresIn != 600 {
		t.Fatalf("Login = %v, want a reset required by %s with a crs_ token for 600 s", err, c.ID)
	}
	if n, _ := e.store.LiveSessionCount(ctx); n != 3 {
		t.Errorf("live sessions = %d, want 3: a login held back opens none", n)
	}

	// The old password again is refused, with a fresh token to retry.
	_, err = e.svc.ResetPassword(ctx, rr.ResetToken, alicePassword, iphone)
	var again *authn.ResetRequiredError
	if !errors.As(err, &again) || code(again.Problem) != cordon.ECodeWeakPassword || again.ResetToken == rr.ResetToken {
		t.Fatalf("ResetPassword with the old password = %v, want a weak_password problem and a new token", err)
	}
	// The spent token is gone.
	if _, err := e.svc.ResetPassword(ctx, rr.ResetToken, "a brand new passphrase 2026", iphone); code(err) != cordon.ECodeInvalidToken {
		t.Errorf("ResetPassword with a spent token = %v, want invalid_token", err)
	}
	if got := e.published(); len(got) != 0 {
		t.Fatalf("published %v before any password was set", got)
	}

	tok, err := e.svc.ResetPassword(ctx, again.ResetToken, "a brand new passphrase 2026", iphone)
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	want := slices.Sorted(slices.Values([]string{old1.SessionID, old2.SessionID}))
	if got := e.published(); !slices.Equal(got, want) {
		t.Errorf("published %v, want alice's old sessions %v", got, want)
	}
	for _, id := range want {
		if s := e.session(t, id); s.Live() || s.RevokeReason != cordon.RevokePasswordChange {
			t.Errorf("old session %s: live %v, reason %q; want ended for password_changed", id, s.Live(), s.RevokeReason)
		}
	}
	if !e.session(t, bob.SessionID).Live() {
		t.Errorf("bob's session ended by alice's reset")
	}
	if p := e.principal(t, tok); p.Decision.Outcome != decision.Allow {
		t.Errorf("the new session is %v, want allowed", p.Decision.Outcome)
	}
	if pr, _ := e.store.Progress(ctx, c.ID); pr.BlockedUsers != 1 || pr.SatisfiedUsers != 1 {
		t.Errorf("Progress = %+v, want 1 blocked and 1 satisfied user", pr)
	}
	// The next login, with the new password, is an ordinary one.
	e.login(t, "alice", "a brand new passphrase 2026", android)
}

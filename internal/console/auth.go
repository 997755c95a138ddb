package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/cordon-dev/cordon/internal/throttle"
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app
// reads): SHA-1, six digits, thirty-second steps; a code of the step
// before or after is accepted for clock drift.
const (
	totpPeriod = 30
	totpSkew   = 1
)

type ctxKey struct{}

// admin is the signed-in admin of a request that passed signedIn.
func admin(r *http.Request) *cordon.ConsoleAdmin {
	a, _ := r.Context().Value(ctxKey{}).(*cordon.ConsoleAdmin)
	return a
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// signedIn lets a request through only with a live session whose admin's
// role holds scope ("" for any signed-in admin).
func (c *Console) signedIn(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(CookieName)
		if err != nil || len(ck.Value) < 20 || len(ck.Value) > 100 {
			c.toLogin(w, r)
			return
		}
		_, a, err := c.cfg.Store.ConsoleSession(r.Context(), hashSecret(ck.Value), c.cfg.Clock.Now())
		if errors.Is(err, cordon.ErrNotFound) {
			c.toLogin(w, r)
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if scope != "" && !cordon.RoleHasScope(a.Role, scope) {
			c.page(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, a)), http.StatusForbidden, "error", a,
				errorPage{Title: "Not allowed", Message: "Your role (" + a.Role + ") does not include " + scope + ". Ask an owner."})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, a)))
	}
}

func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
		http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
		return
	}
	c.page(w, r, http.StatusUnauthorized, "error", nil, errorPage{Title: "Signed out", Message: "Your session has ended. Sign in again."})
}

type loginPage struct {
	Name    string
	Problem string
}

func (c *Console) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	c.page(w, r, http.StatusOK, "login", nil, loginPage{})
}

// handleLogin checks name, password and TOTP code, in that order, behind
// the throttle; every failure answers the same, so the form tells an
// attacker nothing of which part was wrong.
func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		c.page(w, r, http.StatusBadRequest, "login", nil, loginPage{Problem: "The form could not be read; try again."})
		return
	}
	name, pw, code := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("code"))
	form := loginPage{Name: name}
	if name == "" || pw == "" || code == "" || len(name) > 64 || len(pw) > password.MaxBytes || len(code) > 10 {
		form.Problem = "Give your name, password and the six-digit code from your authenticator app."
		c.page(w, r, http.StatusBadRequest, "login", nil, form)
		return
	}
	att, err := c.cfg.Throttle.Check(r.Context(), throttle.Keys{Account: "console:" + name, Address: c.cfg.ClientAddr(r)})
	if err != nil {
		var ce *cordon.Error
		if errors.As(err, &ce) && ce.RetryAfter > 0 {
			w.Header().Set("Retry-After", itoa(ce.RetryAfter))
		}
		form.Problem = "Too many failed sign-ins. Wait a little and try again."
		c.page(w, r, http.StatusTooManyRequests, "login", nil, form)
		return
	}
	a, ok, err := c.checkCredentials(r.Context(), name, pw, code)
	if err != nil {
		att.Cancel()
		c.fail(w, r, err)
		return
	}
	if !ok {
		att.Fail()
		c.cfg.Log.Warn("console: sign-in refused", "name", clip(name, 64), "address", c.cfg.ClientAddr(r))
		form.Problem = "The name, password or code is wrong."
		c.page(w, r, http.StatusUnauthorized, "login", nil, form)
		return
	}
	att.Succeed()
	secret := make([]byte, 32)
	rand.Read(secret)
	value := base64.RawURLEncoding.EncodeToString(secret)
	now := c.cfg.Clock.Now()
	sess := &cordon.ConsoleSession{Hash: hashSecret(value), AdminID: a.ID, CreatedAt: now, ExpiresAt: now.Add(c.cfg.SessionTTL)}
	ctx := r.Context()
	if e, err := c.entry(r, a, audit.ActionWrite, "cordon:console-session/"+a.Name, "signed in to the console", "admin_tokens"); err == nil {
		ctx = cordon.WithAudit(ctx, e)
	} else {
		c.fail(w, r, err)
		return
	}
	if err := c.cfg.Store.CreateConsoleSession(ctx, sess); err != nil {
		c.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.cfg.SessionTTL / time.Second)})
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// checkCredentials reports whether the password and code are right. An
// unknown name costs one dummy password hash, as a wrong password does.
// A code is good once: its time step must be later than the last one
// used, recorded atomically, so a code seen over a shoulder or replayed
// from a proxy's log is refused.
func (c *Console) checkCredentials(ctx context.Context, name, pw, code string) (*cordon.ConsoleAdmin, bool, error) {
	a, err := c.cfg.Store.ConsoleAdminByName(ctx, name)
	if errors.Is(err, cordon.ErrNotFound) {
		err := c.cfg.Hasher.VerifyDummy(ctx, pw, "console:"+name)
		return nil, false, err
	}
	if err != nil {
		return nil, false, err
	}
	ok, _, err := c.cfg.Hasher.Verify(ctx, pw, a.PasswordHash)
	if err != nil || !ok {
		return nil, false, err
	}
	step, ok := validTOTP(code, a.TOTPSecret, c.cfg.Clock.Now())
	if !ok {
		return nil, false, nil
	}
	if err := c.cfg.Store.UseConsoleTOTPStep(ctx, a.ID, step); errors.Is(err, cordon.ErrAlreadyExists) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	return a, true, nil
}

// validTOTP returns the time step code is valid for at now, within the
// skew.
func validTOTP(code, secret string, now time.Time) (int64, bool) {
	opts := totp.ValidateOpts{Period: totpPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for d := -totpSkew; d <= totpSkew; d++ {
		t := now.Add(time.Duration(d*totpPeriod) * time.Second)
		if ok, err := totp.ValidateCustom(code, secret, t, opts); err == nil && ok {
			return t.Unix() / totpPeriod, true
		}
	}
	return 0, false
}

// NewTOTP makes a TOTP secret for an admin, and the otpauth:// URI an
// authenticator app reads (as a QR code or pasted).
func NewTOTP(issuer, name string) (secret, uri string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: name, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request) {
	a := admin(r)
	ck, _ := r.Cookie(CookieName)
	if _, err := change(c, r, a, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.cfg.Store.DeleteConsoleSession(ctx, hashSecret(ck.Value))
	}, audit.ActionWrite, "cordon:console-session/"+a.Name, "signed out of the console", "admin_tokens"); err != nil {
		c.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

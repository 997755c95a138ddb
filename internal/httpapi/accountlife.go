package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// Page sizes of the account listing.
const (
	defaultAccountPage = 100
	maxAccountPage     = 1000
)

var cursorID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// FormatCursor is the opaque cursor of the page after account c.
func FormatCursor(c cordon.AccountCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID))
}

// ParseCursor reads a cursor FormatCursor made. A cursor is a client's
// claim: anything else is refused, never read as the first page.
func ParseCursor(s string) (cordon.AccountCursor, error) {
	bad := errors.New("the cursor is not one this server gave; start again without it")
	if len(s) > 256 {
		return cordon.AccountCursor{}, bad
	}
	// The decoder skips CR and LF even in strict mode: "NC5\n0" would read
	// as "NC50". Only the encoding this server writes is a cursor.
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != s {
		return cordon.AccountCursor{}, bad
	}
	micros, id, ok := strings.Cut(string(b), ".")
	if !ok || !cursorID.MatchString(id) || micros == "" || micros[0] == '-' || micros[0] == '+' {
		return cordon.AccountCursor{}, bad
	}
	v, err := strconv.ParseInt(micros, 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != micros {
		return cordon.AccountCursor{}, bad
	}
	return cordon.AccountCursor{CreatedAt: time.UnixMicro(v).UTC(), ID: id}, nil
}

// accountQuery reads the listing's query string: prefix, locked
// (true/false), limit (1-1000) and cursor.
func accountQuery(r *http.Request) (cordon.AccountQuery, error) {
	q := cordon.AccountQuery{Limit: defaultAccountPage}
	vals := r.URL.Query()
	for k, v := range vals {
		switch k {
		case "prefix", "locked", "limit", "cursor":
			if len(v) > 1 {
				return q, cordon.FieldError(cordon.ECodeInvalid, k, "%s is given more than once", k)
			}
		default:
			return q, cordon.FieldError(cordon.ECodeInvalid, short(k), "unknown parameter %q; use prefix, locked, limit or cursor", short(k))
		}
	}
	q.Prefix = vals.Get("prefix")
	if len(q.Prefix) > maxUsernameQuery {
		return q, cordon.FieldError(cordon.ECodeInvalid, "prefix", "prefix is longer than a username can be")
	}
	switch vals.Get("locked") {
	case "":
	case "true":
		q.Locked = cordon.LockedOnly
	case "false":
		q.Locked = cordon.UnlockedOnly
	default:
		return q, cordon.FieldError(cordon.ECodeInvalid, "locked", "locked must be true or false")
	}
	if v := vals.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAccountPage {
			return q, cordon.FieldError(cordon.ECodeInvalid, "limit", "limit must be a whole number from 1 to %d", maxAccountPage)
		}
		q.Limit = n
	}
	if v := vals.Get("cursor"); v != "" {
		c, err := ParseCursor(v)
		if err != nil {
			return q, cordon.FieldError(cordon.ECodeInvalid, "cursor", "%v", err)
		}
		q.After = c
	}
	return q, nil
}

// maxUsernameQuery bounds a prefix; usernames are shorter.
const maxUsernameQuery = 256

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request) {
	q, err := accountQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// One more than asked tells whether another page follows.
	want := q.Limit
	q.Limit++
	list, err := s.authn.ListAccounts(r.Context(), q)
	if err == nil {
		err = s.recordRead(r, "cordon:accounts", fmt.Sprintf("accounts listed (prefix %q, %d shown)", short(q.Prefix), min(len(list), want)), shownCategories(list[:min(len(list), want)]...)...)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := map[string]any{}
	if len(list) > want {
		list = list[:want]
		last := list[want-1]
		out["next_cursor"] = FormatCursor(cordon.AccountCursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	views := make([]accountView, 0, len(list))
	for _, a := range list {
		views = append(views, viewAccount(a))
	}
	out["accounts"] = views
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleLockAccount(w http.ResponseWriter, r *http.Request) {
	a, err := s.authn.Account(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	ids, err := change(s, r, func(ctx context.Context) ([]string, error) { return s.authn.LockAccount(ctx, a.ID) }, audit.ActionWrite, a.Username, "account locked; every session ended", "sessions")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if a, err = s.authn.Account(r.Context(), a.ID); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": viewAccount(a), "revoked": ids})
}

func (s *Server) handleUnlockAccount(w http.ResponseWriter, r *http.Request) {
	a, err := s.authn.Account(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.changed(r, func(ctx context.Context) error { return s.authn.UnlockAccount(ctx, a.ID) }, audit.ActionWrite, a.Username, "account unlocked", "profile"); err != nil {
		writeError(w, r, err)
		return
	}
	a.LockedAt = time.Time{}
	writeJSON(w, http.StatusOK, map[string]any{"account": viewAccount(a)})
}

func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request) {
	a, err := s.authn.Account(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	ids, err := change(s, r, func(ctx context.Context) ([]string, error) { return s.authn.DeleteAccount(ctx, a.ID) }, audit.ActionWrite, a.Username, "account deleted: sessions ended; refresh tokens, offline grants and password erased", "profile", "password_hash", "sessions", "devices")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": a.ID, "username": a.Username, "revoked": ids})
}

// handleSetEmail replaces (or, with "", removes) an account's email
// address, with its audit record in the same transaction.
func (s *Server) handleSetEmail(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email *string `json:"email"`
	}
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Email == nil {
		writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "email", `email is required ("" removes the address)`))
		return
	}
	a, err := s.authn.Account(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	what := "email address changed"
	if *body.Email == "" {
		what = "email address removed"
	}
	if a.Email, err = change(s, r, func(ctx context.Context) (string, error) { return s.authn.SetEmail(ctx, a.ID, *body.Email) },
		audit.ActionWrite, a.Username, what, "email"); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": viewAccount(a)})
}

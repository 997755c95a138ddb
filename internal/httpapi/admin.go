package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cordon-dev/cordon/internal/admintokens"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/authn"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// withAdmin checks the bearer admin token holds scope before calling h.
func (s *Server) withAdmin(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := bearer(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		at, err := s.tokens.Authenticate(r.Context(), tok, scope)
		if err != nil {
			writeError(w, r, err)
			return
		}
		// Audit ingest and introspection are machine traffic at high
		// rates; the request log line already records them.
		level := slog.LevelInfo
		if scope == cordon.ScopeAuditWrite || scope == cordon.ScopeIntrospect {
			level = slog.LevelDebug
		}
		s.logger(r).Log(r.Context(), level, "admin call", "admin_token", at.ID, "scope", scope)
		ctx := context.WithValue(r.Context(), keyActor, at.ID)
		h(w, r.WithContext(context.WithValue(ctx, keyAdmin, at)))
	}
}

type accountView struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	// PasswordChangedAt is when the password was last set.
	PasswordChangedAt time.Time `json:"password_changed_at"`
	// LockedAt is when the account was locked; absent when it is not.
	LockedAt *time.Time `json:"locked_at,omitempty"`
	// Email is the account's address; absent when it has none. Only the
	// admin API shows it.
	Email string `json:"email,omitempty"`
}

func viewAccount(a *cordon.Account) accountView {
	return accountView{ID: a.ID, Username: a.Username, CreatedAt: a.CreatedAt, PasswordChangedAt: a.PasswordChangedAt, LockedAt: optTime(a.LockedAt), Email: a.Email}
}

type createAccountBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) {
	var body createAccountBody
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	cats := []string{"profile", "password_hash"}
	if body.Email != "" {
		cats = append(cats, "email")
	}
	a, err := change(s, r, func(ctx context.Context) (*cordon.Account, error) {
		return s.authn.CreateAccountEmail(ctx, body.Username, body.Password, body.Email)
	}, audit.ActionWrite, body.Username, "account created", cats...)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/admin/v1/accounts/"+a.ID)
	writeJSON(w, http.StatusCreated, viewAccount(a))
}

// maxImportBody bounds one import batch (10,000 records of bcrypt hashes
// take about 1 MiB).
const maxImportBody = 16 << 20

// handleImport takes one batch of accounts as NDJSON
// (application/x-ndjson) or a JSON array (application/json).
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var recs []authn.ImportRecord
	body := http.MaxBytesReader(w, r.Body, maxImportBody)
	switch mt {
	case "application/json":
		data, err := io.ReadAll(body)
		if err != nil {
			writeError(w, r, jsonError(err))
			return
		}
		if p := checkStrict(data); p != nil {
			writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, p.field(), "%s", p.msg))
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&recs); err != nil {
			writeError(w, r, jsonError(err))
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			writeError(w, r, cordon.Errorf(cordon.ECodeInvalid, "the body must hold exactly one JSON array"))
			return
		}
	case "application/x-ndjson":
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			if p := checkStrict(b); p != nil {
				writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, p.field(), "line %d: %s", line, p.msg))
				return
			}
			var rec authn.ImportRecord
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rec); err != nil {
				e := jsonError(err)
				writeError(w, r, cordon.Errorf(e.Code, "line %d: %s", line, e.Message))
				return
			}
			if _, err := dec.Token(); err != io.EOF {
				writeError(w, r, cordon.Errorf(cordon.ECodeInvalid, "line %d: one JSON object per line", line))
				return
			}
			recs = append(recs, rec)
		}
		if err := sc.Err(); err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				writeError(w, r, jsonError(err))
				return
			}
			writeError(w, r, cordon.Errorf(cordon.ECodeInvalid, "line %d: %v", line+1, err))
			return
		}
	default:
		writeError(w, r, cordon.Errorf(cordon.ECodeMediaType, "Content-Type must be application/x-ndjson or application/json"))
		return
	}
	res, err := change(s, r, func(ctx context.Context) (authn.ImportResult, error) { return s.authn.Import(ctx, recs) }, audit.ActionWrite, "cordon:accounts", fmt.Sprintf("import of %d account records", len(recs)), "profile", "password_hash")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// shownCategories are the audit categories of showing accounts: their
// profile, and their email when one of them has an address.
func shownCategories(as ...*cordon.Account) []string {
	for _, a := range as {
		if a.Email != "" {
			return []string{"profile", "email"}
		}
	}
	return []string{"profile"}
}

func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request) {
	a, err := s.authn.Account(r.Context(), r.PathValue("ref"))
	if err == nil {
		err = s.recordRead(r, a.Username, "account shown", shownCategories(a)...)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAccount(a))
}

func (s *Server) handleAdminSessions(w http.ResponseWriter, r *http.Request) {
	a, err := s.authn.Account(r.Context(), r.PathValue("ref"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, err := s.authn.Sessions(r.Context(), a.ID)
	if err == nil {
		err = s.recordRead(r, a.Username, "sessions listed", "profile", "sessions", "devices")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]sessionView, 0, len(list))
	for _, x := range list {
		out = append(out, viewSession(x))
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": viewAccount(a), "sessions": out})
}

func (s *Server) handleAdminRevokeAll(w http.ResponseWriter, r *http.Request) {
	a, err := s.authn.Account(r.Context(), r.PathValue("ref"))
	if sub, ok := cordon.ParseSubjectID(r.PathValue("ref")); ok && errors.Is(err, cordon.ErrNotFound) {
		s.revokeExternal(w, r, sub) // external.go
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	ids, err := change(s, r, func(ctx context.Context) ([]string, error) { return s.authn.RevokeAccountSessions(ctx, a.ID) }, audit.ActionWrite, a.Username, "all sessions revoked", "sessions")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": ids})
}

func (s *Server) handleAdminRevoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	subject := auditlog.ObjectPrefix + "session/" + short(id)
	if sess, err := s.store.SessionByID(r.Context(), id); err == nil {
		if a, err := s.store.AccountByID(r.Context(), sess.AccountID); err == nil {
			subject = a.Username
		}
	}
	if err := s.changed(r, func(ctx context.Context) error { return s.authn.RevokeSession(ctx, id) }, audit.ActionWrite, subject, "session "+short(id)+" revoked", "sessions"); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRotateKeys(w http.ResponseWriter, r *http.Request) {
	kid, err := change(s, r, func(ctx context.Context) (string, error) { return s.authn.RotateKeys(ctx) }, audit.ActionWrite, "cordon:signing-keys", "signing keys rotated", "signing_keys")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
}

type tokenBody struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	expiryBody
}

// handleCreateToken mints an admin token with scopes the caller holds
// itself; the secret is shown once and stored only as a hash.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	var body tokenBody
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	// Name and scopes are judged before the expiry, as they always were.
	if err := admintokens.CheckMint(callerToken(r), body.Name, body.Scopes); err != nil {
		writeError(w, r, err)
		return
	}
	now := s.clock.Now().UTC()
	expires, err := body.expiry(now)
	if err != nil {
		writeError(w, r, err)
		return
	}
	at, plain, err := s.tokens.Mint(r.Context(), callerToken(r), admintokens.Mint{Name: body.Name, Scopes: body.Scopes, ExpiresAt: expires}, s.record(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("admin token created", "token", at.ID, "scopes", at.Scopes, "by", actor(r))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"id": at.ID, "name": at.Name, "scopes": at.Scopes, "token": plain, "created_at": at.CreatedAt, "expires_at": optTime(at.ExpiresAt)})
}

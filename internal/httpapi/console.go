package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/console"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
)

// consoleAdminName is what a console admin's name may be: it becomes the
// audit principal cordon:console/NAME, so it is kept plain.
var consoleAdminName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// consoleAdminPolicy is the password policy for people who run the
// console: longer than the users' minimum.
var consoleAdminPolicy = password.Policy{MinLength: 12, MaxLength: 256}

type consoleAdminBody struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// handleCreateConsoleAdmin adds a person who signs in to the web console.
// The caller's token must hold every scope of the role (a token cannot
// make someone more powerful than itself). The TOTP secret is answered
// once, as an otpauth:// URI, and never again.
func (s *Server) handleCreateConsoleAdmin(w http.ResponseWriter, r *http.Request) {
	var body consoleAdminBody
	if err := readJSON(w, r, &body, maxJSONBody); err != nil {
		writeError(w, r, err)
		return
	}
	if !consoleAdminName.MatchString(body.Name) {
		writeError(w, r, cordon.FieldError(cordon.ECodeUnprocessable, "name", "name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
		return
	}
	scopes, ok := cordon.ConsoleRoles[body.Role]
	if !ok {
		roles := make([]string, 0, len(cordon.ConsoleRoles))
		for r := range cordon.ConsoleRoles {
			roles = append(roles, r)
		}
		slices.Sort(roles)
		writeError(w, r, cordon.FieldError(cordon.ECodeUnprocessable, "role", "unknown role %q; roles are %s", short(body.Role), strings.Join(roles, ", ")))
		return
	}
	caller, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken)
	for _, sc := range scopes {
		if caller == nil || !caller.HasScope(sc) || (sc == cordon.ScopeAll && !caller.HasScope(cordon.ScopeAll)) {
			writeError(w, r, cordon.FieldError(cordon.ECodeForbidden, "role", "the role %s holds the scope %q, which this token lacks; a token can only grant scopes it holds", body.Role, sc))
			return
		}
	}
	if err := consoleAdminPolicy.Check(body.Password, body.Name); err != nil {
		writeError(w, r, err)
		return
	}
	hash, err := s.hasher.Hash(r.Context(), body.Password)
	if err != nil {
		writeError(w, r, err)
		return
	}
	secret, uri, err := console.NewTOTP("cordon", body.Name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	a := &cordon.ConsoleAdmin{ID: cordon.NewID("ca"), Name: body.Name, Role: body.Role, PasswordHash: hash, TOTPSecret: secret, CreatedAt: s.clock.Now().UTC()}
	if err := s.changed(r, func(ctx context.Context) error { return s.store.CreateConsoleAdmin(ctx, a) }, audit.ActionWrite, "cordon:console-admins", fmt.Sprintf("console admin %s created with role %s", a.Name, a.Role), "admin_tokens"); errors.Is(err, cordon.ErrAlreadyExists) {
		writeError(w, r, cordon.FieldError(cordon.ECodeConflict, "name", "a console admin named %q exists already", a.Name))
		return
	} else if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("console admin created", "name", a.Name, "role", a.Role, "by", actor(r))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"id": a.ID, "name": a.Name, "role": a.Role, "scopes": scopes, "otpauth_uri": uri, "created_at": a.CreatedAt})
}

// consoleAdminOut is a console admin as the API shows it: never its
// password hash or TOTP secret.
type consoleAdminOut struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleListConsoleAdmins(w http.ResponseWriter, r *http.Request) {
	as, err := s.store.ConsoleAdmins(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]consoleAdminOut, 0, len(as))
	for _, a := range as {
		out = append(out, consoleAdminOut{ID: a.ID, Name: a.Name, Role: a.Role, CreatedAt: a.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"admins": out})
}

// handleDeleteConsoleAdmin removes a console admin and ends its sessions
// at once (its next page or live-stream tick is refused): the way to cut
// off a person whose laptop or password is lost. The token must hold
// every scope of the admin's role, as to create one.
func (s *Server) handleDeleteConsoleAdmin(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !consoleAdminName.MatchString(name) {
		writeError(w, r, cordon.FieldError(cordon.ECodeNotFound, "name", "no console admin %q", short(name)))
		return
	}
	a, err := s.store.ConsoleAdminByName(r.Context(), name)
	if errors.Is(err, cordon.ErrNotFound) {
		writeError(w, r, cordon.FieldError(cordon.ECodeNotFound, "name", "no console admin %q; cordon admin list shows them", name))
		return
	} else if err != nil {
		writeError(w, r, err)
		return
	}
	caller, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken)
	for _, sc := range cordon.ConsoleRoles[a.Role] {
		if caller == nil || !caller.HasScope(sc) || (sc == cordon.ScopeAll && !caller.HasScope(cordon.ScopeAll)) {
			writeError(w, r, cordon.FieldError(cordon.ECodeForbidden, "name", "%s has the role %s, which holds the scope %q this token lacks; only a token holding every scope of the role may remove its admin", a.Name, a.Role, sc))
			return
		}
	}
	if err := s.changed(r, func(ctx context.Context) error { return s.store.DeleteConsoleAdmin(ctx, a.Name) }, audit.ActionDelete, "cordon:console-admins", fmt.Sprintf("console admin %s (role %s) removed; its sessions ended", a.Name, a.Role), "admin_tokens"); errors.Is(err, cordon.ErrNotFound) {
		writeError(w, r, cordon.FieldError(cordon.ECodeNotFound, "name", "no console admin %q", a.Name))
		return
	} else if err != nil {
		writeError(w, r, err)
		return
	}
	s.logger(r).Info("console admin removed", "name", a.Name, "by", actor(r))
	w.WriteHeader(http.StatusNoContent)
}

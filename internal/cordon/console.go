package cordon

import (
	"context"
	"log/slog"
	"time"
)

// ConsoleAdmin is a person who signs in to the web console: a name, a
// password (argon2id, PHC form) and a TOTP secret (RFC 6238). Their role
// names the admin scopes they hold (ConsoleRoles).
type ConsoleAdmin struct {
	ID           string
	Name         string
	Role         string
	PasswordHash string
	// TOTPSecret is the base32 shared secret; never shown after creation.
	TOTPSecret string
	// TOTPStep is the last accepted TOTP time step: a code is good once.
	TOTPStep  int64
	CreatedAt time.Time
}

// LogValue keeps the secrets out of logs.
func (a *ConsoleAdmin) LogValue() slog.Value { return slog.StringValue("console admin " + a.Name) }

// ConsoleSession is a signed-in console admin's session. Only the hash of
// the cookie's secret is stored.
type ConsoleSession struct {
	Hash      []byte
	AdminID   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Console roles. Each maps to admin scopes (ConsoleRoles).
const (
	RoleOwner     = "owner"
	RoleResponder = "responder"
	RoleAuditor   = "auditor"
)

// ConsoleRoles maps each console role to the admin scopes it holds: an
// owner holds every scope; a responder runs incidents (and their alerts
// and public pages), campaigns and notices and reads the audit log; an
// auditor reads the audit log only.
var ConsoleRoles = map[string][]string{
	RoleOwner:     {ScopeAll},
	RoleResponder: {ScopeIncidents, ScopeCampaigns, ScopeNotices, ScopeAuditRead, ScopeSessions},
	RoleAuditor:   {ScopeAuditRead},
}

// RoleHasScope reports whether role grants scope.
func RoleHasScope(role, scope string) bool {
	t := AdminToken{Scopes: ConsoleRoles[role]}
	return t.HasScope(scope)
}

// ConsoleStore keeps the console's admins and sessions.
type ConsoleStore interface {
	// CreateConsoleAdmin adds an admin; ErrAlreadyExists when the name or
	// id is taken.
	CreateConsoleAdmin(ctx context.Context, a *ConsoleAdmin) error
	// ConsoleAdminByName looks an admin up; ErrNotFound when unknown.
	ConsoleAdminByName(ctx context.Context, name string) (*ConsoleAdmin, error)
	// UseConsoleTOTPStep records step as the admin's last accepted TOTP
	// step when it is later than the one recorded, atomically; else
	// ErrAlreadyExists (the code was used already: a replay).
	UseConsoleTOTPStep(ctx context.Context, adminID string, step int64) error
	// CreateConsoleSession stores a session.
	CreateConsoleSession(ctx context.Context, s *ConsoleSession) error
	// ConsoleSession returns the session of hash and its admin;
	// ErrNotFound when unknown or expired at now.
	ConsoleSession(ctx context.Context, hash []byte, now time.Time) (*ConsoleSession, *ConsoleAdmin, error)
	// DeleteConsoleSession ends a session (signing out); deleting an
	// unknown one is not an error.
	DeleteConsoleSession(ctx context.Context, hash []byte) error
	// ConsoleAdmins lists the admins by name.
	ConsoleAdmins(ctx context.Context) ([]*ConsoleAdmin, error)
	// DeleteConsoleAdmin removes the admin named name and ends every one
	// of its sessions, in one write; ErrNotFound when unknown.
	DeleteConsoleAdmin(ctx context.Context, name string) error
}

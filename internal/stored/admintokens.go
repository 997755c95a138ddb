package stored

import (
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// LastAdmin reports whether ending target at now would leave no admin
// token with the scope "*" usable at now. live holds every token that is
// not revoked (target may be among them).
func LastAdmin(target *cordon.AdminToken, live []*cordon.AdminToken, now time.Time) bool {
	if !target.HasScope(cordon.ScopeAll) || !target.Usable(now) {
		return false
	}
	for _, t := range live {
		if t.ID != target.ID && t.HasScope(cordon.ScopeAll) && t.Usable(now) {
			return false
		}
	}
	return true
}

// RotatedEnd returns the revocation and expiry times of a token rotated at
// now whose secret may keep working until until (zero: not at all).
func RotatedEnd(old *cordon.AdminToken, now, until time.Time) (revokedAt, expiresAt time.Time) {
	if until.IsZero() || !until.After(now) {
		return now, old.ExpiresAt
	}
	if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(until) {
		return time.Time{}, old.ExpiresAt
	}
	return time.Time{}, until
}

package password

import (
	"context"
	"crypto/subtle"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// imported is a decoded hash written by another system (Keycloak, Django,
// Firebase). Verify checks it and always asks for a rehash, so it lives
// in the store only until the user's first successful login.
type imported interface {
	// derive computes what the stored hash holds for password.
	derive(password []byte) []byte
	// stored is the hash as decoded.
	stored() []byte
	// sameCost returns a hash of the same family and cost parameters with
	// a random salt and key: what a dummy verify of this family must do.
	sameCost() imported
}

// decodeImported recognises the imported families by their prefix. isImported
// false means encoded is none of them (bcrypt or argon2id, say); otherwise
// err says why it cannot be used, wrapping ErrMalformedHash.
func decodeImported(encoded string) (h imported, isImported bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$pbkdf2-"):
		h, err = decodePBKDF2PHC(encoded)
	case strings.HasPrefix(encoded, "pbkdf2_"):
		h, err = decodeDjango(encoded)
	case strings.HasPrefix(encoded, firebasePrefix):
		h, err = decodeFirebase(encoded)
	default:
		return nil, false, nil
	}
	return h, true, err
}

// verifyImported checks password against an imported hash in a slot of the
// hashing pool, like any verify. decodeErr is decodeImported's error, taken
// here so Verify's dispatch stays one call.
func (h *Hasher) verifyImported(ctx context.Context, password string, stored imported, decodeErr error) (ok, rehash bool, err error) {
	if decodeErr != nil {
		return false, false, decodeErr
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	ok = matchImported(password, stored)
	return ok, ok, nil
}

// matchImported tries the raw bytes first, as the previous system hashed
// them (none of Keycloak, Django or Firebase normalises), then the NFKC
// form cordon uses, in case the old system's clients normalised. Each
// comparison is constant-time.
func matchImported(password string, stored imported) bool {
	if subtle.ConstantTimeCompare(stored.derive([]byte(password)), stored.stored()) == 1 {
		return true
	}
	nfkc := norm.NFKC.String(password)
	return nfkc != password && subtle.ConstantTimeCompare(stored.derive([]byte(nfkc)), stored.stored()) == 1
}

// Families names the hash forms Verify reads, for messages to operators.
const Families = "bcrypt ($2a$, $2b$, $2y$), argon2id ($argon2id$), PBKDF2 ($pbkdf2-sha256$, $pbkdf2-sha512$, $pbkdf2-sha1$, or Django's pbkdf2_sha256$ and pbkdf2_sha1$) or Firebase scrypt ($firebase-scrypt$)"

// KnownFamily reports whether encoded starts like one of Families, whether
// or not the rest is well formed (CheckEncoded says that).
func KnownFamily(encoded string) bool {
	_, isImported, _ := decodeImported(encoded)
	return isImported || isBcrypt(encoded) || strings.HasPrefix(encoded, argon2idPrefix)
}

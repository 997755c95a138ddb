package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
)

// Prefixes of cordon's opaque secrets. A prefix lets a secret scanner, or
// a person, tell at a glance what leaked.
const (
	PrefixRefreshToken = "crt_"
	PrefixAdminToken   = "cat_"
)

// NewSecret returns a fresh opaque secret, prefix followed by 256 random
// bits in base64url, and the SHA-256 hash to store in its place. A plain
// hash is enough: with 256 bits of randomness there is nothing for a slow
// password hash to protect against, and lookups by hash stay one index hit.
func NewSecret(prefix string) (plain string, hash []byte) {
	var b [32]byte
	// crypto/rand.Read never fails on supported platforms; it crashes the
	// program itself rather than return weak bytes.
	_, _ = rand.Read(b[:])
	plain = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return plain, HashSecret(plain)
}

// HashSecret returns the SHA-256 hash of a presented secret, to look up
// what NewSecret stored.
func HashSecret(plain string) []byte {
	h := sha256.Sum256([]byte(plain))
	return h[:]
}

// Secret is a secret in the clear, for code that must carry one. It shows
// as "[redacted]" in logs and in fmt output, so passing it to a logger or
// an error by mistake leaks nothing; string(s) gives the value. JSON
// encoding is left alone, as an API response must carry the value.
type Secret string

const redacted = "[redacted]"

// LogValue keeps the secret out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// String keeps the secret out of fmt output.
func (Secret) String() string { return redacted }

// GoString keeps the secret out of %#v output.
func (Secret) GoString() string { return redacted }

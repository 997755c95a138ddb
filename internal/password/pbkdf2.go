package password

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PBKDF2 hashes come in two spellings:
//
//   - PHC, for Keycloak's credentials (the CLI writes them from a realm
//     export): $pbkdf2-sha256$i=27500$SALT$KEY, with pbkdf2-sha1 and
//     pbkdf2-sha512 alike, salt and key in the PHC base64 (standard
//     alphabet, no padding). Keycloak verifies at the stored key's length
//     (512 bits by default), so the key length is the stored one's.
//   - Django's own, stored as Django wrote it:
//     pbkdf2_sha256$ITERATIONS$SALT$KEY, also pbkdf2_sha1, where SALT is
//     text hashed as its UTF-8 bytes and KEY is padded standard base64 of
//     the digest's length.
//
// Both are PBKDF2-HMAC (RFC 8018) over the password's UTF-8 bytes.

// Bounds on an imported PBKDF2 hash. The cost of a verify is iterations ×
// blocks, a block being one digest length of output (Keycloak's 512-bit
// key over SHA-256 is two), so that product is what is bounded: 4 million
// covers Django 6.0's 1.2 million iterations and Keycloak's 600,000 × 2
// with room for years of increases, and holds a slot for at most about
// 1.5 s (1M SHA-256 iterations measured 0.37 s), like bcrypt's cost-16
// bound.
const (
	maxPBKDF2Work    = 4_000_000
	minPBKDF2Key     = 16 // a short key would match too many passwords
	maxPBKDF2Key     = 64
	maxPBKDF2Salt    = 128
	minPBKDF2PHCSalt = 8
)

// pbkdf2Hash is a decoded PBKDF2 hash of either spelling.
type pbkdf2Hash struct {
	digest     string // "sha1", "sha256" or "sha512"
	iterations int
	salt, key  []byte
}

func (p pbkdf2Hash) newHash() func() hash.Hash {
	switch p.digest {
	case "sha1":
		return sha1.New
	case "sha512":
		return sha512.New
	default:
		return sha256.New
	}
}

func digestSize(digest string) int {
	switch digest {
	case "sha1":
		return sha1.Size
	case "sha512":
		return sha512.Size
	default:
		return sha256.Size
	}
}

func (p pbkdf2Hash) derive(password []byte) []byte {
	key, err := pbkdf2.Key(p.newHash(), string(password), p.salt, p.iterations, len(p.key))
	if err != nil {
		// Only FIPS 140-3 mode refuses parameters that decoding allows;
		// a key that cannot be derived matches nothing.
		return nil
	}
	return key
}

func (p pbkdf2Hash) stored() []byte { return p.key }

func (p pbkdf2Hash) sameCost() imported {
	return pbkdf2Hash{digest: p.digest, iterations: p.iterations, salt: randomBytes(uint32(len(p.salt))), key: randomBytes(uint32(len(p.key)))}
}

// check applies the bounds shared by both spellings.
func (p pbkdf2Hash) check() error {
	blocks := (len(p.key) + digestSize(p.digest) - 1) / digestSize(p.digest)
	switch {
	case p.iterations < 1:
		return malformed("pbkdf2 iterations must be at least 1")
	case len(p.key) < minPBKDF2Key || len(p.key) > maxPBKDF2Key:
		return malformed("pbkdf2 key of %d bytes, want %d..%d", len(p.key), minPBKDF2Key, maxPBKDF2Key)
	case len(p.salt) < 1 || len(p.salt) > maxPBKDF2Salt:
		return malformed("pbkdf2 salt of %d bytes, want 1..%d", len(p.salt), maxPBKDF2Salt)
	case p.iterations > maxPBKDF2Work/blocks:
		return malformed("pbkdf2 cost too high: %d iterations × %d blocks of key is above %d", p.iterations, blocks, maxPBKDF2Work)
	}
	return nil
}

// EncodePBKDF2 writes a PBKDF2 hash in the PHC spelling Verify reads.
// digest is "sha1", "sha256" or "sha512". It does not check bounds:
// CheckEncoded does, where the record can be named.
func EncodePBKDF2(digest string, iterations int, salt, key []byte) string {
	return "$pbkdf2-" + digest + "$i=" + strconv.Itoa(iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}

// decodePBKDF2PHC parses the PHC spelling, accepting exactly what
// EncodePBKDF2 writes.
func decodePBKDF2PHC(s string) (pbkdf2Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 || parts[0] != "" {
		return pbkdf2Hash{}, malformed("pbkdf2 hash: want $pbkdf2-DIGEST$i=N$SALT$KEY")
	}
	var p pbkdf2Hash
	switch parts[1] {
	case "pbkdf2-sha1", "pbkdf2-sha256", "pbkdf2-sha512":
		p.digest = strings.TrimPrefix(parts[1], "pbkdf2-")
	default:
		return pbkdf2Hash{}, malformed("unsupported pbkdf2 digest (want sha1, sha256 or sha512)")
	}
	it, err := decimalField(parts[2], "i=", 31)
	if err != nil {
		return pbkdf2Hash{}, err
	}
	p.iterations = int(it)
	if p.salt, err = decodeB64(parts[3]); err != nil {
		return pbkdf2Hash{}, malformed("pbkdf2 salt is not base64")
	}
	if p.key, err = decodeB64(parts[4]); err != nil {
		return pbkdf2Hash{}, malformed("pbkdf2 key is not base64")
	}
	if len(p.salt) < minPBKDF2PHCSalt {
		return pbkdf2Hash{}, malformed("pbkdf2 salt of %d bytes, want at least %d", len(p.salt), minPBKDF2PHCSalt)
	}
	return p, p.check()
}

// djangoB64 is what Django's base64.b64encode writes: standard, padded.
var djangoB64 = base64.StdEncoding.Strict()

// decodeDjango parses Django's spelling. Django hashes the salt text as
// given, so the salt is kept as its bytes; it must be printable UTF-8
// without '$' (Django's own encode asserts the '$').
func decodeDjango(s string) (pbkdf2Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 {
		return pbkdf2Hash{}, malformed("django hash: want ALGORITHM$ITERATIONS$SALT$HASH")
	}
	var p pbkdf2Hash
	switch parts[0] {
	case "pbkdf2_sha256":
		p.digest = "sha256"
	case "pbkdf2_sha1":
		p.digest = "sha1"
	default:
		return pbkdf2Hash{}, malformed("unsupported django algorithm (want pbkdf2_sha256 or pbkdf2_sha1)")
	}
	it, err := strconv.ParseUint(parts[1], 10, 31)
	if err != nil || strconv.FormatUint(it, 10) != parts[1] {
		return pbkdf2Hash{}, malformed("django iterations are not a canonical decimal")
	}
	p.iterations = int(it)
	if !utf8.ValidString(parts[2]) || strings.IndexFunc(parts[2], func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return pbkdf2Hash{}, malformed("django salt must be printable UTF-8")
	}
	p.salt = []byte(parts[2])
	if strings.ContainsAny(parts[3], "\r\n") {
		return pbkdf2Hash{}, malformed("django hash is not base64")
	}
	if p.key, err = djangoB64.DecodeString(parts[3]); err != nil {
		return pbkdf2Hash{}, malformed("django hash is not base64")
	}
	if len(p.key) != digestSize(p.digest) {
		return pbkdf2Hash{}, malformed("django hash of %d bytes, want %d", len(p.key), digestSize(p.digest))
	}
	return p, p.check()
}

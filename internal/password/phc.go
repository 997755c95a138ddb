package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is wrapped by every error about a stored hash that cannot
// be parsed. It means the store holds something this package never wrote
// (a bad import, a truncated column): an internal fault, not the user's.
var ErrMalformedHash = errors.New("password: malformed hash")

// Bounds a stored argon2id hash must respect. The string comes from the
// store, not the user, but a bad import must not be able to make one login
// allocate gigabytes, spin for minutes, or match every password.
const (
	minSaltLen = 8 // RFC 9106 §3.1
	maxSaltLen = 64
	// minKeyLen refuses short tags: a zero-length tag would compare equal
	// to every password's.
	minKeyLen    = 16
	maxKeyLen    = 128
	maxTime      = 64
	maxMemoryKiB = 1 << 20 // 1 GiB
)

const argon2idPrefix = "$argon2id$"

// b64 is the PHC string format's base64: standard alphabet, no padding.
// Strict refuses non-zero trailing bits so that each decoded value has one
// encoding, and decode followed by encode gives back the input.
var b64 = base64.RawStdEncoding.Strict()

// phc is a decoded argon2id PHC string.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

// encode returns the PHC string in the form the argon2 reference
// implementation writes: $argon2id$v=19$m=...,t=...,p=...$salt$key.
func (h phc) encode() string {
	var b strings.Builder
	b.Grow(len(argon2idPrefix) + 40 + b64.EncodedLen(len(h.salt)) + b64.EncodedLen(len(h.key)))
	b.WriteString(argon2idPrefix)
	b.WriteString("v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(h.params.MemoryKiB), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(h.params.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(h.params.Threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.key))
	return b.String()
}

// decodePHC parses an argon2id PHC string. It accepts exactly what encode
// writes: version 19 only, the parameters in the order m, t, p, decimal
// without leading zeros, no optional keyid or data fields, and values within
// the bounds above. Errors wrap ErrMalformedHash and never quote the input.
func decodePHC(s string) (phc, error) {
	rest, ok := strings.CutPrefix(s, argon2idPrefix)
	if !ok {
		return phc{}, malformed("not an argon2id hash")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return phc{}, malformed("want 4 fields after the algorithm, got %d", len(parts))
	}
	if parts[0] != "v=19" {
		return phc{}, malformed("unsupported version (want v=19)")
	}

	var p Params
	fields := strings.Split(parts[1], ",")
	if len(fields) != 3 {
		return phc{}, malformed("want parameters m,t,p")
	}
	m, err := decimalField(fields[0], "m=", 32)
	if err != nil {
		return phc{}, err
	}
	t, err := decimalField(fields[1], "t=", 32)
	if err != nil {
		return phc{}, err
	}
	threads, err := decimalField(fields[2], "p=", 8)
	if err != nil {
		return phc{}, err
	}
	p.MemoryKiB, p.Time, p.Threads = uint32(m), uint32(t), uint8(threads)

	salt, err := decodeB64(parts[2])
	if err != nil {
		return phc{}, malformed("salt is not base64")
	}
	key, err := decodeB64(parts[3])
	if err != nil {
		return phc{}, malformed("hash is not base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return phc{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return phc{params: p, salt: salt, key: key}, nil
}

// decimalField parses "name=digits" where digits is canonical: the decimal
// form strconv would write, so "m=019" or "m=+19" are refused.
func decimalField(field, name string, bits int) (uint64, error) {
	digits, ok := strings.CutPrefix(field, name)
	if !ok {
		return 0, malformed("want parameter %s", strings.TrimSuffix(name, "="))
	}
	v, err := strconv.ParseUint(digits, 10, bits)
	if err != nil || strconv.FormatUint(v, 10) != digits {
		return 0, malformed("parameter %s is not a canonical %d-bit decimal", strings.TrimSuffix(name, "="), bits)
	}
	return v, nil
}

// decodeB64 refuses the CR and LF that encoding/base64 silently skips
// (found by FuzzDecodePHC): they would give one hash many spellings.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return b64.DecodeString(s)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

package password

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
	"golang.org/x/text/unicode/norm"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// MaxBytes is the longest password, in bytes, that Policy.Check looks at.
// Longer input is refused before normalisation so nobody can make the
// server normalise megabytes. Validate caps MaxLength at MaxBytes/4 code
// points, so even a password of 4-byte characters meets MaxLength first.
const MaxBytes = 4096

// Policy says which new passwords are acceptable. Following NIST SP 800-63B
// §5.1.1.2 and OWASP ASVS 5.0 it has a length range and a blocklist, and
// no composition rules: those push people to predictable patterns.
type Policy struct {
	// MinLength in code points; zero means 8. A setting may raise it to
	// 15, which ASVS 5.0 strongly recommends and NIST SP 800-63B-4 requires
	// of a password used without a second factor.
	MinLength int
	// MaxLength in code points; zero means 256. Must be at least 64 so
	// passphrases and password managers are never cut short, and at most
	// MaxBytes/4.
	MaxLength int
}

// DefaultPolicy returns MinLength 8 and MaxLength 256.
func DefaultPolicy() Policy { return Policy{MinLength: 8, MaxLength: 256} }

// Validate returns an error unless p, with zero fields defaulted, has a
// minimum of at least 8 and a maximum of at least 64 (NIST's floors for
// each), a maximum of at most MaxBytes/4, and a minimum not above it.
func (p Policy) Validate() error {
	p = p.withDefaults()
	switch {
	case p.MinLength < 8:
		return fmt.Errorf("password policy: minimum length %d below 8", p.MinLength)
	case p.MaxLength < 64:
		return fmt.Errorf("password policy: maximum length %d below 64", p.MaxLength)
	case p.MaxLength > MaxBytes/4:
		return fmt.Errorf("password policy: maximum length %d above %d", p.MaxLength, MaxBytes/4)
	case p.MinLength > p.MaxLength:
		return errors.New("password policy: minimum length above maximum")
	}
	return nil
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.MinLength == 0 {
		p.MinLength = d.MinLength
	}
	if p.MaxLength == 0 {
		p.MaxLength = d.MaxLength
	}
	return p
}

// Check returns nil if password is acceptable as a new password for the
// account named username, else a *cordon.Error with ECodeWeakPassword and
// Field "password" whose message tells the person what to change. Length is
// counted in code points of the NFKC form, as Hasher hashes it, so an emoji
// or an accented letter counts as one. Nothing is ever truncated.
func (p Policy) Check(password, username string) error {
	p = p.withDefaults()
	if len(password) > MaxBytes {
		return weak("password is too long: it must be at most %d bytes", MaxBytes)
	}
	if !utf8.ValidString(password) {
		return weak("password must be valid UTF-8 text")
	}
	if strings.IndexByte(password, 0) >= 0 {
		// C strings, bcrypt implementations and terminals cut at NUL, so
		// such a password would not be the one the person thinks.
		return weak("password must not contain the NUL character")
	}
	nfkc := norm.NFKC.String(password)
	n := utf8.RuneCountInString(nfkc)
	if n < p.MinLength {
		return weak("password must be at least %d characters", p.MinLength)
	}
	if n > p.MaxLength {
		return weak("password must be at most %d characters", p.MaxLength)
	}
	if username != "" && strings.EqualFold(nfkc, norm.NFKC.String(username)) {
		return weak("password must not be the same as the username")
	}
	if _, ok := commonPasswords()[strings.ToLower(nfkc)]; ok {
		return weak("password is too common: it appears in lists of breached passwords")
	}
	return nil
}

func weak(format string, args ...any) error {
	return cordon.FieldError(cordon.ECodeWeakPassword, "password", format, args...)
}

// commonPasswords is zxcvbn's list of about 30,000 passwords most seen in
// breaches, lower-cased, built on first use so a process that never checks
// a policy never pays for the map.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.FrequencyLists["passwords"]
	set := make(map[string]struct{}, len(list))
	for _, pw := range list {
		set[strings.ToLower(pw)] = struct{}{}
	}
	return set
})

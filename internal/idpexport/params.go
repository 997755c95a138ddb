package idpexport

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cordon-dev/cordon/internal/password"
)

// FirebaseConfig is a Firebase project's password hash parameters as the
// console and the Admin SDK spell them.
type FirebaseConfig struct {
	Algorithm           string `json:"algorithm"`
	Base64SignerKey     string `json:"base64_signer_key"`
	Base64SaltSeparator string `json:"base64_salt_separator"`
	Rounds              int    `json:"rounds"`
	MemCost             int    `json:"mem_cost"`
}

// Params checks c and decodes it.
func (c FirebaseConfig) Params() (password.FirebaseParams, error) {
	if c.Algorithm != "" && !strings.EqualFold(c.Algorithm, "SCRYPT") {
		return password.FirebaseParams{}, fmt.Errorf("algorithm %q: only Firebase's SCRYPT can be imported", c.Algorithm)
	}
	key, err := base64.StdEncoding.DecodeString(c.Base64SignerKey)
	if err != nil {
		return password.FirebaseParams{}, fmt.Errorf("base64_signer_key is not base64")
	}
	sep, err := base64.StdEncoding.DecodeString(c.Base64SaltSeparator)
	if err != nil {
		return password.FirebaseParams{}, fmt.Errorf("base64_salt_separator is not base64")
	}
	p := password.FirebaseParams{SignerKey: key, SaltSeparator: sep, Rounds: c.Rounds, MemCost: c.MemCost}
	if err := p.Check(); err != nil {
		return password.FirebaseParams{}, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "password: malformed hash: "))
	}
	return p, nil
}

// ParseFirebaseConfig reads the parameters in either form an operator has
// them: JSON (the field names above, bare or under "hash_config"), or the
// text the Firebase console shows under "Password hash parameters":
//
//	hash_config {
//	  algorithm: SCRYPT,
//	  base64_signer_key: jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==,
//	  base64_salt_separator: Bw==,
//	  rounds: 8,
//	  mem_cost: 14,
//	}
//
// Every field but algorithm is required; an unknown field is an error.
func ParseFirebaseConfig(b []byte) (FirebaseConfig, error) {
	const maxConfig = 64 << 10
	if len(b) > maxConfig {
		return FirebaseConfig{}, fmt.Errorf("hash parameters longer than %d bytes", maxConfig)
	}
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\ufeff")))
	var c FirebaseConfig
	seen := map[string]bool{}
	if bytes.HasPrefix(b, []byte("{")) {
		var wrapped struct {
			HashConfig json.RawMessage `json:"hash_config"`
		}
		if json.Unmarshal(b, &wrapped) == nil && wrapped.HashConfig != nil {
			b = wrapped.HashConfig
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return FirebaseConfig{}, fmt.Errorf("hash parameters are not a JSON object: %v", err)
		}
		for k := range fields {
			seen[k] = true
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return FirebaseConfig{}, fmt.Errorf("hash parameters: %v", err)
		}
	} else {
		text := string(b)
		if rest, ok := strings.CutPrefix(text, "hash_config"); ok {
			rest = strings.TrimSpace(rest)
			inner, ok := strings.CutPrefix(rest, "{")
			if !ok || !strings.HasSuffix(inner, "}") {
				return FirebaseConfig{}, fmt.Errorf("hash_config must be followed by { ... }")
			}
			text = strings.TrimSuffix(inner, "}")
		}
		for i, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' }) {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return FirebaseConfig{}, fmt.Errorf("hash parameters: entry %d is not \"name: value\"", i+1)
			}
			k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
			if seen[k] {
				return FirebaseConfig{}, fmt.Errorf("hash parameters: %s given twice", k)
			}
			seen[k] = true
			var err error
			switch k {
			case "algorithm":
				c.Algorithm = v
			case "base64_signer_key":
				c.Base64SignerKey = v
			case "base64_salt_separator":
				c.Base64SaltSeparator = v
			case "rounds":
				c.Rounds, err = strconv.Atoi(v)
			case "mem_cost":
				c.MemCost, err = strconv.Atoi(v)
			default:
				return FirebaseConfig{}, fmt.Errorf("hash parameters: unknown field %q", k)
			}
			if err != nil {
				return FirebaseConfig{}, fmt.Errorf("hash parameters: %s is not a number", k)
			}
		}
	}
	for _, k := range []string{"base64_signer_key", "base64_salt_separator", "rounds", "mem_cost"} {
		if !seen[k] {
			return FirebaseConfig{}, fmt.Errorf("hash parameters: %s is missing", k)
		}
	}
	return c, nil
}

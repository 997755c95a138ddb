// Package idpexport reads the user exports of identity providers a
// company leaves — Keycloak's realm or users export and Firebase Auth's
// `auth:export` JSON — into accounts for cordon's import, each password
// hash rewritten in a form internal/password verifies (and replaces by
// argon2id at the user's next login).
//
// Exports are read as a stream, a user at a time, so an export of
// millions of users needs memory for one user, not for the file. A user
// that cannot be imported is a *Problem naming it, and reading goes on;
// only a file that is not JSON of the expected shape stops the reader.
package idpexport

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cordon-dev/cordon/internal/password"
)

// Record is one account to import.
type Record struct {
	Username     string
	PasswordHash string
	// Email is the user's address as the export gives it ("" when none);
	// the importer checks it.
	Email string
}

// Problem is a user of the export that yields no record.
type Problem struct {
	Index int    // the user's position in the export's users array, from 1
	Who   string // the username, email or id the export gives, if any
	// NoPassword says the user has no password to import (a social,
	// federated or passwordless login): nothing is wrong with the file.
	NoPassword bool
	Reason     string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("user %d (%s): %s", p.Index, p.Who, p.Reason)
}

// Options say how to map an export's users.
type Options struct {
	// UsernameFrom picks the cordon username: "username" (Keycloak's;
	// the default for Keycloak), "email" (the default for Firebase, whose
	// users sign in by email), or "local_id" (Firebase's uid).
	UsernameFrom string
	// Firebase holds the project's password hash parameters; a Firebase
	// user with a password cannot be read without them.
	Firebase *password.FirebaseParams
}

// Reader reads the users of one export. It is not safe for concurrent use.
type Reader struct {
	dec     *json.Decoder
	opt     Options
	state   int // 0 before the top-level object, 1 in it, 2 in users, 3 done
	index   int
	realm   bool // a top-level "realm" key was seen: a Keycloak export
	sawUser bool
}

// NewReader returns a Reader of the export r holds.
func NewReader(r io.Reader, opt Options) *Reader {
	return &Reader{dec: json.NewDecoder(r), opt: opt}
}

// ErrFirebaseParams stops a reader given no Firebase parameters at the
// first Firebase user with a password: every such user would fail alike.
var ErrFirebaseParams = errors.New("the export holds Firebase users with passwords: give the project's password hash parameters (--firebase-params)")

// errShape is wrapped by every error that stops the reader.
var errShape = errors.New("not a Keycloak or Firebase user export")

// Index returns the position of the user Next read last, from 1.
func (r *Reader) Index() int { return r.index }

// Next returns the next record. At the end it returns io.EOF; for a user
// that yields no record, a *Problem (call Next again); any other error
// means the file cannot be read further.
func (r *Reader) Next() (Record, error) {
	for {
		switch r.state {
		case 0:
			if t, err := r.dec.Token(); err != nil || t != json.Delim('{') {
				return Record{}, fmt.Errorf("%w: want a JSON object with a \"users\" array", errShape)
			}
			r.state = 1
		case 1:
			if !r.dec.More() {
				if _, err := r.dec.Token(); err != nil {
					return Record{}, fmt.Errorf("%w: %v", errShape, err)
				}
				if r.dec.More() {
					return Record{}, fmt.Errorf("%w: data after the top-level object", errShape)
				}
				r.state = 3
				if !r.sawUser {
					return Record{}, fmt.Errorf("%w: no \"users\" array", errShape)
				}
				return Record{}, io.EOF
			}
			t, err := r.dec.Token()
			if err != nil {
				return Record{}, fmt.Errorf("%w: %v", errShape, err)
			}
			key, _ := t.(string)
			switch key {
			case "users":
				if t, err := r.dec.Token(); err != nil || t != json.Delim('[') {
					return Record{}, fmt.Errorf("%w: \"users\" is not an array", errShape)
				}
				r.sawUser = true
				r.state = 2
			case "realm":
				r.realm = true
				fallthrough
			default:
				var skip json.RawMessage
				if err := r.dec.Decode(&skip); err != nil {
					return Record{}, fmt.Errorf("%w: %q: %v", errShape, key, err)
				}
			}
		case 2:
			if !r.dec.More() {
				if _, err := r.dec.Token(); err != nil {
					return Record{}, fmt.Errorf("%w: %v", errShape, err)
				}
				r.state = 1
				continue
			}
			r.index++
			var u user
			if err := r.dec.Decode(&u); err != nil {
				var typ *json.UnmarshalTypeError
				if errors.As(err, &typ) {
					// The JSON is whole, only this user has a field of the
					// wrong type: name it and go on.
					return Record{}, &Problem{Index: r.index, Who: u.who(), Reason: fmt.Sprintf("field %s has the wrong type", typ.Field)}
				}
				return Record{}, fmt.Errorf("%w: user %d: %v", errShape, r.index, err)
			}
			rec, err := r.record(u)
			if err != nil {
				return Record{}, err
			}
			return rec, nil
		default:
			return Record{}, io.EOF
		}
	}
}

// user holds the fields of both exports' user objects that matter here;
// every other field is ignored.
type user struct {
	// Keycloak (UserRepresentation).
	Username    string       `json:"username"`
	Email       string       `json:"email"`
	Credentials []credential `json:"credentials"`
	// Firebase (auth:export).
	LocalID      string `json:"localId"`
	PasswordHash string `json:"passwordHash"`
	Salt         string `json:"salt"`
}

func (u user) who() string {
	for _, s := range []string{u.Username, u.Email, u.LocalID} {
		if s != "" {
			return s
		}
	}
	return "no name"
}

func (r *Reader) record(u user) (Record, error) {
	problem := func(format string, args ...any) error {
		return &Problem{Index: r.index, Who: u.who(), Reason: fmt.Sprintf(format, args...)}
	}
	firebase := !r.realm && (u.LocalID != "" || u.PasswordHash != "")
	rec := Record{Email: u.Email}
	from := r.opt.UsernameFrom
	if from == "" {
		from = "username"
		if firebase {
			from = "email"
		}
	}
	switch from {
	case "username":
		rec.Username = u.Username
	case "email":
		rec.Username = u.Email
	case "local_id":
		rec.Username = u.LocalID
	}
	if rec.Username == "" {
		return Record{}, problem("has no %s to be its username", strings.ReplaceAll(from, "_", ""))
	}
	var err error
	if firebase {
		rec.PasswordHash, err = r.firebaseHash(u)
	} else {
		rec.PasswordHash, err = keycloakHash(u.Credentials)
	}
	if errors.Is(err, ErrFirebaseParams) {
		return Record{}, err
	}
	if err != nil {
		var p *Problem
		if errors.As(err, &p) {
			p.Index, p.Who = r.index, u.who()
			return Record{}, p
		}
		return Record{}, problem("%v", err)
	}
	return rec, nil
}

func (r *Reader) firebaseHash(u user) (string, error) {
	if u.PasswordHash == "" {
		return "", &Problem{NoPassword: true, Reason: "no password (a provider or passwordless sign-in)"}
	}
	if r.opt.Firebase == nil {
		return "", ErrFirebaseParams
	}
	hash, err := firebase64(u.PasswordHash)
	if err != nil {
		return "", errors.New("passwordHash is not base64")
	}
	salt, err := firebase64(u.Salt)
	if err != nil || len(salt) == 0 {
		return "", errors.New("salt is missing or not base64")
	}
	return password.EncodeFirebase(*r.opt.Firebase, salt, hash), nil
}

// firebase64 reads Firebase's base64: auth:export writes the standard
// alphabet, the Admin SDK's listUsers the URL-safe one; both padded.
func firebase64(s string) ([]byte, error) {
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return base64.StdEncoding.DecodeString(s)
}

// credential is a Keycloak CredentialRepresentation. secretData and
// credentialData are JSON documents inside JSON strings; exports before
// Keycloak 7 put the fields on the credential itself instead.
type credential struct {
	Type           string       `json:"type"`
	SecretData     embeddedJSON `json:"secretData"`
	CredentialData embeddedJSON `json:"credentialData"`
	// The fields of exports before Keycloak 7.
	HashedSalted   string `json:"hashedSaltedValue"`
	Salt           string `json:"salt"`
	HashIterations int    `json:"hashIterations"`
	Algorithm      string `json:"algorithm"`
}

// embeddedJSON takes a JSON document given as a JSON string, as
// Keycloak writes it, or given directly as an object.
type embeddedJSON []byte

func (e *embeddedJSON) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(b, []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = []byte(s)
		return nil
	}
	*e = append((*e)[:0], b...)
	return nil
}

type secretData struct {
	Value string `json:"value"`
	Salt  string `json:"salt"`
}

type credentialData struct {
	HashIterations int                 `json:"hashIterations"`
	Algorithm      string              `json:"algorithm"`
	Additional     map[string][]string `json:"additionalParameters"`
}

// keycloakDigests maps Keycloak's PBKDF2 provider ids to their digests.
var keycloakDigests = map[string]string{"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}

func keycloakHash(creds []credential) (string, error) {
	var c *credential
	for i := range creds {
		if creds[i].Type == "password" {
			if c != nil {
				return "", errors.New("more than one password credential")
			}
			c = &creds[i]
		}
	}
	if c == nil {
		return "", &Problem{NoPassword: true, Reason: "no password credential (a federated or social login)"}
	}
	var sd secretData
	var cd credentialData
	if len(c.SecretData) > 0 || len(c.CredentialData) > 0 {
		if err := json.Unmarshal(c.SecretData, &sd); err != nil {
			return "", errors.New("secretData is not a JSON object")
		}
		if err := json.Unmarshal(c.CredentialData, &cd); err != nil {
			return "", errors.New("credentialData is not a JSON object")
		}
	} else {
		sd = secretData{Value: c.HashedSalted, Salt: c.Salt}
		cd = credentialData{HashIterations: c.HashIterations, Algorithm: c.Algorithm}
	}
	value, err := base64.StdEncoding.DecodeString(sd.Value)
	if err != nil || len(value) == 0 {
		return "", errors.New("secretData value is missing or not base64")
	}
	salt, err := base64.StdEncoding.DecodeString(sd.Salt)
	if err != nil || len(salt) == 0 {
		return "", errors.New("secretData salt is missing or not base64")
	}
	if digest, ok := keycloakDigests[cd.Algorithm]; ok {
		if cd.HashIterations < 1 {
			return "", fmt.Errorf("hashIterations %d, want at least 1", cd.HashIterations)
		}
		return password.EncodePBKDF2(digest, cd.HashIterations, salt, value), nil
	}
	if cd.Algorithm == "argon2" {
		return keycloakArgon2(cd, salt, value)
	}
	return "", fmt.Errorf("unsupported Keycloak hash algorithm %q (want pbkdf2, pbkdf2-sha256, pbkdf2-sha512 or argon2)", cd.Algorithm)
}

// keycloakArgon2 writes a Keycloak argon2 credential (Keycloak 24's
// default outside FIPS mode) as the argon2id PHC string it is: type id,
// version 1.3 (= 19), memory in KiB, hashIterations passes.
func keycloakArgon2(cd credentialData, salt, value []byte) (string, error) {
	param := func(name, def string) string {
		if v := cd.Additional[name]; len(v) == 1 {
			return v[0]
		}
		return def
	}
	// Keycloak's defaults, used when a parameter is not in the export.
	if t := param("type", "id"); t != "id" {
		return "", fmt.Errorf("argon2 type %q: only argon2id can be imported", t)
	}
	if v := param("version", "1.3"); v != "1.3" {
		return "", fmt.Errorf("argon2 version %q: only 1.3 can be imported", v)
	}
	mem, err1 := strconv.ParseUint(param("memory", "7168"), 10, 32)
	par, err2 := strconv.ParseUint(param("parallelism", "1"), 10, 8)
	if err1 != nil || err2 != nil || cd.HashIterations < 1 {
		return "", errors.New("argon2 memory, parallelism or hashIterations is not a number")
	}
	if hl := param("hashLength", strconv.Itoa(len(value))); hl != strconv.Itoa(len(value)) {
		return "", fmt.Errorf("argon2 hashLength %s but the value has %d bytes", hl, len(value))
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", mem, cd.HashIterations, par, enc.EncodeToString(salt), enc.EncodeToString(value)), nil
}

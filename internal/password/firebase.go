package password

import (
	"crypto/aes"
	"crypto/cipher"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Firebase Auth hashes passwords with its "modified scrypt"
// (github.com/firebase/scrypt): the key derived by scrypt(password,
// salt || salt separator, N = 2^mem_cost, r = rounds, p = 1, 32 bytes)
// encrypts the project's signer key with AES-256-CTR under a zero IV, and
// the ciphertext is the user's hash. The signer key, salt separator, rounds
// and mem_cost are the project's "password hash parameters", the same for
// every user, so the import carries them in each hash:
//
//	$firebase-scrypt$ln=MEM_COST,r=ROUNDS,ss=SEPARATOR,sk=SIGNER_KEY$SALT$HASH
//
// with the PHC base64 (standard alphabet, no padding) for every byte
// string. The signer key works as a pepper: keeping it in each row makes the
// imported hashes as crackable as a Firebase export with its parameters —
// which is what the operator already holds — until each is replaced by
// argon2id at the user's next login.
const firebasePrefix = "$firebase-scrypt$"

// Bounds on Firebase's parameters: the Firebase Admin SDK takes rounds
// 1..8 and mem_cost 1..14, so scrypt's memory (128 × r × 2^mem_cost bytes)
// is at most 16 MiB, under one argon2id verify's 19 MiB.
const (
	maxFirebaseRounds  = 8
	maxFirebaseMemCost = 14
	minFirebaseKey     = 16 // the hash is as long as the signer key
	maxFirebaseKey     = 128
	maxFirebaseSalt    = 64
	maxFirebaseSep     = 64
)

// FirebaseParams are a Firebase project's password hash parameters, as
// the console shows them under "Password hash parameters".
type FirebaseParams struct {
	SignerKey     []byte
	SaltSeparator []byte
	Rounds        int
	MemCost       int
}

// Check reports whether p is within the bounds Verify accepts.
func (p FirebaseParams) Check() error {
	switch {
	case p.Rounds < 1 || p.Rounds > maxFirebaseRounds:
		return malformed("firebase rounds %d out of range 1..%d", p.Rounds, maxFirebaseRounds)
	case p.MemCost < 1 || p.MemCost > maxFirebaseMemCost:
		return malformed("firebase mem_cost %d out of range 1..%d", p.MemCost, maxFirebaseMemCost)
	case len(p.SignerKey) < minFirebaseKey || len(p.SignerKey) > maxFirebaseKey:
		return malformed("firebase signer key of %d bytes, want %d..%d", len(p.SignerKey), minFirebaseKey, maxFirebaseKey)
	case len(p.SaltSeparator) > maxFirebaseSep:
		return malformed("firebase salt separator of %d bytes, want at most %d", len(p.SaltSeparator), maxFirebaseSep)
	}
	return nil
}

// EncodeFirebase writes one user's Firebase hash with its project's
// parameters in the form Verify reads. It does not check bounds:
// CheckEncoded does, where the record can be named.
func EncodeFirebase(p FirebaseParams, salt, hash []byte) string {
	var b strings.Builder
	b.WriteString(firebasePrefix)
	b.WriteString("ln=")
	b.WriteString(strconv.Itoa(p.MemCost))
	b.WriteString(",r=")
	b.WriteString(strconv.Itoa(p.Rounds))
	b.WriteString(",ss=")
	b.WriteString(b64.EncodeToString(p.SaltSeparator))
	b.WriteString(",sk=")
	b.WriteString(b64.EncodeToString(p.SignerKey))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(hash))
	return b.String()
}

// firebaseHash is a decoded Firebase hash.
type firebaseHash struct {
	params     FirebaseParams
	salt, hash []byte
}

func (f firebaseHash) derive(password []byte) []byte {
	salt := make([]byte, 0, len(f.salt)+len(f.params.SaltSeparator))
	salt = append(append(salt, f.salt...), f.params.SaltSeparator...)
	key, err := scrypt.Key(password, salt, 1<<f.params.MemCost, f.params.Rounds, 1, 32)
	if err != nil {
		return nil // unreachable within Check's bounds; matches nothing
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil // a 32-byte key is always valid
	}
	out := make([]byte, len(f.params.SignerKey))
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(out, f.params.SignerKey)
	return out
}

func (f firebaseHash) stored() []byte { return f.hash }

func (f firebaseHash) sameCost() imported {
	p := f.params
	p.SignerKey = randomBytes(uint32(len(p.SignerKey)))
	return firebaseHash{params: p, salt: randomBytes(uint32(len(f.salt))), hash: randomBytes(uint32(len(f.hash)))}
}

// decodeFirebase accepts exactly what EncodeFirebase writes, within bounds.
func decodeFirebase(s string) (firebaseHash, error) {
	rest, _ := strings.CutPrefix(s, firebasePrefix)
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return firebaseHash{}, malformed("firebase hash: want $firebase-scrypt$PARAMS$SALT$HASH")
	}
	fields := strings.Split(parts[0], ",")
	if len(fields) != 4 {
		return firebaseHash{}, malformed("firebase hash: want parameters ln,r,ss,sk")
	}
	var f firebaseHash
	ln, err := decimalField(fields[0], "ln=", 8)
	if err != nil {
		return firebaseHash{}, err
	}
	r, err := decimalField(fields[1], "r=", 8)
	if err != nil {
		return firebaseHash{}, err
	}
	f.params.MemCost, f.params.Rounds = int(ln), int(r)
	ss, ok := strings.CutPrefix(fields[2], "ss=")
	if !ok {
		return firebaseHash{}, malformed("want parameter ss")
	}
	if f.params.SaltSeparator, err = decodeB64(ss); err != nil {
		return firebaseHash{}, malformed("firebase salt separator is not base64")
	}
	sk, ok := strings.CutPrefix(fields[3], "sk=")
	if !ok {
		return firebaseHash{}, malformed("want parameter sk")
	}
	if f.params.SignerKey, err = decodeB64(sk); err != nil {
		return firebaseHash{}, malformed("firebase signer key is not base64")
	}
	if f.salt, err = decodeB64(parts[1]); err != nil {
		return firebaseHash{}, malformed("firebase salt is not base64")
	}
	if f.hash, err = decodeB64(parts[2]); err != nil {
		return firebaseHash{}, malformed("firebase hash is not base64")
	}
	if err := f.params.Check(); err != nil {
		return firebaseHash{}, err
	}
	switch {
	case len(f.salt) < 1 || len(f.salt) > maxFirebaseSalt:
		return firebaseHash{}, malformed("firebase salt of %d bytes, want 1..%d", len(f.salt), maxFirebaseSalt)
	case len(f.hash) != len(f.params.SignerKey):
		return firebaseHash{}, malformed("firebase hash of %d bytes, want the signer key's %d", len(f.hash), len(f.params.SignerKey))
	}
	return f, nil
}

package password

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readVectors(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func std64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// checkVector verifies the right password (ok, and a rehash asked for) and
// a wrong one (not ok, no rehash) against encoded.
func checkVector(t *testing.T, h *Hasher, encoded, pw string) {
	t.Helper()
	if err := CheckEncoded(encoded); err != nil {
		t.Fatalf("CheckEncoded(%q): %v", encoded, err)
	}
	ok, rehash, err := h.Verify(t.Context(), pw, encoded)
	if err != nil || !ok || !rehash {
		t.Errorf("Verify(%q, %q) = %v, %v, %v; want true, true, nil", pw, encoded, ok, rehash, err)
	}
	// A wrong password fails; checked on the cheaper vectors only (each
	// family has some), as a verify of the slowest takes seconds under -race.
	if stored, _, _ := decodeImported(encoded); stored != nil {
		if p, ok := stored.(pbkdf2Hash); ok && p.iterations > 300_000 {
			return
		}
	}
	ok, rehash, err = h.Verify(t.Context(), pw+"x", encoded)
	if err != nil || ok || rehash {
		t.Errorf("Verify(wrong %q, %q) = %v, %v, %v; want false, false, nil", pw+"x", encoded, ok, rehash, err)
	}
}

// TestKeycloakVectors checks the vectors Java's PBKDF2WithHmacSHA* wrote
// (testdata/keycloak), encoded as the import encodes Keycloak credentials.
func TestKeycloakVectors(t *testing.T) {
	var vs []struct {
		Algorithm      string
		Password       string
		Salt           string
		HashIterations int
		Value          string
	}
	readVectors(t, "keycloak/vectors.json", &vs)
	if len(vs) != 6 {
		t.Fatalf("got %d vectors, want 6", len(vs))
	}
	digests := map[string]string{"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}
	h := NewHasher(DefaultParams(), Limits{})
	for _, v := range vs {
		enc := EncodePBKDF2(digests[v.Algorithm], v.HashIterations, std64(t, v.Salt), std64(t, v.Value))
		t.Run(v.Algorithm, func(t *testing.T) { checkVector(t, h, enc, v.Password) })
	}
}

// TestKeycloakEncoding pins the PHC spelling of a Keycloak credential.
func TestKeycloakEncoding(t *testing.T) {
	got := EncodePBKDF2("sha256", 27500, std64(t, "MDEyMzQ1Njc4OWFiY2RlZg=="), std64(t, "DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w=="))
	const want = "$pbkdf2-sha256$i=27500$MDEyMzQ1Njc4OWFiY2RlZg$DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w"
	if got != want {
		t.Errorf("EncodePBKDF2 = %q, want %q", got, want)
	}
}

// TestDjangoVectors checks Django's own test-suite hashes and the vectors
// written by following Django's encode with hashlib (testdata/django).
func TestDjangoVectors(t *testing.T) {
	h := NewHasher(DefaultParams(), Limits{})
	for _, file := range []string{"django/django-tests.json", "django/vectors.json"} {
		var vs []struct{ Django, Password, Encoded string }
		readVectors(t, file, &vs)
		if len(vs) < 5 {
			t.Fatalf("%s: got %d vectors, want at least 5", file, len(vs))
		}
		for _, v := range vs {
			t.Run(strings.SplitN(v.Encoded, "$", 3)[0]+"/"+strings.SplitN(v.Encoded, "$", 3)[1], func(t *testing.T) { checkVector(t, h, v.Encoded, v.Password) })
		}
	}
}

// TestFirebaseVectors checks the vectors firebase-scrypt wrote
// (testdata/firebase), the first being Firebase's README example.
func TestFirebaseVectors(t *testing.T) {
	var vs []struct {
		Project    string
		HashConfig struct {
			Base64SignerKey     string `json:"base64_signer_key"`
			Base64SaltSeparator string `json:"base64_salt_separator"`
			Rounds              int    `json:"rounds"`
			MemCost             int    `json:"mem_cost"`
		} `json:"hash_config"`
		Password, Salt, PasswordHash string
	}
	readVectors(t, "firebase/vectors.json", &vs)
	if len(vs) != 4 || vs[0].PasswordHash != "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==" {
		t.Fatalf("want 4 vectors, the first Firebase's README example")
	}
	h := NewHasher(DefaultParams(), Limits{})
	for _, v := range vs {
		p := FirebaseParams{
			SignerKey:     std64(t, v.HashConfig.Base64SignerKey),
			SaltSeparator: std64(t, v.HashConfig.Base64SaltSeparator),
			Rounds:        v.HashConfig.Rounds,
			MemCost:       v.HashConfig.MemCost,
		}
		enc := EncodeFirebase(p, std64(t, v.Salt), std64(t, v.PasswordHash))
		t.Run(v.Project, func(t *testing.T) { checkVector(t, h, enc, v.Password) })
	}
}

// TestFirebaseEncoding pins the spelling of Firebase's README example.
func TestFirebaseEncoding(t *testing.T) {
	p := FirebaseParams{
		SignerKey:     std64(t, "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="),
		SaltSeparator: std64(t, "Bw=="),
		Rounds:        8,
		MemCost:       14,
	}
	got := EncodeFirebase(p, std64(t, "42xEC+ixf3L2lw=="), std64(t, "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="))
	const want = "$firebase-scrypt$ln=14,r=8,ss=Bw,sk=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA$42xEC+ixf3L2lw$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ"
	if got != want {
		t.Errorf("EncodeFirebase = %q, want %q", got, want)
	}
}

// TestImportedNFKC: an imported hash of the NFKC form still verifies when
// the user types the decomposed form, as bcrypt imports do.
func TestImportedNFKC(t *testing.T) {
	// Django's test vector for "lètmein" with the è precomposed (U+00E8).
	const enc = "pbkdf2_sha256$36000$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0="
	h := NewHasher(DefaultParams(), Limits{})
	ok, _, err := h.Verify(t.Context(), "le\u0300tmein", enc)
	if err != nil || !ok {
		t.Errorf("Verify(decomposed) = %v, %v; want true, nil", ok, err)
	}
}

// TestImportedMalformed: each bad hash is refused by CheckEncoded and by
// Verify with ErrMalformedHash and a message that says what is wrong.
func TestImportedMalformed(t *testing.T) {
	const (
		salt16 = "MDEyMzQ1Njc4OWFiY2RlZg"
		key64  = "DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w"
		key32  = "R3K0/qHCuFj0pqALWIndrmFtzZPOjfRkzMtPRcizJmE"
		sk     = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA"
		fbHash = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ"
	)
	tests := []struct{ name, encoded, want string }{
		{"pbkdf2 md5", "$pbkdf2-md5$i=1000$" + salt16 + "$" + key32, "unsupported pbkdf2 digest"},
		{"pbkdf2 absurd iterations", "$pbkdf2-sha512$i=4000001$" + salt16 + "$" + key64, "pbkdf2 cost too high: 4000001 iterations × 1 blocks"},
		{"pbkdf2 sha256 512-bit key counts twice", "$pbkdf2-sha256$i=2000001$" + salt16 + "$" + key64, "pbkdf2 cost too high: 2000001 iterations × 2 blocks"},
		{"pbkdf2 iterations overflow", "$pbkdf2-sha256$i=99999999999$" + salt16 + "$" + key32, "parameter i is not a canonical"},
		{"pbkdf2 zero iterations", "$pbkdf2-sha256$i=0$" + salt16 + "$" + key32, "iterations must be at least 1"},
		{"pbkdf2 leading zero", "$pbkdf2-sha256$i=01000$" + salt16 + "$" + key32, "parameter i is not a canonical"},
		{"pbkdf2 short key", "$pbkdf2-sha256$i=1000$" + salt16 + "$AAAA", "pbkdf2 key of 3 bytes"},
		{"pbkdf2 empty key", "$pbkdf2-sha256$i=1000$" + salt16 + "$", "pbkdf2 key of 0 bytes"},
		{"pbkdf2 short salt", "$pbkdf2-sha256$i=1000$AAAA$" + key32, "pbkdf2 salt of 3 bytes"},
		{"pbkdf2 padded base64", "$pbkdf2-sha256$i=1000$" + salt16 + "==$" + key32, "pbkdf2 salt is not base64"},
		{"pbkdf2 extra field", "$pbkdf2-sha256$i=1000$" + salt16 + "$" + key32 + "$x", "want $pbkdf2-DIGEST$i=N$SALT$KEY"},
		{"django md5", "pbkdf2_md5$1000$salt$AAAA", "unsupported django algorithm"},
		{"django absurd iterations", "pbkdf2_sha256$4000001$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=", "pbkdf2 cost too high: 4000001 iterations"},
		{"django negative iterations", "pbkdf2_sha256$-1$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=", "django iterations are not a canonical decimal"},
		{"django empty salt", "pbkdf2_sha256$1000$$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=", "pbkdf2 salt of 0 bytes"},
		{"django control in salt", "pbkdf2_sha256$1000$sea\x00salt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=", "django salt must be printable"},
		{"django unpadded hash", "pbkdf2_sha256$1000$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0", "django hash is not base64"},
		{"django truncated hash", "pbkdf2_sha256$1000$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WR", "django hash of 24 bytes, want 32"},
		{"django sha1 with sha256 length", "pbkdf2_sha1$1000$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=", "django hash of 32 bytes, want 20"},
		{"django missing field", "pbkdf2_sha256$1000$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=", "want ALGORITHM$ITERATIONS$SALT$HASH"},
		{"firebase rounds 9", "$firebase-scrypt$ln=14,r=9,ss=Bw,sk=" + sk + "$42xEC+ixf3L2lw$" + fbHash, "firebase rounds 9 out of range 1..8"},
		{"firebase mem_cost 15", "$firebase-scrypt$ln=15,r=8,ss=Bw,sk=" + sk + "$42xEC+ixf3L2lw$" + fbHash, "firebase mem_cost 15 out of range 1..14"},
		{"firebase mem_cost 0", "$firebase-scrypt$ln=0,r=8,ss=Bw,sk=" + sk + "$42xEC+ixf3L2lw$" + fbHash, "firebase mem_cost 0 out of range"},
		{"firebase mem_cost 300", "$firebase-scrypt$ln=300,r=8,ss=Bw,sk=" + sk + "$42xEC+ixf3L2lw$" + fbHash, "parameter ln is not a canonical 8-bit decimal"},
		{"firebase short signer key", "$firebase-scrypt$ln=14,r=8,ss=Bw,sk=AAAA$42xEC+ixf3L2lw$AAAA", "firebase signer key of 3 bytes"},
		{"firebase hash shorter than key", "$firebase-scrypt$ln=14,r=8,ss=Bw,sk=" + sk + "$42xEC+ixf3L2lw$" + key32, "firebase hash of 32 bytes, want the signer key's 64"},
		{"firebase empty salt", "$firebase-scrypt$ln=14,r=8,ss=Bw,sk=" + sk + "$$" + fbHash, "firebase salt of 0 bytes"},
		{"firebase params out of order", "$firebase-scrypt$r=8,ln=14,ss=Bw,sk=" + sk + "$42xEC+ixf3L2lw$" + fbHash, "want parameter ln"},
		{"firebase missing signer key", "$firebase-scrypt$ln=14,r=8,ss=Bw$42xEC+ixf3L2lw$" + fbHash, "want parameters ln,r,ss,sk"},
	}
	h := NewHasher(DefaultParams(), Limits{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckEncoded(tt.encoded)
			if !errors.Is(err, ErrMalformedHash) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckEncoded = %v; want ErrMalformedHash saying %q", err, tt.want)
			}
			ok, rehash, err := h.Verify(t.Context(), "password", tt.encoded)
			if !errors.Is(err, ErrMalformedHash) || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false, ErrMalformedHash", ok, rehash, err)
			}
		})
	}
}

// TestImportedOverloaded: an imported hash takes a slot of the hashing
// pool like any verify, so a full pool refuses it with overloaded.
func TestImportedOverloaded(t *testing.T) {
	h := NewHasher(DefaultParams(), Limits{MaxConcurrent: 1, MaxQueue: -1})
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer h.release()
	_, _, err := h.Verify(t.Context(), "lètmein", "pbkdf2_sha256$36000$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=")
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("Verify with the pool full = %v; want the overloaded error", err)
	}
}

// TestSameCost: a dummy built from a stored hash keeps the family and the
// cost parameters and changes the secrets.
func TestSameCost(t *testing.T) {
	for _, enc := range []string{
		"$pbkdf2-sha256$i=27500$MDEyMzQ1Njc4OWFiY2RlZg$DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w",
		"$firebase-scrypt$ln=14,r=8,ss=Bw,sk=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA$42xEC+ixf3L2lw$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ",
	} {
		h, _, err := decodeImported(enc)
		if err != nil {
			t.Fatal(err)
		}
		switch d := h.sameCost().(type) {
		case pbkdf2Hash:
			if d.iterations != 27500 || d.digest != "sha256" || len(d.key) != 64 || len(d.salt) != 16 || string(d.key) == string(h.stored()) {
				t.Errorf("sameCost = %+v; want sha256, 27500 iterations, new 64-byte key", d)
			}
		case firebaseHash:
			if d.params.MemCost != 14 || d.params.Rounds != 8 || len(d.hash) != 64 || string(d.hash) == string(h.stored()) {
				t.Errorf("sameCost = %+v; want ln=14, r=8, new 64-byte hash", d.params)
			}
		}
	}
}

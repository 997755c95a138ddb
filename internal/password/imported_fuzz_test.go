package password

import (
	"errors"
	"strconv"
	"testing"
)

// FuzzDecodeImported checks the imported-hash decoders never panic, refuse
// with ErrMalformedHash only, stay within their cost bounds, and accept
// only canonical PHC spellings: what they accept encodes back the same.
func FuzzDecodeImported(f *testing.F) {
	for _, s := range []string{
		"$pbkdf2-sha256$i=27500$MDEyMzQ1Njc4OWFiY2RlZg$DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w",
		"$pbkdf2-sha512$i=1$MDEyMzQ1Njc4OWFiY2RlZg$R3K0/qHCuFj0pqALWIndrmFtzZPOjfRkzMtPRcizJmE",
		"$pbkdf2-sha1$i=99999999999$$",
		"pbkdf2_sha256$36000$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0=",
		"pbkdf2_sha1$20000$seasalt$PW/H5xF0MPTAW7JTY/RAPV+r8mo=",
		"pbkdf2_sha256$$$",
		"$firebase-scrypt$ln=14,r=8,ss=Bw,sk=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA$42xEC+ixf3L2lw$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ",
		"$firebase-scrypt$ln=1,r=1,ss=,sk=o25VE1GlBbVFqqLFjPEnf1umY1zGsfP/zwGhEmvdlYo$KngwkjtNMH4YOHcSHuXZuQ$UAnzB8dx4jnbK3jZEkYMIT9MSFYHxGa4IhrO6wZ0nPE",
		"$firebase-scrypt$$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, isImported, err := decodeImported(s)
		if !isImported {
			return
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("decodeImported error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		switch h := h.(type) {
		case pbkdf2Hash:
			blocks := (len(h.key) + digestSize(h.digest) - 1) / digestSize(h.digest)
			if h.iterations < 1 || h.iterations*blocks > maxPBKDF2Work || len(h.key) < minPBKDF2Key || len(h.salt) < 1 {
				t.Fatalf("accepted %q beyond the bounds: %+v", s, h)
			}
			if s[0] == '$' {
				if again := EncodePBKDF2(h.digest, h.iterations, h.salt, h.key); again != s {
					t.Fatalf("EncodePBKDF2(decode(%q)) = %q", s, again)
				}
			} else if again := "pbkdf2_" + h.digest + "$" + strconv.Itoa(h.iterations) + "$" + string(h.salt) + "$" + djangoB64.EncodeToString(h.key); again != s {
				t.Fatalf("django re-encoding of %q = %q", s, again)
			}
		case firebaseHash:
			if err := h.params.Check(); err != nil || len(h.hash) != len(h.params.SignerKey) {
				t.Fatalf("accepted %q beyond the bounds: %v", s, err)
			}
			if again := EncodeFirebase(h.params, h.salt, h.hash); again != s {
				t.Fatalf("EncodeFirebase(decode(%q)) = %q", s, again)
			}
		default:
			t.Fatalf("decodeImported returned %T", h)
		}
	})
}

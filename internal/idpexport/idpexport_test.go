package idpexport

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/password"
)

// readAll reads every record and problem of an export.
func readAll(t *testing.T, r *Reader) (recs []Record, problems []string) {
	t.Helper()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, problems
		}
		var p *Problem
		if errors.As(err, &p) {
			problems = append(problems, p.Error())
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		recs = append(recs, rec)
	}
}

func openFixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestKeycloakRealmExport(t *testing.T) {
	recs, problems := readAll(t, NewReader(openFixture(t, "keycloak-realm-export.json"), Options{}))
	want := []Record{
		{"alice", "$pbkdf2-sha256$i=27500$MDEyMzQ1Njc4OWFiY2RlZg$DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w", "alice@example.com"},
		{"bob", "$pbkdf2-sha512$i=1000$c2FsdHNhbHRzYWx0c2FsdA$MskxH/GQikgB6wLzGw8kt/78Mnb6U97f2Fus7XTA2vNkkLUK/w5z/x3s3LPKAUTh0s0M1whakZHn799al42dOg", "bob@example.com"},
		{"carol", "$pbkdf2-sha1$i=20000$MDEyMzQ1Njc4OWFiY2RlZg$bGA8dYbWVrVXsKOE00I1ClfNGpoWz2WVav1jk/DZ/99jKDUxTJ1BCNB79LOm8ZcDpqKGASU4/1W6q1MIiuht5Q", "carol@example.com"},
		{"erin", "$argon2id$v=19$m=7168,t=5,p=1$a2V5Y2xvYWstc2FsdC0xNg$4NwHBJRNxevFEhlyajd++btjYfhoTbUfJGQQvOEfNgg", ""},
		// The reader converts; the server's bounds refuse it, naming grace.
		{"grace", "$pbkdf2-sha256$i=2000000000$MDEyMzQ1Njc4OWFiY2RlZg$DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records %v, want %d", len(recs), recs, len(want))
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, recs[i], want[i])
		}
	}
	wantProblems := []string{
		"user 4 (dave): no password credential (a federated or social login)",
		`user 6 (frank): unsupported Keycloak hash algorithm "sha1-legacy" (want pbkdf2, pbkdf2-sha256, pbkdf2-sha512 or argon2)`,
	}
	if strings.Join(problems, "\n") != strings.Join(wantProblems, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(wantProblems, "\n"))
	}
	// The converted hashes verify with the passwords Java hashed.
	h := password.NewHasher(password.DefaultParams(), password.Limits{})
	for _, c := range []struct {
		i  int
		pw string
	}{{0, "correct horse battery staple"}, {1, "Pässwörd ✓ 日本"}, {2, "correct horse battery staple"}, {3, "erin's argon2 password"}} {
		if ok, rehash, err := h.Verify(t.Context(), c.pw, recs[c.i].PasswordHash); !ok || !rehash || err != nil {
			t.Errorf("Verify(%s) = %v, %v, %v; want true, true, nil", recs[c.i].Username, ok, rehash, err)
		}
	}
}

func TestKeycloakUsernameFromEmail(t *testing.T) {
	recs, problems := readAll(t, NewReader(openFixture(t, "keycloak-realm-export.json"), Options{UsernameFrom: "email"}))
	var names []string
	for _, r := range recs {
		names = append(names, r.Username)
	}
	if got := strings.Join(names, " "); got != "alice@example.com bob@example.com carol@example.com" {
		t.Errorf("usernames = %s, want alice@example.com bob@example.com carol@example.com", got)
	}
	if len(problems) != 4 || problems[1] != "user 5 (erin): has no email to be its username" {
		t.Errorf("problems = %q, want 4 with erin's missing email second", problems)
	}
}

func firebaseReadme(t *testing.T) *password.FirebaseParams {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "firebase-hash-config.txt"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseFirebaseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Params()
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestFirebaseExport(t *testing.T) {
	recs, problems := readAll(t, NewReader(openFixture(t, "firebase-auth-export.json"), Options{Firebase: firebaseReadme(t)}))
	const params = "$firebase-scrypt$ln=14,r=8,ss=Bw,sk=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA"
	want := []Record{
		{"user1@example.com", params + "$42xEC+ixf3L2lw$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ", "user1@example.com"},
		{"user2@example.com", params + "$Q08zcLdRrMrCZQ$f5DVNp20B5o8GWQ1Xr0GN7N6eZKPa02Gk/VXT4sHokex9gPeAaEpVvwp37xqmkIzKBGMLBrPXCBhcb6fWTEqjA", "user2@example.com"},
	}
	if len(recs) != 2 || recs[0] != want[0] || recs[1] != want[1] {
		t.Errorf("records = %+v, want %+v", recs, want)
	}
	wantProblems := "user 3 (social@example.com): no password (a provider or passwordless sign-in)\n" +
		"user 4 (Pp1hH2oO3nN4eE5pP6hH7oO8nN9e): has no email to be its username"
	if got := strings.Join(problems, "\n"); got != wantProblems {
		t.Errorf("problems:\n%s\nwant:\n%s", got, wantProblems)
	}
	h := password.NewHasher(password.DefaultParams(), password.Limits{})
	for i, pw := range []string{"user1password", "Pässwörd ✓ 日本"} {
		if ok, _, err := h.Verify(t.Context(), pw, recs[i].PasswordHash); !ok || err != nil {
			t.Errorf("Verify(%s) = %v, %v; want true, nil", recs[i].Username, ok, err)
		}
	}
}

func TestFirebaseWithoutParams(t *testing.T) {
	_, err := NewReader(openFixture(t, "firebase-auth-export.json"), Options{UsernameFrom: "local_id"}).Next()
	if !errors.Is(err, ErrFirebaseParams) || !strings.Contains(err.Error(), "--firebase-params") {
		t.Errorf("Next = %v, want ErrFirebaseParams asking for --firebase-params", err)
	}
}

func TestBadExports(t *testing.T) {
	tests := []struct{ name, input, want string }{
		{"array", `[{"username":"a"}]`, "want a JSON object"},
		{"no users", `{"realm":"acme"}`, `no "users" array`},
		{"users not an array", `{"users":{}}`, `"users" is not an array`},
		{"truncated", `{"users":[{"username":"a","credentials":[`, "user 1"},
		{"two documents", `{"users":[]} {"users":[]}`, "data after the top-level object"},
		{"empty", ``, "want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.input), Options{})
			var err error
			for range 10 {
				if _, err = r.Next(); err != nil {
					var p *Problem
					if !errors.As(err, &p) {
						break
					}
				}
			}
			if err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Next = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestWrongTypeNamesTheUser(t *testing.T) {
	r := NewReader(strings.NewReader(`{"users":[{"username":"a","credentials":"nope"},{"username":"b","credentials":[]}]}`), Options{})
	recs, problems := readAll(t, r)
	if len(recs) != 0 || len(problems) != 2 || !strings.HasPrefix(problems[0], "user 1 (a): field credentials has the wrong type") {
		t.Errorf("records %v, problems %q; want user 1's wrong type named, then user 2 without password", recs, problems)
	}
}

func TestParseFirebaseConfig(t *testing.T) {
	const key = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
	good := []struct{ name, input string }{
		{"console text", "hash_config {\n  algorithm: SCRYPT,\n  base64_signer_key: " + key + ",\n  base64_salt_separator: Bw==,\n  rounds: 8,\n  mem_cost: 14,\n}\n"},
		{"JSON", `{"base64_signer_key":"` + key + `","base64_salt_separator":"Bw==","rounds":8,"mem_cost":14}`},
		{"JSON under hash_config", `{"hash_config":{"algorithm":"SCRYPT","base64_signer_key":"` + key + `","base64_salt_separator":"Bw==","rounds":8,"mem_cost":14}}`},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseFirebaseConfig([]byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Params()
			if err != nil || p.Rounds != 8 || p.MemCost != 14 || len(p.SignerKey) != 64 || string(p.SaltSeparator) != "\x07" {
				t.Errorf("Params = %+v, %v; want rounds 8, mem_cost 14, a 64-byte key, separator 0x07", p, err)
			}
		})
	}
	bad := []struct{ name, input, want string }{
		{"mem_cost 20", `{"base64_signer_key":"` + key + `","base64_salt_separator":"Bw==","rounds":8,"mem_cost":20}`, "firebase mem_cost 20 out of range 1..14"},
		{"rounds 0", "rounds: 0\nmem_cost: 14\nbase64_signer_key: " + key + "\nbase64_salt_separator: Bw==", "firebase rounds 0 out of range 1..8"},
		{"missing key", "rounds: 8\nmem_cost: 14\nbase64_salt_separator: Bw==", "base64_signer_key is missing"},
		{"unknown field", "rounds: 8\nmemcost: 14", `unknown field "memcost"`},
		{"HMAC_SHA256", "algorithm: HMAC_SHA256\nrounds: 8\nmem_cost: 14\nbase64_signer_key: " + key + "\nbase64_salt_separator: Bw==", `algorithm "HMAC_SHA256"`},
		{"key not base64", "rounds: 8\nmem_cost: 14\nbase64_signer_key: !!\nbase64_salt_separator: Bw==", "base64_signer_key is not base64"},
		{"twice", "rounds: 8\nrounds: 4", "rounds given twice"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseFirebaseConfig([]byte(tt.input))
			if err == nil {
				_, err = c.Params()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// FuzzReader: any input ends in io.EOF or an error within a bounded number
// of calls, never a panic, and every record has a username and a hash of a
// family the verifier knows.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"keycloak-realm-export.json", "firebase-auth-export.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"users":[{"username":"a","credentials":[{"type":"password","secretData":{"value":"AA==","salt":"AA=="},"credentialData":{"algorithm":"argon2","hashIterations":1}}]}]}`))
	p := &password.FirebaseParams{SignerKey: make([]byte, 16), Rounds: 1, MemCost: 1}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(strings.NewReader(string(b)), Options{Firebase: p})
		for i := 0; ; i++ {
			if i > len(b)+2 {
				t.Fatalf("no end after %d calls", i)
			}
			rec, err := r.Next()
			var prob *Problem
			if errors.As(err, &prob) {
				continue
			}
			if err != nil {
				return
			}
			if rec.Username == "" || !password.KnownFamily(rec.PasswordHash) {
				t.Fatalf("record %+v has no username or an unknown hash family", rec)
			}
		}
	})
}

func FuzzParseFirebaseConfig(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "firebase-hash-config.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"hash_config":{"base64_signer_key":"AA==","base64_salt_separator":"","rounds":1,"mem_cost":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseFirebaseConfig(b)
		if err != nil {
			return
		}
		p, err := c.Params()
		if err != nil {
			return
		}
		if err := p.Check(); err != nil {
			t.Fatalf("Params accepted %+v beyond the bounds: %v", p, err)
		}
	})
}

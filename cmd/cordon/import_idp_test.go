package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Hashes from the systems users leave, each a vector written by that
// system's own code (see internal/password/testdata).
const (
	keycloakAlice  = "$pbkdf2-sha256$i=27500$MDEyMzQ1Njc4OWFiY2RlZg$DGzF4+RpmttWHV7FCaK41NYsG4Rc9QqDO8q71k0T1ODS+Ooo+SM5Ep4eJNd+eywW2X+UkNdTatqTScXAD7qm+w"
	keycloakBob    = "$pbkdf2-sha512$i=1000$c2FsdHNhbHRzYWx0c2FsdA$MskxH/GQikgB6wLzGw8kt/78Mnb6U97f2Fus7XTA2vNkkLUK/w5z/x3s3LPKAUTh0s0M1whakZHn799al42dOg"
	djangoTest     = "pbkdf2_sha256$36000$seasalt$mEUPPFJkT/xtwDU8rB7Q+puHRZnR07WRjerTkt/3HI0="
	djangoSHA1     = "pbkdf2_sha1$20000$seasalt$PW/H5xF0MPTAW7JTY/RAPV+r8mo="
	firebaseParams = "$firebase-scrypt$ln=14,r=8,ss=Bw,sk=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA"
	firebaseUser1  = firebaseParams + "$42xEC+ixf3L2lw$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ"
)

// TestImportFromOtherSystems imports a user of each system through the
// admin API, logs each in through the client API, and checks the stored
// hash became argon2id — and that hashes the verifier would refuse are
// refused at the door, each problem naming its record.
func TestImportFromOtherSystems(t *testing.T) {
	m := apiServer(t)
	ctx := context.Background()
	users := []struct{ name, hash, pw string }{
		{"kc-alice", keycloakAlice, "correct horse battery staple"},
		{"kc-bob", keycloakBob, "Pässwörd ✓ 日本"},
		{"dj-test", djangoTest, "lètmein"},
		{"dj-sha1", djangoSHA1, "lètmein"},
		{"fb-user1@example.com", firebaseUser1, "user1password"},
	}
	var recs []map[string]string
	for _, u := range users {
		recs = append(recs, map[string]string{"username": u.name, "password_hash": u.hash})
	}
	r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"), ndjson(recs...))
	if r.status != http.StatusOK || r.body["created"] != float64(5) || r.body["invalid"] != float64(0) {
		t.Fatalf("import: %v, want 5 created", r)
	}
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			if code, out := login(t, m, u.name, u.pw+" but wrong", ""); code != http.StatusUnauthorized {
				t.Errorf("wrong password: %d %v, want 401", code, out)
			}
			acct, err := m.store.AccountByUsername(ctx, u.name)
			if err != nil {
				t.Fatal(err)
			}
			if acct.PasswordHash != u.hash {
				t.Errorf("a failed login changed the stored hash to %.20q…", acct.PasswordHash)
			}
			mustLogin(t, m, u.name, u.pw, "")
			if acct, err = m.store.AccountByUsername(ctx, u.name); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(acct.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Errorf("stored hash after login = %.30q…, want $argon2id$v=19$m=64,t=1,p=1$", acct.PasswordHash)
			}
			mustLogin(t, m, u.name, u.pw, "")
			if code, out := login(t, m, u.name, u.pw+" but wrong", ""); code != http.StatusUnauthorized {
				t.Errorf("wrong password after the rehash: %d %v, want 401", code, out)
			}
		})
	}

	t.Run("hashes the verifier refuses", func(t *testing.T) {
		hostile := []struct{ name, hash, want string }{
			{"kc-absurd", strings.Replace(keycloakAlice, "i=27500", "i=2000000000", 1), "pbkdf2 cost too high: 2000000000 iterations × 2 blocks"},
			{"kc-md5", strings.Replace(keycloakAlice, "sha256", "md5", 1), "unsupported pbkdf2 digest"},
			{"dj-absurd", strings.Replace(djangoTest, "$36000$", "$90000000$", 1), "pbkdf2 cost too high: 90000000 iterations"},
			{"dj-truncated", djangoTest[:len(djangoTest)-12], "django hash"},
			{"fb-mem-cost-20", strings.Replace(firebaseUser1, "ln=14", "ln=20", 1), "firebase mem_cost 20 out of range 1..14"},
			{"fb-rounds-64", strings.Replace(firebaseUser1, "r=8", "r=64", 1), "firebase rounds 64 out of range 1..8"},
			{"fb-short-hash", firebaseParams + "$42xEC+ixf3L2lw$AAAAAAAAAAAAAAAAAAAAAA", "firebase hash of 16 bytes, want the signer key's 64"},
			{"unknown-family", "{SSHA}abcdefgh", "password_hash must be bcrypt"},
		}
		var recs []map[string]string
		for _, h := range hostile {
			recs = append(recs, map[string]string{"username": h.name, "password_hash": h.hash})
		}
		r := send(t, "POST", m.URL()+"/admin/v1/accounts/import", importHdr("application/x-ndjson"), ndjson(recs...))
		if r.status != http.StatusOK || r.body["created"] != float64(0) || r.body["invalid"] != float64(len(hostile)) {
			t.Fatalf("import: %v, want all %d invalid", r, len(hostile))
		}
		problems, _ := r.body["problems"].([]any)
		if len(problems) != len(hostile) {
			t.Fatalf("problems = %v, want %d", problems, len(hostile))
		}
		for i, h := range hostile {
			p, _ := problems[i].(map[string]any)
			if p["index"] != float64(i) || p["username"] != h.name || !strings.Contains(p["error"].(string), h.want) {
				t.Errorf("problem %d = %v, want index %d, username %s, error saying %q", i, p, i, h.name, h.want)
			}
			if code, out := login(t, m, h.name, "any password at all", ""); code != http.StatusUnauthorized {
				t.Errorf("login of the refused %s: %d %v, want 401", h.name, code, out)
			}
		}
	})
}

const exportFixtures = "../../internal/idpexport/testdata"

// TestCLIImportKeycloakExport: `cordon user import` reads a Keycloak realm
// export directly, names every user it could not import, and the users it
// did import log in with their Keycloak passwords.
func TestCLIImportKeycloakExport(t *testing.T) {
	m := cliServer(t)
	r := cli(t, "", "user", "import", filepath.Join(exportFixtures, "keycloak-realm-export.json"))
	if r.code != 1 {
		t.Errorf("exit code %d, want 1 (some users invalid): %v", r.code, r)
	}
	if want := "imported 4 account(s); 0 existed already; 2 invalid; 1 without a password skipped\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	for _, want := range []string{
		"user 4 (dave): no password credential",
		`user 6 (frank): unsupported Keycloak hash algorithm "sha1-legacy"`,
		"user 7 (grace): password_hash is not usable: malformed hash: pbkdf2 cost too high: 2000000000 iterations × 2 blocks of key is above 4000000",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}
	for name, pw := range map[string]string{
		"alice": "correct horse battery staple",
		"bob":   "Pässwörd ✓ 日本",
		"carol": "correct horse battery staple",
		"erin":  "erin's argon2 password",
	} {
		if code, out := login(t, m, name, pw, ""); code != http.StatusOK {
			t.Errorf("login %s: %d %v, want 200", name, code, out)
		}
	}
	// The export's email addresses come along (erin has none).
	for name, want := range map[string]string{"alice": "alice@example.com", "bob": "bob@example.com", "carol": "carol@example.com", "erin": ""} {
		if a, err := m.store.AccountByUsername(t.Context(), name); err != nil || a.Email != want {
			t.Errorf("%s's email: got %q (%v), want %q", name, a.Email, err, want)
		}
	}
}

// TestCLIImportFirebaseExport: a Firebase auth:export file with the
// project's parameters, by file and by flags; emails become usernames.
func TestCLIImportFirebaseExport(t *testing.T) {
	export := filepath.Join(exportFixtures, "firebase-auth-export.json")
	tests := []struct {
		name  string
		flags []string
	}{
		{"params file", []string{"--firebase-params", filepath.Join(exportFixtures, "firebase-hash-config.txt")}},
		{"flags", []string{"--firebase-signer-key", "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
			"--firebase-salt-separator", "Bw==", "--firebase-rounds", "8", "--firebase-mem-cost", "14"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := cliServer(t)
			r := cli(t, "", append([]string{"user", "import", export}, tt.flags...)...)
			if want := "imported 2 account(s); 0 existed already; 1 invalid; 1 without a password skipped\n"; r.stdout != want {
				t.Errorf("stdout = %q, want %q (%v)", r.stdout, want, r)
			}
			if !strings.Contains(r.stderr, "user 4 (Pp1hH2oO3nN4eE5pP6hH7oO8nN9e): has no email to be its username") {
				t.Errorf("stderr does not name user 4:\n%s", r.stderr)
			}
			for name, pw := range map[string]string{"user1@example.com": "user1password", "user2@example.com": "Pässwörd ✓ 日本"} {
				if code, out := login(t, m, name, pw, ""); code != http.StatusOK {
					t.Errorf("login %s: %d %v, want 200", name, code, out)
				}
			}
		})
	}

	bad := []struct {
		name     string
		flags    []string
		wantCode int
		want     string
	}{
		{"no parameters", nil, 1, "give the project's password hash parameters (--firebase-params)"},
		{"mem_cost out of bounds", []string{"--firebase-signer-key", "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
			"--firebase-salt-separator", "Bw==", "--firebase-rounds", "8", "--firebase-mem-cost", "30"}, 2, "firebase mem_cost 30 out of range 1..14"},
		{"file and flags", []string{"--firebase-params", "x", "--firebase-rounds", "8"}, 2, "not both"},
		{"bad username source", []string{"--username-from", "phone"}, 2, "--username-from must be"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			cliServer(t)
			r := cli(t, "", append([]string{"user", "import", export}, tt.flags...)...)
			if r.code != tt.wantCode || r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("got %v; want exit %d saying %q", r, tt.wantCode, tt.want)
			}
		})
	}
}

// TestCLIImportDjangoCSV: Django's auth_user rows, exported as CSV, import
// with their password column as password_hash unchanged.
func TestCLIImportDjangoCSV(t *testing.T) {
	m := cliServer(t)
	path := writeFile(t, "auth_user.csv", "username,password_hash\nada,"+djangoTest+"\nbea,"+djangoSHA1+"\n")
	r := cli(t, "", "user", "import", path)
	if r.err != nil || r.stdout != "imported 2 account(s); 0 existed already; 0 invalid\n" {
		t.Fatalf("import: %v", r)
	}
	for i, name := range []string{"ada", "bea"} {
		if code, out := login(t, m, name, "lètmein", ""); code != http.StatusOK {
			t.Errorf("login %s (%s): %d %v, want 200", name, strconv.Itoa(i), code, out)
		}
	}
}

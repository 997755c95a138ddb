package token

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// signedPayloads are claims payloads as Signer writes them, with and
// without the optional claims, one and several audiences.
func signedPayloads(t testing.TB) [][]byte {
	t.Helper()
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	var out [][]byte
	for _, c := range []wireClaims{
		{Claims: jwt.Claims{Issuer: "https://id.example", Subject: "a-1", Audience: jwt.Audience{"api"}, Expiry: jwt.NewNumericDate(at.Add(15 * time.Minute)),
			IssuedAt: jwt.NewNumericDate(at), ID: "j-1"}, ClientID: "app", SessionID: "s-1"},
		{Claims: jwt.Claims{Issuer: "https://id.example", Subject: "a-2", Audience: jwt.Audience{"api", "gate"}, Expiry: jwt.NewNumericDate(at.Add(15 * time.Minute)),
			NotBefore: jwt.NewNumericDate(at), IssuedAt: jwt.NewNumericDate(at), ID: "j-2"}, ClientID: "app", SessionID: "s-2",
			AuthTime: jwt.NewNumericDate(at.Add(-time.Hour)), Platform: "android", Version: "8.4.1", Source: "play"},
	} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestOwnClaims: what Signer writes is read without encoding/json and
// equals what encoding/json reads; anything else is left to it.
func TestOwnClaims(t *testing.T) {
	for _, p := range signedPayloads(t) {
		got, ok := ownClaims(p)
		if !ok {
			t.Fatalf("ownClaims refused Signer's own payload %s", p)
		}
		var want wireClaims
		if err := json.Unmarshal(p, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ownClaims(%s) = %+v, json.Unmarshal %+v", p, got, want)
		}
	}
	for _, p := range []string{
		``, `{`, `{}x`, `[]`, ` {}`,
		`{"iss":"a","iss":"b"}`,                    // repeated: json keeps the last
		`{"sub":"a","iss":"b"}`,                    // out of order
		`{"ISS":"a"}`,                              // json matches names in any case
		`{"iss":"a\u0062"}`,                        // an escape
		`{"iss":"caf` + "\xc3\xa9" + `"}`,          // not ASCII
		`{"iss":"a", "sub":"b"}`,                   // white space
		`{"exp":1.5}`, `{"exp":-1}`, `{"exp":1e9}`, // not an unsigned integer
		`{"exp":01}`, `{"exp":1234567890123456}`, // leading zero, 16 digits
		`{"aud":[]}`, `{"aud":["a",1]}`, `{"aud":null}`, // not strings
		`{"iss":null}`, `{"other":"x"}`, `{"iss":"a",}`,
	} {
		if _, ok := ownClaims([]byte(p)); ok {
			t.Errorf("ownClaims accepted %q", p)
		}
	}
}

// FuzzOwnClaims: for every payload ownClaims accepts, encoding/json reads
// the same claims; a payload it refuses is left to encoding/json.
func FuzzOwnClaims(f *testing.F) {
	for _, p := range signedPayloads(f) {
		f.Add(p)
		f.Add([]byte(strings.Replace(string(p), `"api"`, `["api","x"]`, 1)))
	}
	f.Add([]byte(`{"iss":"a","exp":0}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		got, ok := ownClaims(p)
		if !ok {
			return
		}
		var want wireClaims
		if err := json.Unmarshal(p, &want); err != nil {
			t.Fatalf("ownClaims accepted %q, which encoding/json refuses: %v", p, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ownClaims(%q) = %+v, json.Unmarshal %+v", p, got, want)
		}
	})
}

// BenchmarkOwnClaims reads Signer's payload with ownClaims; its baseline
// BenchmarkOwnClaimsJSON with encoding/json, as before.
func BenchmarkOwnClaims(b *testing.B) {
	p := signedPayloads(b)[1]
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ownClaims(p); !ok {
			b.Fatal("refused")
		}
	}
}

func BenchmarkOwnClaimsJSON(b *testing.B) {
	p := signedPayloads(b)[1]
	b.ReportAllocs()
	for b.Loop() {
		var wc wireClaims
		if err := json.Unmarshal(p, &wc); err != nil {
			b.Fatal(err)
		}
	}
}

package gate

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/token"
)

// FuzzHandler sends arbitrary Authorization and Cordon-Client headers
// through the gate: it must never panic, never answer 500, and answer
// every refusal with the wire contract's JSON error.
func FuzzHandler(f *testing.F) {
	fx := newFixture(f, Options{CacheSize: 64}, reauthAndroid(),
		campaign("c-up", cordon.KindUpgrade, cordon.Cohort{Platforms: []string{"ios"}}, upgrade("8.5.0", cordon.UpgradeImmediate)))
	good := fx.token(claims(func(c *token.Claims) { c.AuthTime = base }))
	denied := fx.token(claims())
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	for _, auth := range []string{
		"", "Bearer " + good, "Bearer " + denied, "bearer   " + good + "  ", "Basic " + good, "Bearer", "Bearer ",
		"Bearer " + parts[0] + "." + parts[1] + ".", "Bearer ..", "Bearer a.b.c.d",
		"Bearer " + b64([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"`+fx.key.ID+`"}`)) + "." + parts[1] + "." + parts[2],
		"Bearer " + b64([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"`+fx.key.ID+`","jwk":{}}`)) + "." + parts[1] + "." + parts[2],
		"Bearer " + parts[0] + "." + b64([]byte(`{"sub":1}`)) + "." + parts[2],
		"Bearer \x00\xff", "Bearer " + strings.Repeat("A", 9000),
	} {
		for _, client := range []string{"", androidPlay, `platform=ios, version="8.4.1", source=appstore`, "platform=amiga", "platform=(", `version="x"`, ",,,", "\xff"} {
			f.Add(auth, client)
		}
	}
	h := fx.g.Handler(ok())
	f.Fuzz(func(t *testing.T, auth, client string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		if client != "" {
			r.Header["Cordon-Client"] = strings.Split(client, "\n")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			return
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusUpgradeRequired:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var body errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" || body.Message == "" {
			t.Fatalf("status %d with body %q", w.Code, w.Body)
		}
	})
}

// FuzzOwnedHeader holds owned to the rule written out another way: a
// name is the gate's when, with letters in lower case and every other
// byte read as '-', it starts cordon- or x-cordon-, unless it is
// Cordon-Client spelt exactly.
func FuzzOwnedHeader(f *testing.F) {
	for _, s := range []string{"X-Cordon-Account", "X_Cordon_Account", "Cordon-Client", "Cordon_Client", "cordon.foo", "X-Cordonnier", "Accept", "", "\xffcordon-", "X-Cordon-\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		var b strings.Builder
		for _, c := range []byte(k) {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
				b.WriteByte(c)
			case c >= 'A' && c <= 'Z':
				b.WriteByte(c + 32)
			default:
				b.WriteByte('-')
			}
		}
		n := b.String()
		want := (strings.HasPrefix(n, "cordon-") || strings.HasPrefix(n, "x-cordon-")) && strings.ToLower(k) != "cordon-client"
		if got := OwnedHeader(k); got != want {
			t.Errorf("OwnedHeader(%q) = %v, want %v", k, got, want)
		}
		if got := FoldedName(k); got != n {
			t.Errorf("FoldedName(%q) = %q, want %q", k, got, n)
		}
	})
}

package gate_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/gate"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

// A backend puts its API behind the gate; the feed keeps the State
// current. Here one snapshot stands in for the feed, and a reauth
// campaign then arrives as a policy event.
func Example() {
	now := time.Now()
	// The control plane's side: a signing key, its JWKS, a token.
	key, _ := token.NewSigningKey(now)
	keys, _ := token.NewKeySet([]*cordon.SigningKey{key}, 15*time.Minute, now)
	signer := token.NewSigner(keys, "https://id.example.com", []string{"api"}, "app", 15*time.Minute)
	tok, _ := signer.Sign(token.Claims{Subject: "u-1", SessionID: "s-1", IssuedAt: now, AuthTime: now.Add(-time.Hour),
		Platform: "android", Version: "8.4.1", Source: "play"})

	// The backend's side.
	st := gate.NewState("https://id.example.com", "api")
	st.Apply(feed.Event{Kind: feed.KindSnapshot, Policy: &feed.Policy{Version: 1}, JWKS: keys.JWKS()})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := gate.FromContext(r.Context())
		fmt.Fprintf(w, "playlists of %s (%s %s)", id.AccountID, id.Platform, id.Version)
	})
	h := gate.New(st, gate.Options{}).Handler(api)

	call := func() {
		r := httptest.NewRequest(http.MethodGet, "/v1/playlists", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Cordon-Client", `platform=android, version="8.4.1", source=play, device="d-1"`)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	call()

	st.Apply(feed.Event{Kind: feed.KindPolicy, Policy: feed.WirePolicy(2, []*cordon.Campaign{{
		ID: "c-may", Kind: cordon.KindReauth, State: cordon.StateActive, Activated: now,
		Cohort: cordon.Cohort{Platforms: []string{"android"}},
	}})})
	call()
	// Output:
	// 200 playlists of u-1 (android 8.4.1)
	// 401 {"error":"reauth_required","message":"For your security, please log in again.","campaign":"c-may"}
}

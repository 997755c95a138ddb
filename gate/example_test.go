package gate_test

// These examples use only the public API and the standard library, so
// they compile outside this module too: TestExamplesOutsideTheModule
// builds and runs this very file in a module of its own.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/gate"
)

// A backend puts its API behind the gate; the feed keeps the State
// current. Here one snapshot stands in for the feed, and a reauth
// campaign then arrives as a policy event.
func Example() {
	// The control plane's side, as cordon serve would send it: its
	// public key in a snapshot, and an access token it signed.
	cp := newControlPlane("https://id.example.com", "api")
	tok := cp.sign(map[string]any{"sub": "u-1", "sid": "s-1", "platform": "android", "ver": "8.4.1", "src": "play"})

	// The backend's side.
	st := gate.NewState("https://id.example.com", "api")
	apply(st, cp.snapshot(1))
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

	apply(st, fmt.Sprintf(`{"kind":"policy","policy":{"version":2,"campaigns":[
		{"id":"c-may","kind":"reauth","state":"active","activated_at":%q,"cohort":{"platforms":["android"]}}]}}`,
		time.Now().Format(time.RFC3339Nano)))
	call()
	// Output:
	// 200 playlists of u-1 (android 8.4.1)
	// 401 {"error":"reauth_required","message":"For your security, please log in again.","campaign":"c-may"}
}

// A Reporter tells the control plane what the gate enforced, so the
// campaign's progress counts denials no app reported. Here a test server
// stands in for cordon serve's POST /v1/gate/reports.
func ExampleReporter() {
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Reports []map[string]string `json:"reports"`
		}
		json.NewDecoder(r.Body).Decode(&b)
		fmt.Println(r.URL.Path, r.Header.Get("Authorization"), b.Reports)
		fmt.Fprintf(w, `{"accepted":%d,"refused":[]}`, len(b.Reports))
	}))
	defer control.Close()

	cp := newControlPlane("https://id.example.com", "api")
	st := gate.NewState("https://id.example.com", "api")
	apply(st, cp.snapshot(1))
	apply(st, fmt.Sprintf(`{"kind":"policy","policy":{"version":2,"campaigns":[
		{"id":"c-may","kind":"reauth","state":"active","activated_at":%q,"cohort":{"platforms":["android"]}}]}}`,
		time.Now().Format(time.RFC3339Nano)))

	rep, _ := gate.NewReporter(gate.ReporterConfig{Server: control.URL, Token: "cgt_example"})
	// In a server: go rep.Run(ctx), which sends every 2 s.
	h := gate.New(st, gate.Options{Reporter: rep}).Handler(http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodGet, "/v1/playlists", nil)
	r.Header.Set("Authorization", "Bearer "+cp.sign(map[string]any{"sub": "u-1", "sid": "s-1", "platform": "android", "ver": "8.4.1", "src": "play"}))
	for range 3 { // a client retrying: reported once
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	rep.Flush(context.Background())
	fmt.Printf("%+v\n", rep.Stats())
	// Output:
	// /v1/gate/reports Bearer cgt_example [map[campaign:c-may outcome:denied session:s-1]]
	// {Sent:1 Refused:0 Dropped:0 Pending:0}
}

// Decide is the gate without the answering: a *gate.Error for a request
// that never reached the decision engine, else the Decision.
func ExampleGate_Decide() {
	cp := newControlPlane("https://id.example.com", "api")
	st := gate.NewState("https://id.example.com", "api")
	g := gate.New(st, gate.Options{})
	r := httptest.NewRequest(http.MethodGet, "/v1/playlists", nil)

	_, _, err := g.Decide(r)
	var ge *gate.Error
	if errors.As(err, &ge) {
		fmt.Println("without a token:", ge.Code)
	}
	r.Header.Set("Authorization", "Bearer "+cp.sign(map[string]any{"sub": "u-1", "sid": "s-1", "platform": "ios", "src": "appstore"}))
	_, _, err = g.Decide(r)
	if errors.As(err, &ge) {
		fmt.Println("before the first snapshot:", ge.Code, ge.RetryAfter)
	}
	apply(st, cp.snapshot(1))
	id, d, err := g.Decide(r)
	fmt.Println(id.AccountID, d.Outcome, err)

	apply(st, fmt.Sprintf(`{"kind":"revoke","revoked":[{"sid":"s-1","until":%q}]}`, time.Now().Add(time.Hour).Format(time.RFC3339)))
	_, d, _ = g.Decide(r)
	fmt.Println(d.Outcome, d.Reason)
	// Output:
	// without a token: unauthorized
	// before the first snapshot: not_ready 1
	// u-1 allow <nil>
	// deny session_revoked
}

// ParseEvent reads the feed's wire form, for a transport of one's own.
func ExampleParseEvent() {
	e, err := gate.ParseEvent([]byte(`{"epoch":"e1","seq":7,"kind":"policy","policy":{"version":3,"campaigns":[]}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	epoch, seq := e.Seq()
	fmt.Println(e.Kind(), epoch, seq, e.PolicyVersion())
	_, err = gate.ParseEvent([]byte(`{"kind":"gossip"}`))
	fmt.Println(err)
	// Output:
	// policy e1 7 3
	// gate: feed event :0 has unknown kind "gossip"
}

// A Follower keeps a State current from cordon serve's feed; a server
// with the gate's middleware in front of its API.
func ExampleFollower() {
	st := gate.NewState("https://id.example.com", "api")
	f, err := gate.NewFollower(context.Background(), st, gate.FollowerConfig{Server: "https://id.example.com", Token: "cat_…"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = f // in a program: go f.Run(ctx)
	api := http.NewServeMux()
	srv := &http.Server{Addr: ":8080", Handler: gate.New(st, gate.Options{}).Handler(api)}
	_ = srv // in a program: srv.ListenAndServe()
	fmt.Println(st.Ready())
	// Output:
	// false
}

// apply parses an event and applies it, as a Follower does.
func apply(st *gate.State, data string) {
	e, err := gate.ParseEvent([]byte(data))
	if err == nil {
		err = st.Apply(e)
	}
	if err != nil {
		panic(err)
	}
}

// controlPlane stands in for cordon serve: an Ed25519 signing key, its
// JWKS in a snapshot event, and RFC 9068 access tokens signed by it.
type controlPlane struct {
	issuer, audience string
	priv             ed25519.PrivateKey
}

func newControlPlane(issuer, audience string) *controlPlane {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return &controlPlane{issuer: issuer, audience: audience, priv: priv}
}

func (c *controlPlane) snapshot(version int) string {
	x := base64.RawURLEncoding.EncodeToString(c.priv.Public().(ed25519.PublicKey))
	return fmt.Sprintf(`{"kind":"snapshot","policy":{"version":%d,"campaigns":[]},
		"jwks":{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k-1","alg":"EdDSA","use":"sig"}]}}`, version, x)
}

func (c *controlPlane) sign(claims map[string]any) string {
	now := time.Now().Unix()
	for k, v := range map[string]any{"iss": c.issuer, "aud": c.audience, "client_id": "app", "jti": "t-1",
		"iat": now, "exp": now + 900, "auth_time": now - 3600} {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "EdDSA", "kid": "k-1", "typ": "at+jwt"}) + "." + enc(claims)
	return signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(c.priv, []byte(signed)))
}

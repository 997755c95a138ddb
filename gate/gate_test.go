package gate

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/token"
)

// TestHandlerRefusesBadTokens checks every request without a usable token
// is refused with the server's code, status and WWW-Authenticate.
func TestHandlerRefusesBadTokens(t *testing.T) {
	f := newFixture(t, Options{})
	good := f.token(claims())
	_, _, foreign := newSigner(t, base)
	parts := strings.Split(good, ".")
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+f.key.ID+`"}`)) + "." + parts[1] + "."
	otherAudience := token.NewSigner(f.keys, issuer, []string{"another-api"}, "app", ttl)

	const invalidToken = `Bearer realm="cordon", error="invalid_token", error_description=`
	tests := []struct {
		name, auth, client string
		code               int
		wantErr            string
		wantMessage        string // "" skips the check
		wantAuthenticate   string // prefix; "" means the header must be absent
	}{
		{"no Authorization header", "", androidPlay, 401, CodeUnauthorized, "an Authorization: Bearer access token is required", `Bearer realm="cordon"`},
		{"another scheme", "Basic dTpw", androidPlay, 401, CodeInvalidToken, "the Authorization header must be: Bearer <access token>", invalidToken},
		{"bearer without a token", "Bearer   ", androidPlay, 401, CodeInvalidToken, "the Authorization header must be: Bearer <access token>", invalidToken},
		{"garbage", "Bearer not-a-jwt", androidPlay, 401, CodeInvalidToken, "malformed token", invalidToken},
		{"three garbage segments", "Bearer a.b.c", androidPlay, 401, CodeInvalidToken, "", invalidToken},
		{"expired", bearerOf(f.token(claims(func(c *token.Claims) { c.IssuedAt = base.Add(-30 * time.Minute) }))), androidPlay, 401, CodeInvalidToken, "token expired", invalidToken},
		{"alg none", bearerOf(algNone), androidPlay, 401, CodeInvalidToken, "token signed with an unsupported algorithm", invalidToken},
		{"unknown kid", bearerOf(sign(t, foreign, claims(), base)), androidPlay, 401, CodeInvalidToken, "token signed with an unknown key", invalidToken},
		{"tampered payload", bearerOf(parts[0] + "." + parts[1] + "x." + parts[2]), androidPlay, 401, CodeInvalidToken, "", invalidToken},
		{"another audience", bearerOf(sign(t, otherAudience, claims(), base)), androidPlay, 401, CodeInvalidToken, "token is not meant for this service", invalidToken},
		{"over 8 KiB", "Bearer " + strings.Repeat("a", 8<<10), androidPlay, 401, CodeInvalidToken, "the access token is too long", invalidToken},
		{"malformed Cordon-Client", bearerOf(good), "platform=amiga", 400, CodeInvalidClient, "", ""},
		{"Cordon-Client is checked before the token", "Bearer junk", "platform=(", 400, CodeInvalidClient, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.do(tt.auth, tt.client)
			if got.code != tt.code || got.err.Error != tt.wantErr {
				t.Fatalf("got %d %q, want %d %q (body %s)", got.code, got.err.Error, tt.code, tt.wantErr, got.body)
			}
			if tt.wantMessage != "" && got.err.Message != tt.wantMessage {
				t.Errorf("message %q, want %q", got.err.Message, tt.wantMessage)
			}
			if a := got.header.Get("WWW-Authenticate"); (tt.wantAuthenticate == "") != (a == "") || !strings.HasPrefix(a, tt.wantAuthenticate) {
				t.Errorf("WWW-Authenticate %q, want %q…", a, tt.wantAuthenticate)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if got.id != nil {
				t.Errorf("the protected handler ran")
			}
		})
	}
}

// TestWireBytes pins the gate's answers to the bytes cordon serve writes
// (internal/httpapi writeError, writeDenied and upgradeHeader).
func TestWireBytes(t *testing.T) {
	reauth := reauthAndroid()
	reauth.Message = `Log in again, "please" <now> & then`
	immediate := campaign("c-up", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", cordon.UpgradeImmediate))
	flexible := campaign("c-fx", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", cordon.UpgradeFlexible))
	tests := []struct {
		name      string
		campaigns []*cordon.Campaign
		auth      bool
		client    string
		code      int
		header    string // the header that must equal value
		value     string
		body      string
	}{
		{"unauthorized", nil, false, "", 401, "WWW-Authenticate", `Bearer realm="cordon"`,
			`{"error":"unauthorized","message":"an Authorization: Bearer access token is required"}` + "\n"},
		{"reauth_required", []*cordon.Campaign{reauth}, true, androidPlay, 401, "WWW-Authenticate",
			`Bearer realm="cordon", error="invalid_token", error_description="Log in again, \"please\" <now> & then"`,
			`{"error":"reauth_required","message":"Log in again, \"please\" <now> & then","campaign":"c-reauth"}` + "\n"},
		{"upgrade_required from Play", []*cordon.Campaign{immediate}, true, androidPlay, 426, "WWW-Authenticate", "",
			`{"error":"upgrade_required","message":"Please update the app to keep using it.","campaign":"c-up","min_version":"8.5.0","update_url":"https://play.example/app"}` + "\n"},
		{"upgrade_required side-loaded", []*cordon.Campaign{immediate}, true, `platform=android, version="8.4.1", source=unknown`, 426, "WWW-Authenticate", "",
			`{"error":"upgrade_required","message":"Please update the app to keep using it.","campaign":"c-up","min_version":"8.5.0","update_url":"https://example.com/download","sideloaded":true}` + "\n"},
		{"flexible upgrade", []*cordon.Campaign{flexible}, true, androidPlay, 200, "Cordon-Upgrade",
			`mode=flexible, min="8.5.0", url="https://play.example/app"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{}, tt.campaigns...)
			auth := ""
			if tt.auth {
				// A side-loaded request comes from a side-loaded install.
				src := cordon.SourcePlay
				if strings.Contains(tt.client, "unknown") {
					src = cordon.SourceUnknown
				}
				auth = bearerOf(f.token(claims(func(c *token.Claims) { c.Source = src })))
			}
			got := f.do(auth, tt.client)
			if got.code != tt.code {
				t.Fatalf("status %d, want %d (%s)", got.code, tt.code, got.body)
			}
			if v := got.header.Get(tt.header); v != tt.value {
				t.Errorf("%s:\n got %s\nwant %s", tt.header, v, tt.value)
			}
			if tt.code != 200 {
				if got.body != tt.body {
					t.Errorf("body:\n got %s\nwant %s", got.body, tt.body)
				}
				if got.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("no X-Content-Type-Options: nosniff")
				}
			}
		})
	}
}

// TestAllowSetsIdentity checks an allowed request reaches the handler
// with who it is from in the context.
func TestAllowSetsIdentity(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.token(claims())
	tests := []struct {
		name, client string
		extra        []string
		want         Identity
	}{
		{"same facts", androidPlay, nil, Identity{Platform: "android", Version: "8.4.1", Source: "play", Device: "d-1"}},
		{"an in-place upgrade reports its version", `platform=android, version="8.6.0", source=play, device="d-2"`, nil,
			Identity{Platform: "android", Version: "8.6.0", Source: "play", Device: "d-2"}},
		{"another platform cannot vouch for a version", `platform=ios, version="9.0.0", source=appstore`, nil,
			Identity{Platform: "android", Version: "8.4.1", Source: "play"}},
		{"a header in two lines", "", []string{"Cordon-Client", "platform=android", "Cordon-Client", `version="8.7.0"`},
			Identity{Platform: "android", Version: "8.7.0", Source: "play"}},
		{"no Cordon-Client header", "", nil, Identity{Platform: "android", Version: "8.4.1", Source: "play"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.do(bearerOf(tok), tt.client, tt.extra...)
			if got.code != 200 || got.id == nil {
				t.Fatalf("status %d, identity %v: %s", got.code, got.id, got.body)
			}
			id := got.id
			want := tt.want
			want.AccountID, want.SessionID = "u-1", "s-1"
			want.AuthTime, want.Expiry = base.Add(-48*time.Hour), base.Add(ttl)
			if id.AccountID != want.AccountID || id.SessionID != want.SessionID || id.Platform != want.Platform ||
				id.Version != want.Version || id.Source != want.Source || id.Device != want.Device ||
				!id.AuthTime.Equal(want.AuthTime) || !id.Expiry.Equal(want.Expiry) {
				t.Errorf("identity\n got %+v\nwant %+v", *id, want)
			}
			if id.Decision.Outcome != Allow || id.Decision.Reason != "" {
				t.Errorf("decision %+v", id.Decision)
			}
		})
	}
	if _, ok := FromContext(t.Context()); ok {
		t.Errorf("FromContext found an identity in a bare context")
	}
}

// TestDecisions runs the campaigns of a policy event through the gate.
func TestDecisions(t *testing.T) {
	immediate := campaign("c-up", cordon.KindUpgrade, cordon.Cohort{Platforms: []string{"android"}}, upgrade("8.5.0", cordon.UpgradeImmediate))
	tests := []struct {
		name      string
		campaigns []*cordon.Campaign
		claims    token.Claims
		client    string
		code      int
		wantErr   string
		campaign  string
		upgrade   string // Cordon-Upgrade
		updateURL string
		sideload  bool
	}{
		{"no campaign", nil, claims(), androidPlay, 200, "", "", "", "", false},
		{"reauth: session from before activation", []*cordon.Campaign{reauthAndroid()}, claims(), androidPlay, 401, "reauth_required", "c-reauth", "", "", false},
		{"reauth: logged in again since", []*cordon.Campaign{reauthAndroid()}, claims(func(c *token.Claims) { c.AuthTime = base.Add(-time.Minute) }), androidPlay, 200, "", "", "", "", false},
		{"reauth: ios is not in the cohort", []*cordon.Campaign{reauthAndroid()}, claims(func(c *token.Claims) { c.Platform, c.Source = "ios", "appstore" }), "", 200, "", "", "", "", false},
		{"password_reset", []*cordon.Campaign{campaign("c-pw", cordon.KindPasswordReset, cordon.Cohort{})}, claims(), androidPlay, 401, "password_reset_required", "c-pw", "", "", false},
		{"paused campaign enforces nothing", []*cordon.Campaign{campaign("c-p", cordon.KindReauth, cordon.Cohort{}, func(c *cordon.Campaign) { c.State = cordon.StatePaused })}, claims(), androidPlay, 200, "", "", "", "", false},
		{"immediate upgrade from Play", []*cordon.Campaign{immediate}, claims(), androidPlay, 426, "upgrade_required", "c-up", "", "https://play.example/app", false},
		{"immediate upgrade side-loaded", []*cordon.Campaign{immediate}, claims(func(c *token.Claims) { c.Source = "unknown" }), `platform=android, version="8.4.1"`, 426, "upgrade_required", "c-up", "", "https://example.com/download", true},
		{"immediate upgrade: the request reports the new version", []*cordon.Campaign{immediate}, claims(), `platform=android, version="8.5.0", source=play`, 200, "", "", "", "", false},
		{"flexible upgrade passes with a prompt", []*cordon.Campaign{campaign("c-fx", cordon.KindUpgrade, cordon.Cohort{}, upgrade("8.5.0", cordon.UpgradeFlexible))}, claims(), androidPlay, 200, "", "", `mode=flexible, min="8.5.0", url="https://play.example/app"`, "", false},
		{"offline_rekey never blocks a request", []*cordon.Campaign{campaign("c-off", cordon.KindOfflineRekey, cordon.Cohort{})}, claims(), androidPlay, 200, "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.apply(policyEvent(2, tt.campaigns...))
			got := f.do(bearerOf(f.token(tt.claims)), tt.client)
			if got.code != tt.code || got.err.Error != tt.wantErr {
				t.Fatalf("got %d %q, want %d %q (%s)", got.code, got.err.Error, tt.code, tt.wantErr, got.body)
			}
			if (got.code == 200) != (got.id != nil) {
				t.Errorf("status %d but the handler ran: %v", got.code, got.id != nil)
			}
			if got.code == 401 && !strings.Contains(got.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("401 without WWW-Authenticate: %q", got.header.Get("WWW-Authenticate"))
			}
			if got.code != 200 {
				var body struct {
					Campaign   string `json:"campaign"`
					MinVersion string `json:"min_version"`
					UpdateURL  string `json:"update_url"`
					Sideloaded bool   `json:"sideloaded"`
				}
				decodeJSON(t, got.body, &body)
				if body.Campaign != tt.campaign || body.UpdateURL != tt.updateURL || body.Sideloaded != tt.sideload {
					t.Errorf("body %+v, want campaign %q url %q sideloaded %v", body, tt.campaign, tt.updateURL, tt.sideload)
				}
				if tt.code == 426 && body.MinVersion != "8.5.0" {
					t.Errorf("min_version %q", body.MinVersion)
				}
			}
			if h := got.header.Get("Cordon-Upgrade"); h != tt.upgrade {
				t.Errorf("Cordon-Upgrade %q, want %q", h, tt.upgrade)
			}
		})
	}
}

// TestPolicyEvents checks the order of policy events: a newer version
// replaces, an older one is ignored, and a policy without a campaign
// (cancelled) restores access at once.
func TestPolicyEvents(t *testing.T) {
	f := newFixture(t, Options{})
	tok := bearerOf(f.token(claims()))
	steps := []struct {
		name    string
		event   feed.Event
		version uint64
		code    int
	}{
		{"a reauth campaign is activated", policyEvent(3, reauthAndroid()), 3, 401},
		{"an older policy without it is ignored", policyEvent(2), 3, 401},
		{"the same version again is ignored", policyEvent(3), 3, 401},
		{"the campaign is cancelled", policyEvent(4, func() *cordon.Campaign {
			c := reauthAndroid()
			c.State = cordon.StateCancelled
			return c
		}()), 4, 200},
		{"activated again", policyEvent(5, reauthAndroid()), 5, 401},
		{"dropped from the policy", policyEvent(6), 6, 200},
		{"a snapshot replaces whatever its version", snapshot(2, []*cordon.Campaign{reauthAndroid()}, nil, f.keys.JWKS()), 2, 401},
	}
	for _, s := range steps {
		before := f.st.Updated()
		f.advance(time.Second)
		f.apply(s.event)
		if v := f.st.PolicyVersion(); v != s.version {
			t.Errorf("%s: policy version %d, want %d", s.name, v, s.version)
		}
		if got := f.do(tok, androidPlay); got.code != s.code {
			t.Errorf("%s: status %d, want %d (%s)", s.name, got.code, s.code, got.body)
		}
		if !f.st.Updated().After(before) && !f.st.Updated().Equal(before) {
			t.Errorf("%s: Updated went back", s.name)
		}
	}
}

// TestRevokedSession checks a revoke event refuses the session's tokens
// until its Until, and no other session's.
func TestRevokedSession(t *testing.T) {
	f := newFixture(t, Options{})
	revoked := bearerOf(f.token(claims()))
	other := bearerOf(f.token(claims(func(c *token.Claims) { c.SessionID = "s-2" })))
	if got := f.do(revoked, androidPlay); got.code != 200 {
		t.Fatalf("before the revocation: %d %s", got.code, got.body)
	}
	// Until is when the session's last token expires.
	f.apply(feed.Event{Kind: feed.KindRevoke, Revoked: []feed.Revocation{{SessionID: "s-1", Until: base.Add(ttl)}}})

	got := f.do(revoked, androidPlay)
	if got.code != 401 || got.err.Error != "session_revoked" {
		t.Fatalf("revoked session: %d %s", got.code, got.body)
	}
	if !strings.Contains(got.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q", got.header.Get("WWW-Authenticate"))
	}
	if got := f.do(other, androidPlay); got.code != 200 {
		t.Errorf("another session: %d %s", got.code, got.body)
	}
	id, d, err := f.g.Decide(request(revoked, androidPlay))
	if err != nil || d.Outcome != Deny || d.Reason != "session_revoked" || id.SessionID != "s-1" {
		t.Errorf("Decide: %v %+v %v", id, d, err)
	}

	// Past its exp the token still verifies for token.Leeway; the
	// revocation holds as long.
	f.now.Store(base.Add(ttl + token.Leeway).UnixNano())
	if got := f.do(revoked, androidPlay); got.code != 401 || got.err.Error != "session_revoked" {
		t.Errorf("within the leeway: %d %s", got.code, got.body)
	}
	f.advance(time.Second)
	if got := f.do(revoked, androidPlay); got.code != 401 || got.err.Error != CodeInvalidToken {
		t.Errorf("after the leeway: %d %s", got.code, got.body)
	}
}

// TestNotReady checks a gate without a policy and keys answers 503
// rather than guess, and one with keys but no policy too (deciding on no
// policy would let everyone through).
func TestNotReady(t *testing.T) {
	_, keys, signer := newSigner(t, base)
	st := NewState(issuer, audience)
	g := New(st, Options{Clock: func() time.Time { return base }})
	tok := bearerOf(sign(t, signer, claims(), base))
	check := func(when string, want int) {
		t.Helper()
		w := newRecorder(g, tok, androidPlay)
		if w.Code != want {
			t.Fatalf("%s: status %d, want %d (%s)", when, w.Code, want, w.Body)
		}
		if want == 503 && (w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), `"error":"not_ready"`)) {
			t.Errorf("%s: %v %s", when, w.Header(), w.Body)
		}
	}
	check("empty", 503)
	if st.Ready() {
		t.Errorf("an empty state is ready")
	}
	if err := st.apply(feed.Event{Kind: feed.KindKeys, JWKS: keys.JWKS()}); err != nil {
		t.Fatal(err)
	}
	check("keys only", 503)
	if err := st.apply(policyEvent(1)); err != nil {
		t.Fatal(err)
	}
	if !st.Ready() {
		t.Errorf("not ready with a policy and keys")
	}
	check("policy and keys", 200)
}

// TestKeyRotation checks a keys event: the retired key verifies while it
// is published, the new one verifies at once, and a pruned key's tokens
// are refused even when they are cached.
func TestKeyRotation(t *testing.T) {
	f := newFixture(t, Options{})
	oldTok := bearerOf(f.token(claims()))
	if got := f.do(oldTok, androidPlay); got.code != 200 {
		t.Fatalf("old token before rotation: %d %s", got.code, got.body)
	}

	// Rotate: the old key retires, a new one signs; both are published.
	newKey, err := token.NewSigningKey(base)
	if err != nil {
		t.Fatal(err)
	}
	retired := *f.key
	retired.RetiredAt = base
	both, err := token.NewKeySet([]*cordon.SigningKey{&retired, newKey}, ttl, base)
	if err != nil {
		t.Fatal(err)
	}
	f.apply(feed.Event{Kind: feed.KindKeys, JWKS: both.JWKS()})
	newTok := bearerOf(sign(t, token.NewSigner(both, issuer, []string{audience}, "app", ttl), claims(func(c *token.Claims) { c.SessionID = "s-2" }), f.clock()))
	for name, tok := range map[string]string{"old token, cached": oldTok, "new token": newTok} {
		if got := f.do(tok, androidPlay); got.code != 200 {
			t.Errorf("%s while both keys are published: %d %s", name, got.code, got.body)
		}
	}
	freshOld := bearerOf(f.token(claims(func(c *token.Claims) { c.SessionID = "s-3" })))
	if got := f.do(freshOld, androidPlay); got.code != 200 {
		t.Errorf("old key, uncached token: %d %s", got.code, got.body)
	}

	// Prune the old key: its tokens go, cached or not; the new key stays.
	onlyNew, err := token.NewKeySet([]*cordon.SigningKey{newKey}, ttl, base)
	if err != nil {
		t.Fatal(err)
	}
	f.apply(feed.Event{Kind: feed.KindKeys, JWKS: onlyNew.JWKS()})
	for name, tok := range map[string]string{"old token, cached": oldTok, "other old token, cached": freshOld} {
		if got := f.do(tok, androidPlay); got.code != 401 || got.err.Message != "token signed with an unknown key" {
			t.Errorf("%s after the prune: %d %s", name, got.code, got.body)
		}
	}
	if got := f.do(newTok, androidPlay); got.code != 200 {
		t.Errorf("new token after the prune: %d %s", got.code, got.body)
	}
}

// TestOwnedHeaders checks the handler behind the gate never sees a
// Cordon- or X-Cordon- header a client made up, but does see
// Cordon-Client, and that the caller's request is left as it was.
func TestOwnedHeaders(t *testing.T) {
	f := newFixture(t, Options{})
	tok := bearerOf(f.token(claims()))
	got := f.do(tok, androidPlay, "X-Cordon-Account", "u-admin", "X_Cordon_Account", "u-admin", "Cordon-Session", "s-0", "cordon-upgrade", "x", "X-Other", "kept")
	if got.code != 200 {
		t.Fatalf("status %d %s", got.code, got.body)
	}
	// Written out, not computed by the code under test: exactly these
	// names reach the handler.
	want := []string{"Authorization", "Cordon-Client", "X-Other"}
	var seen []string
	for k := range got.seen {
		seen = append(seen, k)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, want) {
		t.Errorf("the handler saw headers %q, want %q", seen, want)
	}
	if got.seen.Get("Cordon-Client") != androidPlay || got.seen.Get("X-Other") != "kept" {
		t.Errorf("headers the gate does not own were changed: %v", got.seen)
	}

	r := request(tok, androidPlay)
	r.Header.Set("X-Cordon-Account", "u-admin")
	newRecorderFor(f.g, r)
	if r.Header.Get("X-Cordon-Account") != "u-admin" {
		t.Errorf("the caller's request was modified")
	}
}

// TestDecideReportsDecisions checks Decide's contract and OnDecision.
func TestDecideReportsDecisions(t *testing.T) {
	var seen []Decision
	f := newFixture(t, Options{OnDecision: func(d Decision) { seen = append(seen, d) }}, reauthAndroid())
	tok := bearerOf(f.token(claims()))

	id, d, err := f.g.Decide(request(tok, androidPlay))
	if err != nil || id == nil || d != &id.Decision || d.Reason != "reauth_required" || d.Campaign != "c-reauth" {
		t.Fatalf("Decide: %+v %+v %v", id, d, err)
	}
	id, d, err = f.g.Decide(request("", androidPlay))
	if ge := (*Error)(nil); id != nil || d != nil || !errors.As(err, &ge) || ge.Code != CodeUnauthorized {
		t.Fatalf("Decide without a token: %v %v %v", id, d, err)
	}
	if len(seen) != 1 || seen[0].Reason != "reauth_required" {
		t.Errorf("OnDecision saw %+v, want the one decision", seen)
	}
}

// TestApplyErrors checks an event that cannot be applied changes nothing.
func TestApplyErrors(t *testing.T) {
	f := newFixture(t, Options{}, reauthAndroid())
	tok := bearerOf(f.token(claims()))
	bad := []struct {
		name  string
		event feed.Event
	}{
		{"snapshot without a policy", feed.Event{Kind: feed.KindSnapshot, JWKS: f.keys.JWKS()}},
		{"snapshot with a bad JWKS", snapshot(9, nil, nil, []byte(`{"keys":[]}`))},
		{"snapshot with a broken campaign", snapshot(9, []*cordon.Campaign{campaign("c-bad", "nonsense", cordon.Cohort{})}, nil, f.keys.JWKS())},
		{"policy without a policy", feed.Event{Kind: feed.KindPolicy}},
		{"policy with a broken campaign", policyEvent(9, campaign("c-bad", cordon.KindReauth, cordon.Cohort{Versions: "<<<"}))},
		{"keys that are not JSON", feed.Event{Kind: feed.KindKeys, JWKS: []byte("nope")}},
		{"keys that leak a private key", feed.Event{Kind: feed.KindKeys, JWKS: []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","kid":"k","x":"AA","d":"AA"}]}`)}},
		{"unknown kind", feed.Event{Kind: "gossip"}},
	}
	for _, b := range bad {
		if err := f.st.apply(b.event); err == nil {
			t.Errorf("%s: applied", b.name)
		}
		if v := f.st.PolicyVersion(); v != 1 {
			t.Errorf("%s: policy version %d, want 1", b.name, v)
		}
		if got := f.do(tok, androidPlay); got.code != 401 || got.err.Error != "reauth_required" {
			t.Errorf("%s: the gate no longer enforces: %d %s", b.name, got.code, got.body)
		}
	}
}

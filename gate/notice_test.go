package gate

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/feed"
	"github.com/cordon-dev/cordon/internal/wire"
)

func withNotices(e feed.Event, ns ...wire.DenialNotice) feed.Event {
	e.Policy.Notices = ns
	return e
}

// A denial whose campaign a published notice explains carries the
// notice's id and title, learnt over the feed with the policy, in the
// best language of Accept-Language; the title can hold nothing that ends
// the header. A newer policy without the notice drops it.
func TestGateDenialCarriesNotice(t *testing.T) {
	f := newFixture(t, Options{}, reauthAndroid())
	hostile := "Bitte neu anmelden\r\nSet-Cookie: a=b; \"x\" ü"
	f.apply(withNotices(policyEvent(2, reauthAndroid()), wire.DenialNotice{ID: "n-1", Campaign: "c-reauth", Default: "en",
		Titles: map[string]string{"en": "Please log in again", "de": hostile}}))
	tok := bearerOf(f.token(claims()))
	tests := []struct {
		name, accept, want string
	}{
		{"no preference: the default", "", `id="n-1", lang="en", title*="UTF-8'en'Please%20log%20in%20again"`},
		{"German first", "de-CH, en;q=0.5", `id="n-1", lang="de", title*="UTF-8'de'Bitte%20neu%20anmelden%0D%0ASet-Cookie%3A%20a%3Db%3B%20%22x%22%20%C3%BC"`},
		{"a language it lacks", "ja", `id="n-1", lang="en", title*="UTF-8'en'Please%20log%20in%20again"`},
		{"a malformed preference", "\x01;;q=x", `id="n-1", lang="en", title*="UTF-8'en'Please%20log%20in%20again"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(tok, androidPlay, "Accept-Language", tt.accept)
			if r.code != http.StatusUnauthorized || r.err.Error != "reauth_required" {
				t.Fatalf("got %d %+v, want 401 reauth_required", r.code, r.err)
			}
			got := r.header.Get("Cordon-Notice")
			if got != tt.want {
				t.Errorf("Cordon-Notice:\n got %s\nwant %s", got, tt.want)
			}
			for _, c := range got {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("Cordon-Notice holds %q, not printable ASCII: %q", c, got)
				}
			}
		})
	}
	// Another campaign's denial carries nothing.
	f.apply(withNotices(policyEvent(3, reauthAndroid()), wire.DenialNotice{ID: "n-2", Campaign: "c-other", Default: "en", Titles: map[string]string{"en": "x"}}))
	if r := f.do(tok, androidPlay); r.code != http.StatusUnauthorized || r.header.Get("Cordon-Notice") != "" {
		t.Errorf("a denial no notice explains: %d, Cordon-Notice %q; want 401 and none", r.code, r.header.Get("Cordon-Notice"))
	}
	// An allowed request never carries one.
	f.apply(withNotices(policyEvent(4), wire.DenialNotice{ID: "n-1", Campaign: "c-reauth", Default: "en", Titles: map[string]string{"en": "x"}}))
	if r := f.do(tok, androidPlay); r.code != http.StatusOK || r.header.Get("Cordon-Notice") != "" {
		t.Errorf("an allowed request: %d, Cordon-Notice %q; want 200 and none", r.code, r.header.Get("Cordon-Notice"))
	}
}

// A stale policy event (a replay) does not swap the notices either.
func TestGateStalePolicyKeepsNotices(t *testing.T) {
	f := newFixture(t, Options{}, reauthAndroid())
	f.apply(withNotices(policyEvent(5, reauthAndroid()), wire.DenialNotice{ID: "n-new", Campaign: "c-reauth", Default: "en", Titles: map[string]string{"en": "new"}}))
	f.apply(withNotices(policyEvent(4, reauthAndroid()), wire.DenialNotice{ID: "n-old", Campaign: "c-reauth", Default: "en", Titles: map[string]string{"en": "old"}}))
	r := f.do(bearerOf(f.token(claims())), androidPlay)
	if got := r.header.Get("Cordon-Notice"); !strings.HasPrefix(got, `id="n-new"`) {
		t.Errorf("after a stale policy: Cordon-Notice %q, want n-new's", got)
	}
}

// BenchmarkGateDenialNotice is the incident mix (nearly every request
// denied by a campaign) with every campaign explained by a notice in
// three languages vs with none; both send Accept-Language.
func BenchmarkGateDenialNotice(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("notice=%t", on), func(b *testing.B) {
			g, reqs, f := benchGate(b, 0, mixIncident)
			for _, r := range reqs {
				r.Header.Set("Accept-Language", "de-CH, de;q=0.9, en;q=0.8")
			}
			if on {
				var ns []wire.DenialNotice
				for i := range 100 {
					ns = append(ns, wire.DenialNotice{ID: fmt.Sprintf("n-%03d", i), Campaign: fmt.Sprintf("c-%03d", i), Default: "en",
						Titles: map[string]string{"en": "Please log in again", "de": "Bitte melden Sie sich neu an", "fr": "Veuillez vous reconnecter"}})
				}
				f.st.notices.Store(wire.CompileNotices(ns))
			}
			runGate(b, g, reqs)
		})
	}
}

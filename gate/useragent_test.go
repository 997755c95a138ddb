package gate

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/uafacts"
)

// uaOf is an app user agent that the built-in rules read as facts.
var uaOf = map[string]string{
	"android":  "MyApp/%s (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)",
	"ios":      "MyApp/%s (iPhone; iOS 17.4; Scale/3.00)",
	"desktop":  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) MyApp/%s Chrome/120.0.6099.291 Electron/28.0.0 Safari/537.36",
	"web":      "MyApp/%s (web)", // no built-in rule reads a web app: unknown
	"winphone": "MyApp/%s (Windows Phone 8.1; ARM; Trident/7.0; Touch; rv:11.0; IEMobile/11.0; NOKIA; Lumia 930)",
	"tv":       "MyApp/%s (Linux; U; Android 11; SHIELD Android TV Build/RQ1A.210105.003)",
}

// BenchmarkGateCacheHitUserAgent is BenchmarkGateCacheHit (mix=allowed)
// for apps that send only a User-Agent: the facts come from the built-in
// rules on every request instead of a memoised Cordon-Client parse.
func BenchmarkGateCacheHitUserAgent(b *testing.B) {
	g, reqs, _ := benchGate(b, 0, mixAllowed)
	rules, err := uafacts.New(uafacts.Config{Apps: []uafacts.App{{Token: "MyApp"}}})
	if err != nil {
		b.Fatal(err)
	}
	g.uaFacts = func(h http.Header) (ClientFacts, bool) {
		f, ok := rules.FromHeader(h)
		return ClientFacts(f), ok
	}
	for i, r := range reqs {
		f, err := clientfacts.FromHeader(r.Header)
		if err != nil {
			b.Fatal(err)
		}
		r2 := r.Clone(r.Context())
		r2.Header = r.Header.Clone()
		r2.Header.Del(clientfacts.Header)
		r2.Header.Set("User-Agent", fmt.Sprintf(uaOf[f.Platform], f.Version))
		if got, _ := rules.FromHeader(r2.Header); got.Platform != f.Platform && f.Platform != "web" {
			b.Fatalf("%q reads as %s, want %s", r2.Header.Get("User-Agent"), got.Platform, f.Platform)
		}
		reqs[i] = r2
	}
	runGate(b, g, reqs)
}

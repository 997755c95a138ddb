package uafacts_test

import (
	"fmt"
	"net/http"

	"github.com/cordon-dev/cordon/internal/uafacts"
)

func Example() {
	rules, err := uafacts.Parse([]byte(`
apps:
  - token: Spotify
version_header: X-App-Version
rules:
  - name: whatsapp-android
    match: '^WhatsApp/(?P<version>[0-9.]+) A$'
    platform: android
`))
	if err != nil {
		panic(err)
	}
	for _, h := range []http.Header{
		{"User-Agent": {"Spotify/8.9.10 iOS/17.2 (iPhone15,2)"}},
		{"User-Agent": {"WhatsApp/2.23.25.83 A"}},
		{"User-Agent": {"okhttp/4.12.0"}, "X-App-Version": {"8.4.1"}},
		{"User-Agent": {"SpotifyFake/9.9.9 (iPhone; iOS 17.4)"}},
	} {
		f, ok := rules.FromHeader(h)
		fmt.Println(f.Platform, f.Version, f.Source, ok)
	}
	// Output:
	// ios 8.9.10 unknown true
	// android 2.23.25.83 unknown true
	// android 8.4.1 unknown true
	// unknown  unknown false
}

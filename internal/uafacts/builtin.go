package uafacts

import (
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// matchBuiltin applies the built-in rules: first the operator's apps'
// product tokens (the first, from the left, that the user agent carries),
// then the app-less Android shapes.
func (r *Rules) matchBuiltin(ua string, header func(string) string) (Result, bool) {
	if a, raw := findApp(ua, r.apps); a != nil {
		res := Result{Facts: cordon.UnknownClient, Rule: RuleApp, App: a.token}
		res.Facts.Version = validVersion(raw)
		cfnetwork := strings.Contains(ua, "CFNetwork/") && strings.Contains(ua, "Darwin/")
		if cfnetwork {
			res.Rule = RuleCFNetwork
			// NSURLSession's default user agent carries CFBundleVersion,
			// which is often a build number ("54735") rather than the
			// version the stores show; only a dotted one is a version.
			if !strings.Contains(res.Facts.Version, ".") {
				res.Facts.Version = ""
			}
		}
		switch p, conflict := platformOf(ua); {
		case a.platform != "":
			res.Facts.Platform = a.platform
		case conflict:
			// Names of several platforms: a guess could be either, so
			// none is made.
		case p != "":
			res.Facts.Platform = p
		case cfnetwork:
			res.Facts.Platform = cfnetworkPlatform(ua)
		}
		if res.Facts.Version == "" {
			res.Facts.Version = r.headerVersion(header)
		}
		return res, true
	}
	switch {
	case strings.HasPrefix(ua, "Dalvik/"):
		// Android's default HttpURLConnection user agent: the app is on
		// Android (or Android TV), and says its version only in the
		// header, if at all. Dalvik runs on nothing else, so one that
		// also names another system contradicts itself ("Dalvik/" itself
		// counts as naming Android).
		p, _ := platformOf(ua)
		if p != cordon.PlatformAndroid && p != cordon.PlatformTV {
			return Result{Facts: cordon.UnknownClient, Rule: RuleDalvik}, true
		}
		f := cordon.ClientFacts{Platform: p, Source: cordon.SourceUnknown, Version: r.headerVersion(header)}
		return Result{Facts: f, Rule: RuleDalvik}, true
	case strings.HasPrefix(ua, "okhttp/"):
		// OkHttp's default says nothing of the app, and runs on servers
		// too: only the app's version header makes it one of ours.
		v := r.headerVersion(header)
		if v == "" {
			return Result{}, false
		}
		f := cordon.ClientFacts{Platform: cordon.PlatformAndroid, Source: cordon.SourceUnknown, Version: v}
		return Result{Facts: f, Rule: RuleOkHttp}, true
	}
	return Result{}, false
}

func (r *Rules) headerVersion(header func(string) string) string {
	if r.versionHeader == "" {
		return ""
	}
	return validVersion(header(r.versionHeader))
}

// findApp finds the first product token of ua that is one of apps, in
// ASCII case-insensitive comparison: a word (a run of RFC 9110 token
// characters) at the start or after a space, "(", ";", "[" or ",", equal to
// the app's token, and followed by "/" or by a space and a digit
// (Instagram writes "Instagram 312.0.0.32.112 Android (…)"). It returns
// the app and the version that follows, as far as it is made of version
// characters. So "NotSpotify/1", "Spotify-Beta/1" and "Spotifyy/1" are not
// "Spotify". One pass over ua: each word is compared only with the apps
// whose token has its length.
func findApp(ua string, apps []app) (a *app, version string) {
	for i := 0; i < len(ua); {
		if i > 0 && !isWordStart(ua[i-1]) {
			i++
			continue
		}
		j := i
		for j < len(ua) && isTokenChar(ua[j]) {
			j++
		}
		if j == i {
			i++
			continue
		}
		if j < len(ua) {
			for k := range apps {
				if len(apps[k].token) == j-i && equalFoldASCII(ua[i:j], apps[k].token) {
					if v, ok := versionAfter(ua[j:]); ok {
						return &apps[k], v
					}
				}
			}
		}
		i = j
	}
	return nil, ""
}

// versionAfter reads the "/8.4.1" or " 8.4.1" that follows a product name.
func versionAfter(rest string) (string, bool) {
	switch {
	case rest[0] == '/':
		rest = rest[1:]
	case rest[0] == ' ' && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9':
		rest = rest[1:]
	default:
		return "", false
	}
	n := 0
	for n < len(rest) && (isAlnum(rest[n]) || rest[n] == '.' || rest[n] == '+' || rest[n] == '-') {
		n++
	}
	return rest[:n], true
}

func isWordStart(prev byte) bool {
	return prev == ' ' || prev == '(' || prev == ';' || prev == '[' || prev == ',' || prev == '\t'
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// equalFoldASCII compares ASCII case-insensitively and every other byte
// exactly, so no Unicode folding (the Kelvin sign is a "K" to
// strings.EqualFold) makes a lookalike token match.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// The names by which user agents say what they run on. Windows Phone and
// TVs (consoles among them: cordon has no platform of their own, and their
// apps are the living-room ones) are tried first, because their user
// agents also name other systems: Windows Phone 8.1 claims "Android 4.0"
// and "like iPhone OS", Android TV and Fire TV say "Android", Apple TV
// says "AppleTV… iOS" in some apps. Among the rest, a user agent that
// names more than one is contradicting itself, and gets no platform.
// Fire TV models ("AFTMM", "AFTKA") are "AFT" and a capital letter, as a
// word of their own; "OS X" after "like " is iOS web views' "like Mac OS X".
var markers = map[uint8][]string{
	kindWinPhone: {"Windows Phone", "WPDesktop", "IEMobile", "ZuneWP7", "WindowsPhone"},
	kindTV: {"AppleTV", "Apple TV", "tvOS", "Android TV", "AndroidTV", "GoogleTV", "Google TV",
		"BRAVIA", "SMART-TV", "SmartTV", "Smart TV", "SMART TV", "Tizen", "Web0S", "webOS", "WebOS", "NetCast",
		"Roku", "CrKey", "HbbTV", "Xbox", "PlayStation", "Nintendo", "VIDAA", "SHIELD", "Chromecast", "MIBOX", "AFT"},
	kindAndroid: {"Android", "Dalvik/"},
	kindIOS:     {"iPhone", "iPad", "iPod", "iOS", "CPU OS"},
	kindDesktop: {"Windows", "Win32", "Win64", "WOW64", "Macintosh", "macOS", "OS X", "OSX",
		"X11", "Linux x86_64", "Linux/", "PC desktop", "CrOS", "Electron/", "Ubuntu", "Fedora", "FreeBSD"},
}

// Kinds of markers, as bits of what a user agent names.
const (
	kindWinPhone uint8 = 1 << iota
	kindTV
	kindAndroid
	kindIOS
	kindDesktop
)

type marker struct {
	text string
	kind uint8
}

// markersAt indexes the markers by their first byte, so kindsOf looks at
// each byte of a user agent once instead of searching it once per marker.
// Built once, never written after.
var markersAt = func() (t [256][]marker) {
	for kind, list := range markers {
		for _, m := range list {
			t[m[0]] = append(t[m[0]], marker{m, kind})
		}
	}
	return t
}()

// kindsOf returns the kinds of system ua names, as a set of bits.
func kindsOf(ua string) (kinds uint8) {
	for i := 0; i < len(ua); i++ {
		for _, m := range markersAt[ua[i]] {
			if kinds&m.kind != 0 || !strings.HasPrefix(ua[i:], m.text) {
				continue
			}
			switch m.text {
			case "OS X":
				if strings.HasSuffix(ua[:i], "like ") || strings.HasSuffix(ua[:i], "like Mac ") {
					continue
				}
			case "AFT":
				word := i == 0 || strings.IndexByte(" ;(", ua[i-1]) >= 0
				if !word || i+3 >= len(ua) || ua[i+3] < 'A' || ua[i+3] > 'Z' {
					continue
				}
			}
			kinds |= m.kind
		}
	}
	return kinds
}

// platformOf names the platform ua runs on by the systems it names: a
// platform, or "" with conflict false when it names none, or "" with
// conflict true when it names several.
func platformOf(ua string) (platform string, conflict bool) {
	k := kindsOf(ua)
	switch {
	case k&kindWinPhone != 0:
		return cordon.PlatformWinPhone, false
	case k&kindTV != 0:
		return cordon.PlatformTV, false
	case k == kindAndroid:
		return cordon.PlatformAndroid, false
	case k == kindIOS:
		return cordon.PlatformIOS, false
	case k == kindDesktop:
		return cordon.PlatformDesktop, false
	}
	return "", k != 0
}

// cfnetworkPlatform tells macOS from iOS in NSURLSession's default user
// agent: macOS appends the architecture, "Darwin/23.2.0 (arm64)" or
// "(x86_64)"; iOS (and tvOS and watchOS, which cannot be told from it)
// does not.
func cfnetworkPlatform(ua string) string {
	i := strings.Index(ua, "Darwin/")
	rest := ua[i+len("Darwin/"):]
	if j := strings.IndexByte(rest, ' '); j >= 0 {
		rest = rest[j:]
		if strings.HasPrefix(rest, " (x86_64)") || strings.HasPrefix(rest, " (arm64)") {
			return cordon.PlatformDesktop
		}
	}
	return cordon.PlatformIOS
}

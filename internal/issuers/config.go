package issuers

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Config is one trusted external issuer.
type Config struct {
	// Issuer is the issuer URL, compared byte for byte with a token's iss
	// (OIDC Core §2: https, no query, no fragment).
	Issuer string
	// Audience must be among a token's aud: the client id of the app
	// (ID tokens) or the API's resource name (access tokens). Required:
	// without it any token the provider issued to any other relying party
	// would pass.
	Audience string
	// Algorithms is the allow-list of signature algorithms (RS256, ES256,
	// EdDSA); RS256 alone when empty, the one OIDC requires of every
	// provider.
	Algorithms []string
}

// Algorithms cordon verifies for external issuers. none, the HMAC family
// (whose secret a public key could be abused as) and every other
// algorithm are refused whatever a configuration says.
var supported = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// MaxIssuers bounds the trusted issuers a process holds.
const MaxIssuers = 32

// ParseSpec reads the value of --trusted-issuer:
//
//	URL;aud=AUDIENCE[;alg=ALG]...
//
// e.g. https://id.example.com/realms/app;aud=api;alg=RS256;alg=ES256.
// The audience is required; alg may repeat and defaults to RS256.
func ParseSpec(s string) (Config, error) {
	parts := strings.Split(strings.TrimSpace(s), ";")
	c := Config{Issuer: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		v = strings.TrimSpace(v)
		switch {
		case !ok || v == "":
			return Config{}, fmt.Errorf("trusted issuer %q: %q is not key=value (aud=AUDIENCE, alg=RS256|ES256|EdDSA)", c.Issuer, p)
		case k == "aud":
			if c.Audience != "" {
				return Config{}, fmt.Errorf("trusted issuer %q: aud given twice", c.Issuer)
			}
			c.Audience = v
		case k == "alg":
			c.Algorithms = append(c.Algorithms, v)
		default:
			return Config{}, fmt.Errorf("trusted issuer %q: unknown setting %q (want aud= or alg=)", c.Issuer, k)
		}
	}
	return c, c.check()
}

// String is the spec ParseSpec reads back.
func (c Config) String() string {
	s := c.Issuer + ";aud=" + c.Audience
	for _, a := range c.Algorithms {
		s += ";alg=" + a
	}
	return s
}

// check validates c, filling the default algorithm.
func (c *Config) check() error {
	u, err := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "":
		return fmt.Errorf("a trusted issuer needs its issuer URL")
	case err != nil || u.Host == "" || u.User != nil:
		return fmt.Errorf("trusted issuer %q: not an absolute URL with a host", c.Issuer)
	case u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())):
		return fmt.Errorf("trusted issuer %q: must be https (OIDC Core §2; http only on loopback)", c.Issuer)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(c.Issuer, "#?"):
		return fmt.Errorf("trusted issuer %q: must have no query or fragment (OIDC Core §2)", c.Issuer)
	case len(c.Issuer) > 512:
		return fmt.Errorf("trusted issuer %q: longer than 512 bytes", c.Issuer[:64])
	case c.Audience == "":
		return fmt.Errorf("trusted issuer %q: needs aud=AUDIENCE (the client id or API name its tokens name), or tokens it issued to anyone would pass", c.Issuer)
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{string(jose.RS256)}
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(supported, jose.SignatureAlgorithm(a)) {
			return fmt.Errorf("trusted issuer %q: algorithm %q is not one cordon verifies (RS256, ES256, EdDSA)", c.Issuer, a)
		}
	}
	return nil
}

// loopback reports whether host is this machine: an http issuer is allowed
// there only (a provider beside cordon, tests), as RFC 8252 allows http
// redirects to loopback only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Package token issues and checks cordon's credentials: access tokens as
// JWTs in the RFC 9068 profile, the Ed25519 keys that sign them (rotated,
// and published as a JWK Set), and the opaque secrets used for refresh and
// admin tokens, which are stored only as hashes.
//
// The JOSE work is go-jose's; this package decides what to trust. A
// Verifier accepts only the algorithms it allows, only keys it already
// knows by kid, never a key or key location named in the token itself,
// and answers every failure with a *cordon.Error of code invalid_token.
package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TypeAccessToken is the typ header of an access token (RFC 9068 §2.1).
// It keeps an access token from being accepted where another kind of JWT
// signed by the same key is expected, and the other way round.
const TypeAccessToken = "at+jwt"

// MaxTokenSize bounds a token Verify will look at. A real token is well
// under 1 KiB; the bound stops a hostile one from costing much before it
// is refused.
const MaxTokenSize = 8 << 10

// Claims are the claims of an access token. Times have whole seconds.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub: the account id
	Audience  []string  // aud
	ClientID  string    // client_id
	SessionID string    // sid
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf; zero when absent
	Expiry    time.Time // exp
	AuthTime  time.Time // auth_time: when the user last proved the password; zero when absent
	ID        string    // jti
	Platform  string    // platform, from the session's client facts
	Version   string    // ver: the app version; empty when not reported
	Source    string    // src: the install source
}

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	jwt.Claims
	ClientID  string           `json:"client_id,omitempty"`
	SessionID string           `json:"sid,omitempty"`
	AuthTime  *jwt.NumericDate `json:"auth_time,omitempty"`
	Platform  string           `json:"platform,omitempty"`
	Version   string           `json:"ver,omitempty"`
	Source    string           `json:"src,omitempty"`
}

// Signer signs access tokens with the active key of its key set. It is safe
// for concurrent use, and SetKeySet may swap the key set while it signs.
type Signer struct {
	keys     atomic.Pointer[KeySet]
	issuer   string
	audience []string
	clientID string
	ttl      time.Duration
}

// NewSigner returns a signer that signs with ks and fills in issuer,
// audience and clientID where a token's claims leave them empty. Tokens
// live for ttl unless their claims say otherwise. It panics if ks is nil
// or ttl is not positive or exceeds ks.MaxTokenTTL: those are wiring
// mistakes.
func NewSigner(ks *KeySet, issuer string, audience []string, clientID string, ttl time.Duration) *Signer {
	if ks == nil || ttl <= 0 || ttl > ks.maxTTL {
		panic("token: NewSigner needs a key set and a positive lifetime no longer than the set's")
	}
	s := &Signer{issuer: issuer, audience: audience, clientID: clientID, ttl: ttl}
	s.keys.Store(ks)
	return s
}

// SetKeySet makes ks the key set to sign with, from the next Sign on. A nil
// ks is ignored, so a failed reload keeps the keys in force.
func (s *Signer) SetKeySet(ks *KeySet) {
	if ks != nil {
		s.keys.Store(ks)
	}
}

// KeySet returns the key set in force.
func (s *Signer) KeySet() *KeySet { return s.keys.Load() }

// TTL returns the lifetime Sign gives a token whose Expiry is zero.
func (s *Signer) TTL() time.Duration { return s.ttl }

// PublicKey looks kid up in the key set in force, which makes a Signer a
// Keys: a Verifier built on it follows every SetKeySet.
func (s *Signer) PublicKey(kid string) (crypto.PublicKey, bool) {
	return s.keys.Load().PublicKey(kid)
}

// Sign returns the compact JWS of c. Empty Issuer, Audience and ClientID
// take the signer's values, an empty ID a random one, and a zero Expiry
// IssuedAt plus the signer's lifetime. Subject, SessionID and IssuedAt are
// required: Sign reads no clock. A token may not live longer than the key
// set's longest token lifetime, or it would outlast its key.
func (s *Signer) Sign(c Claims) (string, error) {
	ks := s.keys.Load()
	if c.Issuer == "" {
		c.Issuer = s.issuer
	}
	if len(c.Audience) == 0 {
		c.Audience = s.audience
	}
	if c.ClientID == "" {
		c.ClientID = s.clientID
	}
	if c.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", internalErr("could not make a token id", err)
		}
		c.ID = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if c.IssuedAt.IsZero() {
		return "", internalErr("token claims lack the issue time", nil)
	}
	if c.Expiry.IsZero() {
		c.Expiry = c.IssuedAt.Add(s.ttl)
	}
	switch {
	case c.Issuer == "":
		return "", internalErr("token claims lack an issuer", nil)
	case len(c.Audience) == 0:
		return "", internalErr("token claims lack an audience", nil)
	case c.ClientID == "":
		return "", internalErr("token claims lack a client id", nil)
	case c.Subject == "":
		return "", internalErr("token claims lack a subject", nil)
	case c.SessionID == "":
		return "", internalErr("token claims lack a session id", nil)
	case !c.Expiry.After(c.IssuedAt):
		return "", internalErr("token would expire before it is issued", nil)
	case c.Expiry.Sub(c.IssuedAt) > ks.maxTTL:
		return "", internalErr(fmt.Sprintf("token lifetime %v exceeds the key set's %v", c.Expiry.Sub(c.IssuedAt), ks.maxTTL), nil)
	}

	payload, err := json.Marshal(wireClaims{
		Claims: jwt.Claims{
			Issuer:    c.Issuer,
			Subject:   c.Subject,
			Audience:  jwt.Audience(c.Audience),
			Expiry:    jwt.NewNumericDate(c.Expiry),
			NotBefore: jwt.NewNumericDate(c.NotBefore),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ID:        c.ID,
		},
		ClientID:  c.ClientID,
		SessionID: c.SessionID,
		AuthTime:  jwt.NewNumericDate(c.AuthTime),
		Platform:  c.Platform,
		Version:   c.Version,
		Source:    c.Source,
	})
	if err != nil {
		return "", internalErr("could not encode token claims", err)
	}
	jws, err := ks.signer.Sign(payload)
	if err != nil {
		return "", internalErr("could not sign a token", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", internalErr("could not encode a token", err)
	}
	return tok, nil
}

// allowedAlgs are the algorithms Verify lets go-jose parse. Every other
// value of alg — none, the HMAC family that a public key can be abused as
// the secret of, RSA — is refused before any key is touched. Keeping it a
// function leaves no package state a caller could change.
func allowedAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	keys     Keys
	issuer   string
	audience string
	algs     []jose.SignatureAlgorithm
	// noRoots lets Verify ask go-jose whether a token carried x5c without
	// trusting any certificate it carried.
	noRoots *x509.CertPool
	// cache holds verified tokens; nil without WithCache.
	cache *verifiedCache
}

// WithCache returns a copy of v that keeps up to size verified tokens
// (DefaultCacheSize when size is 0; none when size is negative). Only the
// signature's verdict and the claims are kept: whatever the token's
// session has become since is the caller's to check on every request.
func (v *Verifier) WithCache(size int) *Verifier {
	w := *v
	w.cache = nil
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		w.cache = newVerifiedCache(size)
	}
	return &w
}

// NewVerifier returns a verifier that trusts the keys of keys and accepts
// tokens issued by issuer for audience. Pass a *Signer or a KeysFunc for
// keys to follow key rotation. It panics if keys is nil or issuer or
// audience is empty: a verifier that checked neither would accept tokens
// meant for others.
func NewVerifier(keys Keys, issuer, audience string) *Verifier {
	if keys == nil || issuer == "" || audience == "" {
		panic("token: NewVerifier needs keys, an issuer and an audience")
	}
	return &Verifier{
		keys:     keys,
		issuer:   issuer,
		audience: audience,
		algs:     allowedAlgs(),
		noRoots:  x509.NewCertPool(),
	}
}

// Verify checks token at now and returns its claims. Every failure is a
// *cordon.Error with code cordon.ECodeInvalidToken whose Message says what
// is wrong in words fit for the person holding the token; any library
// error is in Err. Expiry, not-before and issue time are allowed Leeway of
// clock skew. now must not be zero; go-jose would read the clock instead.
//
// A verifier with a cache (WithCache) answers a token it has verified
// before from the cache, with the time rules applied again at now and its
// key still required to be published: the same bytes carry the same
// signature, so only what can change with time or rotation is checked
// again. The caller owns the Claims returned; Audience may be shared.
func (v *Verifier) Verify(token string, now time.Time) (*Claims, error) {
	if token == "" {
		return nil, invalidToken("missing token", nil)
	}
	if len(token) > MaxTokenSize {
		return nil, invalidToken("token is too long", nil)
	}
	if !compactShape(token) {
		return nil, invalidToken("malformed token", nil)
	}
	if v.cache != nil {
		if c := v.cache.get(token, now.UnixNano(), v.keys); c != nil {
			cp := *c
			return &cp, nil
		}
	}
	var (
		c   *Claims
		kid string
		key crypto.PublicKey
		err error
	)
	if kid = ownHeader(token); kid != "" {
		c, key, err = v.verifyOwn(token, kid, now)
	} else {
		c, kid, key, err = v.verifyJOSE(token, now)
	}
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		cp := *c
		v.cache.put(token, &cp, kid, key, now.UnixNano())
	}
	return c, nil
}

// ownHeader returns the kid of a token whose header is, byte for byte, the
// one cordon's Signer writes: {"alg":"EdDSA","kid":KID,"typ":"at+jwt"}
// with a kid of ID characters. Such a header names no key, URL, chain or
// critical extension and has the one type and algorithm Verify accepts,
// so it needs no JSON parser. Any other header, however legitimate, gets
// "" and goes through go-jose.
func ownHeader(token string) string {
	const prefix, suffix = `{"alg":"EdDSA","kid":"`, `","typ":"at+jwt"}`
	seg, _, _ := strings.Cut(token, ".")
	var buf [192]byte
	if base64.RawURLEncoding.DecodedLen(len(seg)) > len(buf) {
		return ""
	}
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(seg))
	if err != nil {
		return ""
	}
	h := buf[:n]
	if len(h) <= len(prefix)+len(suffix) || string(h[:len(prefix)]) != prefix || string(h[len(h)-len(suffix):]) != suffix {
		return ""
	}
	kid := h[len(prefix) : len(h)-len(suffix)]
	for _, c := range kid {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return string(kid)
}

// OwnKeyID returns the kid of a token whose header is byte for byte the
// one Signer writes, without a JSON parser; "" for any other header. It
// says nothing of the signature.
func OwnKeyID(token string) string { return ownHeader(token) }

// verifyOwn checks a token whose header ownHeader read: the signature with
// crypto/ed25519 over the signing input, then the claims. The claims are
// decoded only once the signature holds, as go-jose does.
func (v *Verifier) verifyOwn(token, kid string, now time.Time) (*Claims, crypto.PublicKey, error) {
	key, ok := v.keys.PublicKey(kid)
	if !ok {
		return nil, nil, invalidToken("token signed with an unknown key", nil)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok || algFor(key) != jose.EdDSA {
		return nil, nil, invalidToken("token algorithm does not match its key", nil)
	}
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		return nil, nil, invalidToken("malformed token", err)
	}
	if !ed25519.Verify(pub, []byte(token[:dot]), sig) {
		return nil, nil, invalidToken("token signature is invalid", jose.ErrCryptoFailure)
	}
	first := strings.IndexByte(token, '.')
	var payload []byte
	payload, err = base64.RawURLEncoding.DecodeString(token[first+1 : dot])
	if err != nil {
		return nil, nil, invalidToken("malformed token", err)
	}
	wc, ok := ownClaims(payload)
	if !ok {
		wc = wireClaims{}
		if err := json.Unmarshal(payload, &wc); err != nil {
			return nil, nil, invalidToken("malformed token claims", err)
		}
	}
	c, err := v.check(&wc, now)
	return c, key, err
}

// verifyJOSE checks any other token through go-jose: an ES256 token of a
// published P-256 key, or a header written by someone other than cordon's
// Signer.
func (v *Verifier) verifyJOSE(token string, now time.Time) (*Claims, string, crypto.PublicKey, error) {
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, "", nil, invalidToken("token signed with an unsupported algorithm", err)
		}
		return nil, "", nil, invalidToken("malformed token", err)
	}
	if len(tok.Headers) != 1 {
		return nil, "", nil, invalidToken("malformed token", nil)
	}
	h := tok.Headers[0]

	if v.namesItsOwnKey(&h) {
		return nil, "", nil, invalidToken("token header names its own key or critical extensions", nil)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, TypeAccessToken) &&
		!strings.EqualFold(typ, "application/"+TypeAccessToken) {
		return nil, "", nil, invalidToken("token type must be at+jwt", nil)
	}
	if h.KeyID == "" {
		return nil, "", nil, invalidToken("token has no key id", nil)
	}
	key, ok := v.keys.PublicKey(h.KeyID)
	if !ok {
		return nil, "", nil, invalidToken("token signed with an unknown key", nil)
	}
	if string(algFor(key)) != h.Algorithm {
		return nil, "", nil, invalidToken("token algorithm does not match its key", nil)
	}

	var wc wireClaims
	if err := tok.Claims(key, &wc); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, "", nil, invalidToken("token signature is invalid", err)
		}
		return nil, "", nil, invalidToken("malformed token claims", err)
	}
	c, err := v.check(&wc, now)
	return c, h.KeyID, key, err
}

// compactShape reports whether s is three dot-separated runs of base64url
// characters. Go's base64 decoder skips CR and LF, so without this the
// same token could be written several ways and still verify.
func compactShape(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2
}

// namesItsOwnKey reports whether the header names a key, or where to fetch
// one (RFC 8725 §3.10), or demands processing cordon does not do (crit). A
// token has no say in which key checks it, so any of these is refused.
func (v *Verifier) namesItsOwnKey(h *jose.Header) bool { return NamesItsOwnKey(h, v.noRoots) }

// NamesItsOwnKey is the check above for any JOSE header (trusted external
// issuers' tokens too); noRoots is an empty pool, made once by the caller.
func NamesItsOwnKey(h *jose.Header, noRoots *x509.CertPool) bool {
	if h.JSONWebKey != nil {
		return true
	}
	// go-jose lifts jwk and x5c out of ExtraHeaders; the rest stay in it.
	for _, k := range [...]jose.HeaderKey{"jku", "x5u", "crit"} {
		if _, ok := h.ExtraHeaders[k]; ok {
			return true
		}
	}
	// Header.Certificates is the only view go-jose gives of x5c; with no
	// roots it cannot succeed, so any answer but "absent" means present.
	if _, err := h.Certificates(x509.VerifyOptions{Roots: noRoots}); !errors.Is(err, jose.ErrMissingX5cHeader) {
		return true
	}
	return false
}

// check applies the claim rules to a token whose signature holds.
func (v *Verifier) check(wc *wireClaims, now time.Time) (*Claims, error) {
	// RFC 9068 §2.2 requires iss, exp, aud, sub, client_id, iat and jti;
	// cordon adds sid, which names the session a campaign may revoke.
	switch {
	case wc.Issuer == "":
		return nil, invalidToken("token lacks an issuer", nil)
	case wc.Expiry == nil:
		return nil, invalidToken("token lacks an expiry time", nil)
	case len(wc.Audience) == 0:
		return nil, invalidToken("token lacks an audience", nil)
	case wc.Subject == "":
		return nil, invalidToken("token lacks a subject", nil)
	case wc.ClientID == "":
		return nil, invalidToken("token lacks a client id", nil)
	case wc.IssuedAt == nil:
		return nil, invalidToken("token lacks an issue time", nil)
	case wc.ID == "":
		return nil, invalidToken("token lacks a token id", nil)
	case wc.SessionID == "":
		return nil, invalidToken("token lacks a session id", nil)
	}
	if wc.Issuer != v.issuer {
		return nil, invalidToken("token was issued by someone else", nil)
	}
	if !wc.Audience.Contains(v.audience) {
		return nil, invalidToken("token is not meant for this service", nil)
	}
	if err := wc.Claims.ValidateWithLeeway(jwt.Expected{Time: now}, Leeway); err != nil {
		return nil, invalidToken(TimeProblem(err), err)
	}
	return &Claims{
		Issuer:    wc.Issuer,
		Subject:   wc.Subject,
		Audience:  wc.Audience,
		ClientID:  wc.ClientID,
		SessionID: wc.SessionID,
		IssuedAt:  dateTime(wc.IssuedAt),
		NotBefore: dateTime(wc.NotBefore),
		Expiry:    dateTime(wc.Expiry),
		AuthTime:  dateTime(wc.AuthTime),
		ID:        wc.ID,
		Platform:  wc.Platform,
		Version:   wc.Version,
		Source:    wc.Source,
	}, nil
}

// dateTime returns d in UTC, or the zero time for an absent claim.
func dateTime(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time().UTC()
}

func invalidToken(msg string, err error) error {
	return &cordon.Error{Code: cordon.ECodeInvalidToken, Message: msg, Err: err}
}

var (
	_ Keys = (*KeySet)(nil)
	_ Keys = (*PublicKeys)(nil)
	_ Keys = (*Signer)(nil)
	_ Keys = KeysFunc(nil)
)

// TimeProblem says, for a person, why jwt's time validation (exp, nbf,
// iat with Leeway) refused a token: the message both cordon's own tokens
// and trusted issuers' answer with.
func TimeProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrNotValidYet):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "token issued in the future"
	}
	return "token is not valid now"
}

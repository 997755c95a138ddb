package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	jose "github.com/go-jose/go-jose/v4"
)

// Leeway is the clock skew tolerated between the process that signs a token
// and the one that verifies it. It also bounds how long a server may keep
// signing with a key another instance has just retired, which is why a
// retired key stays published this much longer than the longest token.
const Leeway = 60 * time.Second

// AlgEdDSA is the one algorithm cordon signs with.
const AlgEdDSA = string(jose.EdDSA)

// Keys finds the public key that checks a token's signature by the token's
// kid. Implementations must be safe for concurrent use; *KeySet,
// *PublicKeys, *Signer and KeysFunc are.
type Keys interface {
	PublicKey(kid string) (crypto.PublicKey, bool)
}

// KeysFunc adapts a function that returns the current key source, so a
// Verifier follows a key set that is swapped at run time (for example a
// JWKS refetched into an atomic.Pointer). A nil result knows no key.
type KeysFunc func() Keys

// PublicKey looks kid up in the key source f returns now.
func (f KeysFunc) PublicKey(kid string) (crypto.PublicKey, bool) {
	k := f()
	if k == nil {
		return nil, false
	}
	return k.PublicKey(kid)
}

// NewSigningKey returns a fresh Ed25519 signing key created at now. The
// caller stores it (KeyStore.AddSigningKey retires the keys it replaces)
// and rebuilds its KeySet.
func NewSigningKey(now time.Time) (*cordon.SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, internalErr("could not generate a signing key", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, internalErr("could not encode a signing key", err)
	}
	return &cordon.SigningKey{
		ID:         cordon.NewID("k"),
		Algorithm:  AlgEdDSA,
		PrivateKey: der,
		CreatedAt:  now,
	}, nil
}

// KeySet is the signing keys as of one instant: the key that signs and the
// public keys published for verification. It is immutable and safe for
// concurrent use; rotation builds a new one.
type KeySet struct {
	activeKID string
	signer    jose.Signer
	setSigner jose.Signer // typ secevent+jwt
	maxTTL    time.Duration
	public    map[string]crypto.PublicKey
	jwks      []byte
}

// NewKeySet builds the key set in force at now. The active key is the
// newest key that is not retired; it is an error if there is none. A
// retired key stays published until RetiredAt + maxTokenTTL + Leeway, so
// every token it signed can still be checked until that token expires.
// Keys past that point are ignored, so a store may keep them until pruned.
func NewKeySet(keys []*cordon.SigningKey, maxTokenTTL time.Duration, now time.Time) (*KeySet, error) {
	if maxTokenTTL <= 0 {
		return nil, internalErr("the longest token lifetime must be positive", nil)
	}
	var active *cordon.SigningKey
	for _, k := range keys {
		// Ties go to the later key, the order a store lists them in.
		if k != nil && k.RetiredAt.IsZero() && (active == nil || !k.CreatedAt.Before(active.CreatedAt)) {
			active = k
		}
	}
	if active == nil {
		return nil, internalErr("no signing key is active", nil)
	}

	ks := &KeySet{
		activeKID: active.ID,
		maxTTL:    maxTokenTTL,
		public:    make(map[string]crypto.PublicKey),
	}
	// The active key leads the JWKS; the rest follow newest first, so a
	// reader sees what signs now before what merely still verifies.
	published := []*cordon.SigningKey{active}
	for _, k := range slices.Backward(keys) {
		if k == nil || k == active {
			continue
		}
		// A second key that is not retired should not exist, but if it
		// does, it may have signed tokens before the newer one appeared.
		if k.RetiredAt.IsZero() || k.RetiredAt.Add(maxTokenTTL+Leeway).After(now) {
			published = append(published, k)
		}
	}

	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(published))}
	for _, k := range published {
		priv, err := parsePrivateKey(k)
		if err != nil {
			return nil, err
		}
		if _, dup := ks.public[k.ID]; dup {
			return nil, internalErr(fmt.Sprintf("signing key id %q is used twice", k.ID), nil)
		}
		pub := priv.Public().(ed25519.PublicKey)
		ks.public[k.ID] = pub
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: k.ID, Algorithm: AlgEdDSA, Use: "sig"})
		if k == active {
			ks.signer, err = jose.NewSigner(
				jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
				(&jose.SignerOptions{}).WithType(TypeAccessToken).WithHeader("kid", k.ID),
			)
			if err != nil {
				return nil, internalErr("could not build a signer", err)
			}
			ks.setSigner, err = jose.NewSigner(
				jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
				(&jose.SignerOptions{}).WithType(TypeSET).WithHeader("kid", k.ID),
			)
			if err != nil {
				return nil, internalErr("could not build a signer", err)
			}
		}
	}
	var err error
	ks.jwks, err = json.Marshal(set)
	if err != nil {
		return nil, internalErr("could not encode the JWKS", err)
	}
	return ks, nil
}

func parsePrivateKey(k *cordon.SigningKey) (ed25519.PrivateKey, error) {
	if k.ID == "" {
		return nil, internalErr("a signing key has no id", nil)
	}
	if k.Algorithm != AlgEdDSA {
		return nil, internalErr(fmt.Sprintf("signing key %s has unsupported algorithm %q", k.ID, k.Algorithm), nil)
	}
	priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
	if err != nil {
		return nil, internalErr(fmt.Sprintf("signing key %s is unreadable", k.ID), err)
	}
	ed, ok := priv.(ed25519.PrivateKey)
	if !ok {
		return nil, internalErr(fmt.Sprintf("signing key %s is %T, not Ed25519", k.ID, priv), nil)
	}
	return ed, nil
}

// ActiveKID returns the id of the key that signs.
func (ks *KeySet) ActiveKID() string { return ks.activeKID }

// MaxTokenTTL returns the longest token lifetime the set was built for; a
// token living longer would outlast the publication of its key.
func (ks *KeySet) MaxTokenTTL() time.Duration { return ks.maxTTL }

// JWKS returns the published public keys as an RFC 7517 JWK Set, ready to
// serve at /.well-known/jwks.json. It never holds private key material.
// The document is encoded once; each call returns a fresh copy.
func (ks *KeySet) JWKS() []byte { return slices.Clone(ks.jwks) }

// PublicKey returns the published key with id kid. A nil set knows no key.
func (ks *KeySet) PublicKey(kid string) (crypto.PublicKey, bool) {
	if ks == nil {
		return nil, false
	}
	k, ok := ks.public[kid]
	return k, ok
}

// PublicKeys is a verification-only key source read from a JWK Set, for an
// enforcement point that trusts a control plane's JWKS. It is immutable.
type PublicKeys struct {
	keys map[string]crypto.PublicKey
}

// PublicKey returns the key with id kid. A nil set knows no key.
func (p *PublicKeys) PublicKey(kid string) (crypto.PublicKey, bool) {
	if p == nil {
		return nil, false
	}
	k, ok := p.keys[kid]
	return k, ok
}

// Len returns how many keys the set holds.
func (p *PublicKeys) Len() int {
	if p == nil {
		return 0
	}
	return len(p.keys)
}

// jwkHead is what ParseJWKS looks at before it lets go-jose decode a key:
// the members that say whether the key is one it accepts, and every member
// that would carry private or symmetric key material.
type jwkHead struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`

	D    json.RawMessage `json:"d"`
	P    json.RawMessage `json:"p"`
	Q    json.RawMessage `json:"q"`
	DP   json.RawMessage `json:"dp"`
	DQ   json.RawMessage `json:"dq"`
	QI   json.RawMessage `json:"qi"`
	Oth  json.RawMessage `json:"oth"`
	K    json.RawMessage `json:"k"`
	Priv json.RawMessage `json:"priv"`
}

func (h *jwkHead) private() bool {
	return h.D != nil || h.P != nil || h.Q != nil || h.DP != nil || h.DQ != nil ||
		h.QI != nil || h.Oth != nil || h.K != nil || h.Priv != nil || h.Kty == "oct"
}

// ParseJWKS reads a JWK Set into a verification-only key source. It keeps
// the signing keys it can check tokens with (OKP Ed25519 for EdDSA, EC
// P-256 for ES256, each with use "sig" and a kid) and skips the rest, as
// RFC 7517 §5 asks of keys a reader does not understand. A document that
// is not a JWK Set, that holds any private or symmetric key, that repeats
// a kid, or that leaves no usable key is an error: publishing a private
// key is a leak to stop, not to work around.
func ParseJWKS(data []byte) (*PublicKeys, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, invalidJWKS("not a JSON JWK Set", err)
	}
	if doc.Keys == nil {
		return nil, invalidJWKS("no keys member", nil)
	}
	p := &PublicKeys{keys: make(map[string]crypto.PublicKey, len(doc.Keys))}
	for i, raw := range doc.Keys {
		var h jwkHead
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, invalidJWKS(fmt.Sprintf("key %d is not a JWK", i), err)
		}
		if h.private() {
			return nil, invalidJWKS(fmt.Sprintf("key %d holds private or symmetric key material", i), nil)
		}
		want, ok := acceptedJWK(&h)
		if !ok {
			continue
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			return nil, invalidJWKS(fmt.Sprintf("key %q is malformed", h.Kid), err)
		}
		if !jwk.Valid() || !jwk.IsPublic() {
			return nil, invalidJWKS(fmt.Sprintf("key %q is not a valid public key", h.Kid), nil)
		}
		if algFor(jwk.Key) != want {
			return nil, invalidJWKS(fmt.Sprintf("key %q does not match its kty and crv", h.Kid), nil)
		}
		if _, dup := p.keys[h.Kid]; dup {
			return nil, invalidJWKS(fmt.Sprintf("key id %q is used twice", h.Kid), nil)
		}
		p.keys[h.Kid] = jwk.Key
	}
	if len(p.keys) == 0 {
		return nil, invalidJWKS("no usable signing key", nil)
	}
	return p, nil
}

// acceptedJWK reports whether a JWK is a signing key ParseJWKS keeps, and
// the algorithm it must verify.
func acceptedJWK(h *jwkHead) (jose.SignatureAlgorithm, bool) {
	if h.Use != "sig" || h.Kid == "" {
		return "", false
	}
	var alg jose.SignatureAlgorithm
	switch {
	case h.Kty == "OKP" && h.Crv == "Ed25519":
		alg = jose.EdDSA
	case h.Kty == "EC" && h.Crv == "P-256":
		alg = jose.ES256
	default:
		return "", false
	}
	if h.Alg != "" && h.Alg != string(alg) {
		return "", false
	}
	return alg, true
}

// algFor returns the one algorithm a public key may verify, so a token
// cannot pick a different one for it.
func algFor(key crypto.PublicKey) jose.SignatureAlgorithm {
	switch k := key.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return jose.EdDSA
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return jose.ES256
		}
	}
	return ""
}

func invalidJWKS(why string, err error) error {
	return &cordon.Error{Code: cordon.ECodeInvalid, Message: "invalid JWKS: " + why, Err: err}
}

func internalErr(msg string, err error) error {
	return &cordon.Error{Code: cordon.ECodeInternal, Message: msg, Err: err}
}

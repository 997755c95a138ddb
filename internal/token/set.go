package token

// TypeSET is the typ header of a security event token (RFC 8417 §2.3), so
// a SET is never mistaken for an access token (whose typ is at+jwt) or an
// ID token, and the other way round.
const TypeSET = "secevent+jwt"

// SignSET signs payload, a SET's claims as JSON, with the active key:
// EdDSA, typ secevent+jwt, the key's kid. The caller builds the claims.
func (ks *KeySet) SignSET(payload []byte) (string, error) {
	jws, err := ks.setSigner.Sign(payload)
	if err != nil {
		return "", internalErr("could not sign a security event token", err)
	}
	return jws.CompactSerialize()
}

package token

import (
	"github.com/go-jose/go-jose/v4/jwt"
)

// ownClaims decodes a claims payload written the way Signer writes it —
// the fields in wireClaims' order, each at most once, names in their own
// case, strings of printable ASCII without escapes, times as unsigned
// integers of at most 15 digits — without encoding/json's reflection.
// Any other payload, however valid, gets ok false, and the caller
// decodes it with json.Unmarshal: for every payload ownClaims accepts,
// the two agree (FuzzOwnClaims). Claims are decoded only after the
// signature holds, so this reads only what a holder of a signing key
// wrote.
func ownClaims(p []byte) (wc wireClaims, ok bool) {
	r := claimsReader{p: p}
	if !r.byte('{') {
		return wc, false
	}
	// Each field in order; a field may be absent (omitempty).
	fields := [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "sid", "auth_time", "platform", "ver", "src"}
	next := 0
	for first := true; ; first = false {
		if r.byte('}') {
			return wc, r.i == len(r.p)
		}
		if !first && !r.byte(',') {
			return wc, false
		}
		key, ok := r.raw()
		if !ok || !r.byte(':') {
			return wc, false
		}
		for next < len(fields) && fields[next] != string(key) {
			next++
		}
		if next == len(fields) {
			return wc, false // unknown, repeated or out of order
		}
		name := fields[next]
		next++
		switch name {
		case "iss":
			wc.Issuer, ok = r.str()
		case "sub":
			wc.Subject, ok = r.str()
		case "aud":
			wc.Audience, ok = r.audience()
		case "exp":
			wc.Expiry, ok = r.date()
		case "nbf":
			wc.NotBefore, ok = r.date()
		case "iat":
			wc.IssuedAt, ok = r.date()
		case "jti":
			wc.ID, ok = r.str()
		case "client_id":
			wc.ClientID, ok = r.str()
		case "sid":
			wc.SessionID, ok = r.str()
		case "auth_time":
			wc.AuthTime, ok = r.date()
		case "platform":
			wc.Platform, ok = r.str()
		case "ver":
			wc.Version, ok = r.str()
		case "src":
			wc.Source, ok = r.str()
		}
		if !ok {
			return wc, false
		}
	}
}

// claimsReader reads the strict form ownClaims accepts: no white space.
type claimsReader struct {
	p []byte
	i int
}

func (r *claimsReader) byte(c byte) bool {
	if r.i < len(r.p) && r.p[r.i] == c {
		r.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII other than '"' and '\'.
func (r *claimsReader) str() (string, bool) {
	b, ok := r.raw()
	return string(b), ok
}

// raw is str's bytes, in place.
func (r *claimsReader) raw() ([]byte, bool) {
	if !r.byte('"') {
		return nil, false
	}
	start := r.i
	for ; r.i < len(r.p); r.i++ {
		switch c := r.p[r.i]; {
		case c == '"':
			r.i++
			return r.p[start : r.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// date reads an unsigned integer of 1 to 15 digits, no leading zero (a
// float64 holds it exactly, as go-jose's NumericDate reads it).
func (r *claimsReader) date() (*jwt.NumericDate, bool) {
	start := r.i
	var n int64
	for r.i < len(r.p) && '0' <= r.p[r.i] && r.p[r.i] <= '9' {
		n = n*10 + int64(r.p[r.i]-'0')
		r.i++
	}
	if d := r.i - start; d == 0 || d > 15 || d > 1 && r.p[start] == '0' {
		return nil, false
	}
	v := jwt.NumericDate(n)
	return &v, true
}

// audience reads one string or an array of one or more.
func (r *claimsReader) audience() (jwt.Audience, bool) {
	if !r.byte('[') {
		s, ok := r.str()
		return jwt.Audience{s}, ok
	}
	var a jwt.Audience
	for {
		s, ok := r.str()
		if !ok {
			return nil, false
		}
		a = append(a, s)
		if r.byte(']') {
			return a, true
		}
		if !r.byte(',') {
			return nil, false
		}
	}
}

package ssf

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// Event types cordon transmits.
const (
	EventSessionRevoked   = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	EventCredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	EventChangeRequired   = "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required"
	EventVerification     = "https://schemas.openid.net/secevent/ssf/event-type/verification"
)

// Supported lists the event types a stream may request.
var Supported = []string{EventSessionRevoked, EventCredentialChange, EventChangeRequired}

// Bounds of a stream's configuration.
const (
	maxURL         = 2048
	maxAuthHeader  = 4096
	maxEvents      = 16
	maxEventURI    = 256
	maxDescription = 1024
	maxStateLen    = 256
)

// Delivery is a stream's delivery method (SSF 1.0 §7.1.1).
type Delivery struct {
	Method              string `json:"method"`
	EndpointURL         string `json:"endpoint_url,omitempty"`
	AuthorizationHeader string `json:"authorization_header,omitempty"`
}

// Request is a receiver's stream configuration: the body of POST, PUT and
// PATCH /ssf/stream. Absent fields are nil. Transmitter-supplied
// properties a receiver echoes back from a GET are accepted and ignored
// (SSF 1.0 §8.1.1.3), so a receiver can PUT what it read.
type Request struct {
	StreamID        string    `json:"stream_id,omitempty"`
	Delivery        *Delivery `json:"delivery,omitempty"`
	EventsRequested *[]string `json:"events_requested,omitempty"`
	Description     *string   `json:"description,omitempty"`

	Iss                     json.RawMessage `json:"iss,omitempty"`
	Aud                     json.RawMessage `json:"aud,omitempty"`
	EventsSupported         json.RawMessage `json:"events_supported,omitempty"`
	EventsDelivered         json.RawMessage `json:"events_delivered,omitempty"`
	MinVerificationInterval json.RawMessage `json:"min_verification_interval,omitempty"`
	InactivityTimeout       json.RawMessage `json:"inactivity_timeout,omitempty"`
}

// Policy says which push endpoints are acceptable.
type Policy struct {
	// AllowHTTP lets a push endpoint on a loopback address (or localhost)
	// use http:// and lets pushes reach loopback addresses at all: for
	// tests and development only (cordon serve --ssf-allow-http).
	AllowHTTP bool
}

// invalid is the 400 of a bad configuration, naming its field.
func invalid(field, format string, args ...any) error {
	return cordon.FieldError(cordon.ECodeInvalid, field, format, args...)
}

// ParseRequest decodes a stream configuration strictly (one JSON object,
// no unknown fields) and checks what it carries: the delivery method, the
// push endpoint under p, the authorization header, the events, the
// description. It does not say whether the fields a verb needs are there
// (see Request.Complete).
func ParseRequest(data []byte, p Policy) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return nil, invalid(te.Field, "%s must be a JSON %s", te.Field, te.Type)
		case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, cordon.Errorf(cordon.ECodeInvalid, "the body is not valid JSON")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, invalid(f, "unknown field %q", f)
		}
		return nil, cordon.Errorf(cordon.ECodeInvalid, "the body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, cordon.Errorf(cordon.ECodeInvalid, "the body must hold exactly one JSON object")
	}
	if len(r.StreamID) > 64 || !printable(r.StreamID) {
		return nil, invalid("stream_id", "stream_id is not a stream id")
	}
	if d := r.Delivery; d != nil {
		switch d.Method {
		case cordon.SSFDeliveryPush:
			if d.EndpointURL == "" {
				return nil, invalid("delivery.endpoint_url", "push delivery needs an endpoint_url")
			}
			if err := CheckEndpoint(d.EndpointURL, p); err != nil {
				return nil, err
			}
		case cordon.SSFDeliveryPoll:
			// The endpoint of poll delivery is the transmitter's; one a
			// receiver echoes back is ignored.
			d.EndpointURL = ""
			if d.AuthorizationHeader != "" {
				return nil, invalid("delivery.authorization_header", "poll delivery takes no authorization_header: the receiver authenticates with its token")
			}
		default:
			return nil, invalid("delivery.method", "delivery.method must be %s (push) or %s (poll)", cordon.SSFDeliveryPush, cordon.SSFDeliveryPoll)
		}
		if len(d.AuthorizationHeader) > maxAuthHeader || !headerValue(d.AuthorizationHeader) {
			return nil, invalid("delivery.authorization_header", "authorization_header must be at most %d printable ASCII characters", maxAuthHeader)
		}
	}
	if r.EventsRequested != nil {
		evs := *r.EventsRequested
		if len(evs) > maxEvents {
			return nil, invalid("events_requested", "events_requested holds at most %d event types", maxEvents)
		}
		for _, e := range evs {
			if e == "" || len(e) > maxEventURI || !printable(e) {
				return nil, invalid("events_requested", "each event type must be a URI of at most %d characters", maxEventURI)
			}
		}
	}
	if r.Description != nil && (len(*r.Description) > maxDescription || !printable(*r.Description)) {
		return nil, invalid("description", "description must be at most %d printable characters", maxDescription)
	}
	return &r, nil
}

// Complete checks that a request holds what creating (or replacing) a
// stream needs: a delivery method.
func (r *Request) Complete() error {
	if r.Delivery == nil {
		return invalid("delivery", "delivery is required")
	}
	return nil
}

// CheckEndpoint applies the push endpoint policy to a URL: absolute https
// (http only for loopback under AllowHTTP), no user information or
// fragment, and no host that names an address a receiver on the open
// network cannot have (private, loopback, link-local such as the cloud
// metadata address, CGNAT, multicast, unspecified). A host name is checked
// again at every connection (see Dialer), so DNS cannot lead a push
// inside.
func CheckEndpoint(raw string, p Policy) error {
	const field = "delivery.endpoint_url"
	if len(raw) > maxURL {
		return invalid(field, "endpoint_url is longer than %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return invalid(field, "endpoint_url must be an absolute https URL")
	}
	if u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n") {
		return invalid(field, "endpoint_url must carry no user information, fragment or spaces")
	}
	host := u.Hostname()
	loopback := isLoopbackHost(host)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP && loopback:
	case u.Scheme == "http":
		return invalid(field, "endpoint_url must use https (http is allowed only for localhost, and only when the server runs with --ssf-allow-http)")
	default:
		return invalid(field, "endpoint_url must be an https URL")
	}
	if loopback {
		if !p.AllowHTTP {
			return invalid(field, "endpoint_url %q is this machine: refused (allowed only with --ssf-allow-http)", host)
		}
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && !publicAddr(a) {
		return invalid(field, "endpoint_url names the internal address %s: refused", a)
	}
	if strings.HasSuffix(strings.ToLower(host), ".internal") || strings.HasSuffix(strings.ToLower(host), ".local") || !strings.Contains(host, ".") {
		return invalid(field, "endpoint_url must name a host on the open network, not %q", host)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// special are the ranges no receiver on the open network has (IANA's
// special-purpose registries: this network, RFC 6598's shared space
// inside many clouds, IETF protocol assignments, documentation,
// benchmarking, reserved) and the IPv6 ranges that carry an IPv4 address
// a gateway would reach (NAT64, 6to4, Teredo, IPv4-compatible): a name
// whose AAAA is 64:ff9b::a00:5 would reach 10.0.0.5 through NAT64.
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "2002::/16",
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// publicAddr reports whether a is an address on the open network.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.Is4In6() || a.Zone() != "" {
		return false
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// dialAllowed is the check at connection time, on the address DNS gave.
func dialAllowed(address string, p Policy) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if publicAddr(a) || (p.AllowHTTP && a.Unmap().IsLoopback()) {
		return nil
	}
	// The address is not named: a receiver reads this error back
	// (/ssf/status), and the answers of an internal DNS are not its to map.
	return errors.New("the endpoint resolves to an address that is not on the open network: refused")
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// headerValue reports whether s can be sent as an HTTP header value as is.
func headerValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

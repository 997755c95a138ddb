package ssf

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url       string
		allowHTTP bool
		ok        bool
	}{
		{"https://rp.example.com/events", false, true},
		{"https://93.184.215.14/events", false, true},
		{"http://rp.example.com/events", false, false},
		{"http://rp.example.com/events", true, false}, // http only for loopback
		{"http://127.0.0.1:9999/events", false, false},
		{"http://127.0.0.1:9999/events", true, true},
		{"http://localhost:9999/events", true, true},
		{"https://localhost/events", false, false},
		{"https://127.0.0.2/events", false, false},
		{"https://[::1]/events", false, false},
		{"https://10.1.2.3/", false, false},
		{"https://172.16.0.1/", false, false},
		{"https://192.168.0.1/", false, false},
		{"https://169.254.169.254/latest/meta-data/", false, false},
		{"https://169.254.169.254/latest/meta-data/", true, false},
		{"https://100.64.0.1/", false, false},
		{"https://0.0.0.0/", false, false},
		{"https://[::]/", false, false},
		{"https://[fd00::1]/", false, false},
		{"https://[fe80::1]/", false, false},
		{"https://[::ffff:10.0.0.1]/", false, false},
		{"https://[::ffff:127.0.0.1]/", false, false},
		{"https://224.0.0.1/", false, false},
		{"https://metadata.google.internal/", false, false},
		{"https://printer.local/", false, false},
		{"https://intranet/", false, false},
		{"https://u:p@rp.example.com/", false, false},
		{"https://rp.example.com/#frag", false, false},
		{"ftp://rp.example.com/", false, false},
		{"gopher://rp.example.com/", false, false},
		{"//rp.example.com/", false, false},
		{"rp.example.com/events", false, false},
		{"https://rp.example.com/" + strings.Repeat("a", 3000), false, false},
	} {
		err := CheckEndpoint(tc.url, Policy{AllowHTTP: tc.allowHTTP})
		if (err == nil) != tc.ok {
			t.Errorf("CheckEndpoint(%q, allowHTTP=%v) = %v, want ok=%v", tc.url, tc.allowHTTP, err, tc.ok)
		}
		var e *cordon.Error
		if err != nil && (!errors.As(err, &e) || e.Code != cordon.ECodeInvalid || e.Field != "delivery.endpoint_url") {
			t.Errorf("CheckEndpoint(%q) error %v is not a 400 on delivery.endpoint_url", tc.url, err)
		}
	}
}

// TestPushClientRefusesInternalAddresses: the address checked is the one
// connected to, after DNS, so a public-looking name that resolves inside
// (DNS rebinding) is refused at the connection.
func TestPushClientRefusesInternalAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer srv.Close()
	// "localhost" passes no CheckEndpoint without AllowHTTP; here the
	// client alone is tested, as if DNS had answered 127.0.0.1.
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", u, nil)
		resp, err := PushClient(Policy{}, 0).Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("push to %s connected; want it refused", u)
		} else if !strings.Contains(err.Error(), "not on the open network") || strings.Contains(err.Error(), "resolves to 127") {
			t.Errorf("push to %s: %v, want the refusal", u, err)
		}
	}
	req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL, nil)
	resp, err := PushClient(Policy{AllowHTTP: true}, 0).Do(req)
	if err != nil {
		t.Fatalf("with AllowHTTP, loopback: %v", err)
	}
	resp.Body.Close()
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body, field string
	}{
		{"ok poll", `{"delivery":{"method":"urn:ietf:rfc:8936"}}`, ""},
		{"echoed transmitter fields", `{"stream_id":"ssf-x","iss":"https://c","aud":"rp","events_supported":[],"events_delivered":[],"min_verification_interval":10,"delivery":{"method":"urn:ietf:rfc:8936","endpoint_url":"https://c/ssf/poll/x"}}`, ""},
		{"unknown field", `{"deliveries":{}}`, "deliveries"},
		{"bad method", `{"delivery":{"method":"push"}}`, "delivery.method"},
		{"push without URL", `{"delivery":{"method":"urn:ietf:rfc:8935"}}`, "delivery.endpoint_url"},
		{"poll with auth header", `{"delivery":{"method":"urn:ietf:rfc:8936","authorization_header":"x"}}`, "delivery.authorization_header"},
		{"auth header with a newline", `{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://rp.example.com/","authorization_header":"a\nb"}}`, "delivery.authorization_header"},
		{"empty event", `{"events_requested":[""]}`, "events_requested"},
		{"control in description", `{"description":"a\u0000b"}`, "description"},
		{"events not a list", `{"events_requested":"x"}`, "events_requested"},
		{"trailing data", `{} {}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(tc.body), Policy{})
			if tc.field == "" && tc.name != "trailing data" {
				if err != nil {
					t.Errorf("ParseRequest: %v, want ok", err)
				}
				return
			}
			var e *cordon.Error
			if !errors.As(err, &e) || e.Code != cordon.ECodeInvalid || e.Field != tc.field {
				t.Errorf("ParseRequest = %v, want invalid_request on %q", err, tc.field)
			}
		})
	}
}

// FuzzParseRequest: any bytes give a request or a 400, never a panic, and
// an accepted push endpoint always passes the endpoint policy.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":["x"],"description":"d"}`,
		`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://rp.example.com/e","authorization_header":"Bearer x"}}`,
		`{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://[::ffff:127.0.0.1]/"}}`,
		`{"stream_id":"a","iss":1,"aud":[1],"events_supported":null}`,
		`[]`, `null`, `{"delivery":null}`, `{"events_requested":null}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, allowHTTP bool) {
		p := Policy{AllowHTTP: allowHTTP}
		r, err := ParseRequest(data, p)
		if err != nil {
			var e *cordon.Error
			if !errors.As(err, &e) || e.Code != cordon.ECodeInvalid {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if d := r.Delivery; d != nil && d.Method == cordon.SSFDeliveryPush {
			if err := CheckEndpoint(d.EndpointURL, p); err != nil {
				t.Fatalf("accepted endpoint %q fails the policy: %v", d.EndpointURL, err)
			}
			if !headerValue(d.AuthorizationHeader) {
				t.Fatalf("accepted an authorization header that cannot be sent: %q", d.AuthorizationHeader)
			}
		}
	})
}

// TestPublicAddrRefusesSpecialRanges: the ranges on no open network, and
// IPv6 forms that carry an IPv4 address a gateway would reach (NAT64,
// 6to4, Teredo, IPv4-compatible), are refused as push targets, at creation
// and at connection; ordinary public addresses pass.
func TestPublicAddrRefusesSpecialRanges(t *testing.T) {
	for _, a := range []string{
		"0.1.2.3", "192.0.0.192", "192.0.0.8", "198.18.0.1", "198.19.255.254", "192.0.2.1", "198.51.100.7", "203.0.113.9", "240.0.0.1",
		"100.64.0.1", "10.0.0.5", "169.254.169.254", "127.0.0.1", "::ffff:10.0.0.5", "::ffff:169.254.169.254",
		"64:ff9b::a00:5", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:5", "2002:a00:5::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "::10.0.0.5", "::a00:5",
		"2001:db8::1", "100::1", "fc00::1", "fe80::1", "::1", "::",
	} {
		if publicAddr(netip.MustParseAddr(a)) {
			t.Errorf("publicAddr(%s) = true, want false", a)
		}
		if err := dialAllowed(net.JoinHostPort(a, "443"), Policy{}); err == nil || strings.Contains(err.Error(), a) {
			t.Errorf("dialAllowed(%s) = %v, want a refusal that does not name the address", a, err)
		}
	}
	for _, a := range []string{"93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e"} {
		if !publicAddr(netip.MustParseAddr(a)) {
			t.Errorf("publicAddr(%s) = false, want true", a)
		}
	}
}

package httpapi

import (
	"net/http"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted TrustedProxies
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: peer, header ignored", TrustedProxies{}, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer sends a header", trusted, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, one hop", trusted, "10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-forged left entry ignored", trusted, "10.1.2.3:443", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", trusted, "10.1.2.3:443", []string{"198.51.100.1, 192.0.2.7"}, "198.51.100.1"},
		{"hops over several headers", trusted, "10.1.2.3:443", []string{"6.6.6.6", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"all trusted: left-most", trusted, "10.1.2.3:443", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"trusted peer, no header", trusted, "10.1.2.3:443", nil, "10.1.2.3"},
		{"garbage entry stops the walk", trusted, "10.1.2.3:443", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"garbage behind a trusted hop", trusted, "10.1.2.3:443", []string{"junk, 10.0.0.5"}, "10.0.0.5"},
		{"ipv6 client with port", trusted, "[2001:db8::1]:443", []string{"[2001:db8:ffff::9]:1234, [2a00::5]:80"}, "2a00::5"},
		{"ipv4-mapped peer", trusted, "[::ffff:10.1.2.3]:443", []string{"198.51.100.4"}, "198.51.100.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tt.trusted.Addr(r); got != tt.want {
				t.Errorf("Addr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", "fe80::1%eth0", "10.0.0.0/8,nope"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) = nil error, want one", bad)
		}
	}
	got, err := ParseTrustedProxies(" 127.0.0.1 , ::1, 10.1.0.0/16 ")
	if err != nil {
		t.Fatal(err)
	}
	if want := "127.0.0.1/32,::1/128,10.1.0.0/16"; got.String() != want {
		t.Errorf("Parse = %q, want %q", got, want)
	}
}

func FuzzClientAddr(f *testing.F) {
	trusted, _ := ParseTrustedProxies("10.0.0.0/8,::1")
	f.Add("10.0.0.1:1", "1.2.3.4, 10.0.0.2")
	f.Add("[::1]:9", "[2001:db8::1]:5,junk")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := trusted.Addr(r)
		if _, ok := parseHost(remote); ok {
			if _, ok := parseHost(got); !ok {
				t.Fatalf("Addr(%q, %q) = %q, not an address", remote, xff, got)
			}
		}
	})
}

package httpapi

// Client addresses: finding the address of the client behind a request,
// trusting X-Forwarded-For only as far as the operator's own proxies.
//
// Behind a load balancer every request comes from the balancer's address,
// so counting failed logins per address would lump every client into one
// (and one attacker would lock everyone out). The balancer appends the
// address it saw to X-Forwarded-For, but the header's earlier entries are
// whatever the client sent. So the client is the right-most entry that is
// not one of the configured trusted proxies, found walking leftwards from
// the peer only while each hop is trusted; a peer that is not a trusted
// proxy is the client itself, whatever header it sends.

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is a set of proxy networks whose X-Forwarded-For is believed.
// The zero value trusts nobody: the peer is the client.
type TrustedProxies struct {
	nets []netip.Prefix
}

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes or bare addresses
// ("10.0.0.0/8, 192.0.2.7, 2001:db8::/32"). An empty list trusts nobody.
func ParseTrustedProxies(list string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return TrustedProxies{}, fmt.Errorf("%q is not a CIDR prefix or an IP address", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		t.nets = append(t.nets, p.Masked())
	}
	return t, nil
}

// String lists the trusted networks, comma-separated.
func (t TrustedProxies) String() string {
	s := make([]string, len(t.nets))
	for i, p := range t.nets {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (t TrustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range t.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client's address for r as an IP string: the peer's
// (r.RemoteAddr) unless the peer is a trusted proxy, then the right-most
// X-Forwarded-For entry that is not a trusted proxy. When every entry is
// trusted, the left-most is the client; an entry that is not an IP address
// ends the walk there (nothing left of it can be believed), and that hop
// is the client. r.RemoteAddr is returned unchanged when it is not an
// address at all (a Unix socket).
func (t TrustedProxies) Addr(r *http.Request) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if len(t.nets) == 0 || !t.trusts(peer) {
		return peer.String()
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := parseHost(strings.TrimSpace(entries[j]))
			if !ok {
				return client.String()
			}
			client = a
			if !t.trusts(a) {
				return a.String()
			}
		}
	}
	return client.String()
}

// parseHost reads "ip", "ip:port", "[ipv6]:port" or "[ipv6]".
func parseHost(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

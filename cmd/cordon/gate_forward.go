package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/realclientip/realclientip-go"
)

// parseTrustedProxies reads --trusted-proxies: addresses and CIDR ranges,
// comma-separated.
func parseTrustedProxies(s string) ([]net.IPNet, error) {
	var list []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	if len(list) == 0 {
		return nil, errors.New("no address or range given")
	}
	nets, err := realclientip.AddressesAndRangesToIPNets(list...)
	if err != nil {
		return nil, fmt.Errorf("want addresses or CIDR ranges, comma-separated: %w", err)
	}
	return nets, nil
}

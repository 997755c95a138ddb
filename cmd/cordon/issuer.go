package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// settleIssuer fixes the deployment's issuer: the one stored at its first
// start, so every node signs and verifies the same iss whatever address
// it listens on. At the first start it is --issuer, or one made from the
// listen address. A later --issuer that differs is refused unless
// --change-issuer says so: every token in flight and every gate's
// --issuer name the stored one, so a silent change would make them all
// refuse each other.
func (m *Main) settleIssuer(ctx context.Context) error {
	c := &m.Config
	if c.Issuer != "" {
		if err := checkIssuer(c.Issuer); err != nil {
			return err
		}
		c.Issuer = strings.TrimRight(c.Issuer, "/")
	}
	stored, err := m.store.Meta(ctx, cordon.MetaIssuer)
	switch {
	case errors.Is(err, cordon.ErrNotFound):
		iss := c.Issuer
		if iss == "" {
			iss = defaultIssuer(m.ln.Addr())
		}
		got, err := m.store.PutMeta(ctx, cordon.MetaIssuer, iss)
		if err != nil {
			return fmt.Errorf("store the issuer: %w", err)
		}
		c.Issuer = got
		return nil
	case err != nil:
		return fmt.Errorf("read the issuer: %w", err)
	case c.Issuer == "" || c.Issuer == stored:
		c.Issuer = stored
		return nil
	case c.ChangeIssuer:
		if err := m.store.SetMeta(ctx, cordon.MetaIssuer, c.Issuer); err != nil {
			return fmt.Errorf("store the issuer: %w", err)
		}
		c.Log.Warn("the issuer changed: tokens of the old one no longer verify; give gates the new --issuer",
			"old", stored, "new", c.Issuer)
		return nil
	default:
		return fmt.Errorf("--issuer %s differs from this deployment's issuer %s (kept in the store since its first start; "+
			"every token and every gate's --issuer use it): start without --issuer, or add --change-issuer to replace it", c.Issuer, stored)
	}
}

// checkIssuer refuses an issuer a verifier could not use: it must be an
// absolute http(s) URL with a host that names a machine.
func checkIssuer(iss string) error {
	u, err := neturl.Parse(iss)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--issuer must be an http(s) URL such as https://id.example.com, got %q", iss)
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("--issuer %s names no machine (%s is the unspecified address); use the name gates and apps reach this service by", iss, u.Hostname())
	}
	return nil
}

// defaultIssuer is the issuer of a deployment started without --issuer:
// http:// and the listen address, with the machine's host name in place
// of an unspecified address (0.0.0.0 or ::), which names no machine.
func defaultIssuer(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

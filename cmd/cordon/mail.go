package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"

	cmail "github.com/cordon-dev/cordon/internal/mail"
)

// relayConfig reads --smtp-url: smtp://[user:pass@]host:port speaks
// STARTTLS (required: a relay that does not offer it is refused),
// smtps://… TLS from the first byte. A relay in clear is allowed only
// with allowPlain and only on this machine (loopback), and never with a
// password.
func relayConfig(raw, from string, allowPlain bool, tlsConf *tls.Config) (cmail.Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return cmail.Config{}, fmt.Errorf("--smtp-url %q: want smtp://[user:password@]host:port or smtps://…", redactURL(raw))
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return cmail.Config{}, fmt.Errorf("--smtp-url: the relay needs a host and a port (587 for STARTTLS, 465 for smtps)")
	}
	cfg := cmail.Config{Addr: u.Host, From: from, TLS: tlsConf}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	switch u.Scheme {
	case "smtp":
		cfg.Security = cmail.StartTLS
		if allowPlain {
			ip := net.ParseIP(host)
			if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return cmail.Config{}, fmt.Errorf("--smtp-allow-plain: only for a relay on this machine (localhost, 127.0.0.1, ::1), not %s", host)
			}
			if cfg.Username != "" {
				return cmail.Config{}, fmt.Errorf("--smtp-allow-plain: a password is never sent in clear; drop the user from --smtp-url or use STARTTLS")
			}
			cfg.Security = cmail.Plain
		}
	case "smtps":
		cfg.Security = cmail.ImplicitTLS
	default:
		return cmail.Config{}, fmt.Errorf("--smtp-url scheme %q: use smtp (STARTTLS) or smtps", u.Scheme)
	}
	if from == "" {
		return cmail.Config{}, fmt.Errorf("--smtp-from is required with --smtp-url: the sender address, e.g. 'Example Security <security@example.com>'")
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return cmail.Config{}, fmt.Errorf("--smtp-from %q: %v", from, err)
	}
	return cfg, nil
}

// fromDomain is the domain of the sender address, for Message-IDs.
func fromDomain(from string) string {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return ""
	}
	return a.Address[strings.LastIndexByte(a.Address, '@')+1:]
}

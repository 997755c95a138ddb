package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// relay is a real SMTP server over TCP on 127.0.0.1 (emersion/go-smtp),
// with STARTTLS on a self-signed certificate and AUTH PLAIN.
type relay struct {
	addr  string
	roots *x509.CertPool

	mu   sync.Mutex
	got  []received
	fail func(stage string) error // nil: accept everything
}

type received struct {
	from, to string
	data     []byte
	user     string
}

type session struct {
	r    *relay
	user string
	from string
	to   string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "cordon" || pass != "s3cret" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.user = user
		return nil
	}), nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return s.r.check("mail")
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return s.r.check("rcpt")
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.r.check("data"); err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.got = append(s.r.got, received{from: s.from, to: s.to, data: b, user: s.user})
	return nil
}

func (r *relay) check(stage string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail == nil {
		return nil
	}
	return r.fail(stage)
}

func (r *relay) messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// startRelay runs a relay; withTLS false offers no STARTTLS.
func startRelay(t *testing.T, withTLS bool) *relay {
	t.Helper()
	r := &relay{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{r: r}, nil }))
	srv.Domain = "relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	srv.ErrorLog = nopLogger{}
	if withTLS {
		cert, roots := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		r.roots = roots
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		DNSNames: []string{"relay.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func sender(t *testing.T, r *relay, mod func(*Config)) *Sender {
	t.Helper()
	cfg := Config{Addr: r.addr, Security: StartTLS, TLS: &tls.Config{RootCAs: r.roots, ServerName: "relay.test"},
		Username: "cordon", Password: "s3cret", From: "Security Team <security@example.com>", Timeout: 3 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func notice() Message {
	return Message{To: "Zoë <zoe@example.org>", Subject: "Action needed: sign in again — Ünïcode",
		Text: "We found that some data was read.\nPlease sign in again.\n", ID: "n-1.a-42@cordon.example",
		Date: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Language: "en"}
}

func TestSendOverStartTLSWithAuth(t *testing.T) {
	r := startRelay(t, true)
	if err := sender(t, r, nil).Send(t.Context(), notice()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := r.messages()
	if len(got) != 1 || got[0].from != "security@example.com" || got[0].to != "zoe@example.org" || got[0].user != "cordon" {
		t.Fatalf("relay got %+v", got)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got[0].data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != notice().Subject || msg.Header.Get("Message-Id") != "<n-1.a-42@cordon.example>" || msg.Header.Get("Content-Language") != "en" {
		t.Errorf("headers: %v (subject %q)", msg.Header, subject)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(stage string) error
		permanent bool
		code      int
	}{
		{"mailbox unavailable", func(s string) error {
			if s == "rcpt" {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		}, true, 550},
		{"greylisted", func(s string) error {
			if s == "rcpt" {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try again later"}
			}
			return nil
		}, false, 451},
		{"mailbox full at data", func(s string) error {
			if s == "data" {
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
			}
			return nil
		}, false, 452},
		{"refused as spam", func(s string) error {
			if s == "data" {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected"}
			}
			return nil
		}, true, 554},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRelay(t, true)
			r.fail = tt.fail
			err := sender(t, r, nil).Send(t.Context(), notice())
			var me *Error
			if !errors.As(err, &me) || me.Permanent != tt.permanent || me.Code != tt.code {
				t.Fatalf("Send: %v; want a *mail.Error, permanent %v, code %d", err, tt.permanent, tt.code)
			}
			if len(r.messages()) != 0 {
				t.Error("a refused message was stored")
			}
		})
	}
}

func TestBadCredentialsArePermanent(t *testing.T) {
	r := startRelay(t, true)
	err := sender(t, r, func(c *Config) { c.Password = "wrong" }).Send(t.Context(), notice())
	var me *Error
	if !errors.As(err, &me) || !me.Permanent || me.Code != 535 {
		t.Fatalf("Send with a wrong password: %v; want permanent 535", err)
	}
}

func TestRelayWithoutStartTLSIsRefused(t *testing.T) {
	r := startRelay(t, false)
	err := sender(t, r, nil).Send(t.Context(), notice())
	if err == nil || len(r.messages()) != 0 {
		t.Fatalf("Send through a relay offering no STARTTLS: %v, %d stored; want an error and nothing sent", err, len(r.messages()))
	}
}

func TestUntrustedCertificateIsRefused(t *testing.T) {
	r := startRelay(t, true)
	err := sender(t, r, func(c *Config) { c.TLS = &tls.Config{ServerName: "relay.test"} }).Send(t.Context(), notice())
	if err == nil || len(r.messages()) != 0 {
		t.Fatalf("Send to a relay with an untrusted certificate: %v; want an error and nothing sent", err)
	}
}

func TestStalledRelayTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepts, never greets
		}
	}()
	s, err := New(Config{Addr: ln.Addr().String(), Security: StartTLS, From: "security@example.com", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), notice())
	var me *Error
	if !errors.As(err, &me) || me.Permanent {
		t.Fatalf("Send to a stalled relay: %v; want a temporary *mail.Error", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Send took %v against a 300 ms timeout", took)
	}
}

func TestBuildRefusesInjection(t *testing.T) {
	tests := map[string]func(*Message){
		"subject line break":  func(m *Message) { m.Subject = "Hi\r\nBcc: everyone@example.com" },
		"recipient list":      func(m *Message) { m.To = "a@example.com, b@example.com\r\nBcc: c@example.com" },
		"not an address":      func(m *Message) { m.To = "nobody" },
		"id with brackets":    func(m *Message) { m.ID = "<x@y>" },
		"no id":               func(m *Message) { m.ID = "" },
		"language line break": func(m *Message) { m.Language = "en\nX-Evil: 1" },
		"invalid UTF-8 text":  func(m *Message) { m.Text = "\xff\xfe" },
	}
	r := startRelay(t, true)
	s := sender(t, r, nil)
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			m := notice()
			mod(&m)
			err := s.Send(t.Context(), m)
			var me *Error
			if !errors.As(err, &me) || !me.Permanent {
				t.Fatalf("Send: %v; want a permanent refusal", err)
			}
		})
	}
	if n := len(r.messages()); n != 0 {
		t.Fatalf("%d hostile messages reached the relay", n)
	}
}

func TestConfigRefusals(t *testing.T) {
	for name, cfg := range map[string]Config{
		"password in clear": {Addr: "127.0.0.1:25", Security: Plain, Username: "u", Password: "p", From: "a@example.com"},
		"no port":           {Addr: "mail.example.com", From: "a@example.com"},
		"bad from":          {Addr: "127.0.0.1:25", From: "not an address"},
		"unknown security":  {Addr: "127.0.0.1:25", Security: "ssl3", From: "a@example.com"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestConcurrentSends(t *testing.T) {
	r := startRelay(t, true)
	s := sender(t, r, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			m := notice()
			m.ID = "n-1.a-" + string(rune('a'+i)) + "@cordon.example"
			if err := s.Send(t.Context(), m); err != nil {
				t.Errorf("Send %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := len(r.messages()); n != 20 {
		t.Fatalf("relay got %d messages, want 20", n)
	}
}

// FuzzBuild: whatever the fields, a built message parses back with the
// same recipient and exactly the headers Build writes.
func FuzzBuild(f *testing.F) {
	f.Add("zoe@example.org", "Hello", "text", "id@example")
	f.Add("\"Zoë\" <zoe@example.org>", "Sujet: é\u2028", "line\r\n.\r\nend", "a.b@c")
	f.Fuzz(func(t *testing.T, to, subject, text, id string) {
		b, err := Build("security@example.com", Message{To: to, Subject: subject, Text: text, ID: id})
		if err != nil {
			return
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("built message does not parse: %v\n%q", err, b)
		}
		if len(msg.Header) != 9 {
			t.Fatalf("built message has %d headers, want the 9 Build writes: %v", len(msg.Header), msg.Header)
		}
		want, _ := mail.ParseAddress(to)
		got, err := mail.ParseAddress(msg.Header.Get("To"))
		if err != nil || got.Address != want.Address {
			t.Fatalf("To: got %v (%v), want %s", got, err, want.Address)
		}
	})
}

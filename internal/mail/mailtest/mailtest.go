// Package mailtest runs a real SMTP relay for tests: an emersion/go-smtp
// server over TCP on 127.0.0.1, with STARTTLS on a self-signed
// certificate that the returned TLS configuration trusts. A test can
// make it fail at any stage (4xx, 5xx, a dropped connection) and count
// what it accepted.
package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one accepted message.
type Received struct {
	From, To string
	Data     []byte
}

// Relay is a running SMTP server.
type Relay struct {
	Addr string
	// TLS trusts the relay's certificate (ServerName 127.0.0.1).
	TLS *tls.Config

	mu  sync.Mutex
	got []Received
	// fail, when set, is asked at each stage ("mail", "rcpt", "data") of
	// each message; a non-nil answer is sent instead of accepting.
	fail func(stage, to string) error
}

// ErrDrop, returned by a Fail function at stage "data", closes the
// connection after the message was read, before answering it: a relay
// lost mid-DATA.
var ErrDrop = errors.New("mailtest: drop the connection")

// SetFail sets (nil: clears) the failure hook.
func (r *Relay) SetFail(f func(stage, to string) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

// Messages returns what the relay accepted, in order.
func (r *Relay) Messages() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

func (r *Relay) check(stage, to string) error {
	r.mu.Lock()
	f := r.fail
	r.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(stage, to)
}

// Temporary and Permanent are SMTP answers a Fail function returns.
func Temporary(msg string) error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: msg}
}

// Permanent is a 5xx answer.
func Permanent(msg string) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: msg}
}

type session struct {
	r        *Relay
	conn     *smtp.Conn
	from, to string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "cordon" || pass != "s3cret" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		return nil
	}), nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return s.r.check("mail", "")
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return s.r.check("rcpt", to)
}
func (s *session) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	if err := s.r.check("data", s.to); err != nil {
		if errors.Is(err, ErrDrop) {
			s.conn.Conn().Close()
		}
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.got = append(s.r.got, Received{From: s.from, To: s.to, Data: b})
	return nil
}

// Start runs a relay until the test ends. The relay offers STARTTLS and
// AUTH PLAIN (user cordon, password s3cret).
func Start(tb testing.TB) *Relay {
	tb.Helper()
	r := &Relay{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{r: r, conn: c}, nil }))
	srv.Domain = "relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxRecipients = 1
	srv.ErrorLog = nopLogger{}
	cert, roots := selfSigned(tb)
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	r.TLS = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r.Addr = ln.Addr().String()
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return r
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		DNSNames: []string{"relay.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, roots
}

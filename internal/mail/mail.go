// Package mail sends one notice email through an SMTP relay
// (github.com/emersion/go-smtp): STARTTLS or implicit TLS, AUTH PLAIN only
// over TLS, a message built so no field can inject a header, and every
// failure classified — a 4xx answer or a broken connection is temporary
// (try again later), a 5xx answer is permanent (give up, keep the reason).
//
// Queueing, retries, rate limits and "never twice to one address" are the
// outbox's (the caller's); a Message carries the Message-ID that makes a
// resent copy recognisable as the same message.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how the connection to the relay is protected.
type Security string

// Security modes.
const (
	// StartTLS upgrades a plain connection (port 587); a relay that does
	// not offer STARTTLS is refused.
	StartTLS Security = "starttls"
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS Security = "tls"
	// Plain sends in clear: only for a relay on the same host.
	Plain Security = "none"
)

// Config is a relay.
type Config struct {
	Addr     string // host:port
	Security Security
	// TLS is the TLS configuration; nil verifies the relay's certificate
	// for the host of Addr against the system roots.
	TLS *tls.Config
	// Username and Password, when set, authenticate with AUTH PLAIN, which
	// is refused on a plain connection.
	Username, Password string
	// From is the envelope sender and the From header.
	From string
	// HelloName is the name said in EHLO; default "localhost".
	HelloName string
	// Timeout bounds one delivery; default 30 s.
	Timeout time.Duration
}

// Message is one email.
type Message struct {
	To      string
	Subject string
	Text    string // plain text, UTF-8
	// ID is the Message-ID without angle brackets, stable per notice and
	// account, so a copy resent after a lost answer is the same message.
	ID   string
	Date time.Time
	// Language is a BCP 47 tag for Content-Language; optional.
	Language string
}

// Error is a failed delivery.
type Error struct {
	// Permanent: the relay refused for good (5xx); trying again will not
	// help. Otherwise the failure is temporary.
	Permanent bool
	Code      int // the SMTP reply code, 0 when none came
	Reason    string
	Err       error
}

func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Code != 0 {
		return fmt.Sprintf("mail: %s failure: %d %s", kind, e.Code, e.Reason)
	}
	return fmt.Sprintf("mail: %s failure: %s", kind, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// Sender delivers through one relay. It is safe for concurrent use: each
// Send has its own connection.
type Sender struct {
	cfg Config
}

// New checks the relay configuration.
func New(cfg Config) (*Sender, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail: relay address %q: %w", cfg.Addr, err)
	}
	switch cfg.Security {
	case StartTLS, ImplicitTLS:
	case Plain:
		if cfg.Username != "" {
			return nil, errors.New("mail: AUTH needs TLS: a password is never sent over a plain connection")
		}
	case "":
		cfg.Security = StartTLS
	default:
		return nil, fmt.Errorf("mail: security %q: use starttls, tls or none", cfg.Security)
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Sender{cfg: cfg}, nil
}

// Send delivers m. A failure is an *Error saying whether it is permanent.
func (s *Sender) Send(ctx context.Context, m Message) error {
	body, err := Build(s.cfg.From, m)
	if err != nil {
		return &Error{Permanent: true, Reason: err.Error(), Err: err}
	}
	to, _ := mail.ParseAddress(m.To) // Build checked it
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, err := s.dial(ctx)
	if err != nil {
		return classify(err)
	}
	defer c.Close()
	if s.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			return classify(err)
		}
	}
	from, _ := mail.ParseAddress(s.cfg.From)
	if err := c.SendMail(from.Address, []string{to.Address}, bytes.NewReader(body)); err != nil {
		return classify(err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted (DATA answered 250); a failed QUIT
		// does not unsend it.
		return nil
	}
	return nil
}

func (s *Sender) dial(ctx context.Context) (*smtp.Client, error) {
	d := net.Dialer{}
	var conn net.Conn
	var err error
	if s.cfg.Security == ImplicitTLS {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: s.cfg.TLS}).DialContext(ctx, "tcp", s.cfg.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.cfg.Addr)
	}
	if err != nil {
		return nil, err
	}
	// The whole exchange ends at the deadline, however the relay stalls:
	// go-smtp sets its own per-command deadlines (minutes), so the
	// connection is closed under it instead.
	context.AfterFunc(ctx, func() { conn.Close() })
	var c *smtp.Client
	if s.cfg.Security == StartTLS {
		// go-smtp refuses a relay that does not offer STARTTLS.
		c, err = smtp.NewClientStartTLS(conn, s.cfg.TLS)
	} else {
		c = smtp.NewClient(conn)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Hello(s.cfg.HelloName); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// classify turns a delivery error into an *Error.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &Error{Permanent: se.Code >= 500, Code: se.Code, Reason: oneLine(se.Message), Err: err}
	}
	return &Error{Reason: oneLine(err.Error()), Err: err}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// Build returns the RFC 5322 message: headers the caller cannot inject
// into (addresses parsed, the subject encoded, no CR or LF in any field),
// and the text as UTF-8 quoted-printable.
func Build(from string, m Message) ([]byte, error) {
	f, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("recipient address %q: %w", m.To, err)
	}
	for name, v := range map[string]string{"subject": m.Subject, "message id": m.ID, "language": m.Language} {
		if strings.ContainsAny(v, "\r\n") || !utf8.ValidString(v) {
			return nil, fmt.Errorf("%s holds a line break or invalid UTF-8", name)
		}
	}
	if m.ID == "" || strings.ContainsAny(m.ID, "<> \t") || !strings.Contains(m.ID, "@") {
		return nil, fmt.Errorf("message id %q must be local@domain, without brackets or spaces", m.ID)
	}
	if !utf8.ValidString(m.Text) {
		return nil, errors.New("text is not valid UTF-8")
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", f.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+">")
	if m.Language != "" {
		header("Content-Language", m.Language)
	}
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

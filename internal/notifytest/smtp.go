package notifytest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// The credentials SMTPServer accepts.
const (
	SMTPUser     = "picket"
	SMTPPassword = "s3cret"
)

// SMTPServer is a real SMTP server (go-smtp) on loopback that records the
// messages it accepts and the authentication it saw. It offers AUTH
// PLAIN and LOGIN, and STARTTLS or implicit TLS with a test certificate.
type SMTPServer struct {
	Addr string
	// CertPEM is the server's certificate, to trust.
	CertPEM  []byte
	mu       sync.Mutex
	msgs     []Mail
	failRcpt *gosmtp.SMTPError
}

// Mail is one message the server accepted.
type Mail struct {
	Mech, User, Pass string
	TLS              bool
	From             string
	To               []string
	Data             []byte
}

// StartSMTP starts an SMTPServer, stopped when the test ends. implicit
// serves TLS from the first byte; otherwise offerTLS decides whether
// STARTTLS is offered. The pool trusts the server's certificate.
func StartSMTP(t testing.TB, implicit, offerTLS bool) (*SMTPServer, *x509.CertPool) {
	t.Helper()
	srvTLS, pool := Cert(t)
	st := &SMTPServer{CertPEM: CertPEM(srvTLS)}
	gs := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &smtpSession{s: st, c: c}, nil
	}))
	gs.Domain = "localhost"
	gs.ErrorLog = log.New(io.Discard, "", 0)
	gs.ReadTimeout, gs.WriteTimeout = 5*time.Second, 5*time.Second
	if offerTLS {
		gs.TLSConfig = srvTLS
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = tls.NewListener(l, srvTLS)
	}
	st.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		gs.Serve(l)
	}()
	t.Cleanup(func() {
		gs.Close()
		<-done
	})
	return st, pool
}

// FailRcpt makes the server answer RCPT with err (nil: accept).
func (s *SMTPServer) FailRcpt(err *gosmtp.SMTPError) {
	s.mu.Lock()
	s.failRcpt = err
	s.mu.Unlock()
}

// Messages returns the messages accepted so far.
func (s *SMTPServer) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.msgs...)
}

type smtpSession struct {
	s   *SMTPServer
	c   *gosmtp.Conn
	cur Mail
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		s.cur.Mech, s.cur.User, s.cur.Pass = mech, user, pass
		if user != SMTPUser || pass != SMTPPassword {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		return nil
	}
	if mech == sasl.Plain {
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	}
	return &loginServer{check: check}, nil
}

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(resp) > 0 { // an initial response carries the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func (s *smtpSession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.cur.From = from
	_, s.cur.TLS = s.c.TLSConnectionState()
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.s.mu.Lock()
	fail := s.s.failRcpt
	s.s.mu.Unlock()
	if fail != nil {
		return fail
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = data
	s.s.mu.Lock()
	s.s.msgs = append(s.s.msgs, s.cur)
	s.s.mu.Unlock()
	s.cur = Mail{Mech: s.cur.Mech, User: s.cur.User, Pass: s.cur.Pass}
	return nil
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

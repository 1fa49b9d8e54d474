// Package smtp is the e-mail sink: a plain-text message with an HTML
// alternative, sent over SMTP with STARTTLS (the default) or implicit TLS,
// AUTH PLAIN or LOGIN, to several recipients. The subject reads like
// "[picket] 3 changes on 10.0.0.0/24"; the Message-ID is derived from the
// alert's key, so a receiving system can drop a repeat.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/picketscan/picket/lib/notify"
)

// TLS modes.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS, required
	Implicit = "tls"      // TLS from the first byte (port 465)
	NoTLS    = "none"     // no TLS at all: only for a local relay, and never with a password
)

// Options configure a Sink.
type Options struct {
	Name string // default "smtp"
	// Addr is host:port of the server.
	Addr string
	// TLS is StartTLS (default), Implicit or NoTLS.
	TLS string
	// TLSConfig, if set, is used for the handshake (e.g. extra roots);
	// its ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Username and Password enable AUTH; Auth is "plain", "login" or ""
	// (PLAIN when the server offers it, else LOGIN).
	Username, Password, Auth string
	From                     string
	To                       []string
	// Template replaces notify.PlainTemplate for the text body.
	Template  string
	DigestMax int
	Now       func() time.Time
}

// Sink sends alerts by e-mail.
type Sink struct {
	opts  Options
	from  *mail.Address
	to    []*mail.Address
	text  *notify.Renderer
	html  *notify.Renderer
	htmlT *htmltemplate.Template
	host  string
}

var _ notify.Sink = (*Sink)(nil)

// New returns an SMTP sink.
func New(o Options) (*Sink, error) {
	if o.Name == "" {
		o.Name = "smtp"
	}
	if o.TLS == "" {
		o.TLS = StartTLS
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: server address %q: want host:port", o.Name, o.Addr)
	}
	switch o.TLS {
	case StartTLS, Implicit, NoTLS:
	default:
		return nil, fmt.Errorf("%s: TLS mode %q: want starttls, tls or none", o.Name, o.TLS)
	}
	if o.TLS == NoTLS && o.Password != "" {
		return nil, fmt.Errorf("%s: refusing to send a password without TLS", o.Name)
	}
	switch strings.ToLower(o.Auth) {
	case "", "plain", "login":
	default:
		return nil, fmt.Errorf("%s: AUTH %q: want plain or login", o.Name, o.Auth)
	}
	s := &Sink{opts: o, host: host}
	if s.from, err = mail.ParseAddress(o.From); err != nil {
		return nil, fmt.Errorf("%s: sender %q: %w", o.Name, o.From, err)
	}
	if len(o.To) == 0 {
		return nil, fmt.Errorf("%s: no recipients", o.Name)
	}
	for _, t := range o.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("%s: recipient %q: %w", o.Name, t, err)
		}
		s.to = append(s.to, a)
	}
	tmpl := notify.PlainTemplate
	if o.Template != "" {
		tmpl = o.Template
	}
	if s.text, err = notify.NewRenderer(o.Name, tmpl, notify.StripControl, o.DigestMax); err != nil {
		return nil, err
	}
	// The HTML part escapes through html/template, which knows the
	// context of every value.
	if s.html, err = notify.NewRenderer(o.Name+"-html", "{{.Title}}", notify.StripControl, o.DigestMax); err != nil {
		return nil, err
	}
	if s.htmlT, err = htmltemplate.New("html").Parse(htmlTemplate); err != nil {
		return nil, err
	}
	return s, nil
}

const htmlTemplate = `<!DOCTYPE html>
<html><body>
<h2>{{.Title}}</h2>
{{range .Hosts}}<h3>{{.IP}}{{if .Hostname}} ({{.Hostname}}){{end}}</h3>
<ul>
{{range .Changes}}<li><b>{{.Severity}}</b> {{.Text}}</li>
{{end}}</ul>
{{end}}{{if .Omitted}}<p><i>{{.Omitted}} more not shown</i></p>
{{end}}{{if .ScanID}}<p><small>scan {{.ScanID}}</small></p>
{{end}}</body></html>
`

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

// Subject is the message subject for a: "[picket] " and the alert's
// title, safe as a header.
func Subject(a *notify.Alert) string { return notify.Header("[picket] " + notify.Title(a)) }

// Message builds the whole RFC 5322 message for a.
func (s *Sink) Message(a *notify.Alert) ([]byte, error) {
	text, err := s.text.Render(a)
	if err != nil {
		return nil, err
	}
	var html bytes.Buffer
	if err := s.htmlT.Execute(&html, s.html.View(a)); err != nil {
		return nil, fmt.Errorf("render alert %s: %w", a.Key, err)
	}
	var boundary [12]byte
	rand.Read(boundary[:])
	b := "picket-" + hex.EncodeToString(boundary[:])
	sum := sha256.Sum256([]byte(a.Key))
	var m bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&m, "%s: %s\r\n", k, v) }
	header("From", s.from.String())
	tos := make([]string, len(s.to))
	for i, t := range s.to {
		tos[i] = t.String()
	}
	header("To", strings.Join(tos, ", "))
	header("Subject", Subject(a))
	header("Date", s.opts.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(sum[:16])+"@picket.invalid>")
	header("X-Picket-Key", notify.Header(a.Key))
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/alternative; boundary="`+b+`"`)
	m.WriteString("\r\n")
	part := func(ctype, body string) error {
		fmt.Fprintf(&m, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", b, ctype)
		qp := quotedprintable.NewWriter(&m)
		if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
		m.WriteString("\r\n")
		return nil
	}
	if err := part("text/plain", text); err != nil {
		return nil, err
	}
	if err := part("text/html", html.String()); err != nil {
		return nil, err
	}
	fmt.Fprintf(&m, "--%s--\r\n", b)
	return m.Bytes(), nil
}

// Send delivers the alert to every recipient in one SMTP transaction. A
// 5xx answer is permanent; anything else is worth retrying.
func (s *Sink) Send(ctx context.Context, a *notify.Alert) error {
	msg, err := s.Message(a)
	if err != nil {
		return notify.Permanent(err)
	}
	err = s.send(ctx, msg)
	if err == nil {
		return nil
	}
	err = notify.Redact(fmt.Errorf("%s: %s: %w", s.opts.Name, s.opts.Addr, err), s.opts.Password)
	var se *gosmtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return notify.Permanent(err)
	}
	return err
}

func (s *Sink) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if s.opts.TLSConfig != nil {
		cfg = s.opts.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

func (s *Sink) send(ctx context.Context, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	// The context bounds the whole conversation: closing the connection
	// ends any read or write in progress.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *gosmtp.Client
	switch s.opts.TLS {
	case Implicit:
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		c = gosmtp.NewClient(tc)
	case StartTLS:
		if c, err = gosmtp.NewClientStartTLS(conn, s.tlsConfig()); err != nil {
			conn.Close()
			return err
		}
	default:
		c = gosmtp.NewClient(conn)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.CommandTimeout = time.Until(dl)
		c.SubmissionTimeout = time.Until(dl)
	}
	if s.opts.Username != "" {
		mech := strings.ToLower(s.opts.Auth)
		if mech == "" {
			mech = "login"
			if c.SupportsAuth(sasl.Plain) {
				mech = "plain"
			}
		}
		var sc sasl.Client
		if mech == "plain" {
			sc = sasl.NewPlainClient("", s.opts.Username, s.opts.Password)
		} else {
			sc = sasl.NewLoginClient(s.opts.Username, s.opts.Password)
		}
		if err := c.Auth(sc); err != nil {
			return fmt.Errorf("AUTH %s: %w", strings.ToUpper(mech), err)
		}
	}
	to := make([]string, len(s.to))
	for i, t := range s.to {
		to[i] = t.Address
	}
	if err := c.SendMail(s.from.Address, to, bytes.NewReader(msg)); err != nil {
		return err
	}
	// The server took the message with its answer to DATA: a failed QUIT
	// must not make it look undelivered and be sent again.
	c.Quit()
	return nil
}

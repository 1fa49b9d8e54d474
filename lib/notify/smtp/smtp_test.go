package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/picketscan/picket/internal/notifytest"
	"github.com/picketscan/picket/lib/notify"
)

func TestSMTPDelivery(t *testing.T) {
	tests := []struct {
		name     string
		implicit bool
		auth     string
		wantMech string
	}{
		{"starttls plain", false, "", sasl.Plain},
		{"starttls login", false, "login", sasl.Login},
		{"implicit tls plain", true, "plain", sasl.Plain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, pool := notifytest.StartSMTP(t, tc.implicit, true)
			mode := StartTLS
			if tc.implicit {
				mode = Implicit
			}
			s, err := New(Options{Addr: srv.Addr, TLS: mode, TLSConfig: &tls.Config{RootCAs: pool},
				Username: "picket", Password: "s3cret", Auth: tc.auth,
				From: "Picket <picket@example.com>", To: []string{"ops@example.com", "Sec Team <sec@example.com>"}})
			if err != nil {
				t.Fatal(err)
			}
			a := notifytest.Alert("S1/digest", notifytest.Hostile, notifytest.Plain("S1", "port-opened", "10.0.0.9", 22),
				notifytest.Plain("S1", "port-closed", "10.0.0.9", 23))
			if err := s.Send(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			m := msgs[0]
			if !m.TLS || m.Mech != tc.wantMech || m.User != "picket" || m.Pass != "s3cret" {
				t.Errorf("tls %v, auth %s %s", m.TLS, m.Mech, m.User)
			}
			if m.From != "picket@example.com" || strings.Join(m.To, ",") != "ops@example.com,sec@example.com" {
				t.Errorf("envelope %s -> %v", m.From, m.To)
			}
			checkMessage(t, m.Data)
		})
	}
}

func checkMessage(t *testing.T, data []byte) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if got := h.Get("Subject"); got != "[picket] 3 changes on 10.0.0.0/24" {
		t.Errorf("Subject %q", got)
	}
	if h.Get("To") != `<ops@example.com>, "Sec Team" <sec@example.com>` || h.Get("From") != `"Picket" <picket@example.com>` {
		t.Errorf("To %q From %q", h.Get("To"), h.Get("From"))
	}
	// The hostile CR/LF in the banner and host name made no header.
	for _, k := range []string{"Bcc", "X-Injected"} {
		if v := h.Get(k); v != "" {
			t.Errorf("injected header %s: %q", k, v)
		}
	}
	if !strings.HasPrefix(h.Get("Message-Id"), "<") || h.Get("X-Picket-Key") != "S1/digest" || h.Get("Date") == "" {
		t.Errorf("headers %v", h)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	parts := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p) // quoted-printable is decoded by NextPart
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(body)
	}
	text, html := parts["text/plain"], parts["text/html"]
	if !strings.Contains(text, "3 changes on 10.0.0.0/24") || !strings.Contains(text, "10.0.0.9\r\n  [warning] port-opened 22/tcp open ssh OpenSSH 9.2p1") {
		t.Errorf("text part:\n%s", text)
	}
	if strings.ContainsAny(text, "\x1b\x07") {
		t.Errorf("terminal controls in the text part: %q", text)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") || strings.Contains(html, "\x1b") {
		t.Errorf("html part not escaped:\n%s", html)
	}
}

func TestSMTPNoDowngrade(t *testing.T) {
	srv, pool := notifytest.StartSMTP(t, false, false) // no STARTTLS offered
	s, _ := New(Options{Addr: srv.Addr, TLSConfig: &tls.Config{RootCAs: pool}, Username: "picket", Password: "s3cret",
		From: "picket@example.com", To: []string{"ops@example.com"}})
	err := s.Send(context.Background(), notifytest.Alert("k", notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a refusal to go on without STARTTLS", err)
	}
	if len(srv.Messages()) != 0 {
		t.Error("message sent in the clear")
	}
}

func TestSMTPErrors(t *testing.T) {
	srv, pool := notifytest.StartSMTP(t, false, true)
	base := Options{Addr: srv.Addr, TLSConfig: &tls.Config{RootCAs: pool}, Username: "picket", Password: "wrong-s3cret-pw",
		From: "picket@example.com", To: []string{"ops@example.com"}}
	s, _ := New(base)
	err := s.Send(context.Background(), notifytest.Alert("k", notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)))
	if err == nil || strings.Contains(err.Error(), "wrong-s3cret-pw") || !notify.IsPermanent(err) {
		t.Errorf("bad password: err = %v (want permanent, without the password)", err)
	}
	base.Password = "s3cret"
	srv.FailRcpt(&gosmtp.SMTPError{Code: 451, Message: "try later"})
	s, _ = New(base)
	err = s.Send(context.Background(), notifytest.Alert("k", notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)))
	if err == nil || notify.IsPermanent(err) {
		t.Errorf("451: err = %v, want a temporary error", err)
	}
	srv.FailRcpt(&gosmtp.SMTPError{Code: 550, Message: "no such user"})
	err = s.Send(context.Background(), notifytest.Alert("k", notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)))
	if !notify.IsPermanent(err) {
		t.Errorf("550: err = %v, want permanent", err)
	}
	// An untrusted certificate is refused.
	base.TLSConfig = nil
	s, _ = New(base)
	if err := s.Send(context.Background(), notifytest.Alert("k", notifytest.Plain("S1", "port-opened", "10.0.0.9", 22))); err == nil {
		t.Error("sent to a server with an untrusted certificate")
	}
}

func TestSMTPTimeout(t *testing.T) {
	// A server that accepts and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	s, _ := New(Options{Addr: l.Addr().String(), From: "picket@example.com", To: []string{"ops@example.com"}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, notifytest.Alert("k", notifytest.Plain("S1", "port-opened", "10.0.0.9", 22))); err == nil {
		t.Fatal("no error from a silent server")
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []Options{
		{Addr: "mail:25", TLS: NoTLS, Username: "u", Password: "p", From: "a@b.c", To: []string{"d@e.f"}},
		{Addr: "mail", From: "a@b.c", To: []string{"d@e.f"}},
		{Addr: "mail:25", From: "a@b.c"},
		{Addr: "mail:25", From: "not an address", To: []string{"d@e.f"}},
		{Addr: "mail:25", From: "a@b.c", To: []string{"d@e.f"}, Auth: "cram-md5"},
	}
	for i, o := range tests {
		if _, err := New(o); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

package service

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/picketscan/picket/internal/labnet"
)

func TestMain(m *testing.M) { labnet.Main(m) }

// Timings the engine tests run with: short, so that the fault cases end
// quickly, and fixed, so that bounds can be checked.
const (
	testTimeout    = 1500 * time.Millisecond
	testBannerWait = 300 * time.Millisecond
	testHostLimit  = 12 * time.Second
)

func testEngine(t testing.TB) *Engine {
	t.Helper()
	data, err := os.ReadFile("testdata/test-probes")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Parse("test-probes", data, ParseOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(Config{Probes: set, Timeout: testTimeout, BannerWait: testBannerWait})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// serve runs handler for every connection to a new loopback listener
// until the test ends, and returns the port.
func serve(t *testing.T, handler func(net.Conn)) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handler(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// identify runs the engine on a loopback port under the test's host
// limit and checks that it ended in time.
func identify(t *testing.T, e *Engine, port uint16) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testHostLimit)
	defer cancel()
	start := time.Now()
	r := e.Identify(ctx, Target{IP: "127.0.0.1", Port: port, Proto: TCP})
	if d := time.Since(start); d > testHostLimit+time.Second {
		t.Errorf("Identify took %v, past the host limit of %v", d, testHostLimit)
	}
	return r
}

func TestIdentifySSH(t *testing.T) {
	labnet.Require(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &xssh.ServerConfig{NoClientAuth: true, ServerVersion: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"}
	cfg.AddHostKey(signer)
	port := serve(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if sc, _, _, err := xssh.NewServerConn(c, cfg); err == nil {
			sc.Close()
		}
	})
	r := identify(t, testEngine(t), port)
	s := r.Service
	if s.Name != "ssh" || s.Product != "OpenSSH" || s.Version != "9.2p1" || s.Conf != 10 || s.Method != "probed" {
		t.Errorf("service %+v", s)
	}
	if want := xssh.FingerprintSHA256(signer.PublicKey()); s.HostKey != want {
		t.Errorf("host key %q, want %q", s.HostKey, want)
	}
	if len(s.CPE) != 1 || s.CPE[0] != "cpe:/a:openbsd:openssh:9.2p1" {
		t.Errorf("cpe %v", s.CPE)
	}
	if !strings.HasPrefix(s.Banner, `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n`) {
		t.Errorf("banner %q", s.Banner)
	}
}

func TestIdentifyHTTP(t *testing.T) {
	labnet.Require(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		_, _ = io.WriteString(w, "<html><head><title> Welcome &amp; hello </title></head></html>")
	}))
	defer srv.Close()
	port := uint16(srv.Listener.Addr().(*net.TCPAddr).Port)
	r := identify(t, testEngine(t), port)
	s := r.Service
	if s.Name != "http" || s.Product != "nginx" || s.Version != "1.22.1" || s.Conf != 10 {
		t.Errorf("service %+v", s)
	}
	if s.HTTP == nil || s.HTTP.Status != 200 || s.HTTP.Server != "nginx/1.22.1" || s.HTTP.Title != "Welcome & hello" {
		t.Errorf("http %+v", s.HTTP)
	}
	if r.TLS != nil || s.Tunnel != "" {
		t.Errorf("plain HTTP reported TLS: %+v %q", r.TLS, s.Tunnel)
	}
}

// selfSigned makes an ECDSA P-256 certificate for "lab.test" signed by
// its own key.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "lab.test", Organization: []string{"Picket Lab"}},
		DNSNames:     []string{"lab.test", "www.lab.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der
}

func TestIdentifyHTTPS(t *testing.T) {
	labnet.Require(t)
	cert, der := selfSigned(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.57 (Debian)")
		_, _ = io.WriteString(w, "<title>Secure</title>")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	port := uint16(srv.Listener.Addr().(*net.TCPAddr).Port)
	r := identify(t, testEngine(t), port)
	s := r.Service
	if s.Name != "http" || s.Tunnel != "ssl" || s.Product != "Apache httpd" || s.Version != "2.4.57" {
		t.Errorf("service %+v", s)
	}
	if s.HTTP == nil || s.HTTP.Title != "Secure" {
		t.Errorf("http %+v", s.HTTP)
	}
	tl := r.TLS
	if tl == nil {
		t.Fatal("no tls object")
	}
	sum := sha256.Sum256(der)
	if tl.SHA256 != hex.EncodeToString(sum[:]) || !tl.SelfSigned || tl.KeyType != "ecdsa" || tl.KeyBits != 256 {
		t.Errorf("tls %+v", tl)
	}
	if tl.SubjectCN != "lab.test" || strings.Join(tl.SANs, ",") != "lab.test,www.lab.test,127.0.0.1" {
		t.Errorf("names %q %v", tl.SubjectCN, tl.SANs)
	}
	if tl.Version != "TLSv1.3" || tl.Cipher == "" || tl.ALPN != "http/1.1" {
		t.Errorf("session %q %q %q", tl.Version, tl.Cipher, tl.ALPN)
	}
	if tl.NotBefore != "2026-01-01T00:00:00Z" || tl.NotAfter != "2036-01-01T00:00:00Z" || !strings.Contains(tl.Issuer, "CN=lab.test") {
		t.Errorf("dates or issuer %q %q %q", tl.NotBefore, tl.NotAfter, tl.Issuer)
	}
}

// TestIdentifyFaults runs the engine against hostile or broken servers:
// each must end within the host limit with a sensible service.
func TestIdentifyFaults(t *testing.T) {
	labnet.Require(t)
	tests := []struct {
		name    string
		handler func(net.Conn)
		want    string
		check   func(*testing.T, Result)
	}{
		{"accepts and never answers", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, "unknown",
			func(t *testing.T, r Result) {
				if r.Service.Banner != "" {
					t.Errorf("banner %q from a silent server", r.Service.Banner)
				}
			}},
		{"endless data", func(c net.Conn) {
			chunk := bytes.Repeat([]byte("\x00\x01AB\xff\n"), 1000)
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}, "unknown", func(t *testing.T, r Result) {
			if n := len(r.Service.Banner); n == 0 || n > MaxBanner {
				t.Errorf("banner of %d bytes, want 1 to %d", n, MaxBanner)
			}
			if !strings.HasPrefix(r.Service.Banner, `\x00\x01AB\xff\n`) {
				t.Errorf("banner not escaped: %q", r.Service.Banner[:20])
			}
		}},
		{"slow drip", func(c net.Conn) {
			for {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}, "unknown", nil},
		{"closes at once", func(c net.Conn) {}, "tcpwrapped", nil},
		{"resets at once", func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) }, "tcpwrapped", nil},
		{"resets mid-handshake", func(c net.Conn) {
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err == nil && buf[0] == 0x16 {
				_, _ = c.Write([]byte("\x16\x03\x03\x00\x40\x02\x00\x00\x3c\x03\x03"))
				c.(*net.TCPConn).SetLinger(0)
				return
			}
			_, _ = io.Copy(io.Discard, c)
		}, "ssl", func(t *testing.T, r Result) {
			if r.TLS != nil {
				t.Errorf("tls object from a broken handshake: %+v", r.TLS)
			}
		}},
		{"TLS record that never completes", func(c net.Conn) {
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err == nil && buf[0] == 0x16 {
				_, _ = c.Write([]byte("\x16\x03\x03\x40\x00\x02"))
			}
			_, _ = io.Copy(io.Discard, c)
		}, "ssl", nil},
		{"speaks TLS badly", func(c net.Conn) {
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err == nil && buf[0] == 0x16 {
				_, _ = c.Write([]byte("\x16\x03\x03\x00\x10\x02garbage-garbage"))
				return
			}
			_, _ = io.Copy(io.Discard, c)
		}, "ssl", nil},
	}
	e := testEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			port := serve(t, tt.handler)
			r := identify(t, e, port)
			if r.Service.Name != tt.want || r.Service.Method != "probed" {
				t.Errorf("service %+v, want name %q", r.Service, tt.want)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestIdentifyTable checks the port-table fallback: a silent service on
// a port the table names.
func TestIdentifyTable(t *testing.T) {
	labnet.Require(t)
	ln, err := net.Listen("tcp", "127.0.0.1:119")
	if err != nil {
		t.Skipf("cannot listen on port 119 here: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { _, _ = io.Copy(io.Discard, c); c.Close() })
		}
	})
	e := testEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), testHostLimit)
	defer cancel()
	r := e.Identify(ctx, Target{IP: "127.0.0.1", Port: 119, Proto: TCP})
	ln.Close()
	wg.Wait()
	if r.Service.Name != "nntp" || r.Service.Method != "table" || r.Service.Conf != 3 {
		t.Errorf("service %+v, want nntp from the table with conf 3", r.Service)
	}
}

func TestHostTimeoutEndsProbing(t *testing.T) {
	labnet.Require(t)
	port := serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	e := testEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := e.Identify(ctx, Target{IP: "127.0.0.1", Port: port, Proto: TCP})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Identify took %v after a 400ms host timeout", d)
	}
	if r.Service.Name != "unknown" {
		t.Errorf("service %+v", r.Service)
	}
}

func TestExcludedPortNotProbed(t *testing.T) {
	set := mustParse(t, "Exclude T:1-65535\nProbe TCP NULL q||\nmatch x m|^|\n")
	dialed := false
	e, err := NewEngine(Config{Probes: set, Dial: func(context.Context, string, string) (net.Conn, error) {
		dialed = true
		return nil, io.EOF
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Identify(context.Background(), Target{IP: "127.0.0.1", Port: 9100, Proto: TCP})
	if dialed || r.Service.Method != "table" {
		t.Errorf("excluded port: dialed %v, service %+v", dialed, r.Service)
	}
}

func TestIdentifyUDP(t *testing.T) {
	labnet.Require(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "PING\r\n" {
				_, _ = pc.WriteTo([]byte("PONG 2.1\r\n"), addr)
			}
		}
	})
	defer func() { pc.Close(); wg.Wait() }()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	ctx, cancel := context.WithTimeout(context.Background(), testHostLimit)
	defer cancel()
	r := testEngine(t).Identify(ctx, Target{IP: "127.0.0.1", Port: port, Proto: UDP})
	if s := r.Service; s.Name != "pong" || s.Product != "Pong server" || s.Version != "2.1" || s.Banner != `PONG 2.1\r\n` {
		t.Errorf("service %+v", s)
	}
}

func TestProbeOrder(t *testing.T) {
	src := `Probe TCP NULL q||
Probe TCP Rare q|r|
rarity 8
Probe TCP Common q|c|
rarity 1
Probe TCP Middle q|m|
rarity 4
Probe TCP ForPort q|p|
rarity 9
ports 25
sslports 465
Probe UDP U q|u|
rarity 1
`
	set := mustParse(t, src)
	names := func(ps []*Probe) string {
		var n []string
		for _, p := range ps {
			n = append(n, p.Name)
		}
		return strings.Join(n, ",")
	}
	tests := []struct {
		port      uint16
		intensity int
		tunnel    bool
		likely    string
		rest      string
	}{
		{25, 7, false, "ForPort", "Common,Middle"},
		{80, 7, false, "", "Common,Middle"},
		{80, 9, false, "", "Common,Middle,Rare,ForPort"},
		{80, 1, false, "", "Common"},
		{465, 7, true, "ForPort", "Common,Middle"},
		{465, 7, false, "", "Common,Middle"},
	}
	for _, tt := range tests {
		e, err := NewEngine(Config{Probes: set, Intensity: tt.intensity})
		if err != nil {
			t.Fatal(err)
		}
		s := &session{e: e, t: Target{Port: tt.port, Proto: TCP}, tunnel: tt.tunnel}
		likely, rest := s.order(TCP)
		if names(likely) != tt.likely || names(rest) != tt.rest {
			t.Errorf("port %d intensity %d tunnel %v: likely %q rest %q, want %q %q",
				tt.port, tt.intensity, tt.tunnel, names(likely), names(rest), tt.likely, tt.rest)
		}
	}
}

// TestIdentifyOneConnectionAtATime runs a web server that serves one
// connection at a time and waits for the client to speak: the NULL
// probe's silent connection holds it, so the likely probe must be sent on
// that connection rather than wait for its own behind it.
func TestIdentifyOneConnectionAtATime(t *testing.T) {
	labnet.Require(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 1024)
			if n, err := c.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "GET ") {
				_, _ = c.Write([]byte("HTTP/1.0 200 OK\r\nServer: nginx/1.24.0\r\n\r\n"))
			}
			c.Close()
		}
	})
	defer func() { ln.Close(); wg.Wait() }()
	// Port 8080 is listed by the test probes' GetRequest, so GetRequest
	// runs alongside NULL; listen there when it is free.
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	set := mustParse(t, strings.Replace(mustRead(t, "testdata/test-probes"), "ports 80,81,443,", "ports "+strconv.Itoa(int(port))+",80,81,443,", 1))
	e, err := NewEngine(Config{Probes: set, Timeout: testTimeout, BannerWait: testBannerWait})
	if err != nil {
		t.Fatal(err)
	}
	// Which of the two connections the server takes first is up to the
	// scheduler; over a few runs the NULL probe's comes first.
	for range 4 {
		start := time.Now()
		r := identify(t, e, port)
		if s := r.Service; s.Name != "http" || s.Product != "nginx" || s.Version != "1.24.0" {
			t.Errorf("service %+v", s)
		}
		// Waiting for the likely probe's own connection would cost a
		// whole probe timeout before anything else is tried.
		if d := time.Since(start); d >= testTimeout {
			t.Errorf("identified after %v, want it before one probe timeout (%v)", d, testTimeout)
		}
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBuiltinSoftmatch checks that an HTTP or SSH answer no line of the
// probe file matches is still named, with the product read from it.
func TestBuiltinSoftmatch(t *testing.T) {
	labnet.Require(t)
	set := mustParse(t, "Probe TCP NULL q||\nProbe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|\nrarity 1\n")
	e, err := NewEngine(Config{Probes: set, Timeout: testTimeout, BannerWait: testBannerWait})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "gunicorn")
	}))
	defer web.Close()
	r := identify(t, e, uint16(web.Listener.Addr().(*net.TCPAddr).Port))
	if s := r.Service; s.Name != "http" || s.Product != "Gunicorn" || s.Conf != 8 || s.Method != "probed" {
		t.Errorf("web: %+v", s)
	}
	port := serve(t, func(c net.Conn) { _, _ = c.Write([]byte("SSH-2.0-Weird_1.2 extra\r\n")) })
	r = identify(t, e, port)
	if s := r.Service; s.Name != "ssh" || s.Product != "Weird" || s.Version != "1.2" || s.ExtraInfo != "protocol 2.0" {
		t.Errorf("ssh: %+v", s)
	}
}

// TestEarlierProbeWins sends two probes at once; the later one is answered
// first, but the earlier one's match must win, as if they had been sent
// in order.
func TestEarlierProbeWins(t *testing.T) {
	labnet.Require(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 100)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			switch string(buf[:n]) {
			case "A":
				wg.Go(func() {
					time.Sleep(200 * time.Millisecond)
					_, _ = pc.WriteTo([]byte("ALPHA"), addr)
				})
			case "B":
				_, _ = pc.WriteTo([]byte("BETA"), addr)
			}
		}
	})
	defer func() { pc.Close(); wg.Wait() }()
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	set := mustParse(t, "Probe UDP A q|A|\nrarity 1\nports "+port+"\nmatch a m|^ALPHA| p/first/\n"+
		"Probe UDP B q|B|\nrarity 1\nports "+port+"\nmatch b m|^BETA| p/second/\n")
	e, err := NewEngine(Config{Probes: set, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := e.Identify(context.Background(), Target{IP: "127.0.0.1", Port: uint16(pc.LocalAddr().(*net.UDPAddr).Port), Proto: UDP})
		if r.Service.Name != "a" || r.Service.Product != "first" {
			t.Errorf("service %+v, want the first probe's match", r.Service)
		}
	}
}

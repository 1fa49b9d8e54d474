// Package notifytest holds helpers for notify's tests: hostile alerts, an
// HTTP receiver that records what it is sent, and a throw-away TLS
// certificate for loopback servers.
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/notify"
)

// Hostile is a change whose host name and summary carry what a hostile
// remote machine can put in a banner: chat mentions, links, Markdown,
// HTML, a terminal escape and a CR/LF header injection.
const Hostile = `{"type":"change","time":"2026-11-27T06:00:00.000000000Z","scan_id":"S1","kind":"port-opened","severity":"critical",` +
	`"ip":"10.0.0.7","hostname":"<@U0123> @here\r\nBcc: victim@example.com","port":8080,"proto":"tcp",` +
	`"after":{"state":"open","service":{"name":"http","product":"<!channel>"}},` +
	`"summary":"+8080/tcp open http <!channel> @everyone <script>alert(1)</script> *bold* [x](https://evil.example) <https://evil.example|click> \u001b[31mred\u001b]0;title\u0007 \r\nX-Injected: yes"}`

// Plain is an ordinary change.
func Plain(scan, kind, ip string, port int) string {
	b, _ := json.Marshal(map[string]any{"type": "change", "time": "2026-11-27T06:00:00.000000000Z", "scan_id": scan, "kind": kind,
		"severity": "warning", "ip": ip, "port": port, "proto": "tcp", "after": map[string]any{"state": "open", "service": map[string]any{"name": "ssh", "product": "OpenSSH", "version": "9.2p1"}}})
	return string(b)
}

// Alert makes an alert of the given change lines (a digest when there is
// more than one).
func Alert(key string, lines ...string) *notify.Alert {
	a := &notify.Alert{Key: key, ScanID: "S1", Created: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Digest: len(lines) > 1}
	if a.Digest {
		a.Scope = "10.0.0.0/24"
	}
	for _, l := range lines {
		a.Changes = append(a.Changes, json.RawMessage(l))
	}
	return a
}

// Request is one request a Receiver got.
type Request struct {
	Header http.Header
	Body   []byte
	Path   string
}

// Receiver is an httptest server that records every request and answers
// with Status (default 200).
type Receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []Request
	Status int
}

// NewReceiver starts a Receiver, closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	r := &Receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		r.mu.Lock()
		r.reqs = append(r.reqs, Request{Header: req.Header.Clone(), Body: body, Path: req.URL.Path})
		status := r.Status
		r.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// Requests returns the requests so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Cert makes a self-signed certificate for 127.0.0.1 and localhost and
// returns a server config using it and a pool that trusts it.
func Cert(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "picket test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool
}

// CertPEM returns the PEM of the first certificate of cfg.
func CertPEM(cfg *tls.Config) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cfg.Certificates[0].Certificate[0]})
}

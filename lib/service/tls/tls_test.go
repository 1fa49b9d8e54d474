package tls

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func cert(t *testing.T, pub, signerKey any, parent *x509.Certificate, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDescribeCert(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ca := cert(t, &rsaKey.PublicKey, rsaKey, nil, "ca.test")
	tests := []struct {
		name string
		c    *x509.Certificate
		kt   string
		bits int
		self bool
	}{
		{"rsa self-signed", ca, "rsa", 2048, true},
		{"ecdsa signed by the CA", cert(t, &ecKey.PublicKey, rsaKey, ca, "leaf.test"), "ecdsa", 384, false},
		{"ed25519 self-signed", cert(t, edPub, edPriv, nil, "ed.test"), "ed25519", 256, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, PeerCertificates: []*x509.Certificate{tt.c}}
			d := Describe(st)
			if d.KeyType != tt.kt || d.KeyBits != tt.bits || d.SelfSigned != tt.self {
				t.Errorf("key %s/%d self %v, want %s/%d %v", d.KeyType, d.KeyBits, d.SelfSigned, tt.kt, tt.bits, tt.self)
			}
			if d.Version != "TLSv1.2" || d.Cipher != "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" || len(d.SHA256) != 64 {
				t.Errorf("session %+v", d)
			}
			if d.NotAfter != "2027-01-01T00:00:00Z" || d.SubjectCN != tt.c.Subject.CommonName {
				t.Errorf("cert %+v", d)
			}
		})
	}
}

func TestVersionName(t *testing.T) {
	for v, want := range map[uint16]string{tls.VersionTLS10: "TLSv1.0", tls.VersionTLS13: "TLSv1.3", 0x7f12: "0x7f12"} {
		if got := VersionName(v); got != want {
			t.Errorf("VersionName(%#x) = %q, want %q", v, got, want)
		}
	}
}

// Package tls completes a TLS handshake with a server, without verifying
// anything (the point is to look, not to trust), and describes what it
// saw as the "tls" object of a port event: version, cipher, ALPN and the
// leaf certificate.
package tls

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/picketscan/picket/lib/event"
)

// Config returns the client configuration used to look at a server: every
// protocol version and cipher suite Go's TLS stack knows, no certificate
// verification, and ALPN offering only http/1.1 so that probes sent
// inside the tunnel are understood.
func Config(serverName string) *tls.Config {
	suites := []uint16{}
	for _, s := range tls.CipherSuites() {
		suites = append(suites, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		suites = append(suites, s.ID)
	}
	return &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, //nolint:gosec // fingerprinting looks at certificates, it does not trust them
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       suites,
		NextProtos:         []string{"http/1.1"},
	}
}

// Handshake runs a TLS client handshake over conn, bounded by ctx, and
// returns the TLS connection and its description. On error conn is left
// for the caller to close.
func Handshake(ctx context.Context, conn net.Conn, serverName string) (*tls.Conn, *event.TLS, error) {
	tc := tls.Client(conn, Config(serverName))
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, Describe(tc.ConnectionState()), nil
}

// Describe turns a connection state into the event's TLS object.
func Describe(st tls.ConnectionState) *event.TLS {
	t := &event.TLS{
		Version: VersionName(st.Version),
		Cipher:  tls.CipherSuiteName(st.CipherSuite),
		ALPN:    st.NegotiatedProtocol,
	}
	if len(st.PeerCertificates) > 0 {
		DescribeCert(t, st.PeerCertificates[0])
	}
	return t
}

// DescribeCert fills t's certificate fields from the leaf certificate c.
func DescribeCert(t *event.TLS, c *x509.Certificate) {
	t.SubjectCN = c.Subject.CommonName
	t.SANs = append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		t.SANs = append(t.SANs, ip.String())
	}
	t.SANs = append(t.SANs, c.EmailAddresses...)
	for _, u := range c.URIs {
		t.SANs = append(t.SANs, u.String())
	}
	t.Issuer = c.Issuer.String()
	t.NotBefore = c.NotBefore.UTC().Format(time.RFC3339)
	t.NotAfter = c.NotAfter.UTC().Format(time.RFC3339)
	t.SelfSigned = SelfSigned(c)
	sum := sha256.Sum256(c.Raw)
	t.SHA256 = hex.EncodeToString(sum[:])
	t.KeyType, t.KeyBits = KeyInfo(c)
}

// SelfSigned reports whether c names itself as issuer and its signature
// checks out with its own key.
func SelfSigned(c *x509.Certificate) bool {
	if string(c.RawIssuer) != string(c.RawSubject) {
		return false
	}
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// KeyInfo names the certificate's public key type ("rsa", "ecdsa",
// "ed25519") and its size in bits.
func KeyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "rsa", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ecdsa", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

// VersionName spells a TLS version the way Nmap and OpenSSL do:
// "TLSv1.2", "TLSv1.3", or "SSLv3".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionSSL30: //nolint:staticcheck // named, never offered
		return "SSLv3"
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

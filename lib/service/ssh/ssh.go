// Package ssh reads an SSH server's identification banner and fetches its
// host key. The banner is parsed by a pure function; the host key needs a
// key exchange, which golang.org/x/crypto/ssh runs up to the point where
// the server proves its key, and no further.
package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// ErrNotSSH means the bytes do not start with an SSH identification line.
var ErrNotSSH = errors.New("not an SSH banner")

// Banner is an SSH identification line, "SSH-2.0-OpenSSH_9.2p1 Debian-2".
type Banner struct {
	// Proto is the protocol version, "2.0" or "1.99".
	Proto string
	// Software is the software version, e.g. "OpenSSH_9.2p1".
	Software string
	// Comment is what follows the software version, e.g. "Debian-2".
	Comment string
}

// ParseBanner reads the identification line from the start of what an SSH
// server sent. Lines before it that do not start with "SSH-" are skipped,
// as RFC 4253 allows.
func ParseBanner(b []byte) (Banner, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		rest, ok := bytes.CutPrefix(line, []byte("SSH-"))
		if !ok {
			continue
		}
		proto, soft, ok := bytes.Cut(rest, []byte("-"))
		if !ok || len(proto) == 0 || len(soft) == 0 {
			return Banner{}, ErrNotSSH
		}
		sw, comment, _ := bytes.Cut(soft, []byte(" "))
		return Banner{Proto: clean(proto), Software: clean(sw), Comment: clean(comment)}, nil
	}
	return Banner{}, ErrNotSSH
}

// clean keeps printable ASCII, at most 255 bytes (RFC 4253's limit).
func clean(b []byte) string {
	if len(b) > 255 {
		b = b[:255]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b))
}

// HostKey is what the key exchange tells about the server's host key.
type HostKey struct {
	// Type is the key algorithm, e.g. "ssh-ed25519".
	Type string
	// Fingerprint is OpenSSH's form, "SHA256:" and unpadded base64.
	Fingerprint string
}

// errGotKey ends the handshake once the host key is known.
var errGotKey = errors.New("host key recorded")

// FetchHostKey runs the SSH handshake over conn until the server has
// shown its host key, then gives up (nothing is authenticated). The
// handshake is bounded by ctx and by deadline on conn.
func FetchHostKey(ctx context.Context, conn net.Conn, addr string) (HostKey, error) {
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return HostKey{}, fmt.Errorf("ssh host key: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var hk HostKey
	cfg := &xssh.ClientConfig{
		User: "picket",
		HostKeyCallback: func(_ string, _ net.Addr, key xssh.PublicKey) error {
			hk = HostKey{Type: key.Type(), Fingerprint: xssh.FingerprintSHA256(key)}
			return errGotKey
		},
		ClientVersion: "SSH-2.0-picket",
		Timeout:       time.Until(deadline),
	}
	c, _, _, err := xssh.NewClientConn(conn, addr, cfg)
	if err == nil {
		// Not expected: the callback always refuses the key.
		_ = c.Close()
	}
	if hk.Fingerprint != "" {
		return hk, nil
	}
	if err == nil {
		err = errors.New("no host key seen")
	}
	return HostKey{}, fmt.Errorf("ssh host key: %w", err)
}

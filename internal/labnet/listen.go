package labnet

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Listener is a TCP listener opened by a test. It accepts connections and
// closes them at once, remembering which local address each one reached,
// so a test can prove that an address was, or was never, probed.
type Listener struct {
	Port uint16
	mu   sync.Mutex
	hits []netip.Addr
}

// Hits returns the local addresses reached so far, in order.
func (l *Listener) Hits() []netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.hits)
}

// Listen opens a Listener on addr ("127.0.0.1:0", "0.0.0.0:0",
// "[::1]:0") for the rest of the test.
func Listen(t testing.TB, addr string) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{Port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ap := c.LocalAddr().(*net.TCPAddr).AddrPort()
			l.mu.Lock()
			l.hits = append(l.hits, ap.Addr().Unmap())
			l.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return l
}

// ClosedPort returns a loopback port with no listener: one the test bound
// and released. In a private namespace nothing else takes it.
func ClosedPort(t testing.TB) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// DropPort returns a port on 127.0.0.1 that never answers a connect. Its
// listener never accepts and its accept queue is full, so the kernel
// drops further SYNs without a reply: to a scanner it looks exactly like
// a firewall's DROP rule, with no firewall needed.
func DropPort(t testing.TB) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	raw, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := raw.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), 0) }); err != nil || lerr != nil {
		t.Fatalf("shrink backlog: %v %v", err, lerr)
	}
	addr := ln.Addr().String()
	// A backlog of 0 holds one connection; fill it, then check that a
	// further connect really goes unanswered.
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("could not fill the accept queue of the drop port")
	}
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// ListenReset opens a listener on addr that completes each handshake and
// then resets the connection: at once (SO_LINGER 0 and close), or, with
// fin, after first shutting down its sending side (a FIN, then the RST
// when the probe's own reset or data arrives). Both look like an open
// port that hangs up, and must be reported open.
func ListenReset(t testing.TB, addr string, fin bool) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*net.TCPConn)
			if fin {
				_ = tc.CloseWrite()
			}
			_ = tc.SetLinger(0)
			_ = tc.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return uint16(ln.Addr().(*net.TCPAddr).AddrPort().Port())
}

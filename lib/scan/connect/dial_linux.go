package connect

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/picketscan/picket/lib/scan"
)

// Send connects with raw socket calls. It does what net.Dialer does,
// minus what a scanner does not need: no address parsing, no keep-alive
// or Nagle options, and no registration with Go's poller when the answer
// is already there as connect returns — which on a LAN or loopback it
// usually is. That is about a third less work per probe, and connect
// scans are bound by that work. Only a connect still pending after
// connect(2) is handed to the poller, so waiting costs no thread.
func (s *session) Send(p scan.Probe) (scan.Result, bool) {
	if err := s.ctx.Err(); err != nil {
		return scan.Result{Err: context.Cause(s.ctx)}, true
	}
	sa, family, err := sockaddr(p.Dst)
	if err != nil {
		return scan.Result{Err: err}, true
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return failed(os.NewSyscallError("socket", err)), true
	}
	c := &conn{fd: fd, dst: p.Dst, family: family}
	// With IP_RECVERR the kernel queues the ICMP error itself, so the
	// reason can say which kind of unreachable it was.
	if family == unix.AF_INET {
		_ = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
	} else {
		_ = unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
	}
	c.start = time.Now()
	err = unix.Connect(fd, sa)
	if err == unix.EINPROGRESS || err == unix.EINTR {
		if !c.writable() {
			return s.await(p, c)
		}
		err = c.soError()
	}
	r, _ := c.result(err)
	c.close()
	return r, true
}

// await hands a connect still in progress to the poller and a goroutine
// that reports its outcome through the sink.
func (s *session) await(p scan.Probe, c *conn) (scan.Result, bool) {
	c.f = os.NewFile(uintptr(c.fd), "probe")
	rc, err := c.f.SyscallConn()
	if err != nil {
		c.close()
		return scan.Result{Err: err}, true
	}
	k := key{p.Dst, p.Try}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.close()
		return scan.Result{Err: errors.New("connect: session closed")}, true
	}
	if old := s.pending[k]; old != nil {
		// The same try of the same port twice (a target listed twice):
		// the newer one wins.
		delete(s.pending, k)
		if old.lingering {
			s.lingering--
		}
		defer old.close()
	}
	s.pending[k] = c
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		_ = c.f.SetWriteDeadline(c.start.Add(Linger))
		werr := rc.Write(func(uintptr) bool { return c.writable() })
		if !s.take(k, c) {
			return // expired or closed: the engine no longer waits for it
		}
		var (
			r  scan.Result
			ok bool
		)
		if werr == nil || errors.Is(werr, os.ErrDeadlineExceeded) {
			r, ok = c.outcome(true)
		}
		c.close()
		if ok {
			s.sink(scan.Answer{Dst: k.dst, Try: k.try, Result: r})
		}
	}()
	return scan.Result{}, false
}

// conn is a probe's socket: a bare descriptor, or an *os.File once it
// has been handed to Go's poller, which then owns the descriptor.
type conn struct {
	fd        int
	f         *os.File
	dst       netip.AddrPort
	family    int
	start     time.Time
	lingering bool
}

func (c *conn) close() {
	if c.f != nil {
		_ = c.f.Close()
		return
	}
	_ = unix.Close(c.fd)
}

// outcome returns the connect's result if it has one: the handshake
// finished or failed, or, once the engine stopped waiting (expired), an
// error the kernel kept as a soft error.
func (c *conn) outcome(expired bool) (scan.Result, bool) {
	if c.writable() {
		return c.result(c.soError())
	}
	if !expired {
		return scan.Result{}, false
	}
	if err := c.softError(); err != nil {
		return c.result(err)
	}
	return scan.Result{}, false
}

// result classifies a finished connect; err is its errno or nil.
func (c *conn) result(err error) (scan.Result, bool) {
	rtt := time.Since(c.start)
	if err == nil {
		if c.connectedToSelf() {
			return scan.Result{Err: errSelf}, true
		}
		// Reset rather than close, so neither side keeps the connection
		// in TIME_WAIT.
		_ = unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	state, reason, ok := classify(err)
	if !ok {
		return failed(os.NewSyscallError("connect", err)), true
	}
	if state == scan.StateFiltered && reason != scan.ReasonNoResponse {
		if r := c.icmpReason(); r != "" {
			reason = r
		}
	}
	return scan.Result{State: state, Reason: reason, RTT: rtt}, true
}

// writable polls the socket without blocking: a connect has an outcome
// once the socket is writable or has an error.
func (c *conn) writable() bool {
	p := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(p, 0)
	return err == nil && n == 1
}

// soError returns the outcome of the connect: nil or its errno.
func (c *conn) soError() error {
	n, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if n != 0 {
		return syscall.Errno(n)
	}
	return nil
}

// softError reads SO_ERROR of a connect still in progress: the kernel
// returns there the soft error of an ICMP message that did not end the
// connect (an ICMPv6 error on the local link, for one).
func (c *conn) softError() error { return c.soError() }

// icmpReason reads the ICMP error the kernel queued for the socket
// (IP_RECVERR) and names it in Nmap's words; "" when there is none.
func (c *conn) icmpReason() string {
	var oob [256]byte
	var buf [64]byte
	_, oobn, _, _, err := unix.Recvmsg(c.fd, buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if err != nil {
		return ""
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return ""
	}
	for _, m := range msgs {
		v4 := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
		v6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if (v4 || v6) && len(m.Data) >= 8 {
			if r := icmpReason(m.Data[4], m.Data[5], m.Data[6]); r != "" {
				return r
			}
		}
	}
	return ""
}

// connectedToSelf reports whether the socket's own address is its
// destination: with dst a local address and its port in the ephemeral
// range, the kernel may pick dst itself as the source and connect the
// socket to itself, which says nothing about the port.
func (c *conn) connectedToSelf() bool {
	sa, err := unix.Getsockname(c.fd)
	if err != nil {
		return false
	}
	want := c.dst.Addr().Unmap().WithZone("")
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port == int(c.dst.Port()) && netip.AddrFrom4(a.Addr) == want
	case *unix.SockaddrInet6:
		return a.Port == int(c.dst.Port()) && netip.AddrFrom16(a.Addr) == want
	}
	return false
}

// sockaddr converts dst for connect(2).
func sockaddr(dst netip.AddrPort) (unix.Sockaddr, int, error) {
	a := dst.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(dst.Port()), Addr: a.As4()}, unix.AF_INET, nil
	}
	sa := &unix.SockaddrInet6{Port: int(dst.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return nil, 0, err
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, unix.AF_INET6, nil
}

// isENONET reports the errno of an ICMP "host isolated".
func isENONET(err error) bool { return errors.Is(err, syscall.ENONET) }

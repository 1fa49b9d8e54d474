package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dial is the connect probe on Linux, made with raw socket calls. It does
// what net.Dialer does, minus what a scanner does not need: no address
// parsing, no keep-alive or Nagle options, and no registration with Go's
// poller when the answer is already there as connect returns — which on
// a LAN or loopback it usually is. That is about a third less work per
// probe, and connect scans are bound by that work. Only a connect still
// pending after connect(2) is handed to the poller, so waiting costs no
// thread.
func (c *Connect) dial(ctx context.Context, dst netip.AddrPort) Result {
	// The kernel may pick dst itself as the source when dst is a local
	// address with a port in the ephemeral range, and connect the socket
	// to itself; that says nothing about the port, so try again.
	for range 3 {
		r, self := c.dialOnce(ctx, dst)
		if !self {
			return r
		}
	}
	return Result{Err: errors.New("connect: kept connecting to itself")}
}

func (c *Connect) dialOnce(ctx context.Context, dst netip.AddrPort) (r Result, self bool) {
	sa, family, err := sockaddr(dst)
	if err != nil {
		return Result{Err: err}, false
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Result{Err: os.NewSyscallError("socket", err)}, false
	}
	s := sock{fd: fd}
	defer s.close()

	start := time.Now()
	err = unix.Connect(fd, sa)
	if err == unix.EINPROGRESS || err == unix.EINTR {
		err = s.await(ctx, start.Add(c.Timeout))
		if err == nil {
			err = s.soError()
		}
	}
	rtt := time.Since(start)
	switch {
	case err == nil:
		if s.connectedTo(dst) {
			return Result{}, true
		}
		// Reset rather than close, so neither side keeps the connection
		// in TIME_WAIT.
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		return Result{State: StateOpen, Reason: ReasonSynAck, RTT: rtt}, false
	case ctx.Err() != nil:
		return Result{Err: context.Cause(ctx)}, false
	case errors.Is(err, os.ErrDeadlineExceeded):
		return Result{State: StateFiltered, Reason: ReasonNoResponse, RTT: rtt}, false
	}
	return classified(os.NewSyscallError("connect", err), rtt), false
}

// sock is a probe's socket: a bare descriptor, or an *os.File once it
// has been handed to Go's poller, which then owns the descriptor.
type sock struct {
	fd int
	f  *os.File
}

func (s *sock) close() {
	if s.f != nil {
		_ = s.f.Close()
		return
	}
	_ = unix.Close(s.fd)
}

// await waits until the connect in progress has an outcome, the deadline
// passes (os.ErrDeadlineExceeded) or ctx ends.
func (s *sock) await(ctx context.Context, deadline time.Time) error {
	if s.writable() {
		return nil
	}
	s.f = os.NewFile(uintptr(s.fd), "probe")
	rc, err := s.f.SyscallConn()
	if err != nil {
		return err
	}
	if err := s.f.SetWriteDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = s.f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	return rc.Write(func(uintptr) bool { return s.writable() })
}

// writable polls the socket without blocking: a connect has an outcome
// once the socket is writable or has an error.
func (s *sock) writable() bool {
	p := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(p, 0)
	return err == nil && n == 1
}

// soError returns the outcome of the connect: nil or its errno.
func (s *sock) soError() error {
	n, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if n != 0 {
		return syscall.Errno(n)
	}
	return nil
}

// connectedTo reports whether the socket's own address is dst.
func (s *sock) connectedTo(dst netip.AddrPort) bool {
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		return false
	}
	want := dst.Addr().Unmap().WithZone("")
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port == int(dst.Port()) && netip.AddrFrom4(a.Addr) == want
	case *unix.SockaddrInet6:
		return a.Port == int(dst.Port()) && netip.AddrFrom16(a.Addr) == want
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

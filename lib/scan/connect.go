package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Connect probes with a full TCP handshake through the operating system,
// as Nmap's -sT does. It needs no privileges. An accepted connection is
// reset at once (SO_LINGER 0) rather than closed gracefully, so a scan of
// many open ports leaves no TIME_WAIT sockets behind on either side.
type Connect struct {
	Timeout time.Duration
}

var _ Prober = (*Connect)(nil)

// Probe connects to dst and classifies the outcome.
func (c *Connect) Probe(ctx context.Context, dst netip.AddrPort) Result {
	return c.dial(ctx, dst)
}

// dialPortable probes through the net package. It is the prober on
// systems without the raw-socket path, and the reference the raw path is
// tested against.
func (c *Connect) dialPortable(ctx context.Context, dst netip.AddrPort) Result {
	d := net.Dialer{Timeout: c.Timeout}
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", dst.String())
	rtt := time.Since(start)
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
		return Result{State: StateOpen, Reason: ReasonSynAck, RTT: rtt}
	}
	if ctx.Err() != nil {
		return Result{Err: context.Cause(ctx)}
	}
	return classified(err, rtt)
}

// classified turns a failed connect into a Result.
func classified(err error, rtt time.Duration) Result {
	state, reason, ok := classifyConnectError(err)
	if !ok {
		return Result{Err: err, RTT: rtt}
	}
	return Result{State: state, Reason: reason, RTT: rtt}
}

// classifyConnectError maps a failed connect to a port state. ok is false
// for local failures that say nothing about the target (no free ports,
// no file descriptors, no buffers).
func classifyConnectError(err error) (state, reason string, ok bool) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return StateClosed, ReasonConnRefused, true
	case errors.Is(err, syscall.ECONNRESET):
		return StateClosed, ReasonReset, true
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &ne) && ne.Timeout():
		return StateFiltered, ReasonNoResponse, true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EHOSTDOWN):
		return StateFiltered, ReasonHostUnreach, true
	case errors.Is(err, syscall.ENETUNREACH):
		return StateFiltered, ReasonNetUnreach, true
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return StateFiltered, ReasonAdminProhibited, true
	}
	return "", "", false
}

// localTransient reports whether a local failure may clear up if the
// probe waits a moment: the kernel ran out of ephemeral ports, file
// descriptors or buffers under a burst of connects.
func localTransient(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EMFILE) ||
		errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM)
}

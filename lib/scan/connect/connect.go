// Package connect is the connect probe method: a full TCP handshake
// through the operating system, as Nmap's -sT does. It needs no
// privileges. An accepted connection is reset at once (SO_LINGER 0)
// rather than closed gracefully, so a scan of many open ports leaves no
// TIME_WAIT sockets behind on either side.
package connect

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/scan"
)

// Linger is how long a socket whose probe timed out keeps waiting for a
// late answer while the engine probes the port again. The kernel resends
// an unanswered SYN after 1 s and 3 s; a socket kept for Linger lets
// those resends find ports behind a lossy link.
const Linger = 3500 * time.Millisecond

// maxLingerPerProbe bounds how many lingering sockets a scan keeps per
// probe in flight, so lingering never runs the process out of
// descriptors.
const maxLingerPerProbe = 4

// Method is the connect method.
type Method struct {
	maxLinger int
}

var _ scan.Method = (*Method)(nil)

// New returns the connect method.
func New(c scan.MethodConfig) (scan.Method, error) {
	linger := maxLingerPerProbe * max(1, c.Concurrency)
	if c.Files > 0 {
		// Sockets in flight come first; lingering ones use what is left.
		linger = min(linger, max(0, c.Files-c.Concurrency))
	}
	return &Method{maxLinger: linger}, nil
}

// Proto returns TCP.
func (m *Method) Proto() ports.Proto { return ports.TCP }

// Start returns a session that connects.
func (m *Method) Start(ctx context.Context, sink scan.Sink) (scan.Session, error) {
	s := &session{ctx: ctx, sink: sink, maxLinger: m.maxLinger, pending: make(map[key]*conn)}
	// When the scan stops, every socket still connecting is closed at
	// once, so the kernel resends no SYN after the stop.
	s.stop = context.AfterFunc(ctx, s.abandon)
	return s, nil
}

// key names one probe: a port may have a lingering socket of an earlier
// try next to the current one.
type key struct {
	dst netip.AddrPort
	try int
}

// session holds the connects still in progress after Send returned.
type session struct {
	ctx       context.Context
	sink      scan.Sink
	maxLinger int

	mu        sync.Mutex
	pending   map[key]*conn
	lingering int
	closed    bool
	wg        sync.WaitGroup
	stop      func() bool
}

// Close abandons every connect still in progress and waits for their
// goroutines. A connect abandoned before its handshake completed sends
// nothing more.
func (s *session) Close() error {
	s.stop()
	s.abandon()
	s.wg.Wait()
	return nil
}

// abandon closes every socket still connecting.
func (s *session) abandon() {
	s.mu.Lock()
	s.closed = true
	all := make([]*conn, 0, len(s.pending))
	for k, c := range s.pending {
		all = append(all, c)
		delete(s.pending, k)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

// take removes the pending connect of k and reports whether it was
// there; whoever takes it owns its outcome.
func (s *session) take(k key, c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[k] != c {
		return false
	}
	delete(s.pending, k)
	if c.lingering {
		s.lingering--
	}
	return true
}

// Expire gives up on a probe: it reads the socket's error, which holds
// an ICMP error the kernel kept as a soft error, and closes the socket,
// unless the port will be probed again, the socket has no error and
// there is room to let it linger for a late answer.
func (s *session) Expire(p scan.Probe, final bool) (scan.Result, bool) {
	k := key{p.Dst, p.Try}
	s.mu.Lock()
	c := s.pending[k]
	if c == nil {
		s.mu.Unlock()
		return scan.Result{}, false
	}
	r, ok := c.outcome(true)
	if !ok && !final && !c.lingering && s.lingering < s.maxLinger {
		c.lingering = true
		s.lingering++
		s.mu.Unlock()
		return scan.Result{}, false
	}
	delete(s.pending, k)
	if c.lingering {
		s.lingering--
	}
	s.mu.Unlock()
	c.close()
	return r, ok
}

// classify maps the errno of a finished connect to a port state. ok is
// false for local failures that say nothing about the target. Linux
// reports ECONNRESET and EPIPE only once the handshake completed (a
// refused handshake is ECONNREFUSED), so both mean open.
func classify(err error) (state, reason string, ok bool) {
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return scan.StateOpen, scan.ReasonSynAck, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return scan.StateClosed, scan.ReasonConnRefused, true
	case errors.Is(err, syscall.ETIMEDOUT):
		return scan.StateFiltered, scan.ReasonNoResponse, true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EHOSTDOWN), isENONET(err):
		return scan.StateFiltered, scan.ReasonHostUnreach, true
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return scan.StateFiltered, scan.ReasonNetUnreach, true
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return scan.StateFiltered, scan.ReasonAdminProhibited, true
	case errors.Is(err, syscall.ENOPROTOOPT):
		return scan.StateFiltered, scan.ReasonProtoUnreach, true
	case errors.Is(err, syscall.EPROTO):
		return scan.StateFiltered, scan.ReasonParamProblem, true
	case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EMSGSIZE):
		return scan.StateFiltered, scan.ReasonDestUnreach, true
	}
	return "", "", false
}

// transient reports whether a local failure may clear up if the probe
// waits a moment: the kernel ran out of ephemeral ports, file
// descriptors or buffers under a burst of connects.
func transient(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EMFILE) ||
		errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM)
}

// errSelf says the kernel connected the socket to itself; the engine
// tries again.
var errSelf = scan.Transient(errors.New("connect: socket connected to itself"))

// failed turns a local failure into a Result.
func failed(err error) scan.Result {
	if transient(err) {
		err = scan.Transient(err)
	}
	return scan.Result{Err: err}
}

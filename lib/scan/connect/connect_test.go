package connect

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/scan"
)

func TestMain(m *testing.M) { labnet.Main(m) }

// probeOnce sends one probe through a fresh session and waits up to
// wait for its answer, then expires it as the engine would.
func probeOnce(t *testing.T, dst netip.AddrPort, wait time.Duration) scan.Result {
	t.Helper()
	answers := make(chan scan.Answer, 4)
	m, _ := New(scan.MethodConfig{Concurrency: 1})
	sess, err := m.Start(context.Background(), func(a scan.Answer) { answers <- a })
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	p := scan.Probe{Dst: dst}
	if r, done := sess.Send(p); done {
		return r
	}
	select {
	case a := <-answers:
		if a.Dst != dst || a.Try != 0 {
			t.Fatalf("answer for %v try %d, want %v try 0", a.Dst, a.Try, dst)
		}
		return a.Result
	case <-time.After(wait):
	}
	if r, ok := sess.Expire(p, true); ok {
		return r
	}
	return scan.Result{State: scan.StateFiltered, Reason: scan.ReasonNoResponse}
}

func TestConnectStates(t *testing.T) {
	labnet.Require(t)
	labnet.Route(t, "unreachable", "127.77.0.0/16")
	labnet.Route(t, "prohibit", "127.78.0.0/16")
	open4 := labnet.Listen(t, "127.0.0.1:0").Port
	open6 := labnet.Listen(t, "[::1]:0").Port
	closed := labnet.ClosedPort(t)
	drop := labnet.DropPort(t)
	reset := labnet.ListenReset(t, "127.0.0.1:0", false)
	finReset := labnet.ListenReset(t, "127.0.0.1:0", true)

	tests := []struct {
		name  string
		dst   string
		state string
		why   string
	}{
		{"open", "127.0.0.1:" + itoa(open4), scan.StateOpen, scan.ReasonSynAck},
		{"open ipv6", "[::1]:" + itoa(open6), scan.StateOpen, scan.ReasonSynAck},
		{"open, given 4-in-6", "[::ffff:127.0.0.1]:" + itoa(open4), scan.StateOpen, scan.ReasonSynAck},
		{"closed", "127.0.0.1:" + itoa(closed), scan.StateClosed, scan.ReasonConnRefused},
		{"closed ipv6", "[::1]:" + itoa(closed), scan.StateClosed, scan.ReasonConnRefused},
		{"dropped", "127.0.0.1:" + itoa(drop), scan.StateFiltered, scan.ReasonNoResponse},
		{"unreachable", "127.77.0.1:80", scan.StateFiltered, scan.ReasonHostUnreach},
		{"prohibited", "127.78.0.1:80", scan.StateFiltered, scan.ReasonAdminProhibited},
		{"accepts then resets", "127.0.0.1:" + itoa(reset), scan.StateOpen, scan.ReasonSynAck},
		{"FIN then RST", "127.0.0.1:" + itoa(finReset), scan.StateOpen, scan.ReasonSynAck},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Resets race the probe's own look at the socket; try a few
			// times so a wrong answer shows.
			for range 20 {
				r := probeOnce(t, netip.MustParseAddrPort(tc.dst), 300*time.Millisecond)
				if r.Err != nil || r.State != tc.state || r.Reason != tc.why {
					t.Fatalf("%+v, want %s/%s", r, tc.state, tc.why)
				}
				if tc.state == scan.StateFiltered && tc.why == scan.ReasonNoResponse {
					break
				}
			}
		})
	}
}

// TestClassify covers every errno a connect can end with: ECONNRESET
// and EPIPE come only after the handshake, so they mean open.
func TestClassify(t *testing.T) {
	tests := []struct {
		err   error
		state string
		why   string
	}{
		{nil, scan.StateOpen, scan.ReasonSynAck},
		{syscall.ECONNRESET, scan.StateOpen, scan.ReasonSynAck},
		{syscall.EPIPE, scan.StateOpen, scan.ReasonSynAck},
		{syscall.ECONNREFUSED, scan.StateClosed, scan.ReasonConnRefused},
		{syscall.ETIMEDOUT, scan.StateFiltered, scan.ReasonNoResponse},
		{syscall.EHOSTUNREACH, scan.StateFiltered, scan.ReasonHostUnreach},
		{syscall.EHOSTDOWN, scan.StateFiltered, scan.ReasonHostUnreach},

		{syscall.ENETUNREACH, scan.StateFiltered, scan.ReasonNetUnreach},
		{syscall.EACCES, scan.StateFiltered, scan.ReasonAdminProhibited},
		{syscall.ENOPROTOOPT, scan.StateFiltered, scan.ReasonProtoUnreach},
		{syscall.EPROTO, scan.StateFiltered, scan.ReasonParamProblem},
		{syscall.EOPNOTSUPP, scan.StateFiltered, scan.ReasonDestUnreach},
		{syscall.EMSGSIZE, scan.StateFiltered, scan.ReasonDestUnreach},
	}
	for _, tc := range tests {
		state, why, ok := classify(tc.err)
		if !ok || state != tc.state || why != tc.why {
			t.Errorf("%v: %s/%s %v, want %s/%s", tc.err, state, why, ok, tc.state, tc.why)
		}
	}
	if _, _, ok := classify(syscall.EADDRNOTAVAIL); ok {
		t.Error("EADDRNOTAVAIL is a local failure, not a port state")
	}
	if r := failed(syscall.EADDRNOTAVAIL); !errors.Is(r.Err, scan.ErrTransient) {
		t.Error("EADDRNOTAVAIL should be a transient local failure")
	}
}

// TestICMPReasons checks the names of every ICMP and ICMPv6 error the
// kernel can queue for a TCP socket.
func TestICMPReasons(t *testing.T) {
	tests := []struct {
		origin, typ, code byte
		want              string
	}{
		{originICMP, 3, 0, "net-unreach"},
		{originICMP, 3, 1, "host-unreach"},
		{originICMP, 3, 2, "proto-unreach"},
		{originICMP, 3, 3, "port-unreach"},
		{originICMP, 3, 4, "dest-unreach"},
		{originICMP, 3, 5, "dest-unreach"},
		{originICMP, 3, 6, "net-unreach"},
		{originICMP, 3, 7, "host-unreach"},
		{originICMP, 3, 8, "host-unreach"},
		{originICMP, 3, 9, "net-prohibited"},
		{originICMP, 3, 10, "host-prohibited"},
		{originICMP, 3, 11, "net-unreach"},
		{originICMP, 3, 12, "host-unreach"},
		{originICMP, 3, 13, "admin-prohibited"},
		{originICMP, 3, 14, "admin-prohibited"},
		{originICMP, 3, 15, "admin-prohibited"},
		{originICMP, 4, 0, "source-quench"},
		{originICMP, 11, 0, "time-exceeded"},
		{originICMP, 12, 0, "param-problem"},
		{originICMP6, 1, 0, "no-route"},
		{originICMP6, 1, 1, "admin-prohibited"},
		{originICMP6, 1, 2, "beyond-scope"},
		{originICMP6, 1, 3, "host-unreach"},
		{originICMP6, 1, 4, "port-unreach"},
		{originICMP6, 1, 5, "admin-prohibited"},
		{originICMP6, 1, 6, "reject-route"},
		{originICMP6, 2, 0, "dest-unreach"},
		{originICMP6, 3, 0, "time-exceeded"},
		{originICMP6, 4, 0, "param-problem"},
		{1, 0, 0, ""}, // a local error, not ICMP
	}
	for _, tc := range tests {
		if got := icmpReason(tc.origin, tc.typ, tc.code); got != tc.want {
			t.Errorf("origin %d type %d code %d: %q, want %q", tc.origin, tc.typ, tc.code, got, tc.want)
		}
	}
}

// TestConnectLateAnswer covers a connect still pending when connect(2)
// returns: the listener's queue is full, so the first SYN is dropped;
// the queue is then drained, and the kernel's SYN resend (about a second
// later) is answered, through the sink.
func TestConnectLateAnswer(t *testing.T) {
	labnet.Require(t)
	ln, fill := fullListener(t)
	go func() {
		time.Sleep(300 * time.Millisecond)
		for _, c := range fill {
			c.Close()
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := probeOnce(t, ln.Addr().(*net.TCPAddr).AddrPort(), 5*time.Second)
	if r.State != scan.StateOpen || r.RTT < 300*time.Millisecond {
		t.Fatalf("got %+v; want open, answered after the queue drained", r)
	}
}

// TestConnectLingers checks that a probe the engine expired, but will
// retry, keeps its socket so the kernel's resend can still be answered,
// and that the late answer comes through the sink with its try.
func TestConnectLingers(t *testing.T) {
	labnet.Require(t)
	ln, fill := fullListener(t)
	answers := make(chan scan.Answer, 4)
	m, _ := New(scan.MethodConfig{Concurrency: 1})
	sess, _ := m.Start(context.Background(), func(a scan.Answer) { answers <- a })
	defer sess.Close()
	dst := ln.Addr().(*net.TCPAddr).AddrPort()
	p := scan.Probe{Dst: dst, Try: 0}
	if r, done := sess.Send(p); done {
		t.Fatalf("answered at once: %+v", r)
	}
	if _, ok := sess.Expire(p, false); ok {
		t.Fatal("expired probe had an answer")
	}
	for _, c := range fill {
		c.Close()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	select {
	case a := <-answers:
		if a.Try != 0 || a.Result.State != scan.StateOpen {
			t.Fatalf("late answer %+v, want open for try 0", a)
		}
	case <-time.After(Linger + time.Second):
		t.Fatal("no late answer: the expired socket did not linger")
	}
}

// fullListener returns a listener whose accept queue is full, and the
// connections that fill it.
func fullListener(t *testing.T) (net.Listener, []net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	raw, _ := ln.(*net.TCPListener).SyscallConn()
	raw.Control(func(fd uintptr) { syscall.Listen(int(fd), 0) })
	var fill []net.Conn
	for range 4 {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		fill = append(fill, c)
	}
	return ln, fill
}

// TestConnectRefusesSelfConnection narrows the namespace's ephemeral
// range to the probed port and one more: the kernel then picks the
// probed port as the source now and then and connects the socket to
// itself, which must never be taken for an open port.
func TestConnectRefusesSelfConnection(t *testing.T) {
	labnet.Require(t)
	const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"
	old, err := os.ReadFile(rangeFile)
	if err != nil {
		t.Fatal(err)
	}
	port := labnet.ClosedPort(t)
	if err := os.WriteFile(rangeFile, []byte(itoa(port)+" "+itoa(port+1)), 0o644); err != nil {
		t.Fatalf("narrow the ephemeral range: %v", err)
	}
	defer os.WriteFile(rangeFile, old, 0o644)
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	self := 0
	for range 200 {
		r := probeOnce(t, dst, time.Second)
		switch {
		case errors.Is(r.Err, errSelf):
			self++
		case r.Err == nil && r.State == scan.StateClosed:
		case errors.Is(r.Err, syscall.EADDRNOTAVAIL):
			// Both ports of the range busy for a moment.
		default:
			t.Fatalf("got %+v; want closed, or the self-connection error, never open", r)
		}
		if self >= 3 {
			break
		}
	}
	if self == 0 {
		t.Fatal("no self-connection happened in 200 probes: the test did not test anything")
	}
	if !errors.Is(errSelf, scan.ErrTransient) {
		t.Error("a self-connection must be retried by the engine")
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

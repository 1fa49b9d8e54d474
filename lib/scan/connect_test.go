package scan

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
)

// TestConnectMatchesNetDialer checks the raw-socket prober against the
// net package's dialer on every kind of port the namespace can offer.
func TestConnectMatchesNetDialer(t *testing.T) {
	labnet.Require(t)
	labnet.Route(t, "unreachable", "127.77.0.0/16")
	labnet.Route(t, "prohibit", "127.78.0.0/16")
	open4 := labnet.Listen(t, "127.0.0.1:0").Port
	open6 := labnet.Listen(t, "[::1]:0").Port
	closed := labnet.ClosedPort(t)
	drop := labnet.DropPort(t)

	tests := []struct {
		name  string
		dst   string
		state string
		why   string
	}{
		{"open", "127.0.0.1:" + itoa(open4), StateOpen, ReasonSynAck},
		{"open ipv6", "[::1]:" + itoa(open6), StateOpen, ReasonSynAck},
		{"closed", "127.0.0.1:" + itoa(closed), StateClosed, ReasonConnRefused},
		{"closed ipv6", "[::1]:" + itoa(closed), StateClosed, ReasonConnRefused},
		{"dropped", "127.0.0.1:" + itoa(drop), StateFiltered, ReasonNoResponse},
		{"unreachable", "127.77.0.1:80", StateFiltered, ReasonHostUnreach},
		{"prohibited", "127.78.0.1:80", StateFiltered, ReasonAdminProhibited},
	}
	c := &Connect{Timeout: 300 * time.Millisecond}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := netip.MustParseAddrPort(tc.dst)
			for name, probe := range map[string]func(context.Context, netip.AddrPort) Result{
				"raw": c.dial, "net": c.dialPortable,
			} {
				r := probe(context.Background(), dst)
				if r.Err != nil || r.State != tc.state || r.Reason != tc.why {
					t.Errorf("%s: %+v, want %s/%s", name, r, tc.state, tc.why)
				}
			}
		})
	}
}

// TestConnectWaitsForLateAnswer covers a connect that is still pending
// when connect(2) returns: the listener's queue is full, so the first SYN
// is dropped; the queue is then drained, and the kernel's SYN retransmit
// (about a second later) is answered.
func TestConnectWaitsForLateAnswer(t *testing.T) {
	labnet.Require(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
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
	go func() {
		time.Sleep(300 * time.Millisecond)
		for range fill {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dst := ln.Addr().(*net.TCPAddr).AddrPort()
	r := (&Connect{Timeout: 5 * time.Second}).Probe(context.Background(), dst)
	for _, c := range fill {
		c.Close()
	}
	if r.State != StateOpen || r.RTT < 300*time.Millisecond {
		t.Fatalf("got %+v; want open, answered after the queue drained", r)
	}
}

// TestConnectRefusesSelfConnection narrows the namespace's ephemeral
// range to the probed port and one more: the kernel then often picks the
// probed port as the source and connects the socket to itself, which
// must never be taken for an open port.
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
	for range 20 {
		r := (&Connect{Timeout: time.Second}).Probe(context.Background(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
		if r.State != StateClosed && (r.Err == nil || !strings.Contains(r.Err.Error(), "itself")) {
			t.Fatalf("got %+v; want closed, or the self-connection error, never open", r)
		}
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

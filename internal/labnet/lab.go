package labnet

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// HostSpec describes one lab host: a network namespace of its own,
// joined to the test's namespace by a veth pair, with listeners and nft
// rules on its input.
type HostSpec struct {
	// Open ports have a listener that accepts and closes.
	Open []uint16
	// Reset ports accept and reset at once; FinReset ports accept, send
	// a FIN, then reset.
	Reset, FinReset []uint16
	// UDPEcho ports have a UDP socket that sends every datagram back.
	UDPEcho []uint16
	// Rules are nft statements for the host's input chain (table inet
	// lab, chain input, policy accept), one per line.
	Rules string
	// Sysctls are set inside the host's namespace, e.g.
	// "net.ipv4.icmp_ratelimit": "0".
	Sysctls map[string]string
}

// Host is a lab host, reachable from the test's namespace at Addr (IPv4)
// and Addr6 (IPv6, on the same link).
type Host struct {
	Addr  netip.Addr
	Addr6 netip.Addr
	pid   int
}

// Lab builds one host per spec for the rest of the test. The test must
// run in a private namespace (Require); each host lives in a namespace
// of its own, held by a sleep(1) process the lab starts and kills, so
// nothing of the lab is left in any other namespace. Host i gets
// 10.99.i.2 and fd99:i::2; the test's side of the link has .1 and ::1.
// It needs root, ip(8), nsenter(1) and, for rules, nft(8).
func Lab(t testing.TB, specs ...HostSpec) []*Host {
	t.Helper()
	Require(t)
	hosts := make([]*Host, len(specs))
	for i, spec := range specs {
		hosts[i] = labHost(t, int(labHosts.Add(1)), spec)
	}
	return hosts
}

// labHosts numbers the lab's hosts across the tests of a process, so
// labs of tests that run in parallel do not collide.
var labHosts atomic.Int32

// isLabLink reports whether name is the test's end of a lab link.
func isLabLink(name string) bool {
	n, ok := strings.CutPrefix(name, "lab")
	n, ok2 := strings.CutSuffix(n, "a")
	if !ok || !ok2 || n == "" {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func labHost(t testing.TB, n int, spec HostSpec) *Host {
	t.Helper()
	sleep := exec.Command("unshare", "--net", "sleep", "1000000")
	if err := sleep.Start(); err != nil {
		t.Fatalf("lab: start a namespace: %v", err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	pid := sleep.Process.Pid
	ours, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if theirs != "" && theirs != ours {
			break
		}
		if i == 200 {
			t.Fatal("lab: the host namespace did not appear")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h := &Host{
		Addr:  netip.MustParseAddr(fmt.Sprintf("10.99.%d.2", n)),
		Addr6: netip.MustParseAddr(fmt.Sprintf("fd99:%d::2", n)),
		pid:   pid,
	}
	if n > 250 {
		t.Fatal("lab: more than 250 hosts")
	}
	a, b := fmt.Sprintf("lab%da", n), fmt.Sprintf("lab%db", n)
	run(t, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
	// Deleting one end deletes both, at once; the namespace going away
	// would do it too, but later.
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", a).Run() })
	run(t, "ip", "link", "set", b, "netns", fmt.Sprint(pid))
	run(t, "ip", "addr", "add", fmt.Sprintf("10.99.%d.1/24", n), "dev", a)
	run(t, "ip", "-6", "addr", "add", fmt.Sprintf("fd99:%d::1/64", n), "dev", a, "nodad")
	run(t, "ip", "link", "set", a, "up")
	h.run(t, "ip", "link", "set", "lo", "up")
	h.run(t, "ip", "addr", "add", h.Addr.String()+"/24", "dev", b)
	h.run(t, "ip", "-6", "addr", "add", h.Addr6.String()+"/64", "dev", b, "nodad")
	h.run(t, "ip", "link", "set", b, "up")
	for k, v := range spec.Sysctls {
		h.run(t, "sysctl", "-q", "-w", k+"="+v)
	}
	if strings.TrimSpace(spec.Rules) != "" {
		ruleset := "table inet lab {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n" +
			spec.Rules + "\n\t}\n}\n"
		cmd := exec.Command("nsenter", "-t", fmt.Sprint(pid), "-n", "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(ruleset)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lab: nft: %v: %s\n%s", err, out, ruleset)
		}
	}
	for _, p := range spec.Open {
		h.listen(t, p, func(c *net.TCPConn) { c.Close() })
	}
	for _, p := range spec.Reset {
		h.listen(t, p, func(c *net.TCPConn) { _ = c.SetLinger(0); c.Close() })
	}
	for _, p := range spec.FinReset {
		h.listen(t, p, func(c *net.TCPConn) { _ = c.CloseWrite(); _ = c.SetLinger(0); c.Close() })
	}
	for _, p := range spec.UDPEcho {
		h.echoUDP(t, p)
	}
	return h
}

// echoUDP opens a UDP socket on port of both the host's addresses,
// inside its namespace, that sends every datagram back.
func (h *Host) echoUDP(t testing.TB, port uint16) {
	t.Helper()
	var c net.PacketConn
	err := h.inside(func() error {
		var err error
		c, err = net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("lab: listen on %s udp port %d: %v", h.Addr, port, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo(buf[:n], from)
		}
	})
	t.Cleanup(func() { c.Close(); wg.Wait() })
}

// Run runs a command inside the host's namespace.
func (h *Host) run(t testing.TB, name string, args ...string) {
	t.Helper()
	run(t, "nsenter", append([]string{"-t", fmt.Sprint(h.pid), "-n", name}, args...)...)
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("lab: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// listen opens a listener on port of both the host's addresses, inside
// its namespace, and handles each accepted connection with fn. A socket
// stays in the namespace it was made in, so a thread enters the
// namespace only to make it.
func (h *Host) listen(t testing.TB, port uint16, fn func(*net.TCPConn)) {
	t.Helper()
	var ln net.Listener
	err := h.inside(func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("lab: listen on %s port %d: %v", h.Addr, port, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fn(c.(*net.TCPConn))
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// inside runs fn on a thread in the host's namespace.
func (h *Host) inside(fn func() error) error {
	runtime.LockOSThread()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(self)
	target, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", h.pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns: %w", err)
	}
	ferr := fn()
	if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
		// The thread stays in the host's namespace; it must not run
		// anything else, so it ends with this goroutine's lock held.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Counter reads one of the kernel's counters inside the host's
// namespace (see SNMP): what reached the host, counted by its own
// kernel, whatever the scanner believes it sent.
func (h *Host) Counter(t testing.TB, group, field string) int {
	t.Helper()
	return SNMP(t, fmt.Sprintf("/proc/%d/net/snmp", h.pid), group, field)
}

// SNMP reads one of the kernel's counters from path, a /proc/net/snmp
// of some namespace, as the file names it: group "Ip", "Tcp", "Udp" or
// "Icmp" and a field such as "InReceives" or "ActiveOpens".
func SNMP(t testing.TB, path, group, field string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("counters: %v", err)
	}
	var head []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != group+":" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, name := range head {
			if name == field && i < len(f) {
				n, err := strconv.Atoi(f[i])
				if err != nil {
					t.Fatalf("counter %s %s in %s: %v", group, field, path, err)
				}
				return n
			}
		}
	}
	t.Fatalf("no counter %s %s in %s", group, field, path)
	return 0
}

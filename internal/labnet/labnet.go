// Package labnet gives tests that send packets a private network
// namespace, so that a scan of 127.0.0.1 reaches only the listeners the
// test opened and nothing else on the machine.
//
// A test package calls Main from its TestMain. Main runs the test binary
// again under `unshare --net` (as root, or with --map-root-user where user
// namespaces are allowed), brings loopback up there, and exits with the
// child's status. If no namespace can be made, the tests that need one
// fail rather than scan the host's real loopback.
package labnet

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const envMark = "PICKET_LABNET"

// Main runs the package's tests inside a private network namespace of
// their own, even when the process already is in one: test binaries of
// several packages run at once, and each needs its own loopback, lab
// links and TCP counters.
func Main(m *testing.M) {
	if os.Getenv(envMark) != "" {
		// Re-executed: run here (Require fails the tests that scan if
		// this namespace is not private after all).
		os.Exit(m.Run())
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		fmt.Fprintln(os.Stderr, "labnet: unshare(1) not found; tests that scan will fail")
		os.Exit(m.Run())
	}
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	script := `ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null; exec "$0" "$@"`
	args = append(args, "--", "sh", "-c", script, os.Args[0])
	args = append(args, os.Args[1:]...)
	cmd := exec.Command(unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envMark+"=1")
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "labnet: run tests under unshare: %v; tests that scan will fail\n", err)
		os.Exit(m.Run())
	}
	os.Exit(0)
}

// Private reports whether this process is in a network namespace whose
// only interfaces are loopback and the lab's links (see Lab), which lead
// only to namespaces a test made: there, packets cannot reach any other
// host, and only listeners started inside answer.
func Private() bool {
	data, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return false
	}
	var ifaces []string
	for _, line := range strings.Split(string(data), "\n") {
		name, _, ok := strings.Cut(line, ":")
		if ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	lo := false
	for _, name := range ifaces {
		switch {
		case name == "lo":
			lo = true
		case isLabLink(name):
		default:
			return false
		}
	}
	return lo
}

// Require fails the test unless it runs in a private network namespace.
func Require(t testing.TB) {
	t.Helper()
	if !Private() {
		t.Fatal("this test scans loopback and must run in a private network namespace " +
			"(use labnet.Main in TestMain, or run: unshare --net sh -c 'ip link set lo up; go test ./...')")
	}
}

// Route adds a route of the given type ("unreachable", "prohibit",
// "blackhole") for prefix to the namespace's local table for the rest of
// the test. Within 127.0.0.0/8 this makes addresses that answer a
// connect with an ICMP-like error, as routers and firewalls do, without
// any packet leaving loopback.
func Route(t testing.TB, kind, prefix string) {
	t.Helper()
	Require(t)
	if out, err := exec.Command("ip", "route", "add", kind, prefix, "table", "local").CombinedOutput(); err != nil {
		t.Fatalf("ip route add %s %s: %v: %s", kind, prefix, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "route", "del", kind, prefix, "table", "local").Run() })
}

package main

// The tests of this file check, through the built probe binary, the
// promises README makes about bad input and faults: bad input is refused
// before any packet leaves, a process without CAP_NET_RAW says so in one
// line, running out of file descriptors slows a connect scan down rather
// than losing ports, and an interrupted scan reports only what it saw.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
)

// sentCounter counts, with an nft counter on the output hook of the
// test's namespace, every packet that leaves it — probes sent through
// raw sockets included, which the kernel's Ip OutRequests does not
// count — except DNS queries, ICMP errors and IPv6 neighbour discovery,
// which are the resolver's and the kernel's, not probe's. It returns a
// function that reads the count.
func sentCounter(t *testing.T) func() int {
	t.Helper()
	labnet.Require(t)
	const ruleset = `table inet probe_faults {
	counter sent {}
	chain out {
		type filter hook output priority 0; policy accept;
		meta l4proto { tcp, udp } th dport 53 return
		icmp type destination-unreachable return
		icmpv6 type { destination-unreachable, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report } return
		counter name "sent"
	}
}
`
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", "probe_faults").Run() })
	packets := regexp.MustCompile(`packets (\d+)`)
	return func() int {
		t.Helper()
		out, err := exec.Command("nft", "list", "counter", "inet", "probe_faults", "sent").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list counter: %v: %s", err, out)
		}
		m := packets.FindSubmatch(out)
		if m == nil {
			t.Fatalf("no packet count in %q", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
}

// snmp reads a counter of the namespace's /proc/net/snmp, such as Ip
// InReceives.
func snmp(t *testing.T, proto, name string) int {
	t.Helper()
	return labnet.SNMP(t, "/proc/net/snmp", proto, name)
}

// noCrash fails the test if stderr looks like a Go panic or stack trace.
func noCrash(t *testing.T, stderr string) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", ".go:"} {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr holds %q, a crash rather than a message:\n%s", s, stderr)
		}
	}
}

// runBounded runs probe and kills it after limit: a test whose guard is
// broken must not scan a /8 for hours.
func runBounded(t *testing.T, limit time.Duration, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	r := runCmd(t, exec.CommandContext(ctx, probeBin, args...))
	if ctx.Err() != nil {
		t.Errorf("probe %v still ran after %v; killed", args, limit)
	}
	return r
}

// TestBadInputSendsNothing gives probe, with each method, inputs it must
// refuse and checks that it exits with the documented status and one
// line naming the input, writes no event, and sends no packet: the
// namespace's output counter stays still. A valid scan first shows that
// the counter does count each method's probes.
func TestBadInputSendsNothing(t *testing.T) {
	sent := sentCounter(t)
	tests := []struct {
		name string
		args []string
		code int
		has  []string // what the error line must name
	}{
		{"unresolvable name", []string{"-p", "80", "nowhere.invalid"}, 1, []string{`"nowhere.invalid"`}},
		{"unresolvable name with a prefix", []string{"-p", "80", "nowhere.invalid/30"}, 1, []string{`"nowhere.invalid"`}},
		{"bad CIDR", []string{"-p", "80", "127.0.0.0/33"}, 2, []string{`argument 1`, `"127.0.0.0/33"`}},
		{"bad octet range", []string{"-p", "80", "127.0.0.1", "127.0.0.5-300"}, 2, []string{`argument 2`, `"127.0.0.5-300"`}},
		{"bad exclusion", []string{"-p", "80", "127.0.0.1", "--exclude", "127.0.0.0/40"}, 2, []string{`"127.0.0.0/40"`}},
		{"port out of range", []string{"-p", "70000", "127.0.0.1"}, 2, []string{`bad port spec "70000"`}},
		{"bad port range", []string{"-p", "80-x", "127.0.0.1"}, 2, []string{`bad port spec "80-x"`}},
		{"bad excluded ports", []string{"-p", "80", "--exclude-ports", "1-2-3", "127.0.0.1"}, 2, []string{`"1-2-3"`}},
		// 127.0.0.0/8 is 2^24 addresses, the most allowed; ::1 makes one
		// more. Every address lies in the namespace.
		{"over 2^24 addresses", []string{"-p", "80", "127.0.0.0/8", "::1"}, 2, []string{"--yes-large", "16777217 addresses"}},
	}
	for _, method := range []string{"syn", "connect", "udp"} {
		t.Run(method, func(t *testing.T) {
			before := sent()
			if r := runBounded(t, 30*time.Second, "-n", "-Pn", "--method", method, "-p", "80", "127.0.0.1"); r.code != 0 {
				t.Fatalf("a valid scan: exit %d: %s", r.code, r.stderr)
			}
			if sent() == before {
				t.Fatalf("a valid %s scan sent nothing the counter saw: the counter is blind", method)
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					before := sent()
					args := append([]string{"-n", "-Pn", "--method", method}, tc.args...)
					r := runBounded(t, 20*time.Second, args...)
					if n := sent() - before; n != 0 {
						t.Errorf("%d packets sent before the error", n)
					}
					if r.code != tc.code {
						t.Errorf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
					}
					if r.stdout != "" {
						t.Errorf("stdout not empty:\n%.1000s", r.stdout)
					}
					noCrash(t, r.stderr)
					lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
					first := lines[0]
					for _, s := range tc.has {
						if !strings.Contains(first, s) {
							t.Errorf("error line lacks %q: %q", s, first)
						}
					}
					// One line, and at most one more: the hint to --help
					// after a usage error.
					if len(lines) > 2 || len(lines) == 2 && !strings.Contains(lines[1], "--help") {
						t.Errorf("want one line naming the input:\n%s", r.stderr)
					}
				})
			}
		})
	}
}

// TestFileDescriptorsRunOut scans 2000 ports of a lab host — 200 open,
// 60 dropped, the rest closed — with the connect method and 512 probes
// asked for, in a process whose open-file limit is small or already used
// up by descriptors it inherited. The dropped ports hold their sockets
// for a second or more, long enough to use up every descriptor a scan
// that ignored the inherited ones would count on. The scan may be
// slower; its result must still be exact and complete.
func TestFileDescriptorsRunOut(t *testing.T) {
	labnet.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("the lab host needs root")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal("prlimit(1) from util-linux is needed to lower the open-file limit")
	}
	const first, last = 20000, 21999
	var open []uint16
	for p := first; len(open) < 200; p += 9 {
		open = append(open, uint16(p))
	}
	host := labnet.Lab(t, labnet.HostSpec{Open: open, Rules: "tcp dport 21940-21999 drop"})[0]
	want := map[int]string{}
	for p := first; p <= last; p++ {
		want[p] = "closed"
	}
	for _, p := range open {
		want[int(p)] = "open"
	}
	for p := 21940; p <= 21999; p++ {
		want[p] = "filtered"
	}
	tests := []struct {
		name      string
		nofile    int
		inherited int // descriptors open in probe before it starts
	}{
		{"limit of 64", 64, 0},
		{"limit of 256, 200 of them inherited", 256, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{fmt.Sprintf("--nofile=%d:%d", tc.nofile, tc.nofile), "--", probeBin,
				"-n", "-Pn", "--method", "connect", "--concurrency", "512", "--all-states",
				"-p", fmt.Sprintf("%d-%d", first, last), host.Addr.String()}
			cmd := exec.Command(prlimit, args...)
			for range tc.inherited {
				f, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				cmd.ExtraFiles = append(cmd.ExtraFiles, f)
			}
			var errb strings.Builder
			cmd.Stderr = &errb
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("probe: %v\n%s", err, errb.String())
			}
			// The concurrency asked for does not fit: probe says so once,
			// and nothing else.
			if !strings.Contains(errb.String(), "concurrency 512 is over") || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("stderr: want one warning that the concurrency was lowered:\n%.2000s", errb.String())
			}
			got := map[int]string{}
			var end map[string]any
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatal(err)
				}
				switch {
				case ev["type"] == "port":
					got[int(ev["port"].(float64))] = ev["state"].(string)
				case ev["type"] == "scan" && ev["phase"] == "end":
					end = ev
				}
			}
			wrong := 0
			for p, w := range want {
				if got[p] != w {
					if wrong++; wrong <= 10 {
						t.Errorf("port %d: %q, want %s", p, got[p], w)
					}
				}
			}
			if wrong > 10 {
				t.Errorf("... %d ports wrong in all", wrong)
			}
			if end == nil {
				t.Fatal("no scan end")
			}
			stats, _ := end["stats"].(map[string]any)
			if end["complete"] != true || stats["errors"] != 0.0 || stats["open"] != 200.0 {
				t.Errorf("scan end %v: want complete, 200 open and no errors", end)
			}
		})
	}
}

// interrupted starts cmd (probe), waits until ready says the scan is
// under way, interrupts it with SIGINT and returns its output and exit
// status once it has stopped, and the value of sent (if not nil) read
// just before the signal.
func interrupted(t *testing.T, ready func() bool, sent func() int, cmd *exec.Cmd) (r run, atSignal int) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	done := make(chan error, 1)
	go func() { _, _ = io.Copy(&out, stdout); done <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("probe %v did not get under way in 15 s; stderr: %s", cmd.Args, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if sent != nil {
		atSignal = sent()
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("probe did not stop within 10 s of SIGINT")
	}
	return run{cmd.ProcessState.ExitCode(), out.String(), stderr.String()}, atSignal
}

// checkInterruptedEnd checks what every interrupted scan must show: exit
// 130, no crash, and a last line that is the scan end with complete
// false and interrupted SIGINT.
func checkInterruptedEnd(t *testing.T, r run) {
	t.Helper()
	if r.code != 130 {
		t.Errorf("exit %d, want 130 (README: interrupted by SIGINT); stderr: %s", r.code, r.stderr)
	}
	noCrash(t, r.stderr)
	if strings.TrimSpace(r.stdout) == "" {
		t.Fatal("no events")
	}
	checkNDJSON(t, r.stdout)
	end := lastEvent(t, r.stdout)
	if end["type"] != "scan" || end["phase"] != "end" || end["complete"] != false || end["interrupted"] != "SIGINT" {
		t.Errorf("last event %v, want the scan end with complete=false interrupted=SIGINT", end)
	}
}

// stable returns a ready function for interrupted: true once count has
// reached at least min and then not moved for 300 ms.
func stable(count func() int, min int) func() bool {
	last, since := -1, time.Now()
	return func() bool {
		n := count()
		if n != last {
			last, since = n, time.Now()
			return false
		}
		return n >= min && time.Since(since) >= 300*time.Millisecond
	}
}

// TestInterruptInventsNothing interrupts scans of a lab host with open,
// closed and dropped ports, with every method, once the open and closed
// ports have answered and while the dropped ones still wait (the least
// timeout is 20 s, so none of them can have been given up on). The port
// events must be exactly what was seen: each open port open, each closed
// port closed, and no state at all for a dropped port — calling one
// filtered or open|filtered would invent an answer that never came.
func TestInterruptInventsNothing(t *testing.T) {
	labnet.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("the lab host needs root")
	}
	open := []uint16{7101, 7102, 7103, 7104, 7105, 7106, 7107, 7108}
	closed := []uint16{7201, 7202, 7203, 7204, 7205, 7206, 7207, 7208}
	host := labnet.Lab(t, labnet.HostSpec{
		Open: open, UDPEcho: open,
		Rules:   "tcp dport 7301-7308 drop\nudp dport 7301-7308 drop",
		Sysctls: map[string]string{"net.ipv4.icmp_ratelimit": "0"},
	})[0]
	want := map[string]string{}
	for _, p := range open {
		want[fmt.Sprint(p)] = "open"
	}
	for _, p := range closed {
		want[fmt.Sprint(p)] = "closed"
	}
	answers := len(open) + len(closed)
	for _, method := range []string{"connect", "syn", "udp"} {
		t.Run(method, func(t *testing.T) {
			base := snmp(t, "Ip", "InReceives")
			received := func() int { return snmp(t, "Ip", "InReceives") - base }
			r, _ := interrupted(t, stable(received, answers), nil, exec.Command(probeBin,
				"-n", "-Pn", "--all-states", "--method", method,
				"--timeout", "20s", "--min-rtt-timeout", "20s", "--max-rtt-timeout", "30s",
				"-p", "7101-7108,7201-7208,7301-7308", host.Addr.String()))
			checkInterruptedEnd(t, r)
			got := map[string]string{}
			sc := bufio.NewScanner(strings.NewReader(r.stdout))
			for sc.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev["type"] != "port" {
					continue
				}
				port := fmt.Sprint(ev["port"])
				if _, dup := got[port]; dup {
					t.Errorf("port %s reported twice", port)
				}
				got[port] = fmt.Sprint(ev["state"])
			}
			var wrong []string
			for p, s := range got {
				if want[p] != s {
					wrong = append(wrong, fmt.Sprintf("%s %s (want %q)", p, s, want[p]))
				}
			}
			for p, s := range want {
				if got[p] == "" {
					wrong = append(wrong, fmt.Sprintf("%s missing (it answered %s before the signal)", p, s))
				}
			}
			sort.Strings(wrong)
			if len(wrong) > 0 {
				t.Errorf("port events after SIGINT are not what was seen:\n%s\nstdout:\n%s", strings.Join(wrong, "\n"), r.stdout)
			}
		})
	}
}

// TestInterruptDuringDiscovery interrupts host discovery of two lab
// hosts, one that answers and one that drops everything, while the
// second is still being pinged (its timeout is 20 s): as root, with
// ICMP, SYN and ACK pings, and as nobody, with connect pings. The first
// host is up; the second must not be reported at all — calling it down
// would invent the silence of pings cut short.
func TestInterruptDuringDiscovery(t *testing.T) {
	labnet.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("the lab hosts need root")
	}
	if err := os.Chmod(filepath.Dir(probeBin), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := labnet.Lab(t, labnet.HostSpec{Open: []uint16{7101}},
		labnet.HostSpec{Rules: "tcp dport 1-65535 drop\nudp dport 1-65535 drop\nmeta l4proto icmp drop"})
	up, silent := hosts[0].Addr.String(), hosts[1].Addr.String()
	for _, tc := range []struct {
		name string
		cred *syscall.Credential
	}{{"root", nil}, {"nobody", &syscall.Credential{Uid: 65534, Gid: 65534}}} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(probeBin, "-n", "--all-states", "--method", "connect",
				"--timeout", "20s", "--min-rtt-timeout", "20s", "--max-rtt-timeout", "30s", "-p", "7101", up, silent)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tc.cred}
			base := snmp(t, "Ip", "InReceives")
			r, _ := interrupted(t, stable(func() int { return snmp(t, "Ip", "InReceives") - base }, 1), nil, cmd)
			checkInterruptedEnd(t, r)
			if !strings.Contains(r.stdout, `"type":"host","time"`) || !strings.Contains(r.stdout, `"ip":"`+up+`","state":"up"`) {
				t.Errorf("the host that answered is not reported up:\n%s", r.stdout)
			}
			if strings.Contains(r.stdout, `"ip":"`+silent+`"`) {
				t.Errorf("the host still being pinged is reported:\n%s", r.stdout)
			}
			// Its port may have been probed before the signal; if it is
			// reported, it is open.
			if n := strings.Count(r.stdout, `"type":"port"`); n > 0 &&
				(n != 1 || !strings.Contains(r.stdout, `"ip":"`+up+`","port":7101,"proto":"tcp","state":"open"`)) {
				t.Errorf("port events other than 7101 open:\n%s", r.stdout)
			}
		})
	}
}

// TestRawScansSendNothingAfterSignal interrupts SYN and UDP scans of a
// host that drops everything while their first probes wait out a 2 s
// timeout and thousands more are due: from the signal until well after
// the process has gone, the namespace sends no packet. (The connect
// method's TestNothingSentAfterSignal counts connects instead.)
func TestRawScansSendNothingAfterSignal(t *testing.T) {
	labnet.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("the lab host needs root")
	}
	sent := sentCounter(t)
	host := labnet.Lab(t, labnet.HostSpec{Rules: "tcp dport 1-65535 drop\nudp dport 1-65535 drop"})[0]
	for _, method := range []string{"syn", "udp"} {
		t.Run(method, func(t *testing.T) {
			base := sent()
			r, at := interrupted(t, stable(func() int { return sent() - base }, 1), sent, exec.Command(probeBin,
				"-n", "-Pn", "--method", method, "--timeout", "2s", "-p", "1-5000", host.Addr.String()))
			time.Sleep(500 * time.Millisecond)
			if n := sent() - at; n != 0 {
				t.Errorf("%d packets sent after SIGINT", n)
			}
			if at-base >= 5000 {
				t.Errorf("every probe was out before the signal (%d); the test proves nothing", at-base)
			}
			checkInterruptedEnd(t, r)
		})
	}
}

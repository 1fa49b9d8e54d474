package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/lib/event"
)

var probeBin string

// TestMain builds the probe binary once and runs the tests in a private
// network namespace, so that they exercise the real program: flag
// parsing, signals, exit codes and a closed stdout.
func TestMain(m *testing.M) {
	if os.Getenv("PICKET_LABNET") != "" {
		dir, err := os.MkdirTemp("", "probe-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		probeBin = filepath.Join(dir, "probe")
		out, err := exec.Command("go", "build", "-o", probeBin, ".").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build probe: %v\n%s", err, out)
			os.Exit(1)
		}
		code := 0
		defer func() { os.RemoveAll(dir); os.Exit(code) }()
		code = m.Run()
		return
	}
	labnet.Main(m)
}

type run struct {
	code   int
	stdout string
	stderr string
}

func probe(t *testing.T, args ...string) run {
	t.Helper()
	labnet.Require(t)
	return runCmd(t, exec.Command(probeBin, args...))
}

// runCmd runs cmd to its end and returns its exit code and output.
func runCmd(t *testing.T, cmd *exec.Cmd) run {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{code, out.String(), errb.String()}
}

// start runs probe in the background with its stdout on a pipe and its
// stderr collected.
func start(t *testing.T, args ...string) (*exec.Cmd, io.ReadCloser, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(probeBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout, stderr
}

// sampleRun runs probe with args to its end, discarding its output, and
// calls sample every so often while it runs and once after it exits; a
// probe that fails fails the test.
func sampleRun(t *testing.T, every time.Duration, sample func(), args ...string) {
	t.Helper()
	cmd, stdout, stderr := start(t, args...)
	done := make(chan error, 1)
	go func() { _, _ = io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("probe: %v: %s", err, stderr)
			}
			sample()
			return
		case <-time.After(every):
			sample()
		}
	}
}

func lastEvent(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	return m
}

func TestCommandLine(t *testing.T) {
	open := labnet.Listen(t, "127.0.0.1:0").Port
	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  []string
		stderrHas  []string
		stderrNone bool
	}{
		{"scan with flags after the target", []string{"127.0.0.1", "-n", "-Pn", "-p" + strconv.Itoa(int(open))}, 0,
			[]string{fmt.Sprintf(`"port":%d,"proto":"tcp","state":"open"`, open), `"complete":true`}, nil, true},
		{"nmap-style -p- parses", []string{"-n", "-Pn", "--timeout", "1ms", "--retries", "0", "-p-", "--exclude-ports", "1-65535", "127.0.0.1"}, 2,
			nil, []string{"no ports left to scan"}, false},
		{"version", []string{"--version"}, 0, []string{"probe version"}, nil, true},
		{"help has examples and exit codes", []string{"--help"}, 0, []string{"Examples:", "probe -n -p 22,80,443 127.0.0.1", "130  interrupted"}, nil, true},
		{"no targets", []string{"-p", "22"}, 2, nil, []string{"probe: no targets given", "--help"}, false},
		{"bad target names its place", []string{"-n", "127.0.0.1", "10.0.0.999"}, 2, nil, []string{`argument 2`, `10.0.0.999`}, false},
		{"bad port spec", []string{"-p", "22-x", "127.0.0.1"}, 2, nil, []string{`bad port spec "22-x"`}, false},
		{"unknown flag", []string{"--bogus", "127.0.0.1"}, 2, nil, []string{"flag provided but not defined: -bogus"}, false},
		{"bad log format", []string{"--log-format", "xml", "-p", "1", "127.0.0.1"}, 2, nil, []string{`bad --log-format "xml"`}, false},
		{"missing target file is a runtime error", []string{"-iL", "/nonexistent/targets.txt"}, 1, nil, []string{"/nonexistent/targets.txt"}, false},
		{"unresolvable exclusion is a runtime error", []string{"-n", "-p", "1", "127.0.0.1", "--exclude", "nowhere.invalid"}, 1, nil, []string{`resolve exclusion "nowhere.invalid"`}, false},
		{"bad option names its flag", []string{"-n", "--concurrency", "0", "127.0.0.1"}, 2, nil, []string{"bad --concurrency 0: must be at least 1"}, false},
		{"unknown method names its flag", []string{"-n", "--method", "bogus", "127.0.0.1"}, 2, nil, []string{"bad --method bogus: unknown method (available: connect, syn, udp)"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := probe(t, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if tc.stderrNone && r.stderr != "" {
				t.Errorf("stderr not empty (no progress line off a terminal): %q", r.stderr)
			}
			if tc.code == 2 && strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
				t.Errorf("usage error should be one line plus a hint:\n%s", r.stderr)
			}
		})
	}
}

func TestTargetListFromStdin(t *testing.T) {
	labnet.Require(t)
	open := labnet.Listen(t, "127.0.0.1:0").Port
	for _, stdinArgs := range [][]string{{"-iL", "-"}, {"-"}} {
		args := append([]string{"-n", "-Pn", "-p", strconv.Itoa(int(open)), "--exclude", "127.0.0.2"}, stdinArgs...)
		cmd := exec.Command(probeBin, args...)
		cmd.Stdin = strings.NewReader("# lab hosts\n127.0.0.1 127.0.0.2\n\t127.0.0.3\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		checkStdinScan(t, out)
	}
}

func checkStdinScan(t *testing.T, out []byte) {
	t.Helper()
	// The listener is on 127.0.0.1 only; 127.0.0.3 refuses, which
	// still shows it up; 127.0.0.2 is excluded and never probed.
	o := string(out)
	if strings.Count(o, `"state":"open"`) != 1 || !strings.Contains(o, `"ip":"127.0.0.3","state":"up"`) ||
		strings.Contains(o, `"ip":"127.0.0.2"`) || !strings.Contains(o, `"hosts_total":2,"hosts_up":2,"excluded":1`) {
		t.Fatalf("want 127.0.0.1 open, .3 up, .2 excluded:\n%s", out)
	}
	if !strings.Contains(string(out), `"targets":["127.0.0.1","127.0.0.2","127.0.0.3"],"exclude":["127.0.0.2"]`) {
		t.Errorf("scope does not list the targets read from stdin:\n%s", out)
	}
}

func TestSignals(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "SIGINT", 130},
		{syscall.SIGTERM, "SIGTERM", 143},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labnet.Require(t)
			open := labnet.Listen(t, "127.0.0.1:0").Port
			drop := labnet.DropPort(t)
			// 127.0.0.2 refuses both ports and is done at once; 127.0.0.1
			// then waits on the dropped port.
			cmd, stdout, stderr := start(t, "-n", "-Pn", "--all-states", "--timeout", "60s", "-p", fmt.Sprintf("%d,%d", open, drop), "127.0.0.1", "127.0.0.2")
			sc := bufio.NewScanner(stdout)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), `"type":"port"`) {
					break
				}
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				for sc.Scan() {
					lines = append(lines, sc.Text())
				}
				done <- cmd.Wait()
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("probe did not stop within 10s of the signal")
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			all := strings.Join(lines, "\n")
			end := lastEvent(t, all)
			// The open port found before the signal is still reported,
			// after its host event.
			hostAt := strings.Index(all, `"type":"host","time"`)
			if !strings.Contains(all, fmt.Sprintf(`"ip":"127.0.0.1","port":%d,"proto":"tcp","state":"open"`, open)) {
				t.Errorf("open port not reported after the signal:\n%s", all)
			}
			if hostAt < 0 {
				t.Errorf("no host event:\n%s", all)
			}
			if end["type"] != "scan" || end["phase"] != "end" || end["complete"] != false || end["interrupted"] != tc.name {
				t.Errorf("last event = %v, want scan end with complete=false interrupted=%s", end, tc.name)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}
}

func TestClosedStdoutEndsQuietly(t *testing.T) {
	labnet.Require(t)
	cmd, stdout, stderr := start(t, "-n", "-Pn", "--all-states", "-p-", "127.0.0.1")
	// Read the first line, as `| head -1` does, then hang up.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, `"phase":"start"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	stdout.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("probe ended with %v after its reader went away; want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("probe kept running after stdout closed")
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
}

func TestEventsAreValidContract(t *testing.T) {
	open := labnet.Listen(t, "127.0.0.1:0").Port
	r := probe(t, "-n", "-p", fmt.Sprintf("%d", open), "127.0.0.1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rd := event.NewReader(strings.NewReader(r.stdout), "stdout", event.ReaderOptions{Strict: true})
	var types []string
	for {
		l, err := rd.Next()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("probe wrote a line the contract rejects: %v", err)
		}
		types = append(types, l.Type)
		ts := l.Field("time").String()
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || len(ts) != len(event.TimeLayout) {
			t.Errorf("line %d: time %q is not RFC 3339 UTC with nanoseconds", l.Num, ts)
		}
		if !l.Field("scan_id").Exists() {
			t.Errorf("line %d has no scan_id", l.Num)
		}
	}
	if want := "scan host port scan"; strings.Join(types, " ") != want {
		t.Errorf("event types %v, want %s", types, want)
	}
}

func TestProgressLineOnTerminal(t *testing.T) {
	labnet.Require(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("script(1) from util-linux is needed to give probe a terminal")
	}
	// script runs probe on a pseudo-terminal, so stderr is a terminal;
	// probe's stdout goes to a file, and the terminal shows only the
	// progress line.
	out := filepath.Join(t.TempDir(), "events.ndjson")
	cmdline := fmt.Sprintf("%s -n -Pn -p- --rate 20000 127.0.0.1 > %s", probeBin, out)
	tty, err := exec.Command(script, "-qec", cmdline, "/dev/null").Output()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, tty)
	}
	if !bytes.Contains(tty, []byte("probe: ports ")) || !bytes.Contains(tty, []byte("ETA")) {
		t.Errorf("no progress line on the terminal: %q", tty)
	}
	events, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(events, []byte("ETA")) || !bytes.Contains(events, []byte(`"complete":true`)) {
		t.Errorf("stdout should hold only events:\n%s", events)
	}
}

// TestWithoutRawSockets runs probe without CAP_NET_RAW — as an
// unprivileged user, and as root with the capability dropped — and
// checks what README promises: --method syn and --method udp fail with
// one clear line naming CAP_NET_RAW, no stack trace and no packet sent;
// with no method named the scan falls back to connect, says why in one
// line, and reports the ports as they are, with and without discovery.
func TestWithoutRawSockets(t *testing.T) {
	labnet.Require(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run probe as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv(1) from util-linux is needed to drop CAP_NET_RAW")
	}
	sent := sentCounter(t)
	open := labnet.Listen(t, "127.0.0.1:0").Port
	closed := labnet.ClosedPort(t)
	// The binary lives in a private temporary directory; nobody must
	// be able to reach it.
	if err := os.Chmod(filepath.Dir(probeBin), 0o755); err != nil {
		t.Fatal(err)
	}
	identities := []struct {
		name string
		cmd  func(args ...string) *exec.Cmd
	}{
		{"nobody", func(args ...string) *exec.Cmd {
			cmd := exec.Command(probeBin, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			return cmd
		}},
		{"root without CAP_NET_RAW", func(args ...string) *exec.Cmd {
			return exec.Command(setpriv, append([]string{"--bounding-set=-net_raw", "--inh-caps=-net_raw", "--", probeBin}, args...)...)
		}},
	}
	ports := fmt.Sprintf("%d,%d", open, closed)
	for _, id := range identities {
		t.Run(id.name, func(t *testing.T) {
			as := func(args ...string) run {
				t.Helper()
				return runCmd(t, id.cmd(args...))
			}
			for _, method := range []string{"syn", "udp"} {
				before := sent()
				r := as("-n", "-Pn", "--method", method, "-p", ports, "127.0.0.1")
				if r.code != 1 || !strings.Contains(r.stderr, "method "+method+": ") || !strings.Contains(r.stderr, "CAP_NET_RAW") ||
					strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
					t.Errorf("--method %s: exit %d, stdout %q, stderr %q; want exit 1 and one line naming the method and CAP_NET_RAW", method, r.code, r.stdout, r.stderr)
				}
				noCrash(t, r.stderr)
				if n := sent() - before; n != 0 {
					t.Errorf("--method %s: %d packets sent before the error", method, n)
				}
			}
			for _, discovery := range [][]string{{"-Pn"}, nil} {
				args := append([]string{"-n", "--all-states", "-p", ports, "127.0.0.1"}, discovery...)
				r := as(args...)
				if r.code != 0 || !strings.HasPrefix(r.stderr, "probe: using --method connect: ") || !strings.Contains(r.stderr, "CAP_NET_RAW") ||
					strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("%v: exit %d, stderr %q; want exit 0 and one line saying why connect", args, r.code, r.stderr)
				}
				for _, want := range []string{`"method":"connect"`, `"ip":"127.0.0.1","state":"up"`,
					fmt.Sprintf(`"port":%d,"proto":"tcp","state":"open"`, open),
					fmt.Sprintf(`"port":%d,"proto":"tcp","state":"closed"`, closed), `"complete":true`} {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("%v: stdout lacks %s:\n%s", args, want, r.stdout)
					}
				}
			}
		})
	}
	// As root, the default is syn and nothing is said.
	r := probe(t, "-n", "-Pn", "-p", strconv.Itoa(int(open)), "127.0.0.1")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, `"method":"syn"`) {
		t.Errorf("default method as root: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

// activeOpens reads the namespace's count of connects begun (TCP
// ActiveOpens in /proc/net/snmp): what left the machine, counted by the
// kernel.
func activeOpens(t *testing.T) int {
	t.Helper()
	return labnet.SNMP(t, "/proc/net/snmp", "Tcp", "ActiveOpens")
}

// dropHost is a lab host whose firewall drops every TCP probe.
func dropHost(t *testing.T) string {
	t.Helper()
	return labnet.Lab(t, labnet.HostSpec{Rules: "tcp dport 1-65535 drop"})[0].Addr.String()
}

// TestRateHoldsOnTheWire samples the kernel's count of connects while
// probe scans a host that answers nothing: no 100 ms holds more than
// --rate×0.1 plus a burst of one.
func TestRateHoldsOnTheWire(t *testing.T) {
	labnet.Require(t)
	addr := dropHost(t)
	type sample struct {
		at time.Time
		n  int
	}
	base := activeOpens(t)
	var samples []sample
	sampleRun(t, 5*time.Millisecond, func() { samples = append(samples, sample{time.Now(), activeOpens(t) - base}) },
		"-n", "-Pn", "--method", "connect", "--rate", "100", "--timeout", "200ms", "--max-rtt-timeout", "300ms", "-p", "1-150", addr)
	if total := samples[len(samples)-1].n; total < 300 {
		t.Fatalf("%d connects, want 300 (150 ports, each tried twice)", total)
	}
	const limit = 100*0.1 + 1
	for i := range samples {
		for j := i + 1; j < len(samples) && samples[j].at.Sub(samples[i].at) <= 100*time.Millisecond; j++ {
			if n := samples[j].n - samples[i].n; n > limit {
				t.Fatalf("%d connects within %v, want at most %d", n, samples[j].at.Sub(samples[i].at), int(limit))
			}
		}
	}
}

// TestNothingSentAfterSignal stops probe while its first probes wait on
// a host that answers nothing and thousands more are due: after the
// signal, the kernel counts no more connects.
func TestNothingSentAfterSignal(t *testing.T) {
	labnet.Require(t)
	addr := dropHost(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		base := activeOpens(t)
		cmd, stdout, stderr := start(t, "-n", "-Pn", "--method", "connect", "--timeout", "30s", "-p", "1-5000", addr)
		done := make(chan error, 1)
		go func() { _, _ = io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
		deadline := time.Now().Add(10 * time.Second)
		for activeOpens(t)-base < 10 {
			if time.Now().After(deadline) {
				t.Fatalf("probe did not start 10 probes: %d", activeOpens(t)-base)
			}
			time.Sleep(5 * time.Millisecond)
		}
		at := activeOpens(t)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatal("probe did not stop within 10 s of the signal")
		}
		if n := activeOpens(t) - at; n != 0 {
			t.Errorf("%v: %d connects after the signal, want none; stderr: %s", sig, n, stderr)
		}
	}
}

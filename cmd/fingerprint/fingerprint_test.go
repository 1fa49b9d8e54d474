package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/internal/labnet"
)

func TestMain(m *testing.M) { labnet.Main(m) }

// testProbes is the fixed probe set of the engine tests, so that these
// tests do not depend on the embedded file's content.
const testProbes = "../../lib/service/testdata/test-probes"

type result struct {
	code           int
	stdout, stderr string
}

// run runs fingerprint in-process with args and stdin.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := app.Run(context.Background(), command(), append([]string{"fingerprint"}, args...), strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// vsftpd serves a vsftpd banner on a loopback port until the test ends.
func vsftpd(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = c.Write([]byte("220 (vsFTPd 3.0.3)\r\n"))
				_, _ = io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestFingerprintEnriches(t *testing.T) {
	labnet.Require(t)
	port := strconv.Itoa(vsftpd(t))
	in := `{"type":"scan","phase":"start"}` + "\n" +
		`{"type":"port","ip":"127.0.0.1","port":` + port + `,"proto":"tcp","state":"open","keep":[1]}` + "\n" +
		`{"type":"scan","phase":"end"}` + "\n"
	r := run(t, in, "--nmap-probes-only", "--nmap-probes", testProbes, "--timeout", "1s", "--banner-wait", "200ms")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := `{"type":"port","ip":"127.0.0.1","port":` + port + `,"proto":"tcp","state":"open","keep":[1],"service":{"name":"ftp","product":"vsftpd","version":"3.0.3","cpe":["cpe:/a:beasts:vsftpd:3.0.3"],"conf":10,"method":"probed","banner":"220 (vsFTPd 3.0.3)\\r\\n"}}`
	if len(lines) != 3 || lines[1] != want || lines[0] != `{"type":"scan","phase":"start"}` {
		t.Errorf("output:\n%s\nwant line 2:\n%s", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "match lines loaded") || strings.Contains(r.stderr, "picket-service-probes:") {
		t.Errorf("stderr should report the one file loaded:\n%s", r.stderr)
	}
}

func TestFingerprintBadProbeFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.probes")
	src := "Probe TCP NULL q||\nmatch ok m|^ok|\nmatch broken m|^(unclosed|\nbogus line\n"
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "--nmap-probes", bad)
	if r.code != 0 {
		t.Fatalf("exit %d without --strict: %s", r.code, r.stderr)
	}
	for _, want := range []string{bad + ":3: match: pattern does not compile", bad + `:4: unknown directive "bogus"`, "2 lines skipped"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = run(t, "", "--strict", "--nmap-probes", bad)
	if r.code != app.ExitUsage || !strings.Contains(r.stderr, bad+":3: ") {
		t.Errorf("--strict: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestFingerprintUsage(t *testing.T) {
	tests := [][]string{
		{"--version-intensity", "10"},
		{"--nmap-probes-only"},
		{"--nmap-probes", "/nonexistent/probes"},
		{"--concurrency", "0"},
		{"--timeout", "0s"},
	}
	for _, args := range tests {
		if r := run(t, "", args...); r.code != app.ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, app.ExitUsage, r.stderr)
		}
	}
}

// TestFingerprintPassThrough checks that bad lines are skipped with a
// message and good non-port lines pass unchanged, a scan's scope events
// among them.
func TestFingerprintPassThrough(t *testing.T) {
	scope := `{"type":"scope","time":"2026-11-27T09:00:00.000000000Z","scan_id":"S1","seq":1,"targets":["127.0.0.2", "127.0.0.4"],"exclude":["127.0.0.6"]}` + "\n"
	in := "{\"type\":\"x\",\"a\":1}\n" + scope + "not json\n{\"type\":\"port\",\"state\":\"closed\",\"ip\":\"127.0.0.1\",\"port\":1,\"proto\":\"tcp\"}\n"
	r := run(t, in)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "{\"type\":\"x\",\"a\":1}\n" + scope + "{\"type\":\"port\",\"state\":\"closed\",\"ip\":\"127.0.0.1\",\"port\":1,\"proto\":\"tcp\"}\n"
	if r.stdout != want || !strings.Contains(r.stderr, "-:3: not a JSON object") {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

// TestFingerprintInterrupted interrupts fingerprint while it probes a
// silent port: it exits 130 and writes the line back unchanged.
func TestFingerprintInterrupted(t *testing.T) {
	labnet.Require(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { _, _ = io.Copy(io.Discard, c); c.Close() })
		}
	})
	defer func() { ln.Close(); wg.Wait() }()
	line := `{"type":"port","ip":"127.0.0.1","port":` + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + `,"proto":"tcp","state":"open"}`
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(300*time.Millisecond, func() { cancel(&app.SignalError{Signal: syscall.SIGINT}) })
	var out, errb bytes.Buffer
	code := app.Run(ctx, command(), []string{"fingerprint"}, strings.NewReader(line+"\n"), &out, &errb)
	if code != 130 || out.String() != line+"\n" {
		t.Errorf("exit %d, output %q; want 130 and the line unchanged (stderr %s)", code, out.String(), errb.String())
	}
}

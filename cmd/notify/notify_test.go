package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/cmd/internal/app"
	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/internal/notifytest"
	"github.com/picketscan/picket/internal/syncbuf"
	"github.com/picketscan/picket/lib/notify"
)

var notifyBin string

// TestMain builds the notify binary once, for the test that kills it,
// and runs the tests in a private network namespace.
func TestMain(m *testing.M) {
	if labnet.Private() || os.Getenv("PICKET_LABNET") != "" {
		dir, err := os.MkdirTemp("", "notify-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		notifyBin = filepath.Join(dir, "notify")
		out, err := exec.Command("go", "build", "-o", notifyBin, ".").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build notify: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	labnet.Main(m)
}

type result struct {
	code           int
	stdout, stderr string
}

// runNotify runs the command in-process.
func runNotify(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := app.Run(context.Background(), command(), append([]string{"notify"}, args...), strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestCommand(t *testing.T) {
	rc := notifytest.NewReceiver(t)
	down := "http://127.0.0.1:1/services/T0/B0/DOWNSECRET"
	in := lines(
		`{"type":"scan","scan_id":"S1","phase":"start","scope":{"targets":["10.0.0.0/24"]}}`,
		notifytest.Hostile,
		notifytest.Plain("S1", "port-opened", "10.0.0.9", 22),
		`{"type":"scan","scan_id":"S1","phase":"end","complete":true}`,
	)
	t.Setenv("DOWN_URL", down)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a part of stderr
	}{
		{"no sinks", []string{"--no-spool"}, 2, "no sinks"},
		{"bad where", []string{"--no-spool", "--file", "x", "--where", "port=="}, 2, "where: column 7"},
		{"digest and no-digest", []string{"--digest", "--no-digest", "--file", "x"}, 2, "give one"},
		{"negative digest-max", []string{"--no-spool", "--file", "x", "--digest-max", "-1"}, 2, "bad --digest-max -1: want 0 or more"},
		{"zero timeout", []string{"--no-spool", "--file", "x", "--timeout", "0s"}, 2, "bad --timeout 0s: want more than 0"},
		{"negative retry-for", []string{"--no-spool", "--file", "x", "--retry-for", "-1s"}, 2, "bad --retry-for -1s: want 0 or more"},
		{"unset env", []string{"--no-spool", "--slack-env", "NOPE_NOT_SET"}, 2, "NOPE_NOT_SET is not set"},
		{"bad config", []string{"--no-spool", "--config", "/nonexistent.json"}, 2, "config"},
		{"two sinks, one name", []string{"--no-spool", "--config", dupConfig(t)}, 2, `two sinks named "x"`},
		{"delivered", []string{"--no-spool", "--webhook", rc.URL + "/hook"}, 0, ""},
		{"receiver down, no spool", []string{"--no-spool", "--slack-env", "DOWN_URL", "--retry-for", "100ms"}, 1, "lost (no spool)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runNotify(t, in, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if strings.Contains(r.stderr, "DOWNSECRET") {
				t.Errorf("the secret URL is in stderr:\n%s", r.stderr)
			}
		})
	}
	if n := len(rc.Requests()); n != 1 {
		t.Errorf("receiver got %d requests, want the one digest", n)
	}
}

func TestTeeAndFile(t *testing.T) {
	dir := t.TempDir()
	// Lines notify does not act on (a scan's scope events, a type of
	// one's own) go through --tee byte for byte.
	in := lines(`{"type":"port","ip":"10.0.0.1",  "port":22}`, notifytest.Hostile, `{"type":"mine"}`,
		`{"type":"scope","time":"2026-11-27T09:00:00.000000000Z","scan_id":"S1","seq":1,"targets":["127.0.0.2", "127.0.0.4"]}`)
	out := filepath.Join(dir, "alerts.ndjson")
	r := runNotify(t, in, "--spool", filepath.Join(dir, "spool"), "--tee", "--file", out, "--where", `severity=="critical"`)
	if r.code != 0 || r.stdout != in {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	data, _ := os.ReadFile(out)
	var p notify.Payload
	if err := json.Unmarshal(bytes.TrimSpace(data), &p); err != nil || p.Key != "S1/port-opened/10.0.0.7/8080/tcp" {
		t.Fatalf("file %q: %v", data, err)
	}
	// The same input again sends nothing: the spool remembers.
	if r := runNotify(t, in, "--spool", filepath.Join(dir, "spool"), "--file", out); r.code != 0 {
		t.Fatalf("rerun: %d %s", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(again, data) {
		t.Errorf("rerun appended:\n%s", again)
	}
}

func TestConfigFileRoutes(t *testing.T) {
	dir := t.TempDir()
	all, crit := filepath.Join(dir, "all.ndjson"), filepath.Join(dir, "crit.ndjson")
	cfg := fmt.Sprintf(`{"sinks":[{"type":"file","name":"all","path":%q},{"type":"file","name":"crit","path":%q,"where":"severity==\"critical\""}]}`, all, crit)
	cfgPath := filepath.Join(dir, "notify.json")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	in := lines(notifytest.Hostile, notifytest.Plain("S1", "port-opened", "10.0.0.9", 22))
	if r := runNotify(t, in, "--spool", filepath.Join(dir, "spool"), "--config", cfgPath); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	a, _ := os.ReadFile(all)
	c, _ := os.ReadFile(crit)
	if bytes.Count(a, []byte("\n")) != 2 || bytes.Count(c, []byte("\n")) != 1 {
		t.Errorf("all:\n%s\ncrit:\n%s", a, c)
	}
}

func TestTemplateFlag(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "t.tmpl")
	os.WriteFile(tmpl, []byte(`ALERT {{.Title}}{{range .Hosts}}{{range .Changes}} | {{.Where}} {{.Kind}}{{end}}{{end}}`), 0o600)
	out := filepath.Join(dir, "a.ndjson")
	r := runNotify(t, lines(notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)), "--no-spool", "--template", tmpl, "--file", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(out)
	var p notify.Payload
	json.Unmarshal(data, &p)
	if p.Text != "ALERT port-opened 10.0.0.9:22/tcp | 10.0.0.9:22/tcp port-opened" {
		t.Errorf("text %q", p.Text)
	}
	os.WriteFile(tmpl, []byte(`{{.Nope`), 0o600)
	// The error names the template file and the line, on one line.
	if r := runNotify(t, "", "--no-spool", "--template", tmpl, "--file", out); r.code != 2 || !strings.Contains(r.stderr, tmpl+":1: unclosed action") {
		t.Errorf("bad template: exit %d %s", r.code, r.stderr)
	}
	cfg := filepath.Join(dir, "notify.json")
	os.WriteFile(cfg, []byte(`{"sinks":[{"type":"file","path":"`+out+`","template":"`+tmpl+`"}]}`), 0o600)
	if r := runNotify(t, "", "--no-spool", "--config", cfg); r.code != 2 || !strings.Contains(r.stderr, tmpl+":1: unclosed action") {
		t.Errorf("bad template in config: exit %d %s", r.code, r.stderr)
	}
}

// countingReceiver counts accepted alerts by Idempotency-Key. It accepts
// the first acceptN requests; after that it cuts every connection
// without answering (nothing recorded) and says so on cut, so the test
// can take it down entirely.
type countingReceiver struct {
	mu      sync.Mutex
	got     map[string]int
	acceptN int // <0: accept all
	n       int
	cut     chan struct{}
	once    sync.Once
}

func (c *countingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n++
	accept := c.acceptN < 0 || c.n <= c.acceptN
	if accept {
		c.got[r.Header.Get("Idempotency-Key")]++
	}
	c.mu.Unlock()
	if accept {
		return
	}
	c.once.Do(func() { close(c.cut) })
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}

func serve(t *testing.T, addr string, h http.Handler) (*http.Server, string) {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the port of a closed listener can take a moment
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	return srv, l.Addr().String()
}

// TestFaultExactlyOnce: the receiver takes a few alerts, then goes down;
// notify retries, and is killed with SIGKILL while it does; the receiver
// comes back and notify --flush delivers the rest. Every alert arrives
// exactly once, counted at the receiver by idempotency key.
func TestFaultExactlyOnce(t *testing.T) {
	labnet.Require(t)
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	const total = 20
	var in []string
	want := map[string]bool{}
	for i := range total {
		in = append(in, notifytest.Plain("S1", "port-opened", "10.0.0.9", 1000+i))
		want[fmt.Sprintf("S1/port-opened/10.0.0.9/%d/tcp", 1000+i)] = true
	}
	// A scan with markers after them: its three changes go as one digest.
	in = append(in, `{"type":"scan","scan_id":"S2","phase":"start","scope":{"targets":["10.0.1.0/24"]}}`,
		notifytest.Plain("S2", "port-opened", "10.0.1.1", 80), notifytest.Plain("S2", "port-opened", "10.0.1.2", 80),
		notifytest.Plain("S2", "port-closed", "10.0.1.3", 25), `{"type":"scan","scan_id":"S2","phase":"end","complete":true}`)
	want["S2/digest"] = true
	input := filepath.Join(dir, "changes.ndjson")
	os.WriteFile(input, []byte(lines(in...)), 0o600)

	rc := &countingReceiver{got: map[string]int{}, acceptN: 5, cut: make(chan struct{})}
	srv, ln := serve(t, "127.0.0.1:0", rc)
	url := "http://" + ln + "/hook/SECRET"
	urlFile := filepath.Join(dir, "url")
	os.WriteFile(urlFile, []byte(url), 0o600)

	cmd := exec.Command(notifyBin, "--spool", spool, "--webhook-file", urlFile, "--retry-for", "1h", input)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-rc.cut:
	case err := <-exited:
		t.Fatalf("notify ended early: %v\n%s", err, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver never got the sixth alert")
	}
	srv.Close() // down: connections are refused from now on
	// Let notify retry against the dead port for a while, then kill it.
	time.Sleep(700 * time.Millisecond)
	select {
	case err := <-exited:
		t.Fatalf("notify ended while the receiver was down: %v\n%s", err, errb.String())
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	pending, _ := os.ReadDir(filepath.Join(spool, "pending"))
	if len(pending) != len(want)-5 {
		t.Errorf("%d alerts in the spool after the kill, want %d", len(pending), len(want)-5)
	}
	if strings.Contains(errb.String(), "SECRET") {
		t.Errorf("the URL's secret is in the log:\n%s", errb.String())
	}

	// The receiver comes back on the same address; --flush sends the rest.
	rc.mu.Lock()
	rc.acceptN = -1
	rc.mu.Unlock()
	srv2, _ := serve(t, ln, rc)
	defer srv2.Close()
	flush := exec.Command(notifyBin, "--spool", spool, "--webhook-file", urlFile, "--flush")
	if out, err := flush.CombinedOutput(); err != nil {
		t.Fatalf("notify --flush: %v\n%s", err, out)
	}
	// And the whole input once more: nothing is sent twice.
	again := exec.Command(notifyBin, "--spool", spool, "--webhook-file", urlFile, input)
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k := range want {
		if rc.got[k] != 1 {
			t.Errorf("%s arrived %d times", k, rc.got[k])
		}
	}
	if len(rc.got) != len(want) {
		t.Errorf("receiver got %d distinct alerts, want %d: %v", len(rc.got), len(want), rc.got)
	}
	if pending, _ := os.ReadDir(filepath.Join(spool, "pending")); len(pending) != 0 {
		t.Errorf("%d alerts left in the spool", len(pending))
	}
}

// TestSMTPFlags sends a digest by e-mail with the password from a file,
// then from the environment, through a real SMTP server with STARTTLS.
func TestSMTPFlags(t *testing.T) {
	srv, _ := notifytest.StartSMTP(t, false, true)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	// Trust the server's test certificate through --smtp-ca.
	os.WriteFile(ca, srv.CertPEM, 0o600)
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte(notifytest.SMTPPassword+"\n"), 0o600)
	in := lines(`{"type":"scan","scan_id":"S1","phase":"start","scope":{"targets":["10.0.0.0/24"]}}`,
		notifytest.Hostile, notifytest.Plain("S1", "port-opened", "10.0.0.9", 22), notifytest.Plain("S1", "port-opened", "10.0.0.9", 80),
		`{"type":"scan","scan_id":"S1","phase":"end","complete":true}`)
	base := []string{"--no-spool", "--smtp", srv.Addr, "--smtp-ca", ca, "--smtp-user", notifytest.SMTPUser,
		"--smtp-from", "picket@example.com", "--smtp-to", "ops@example.com,sec@example.com"}
	if r := runNotify(t, in, append(base, "--smtp-password-file", pass)...); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	t.Setenv("PICKET_SMTP_PASSWORD", notifytest.SMTPPassword)
	if r := runNotify(t, in, base...); r.code != 0 {
		t.Fatalf("password from the environment: exit %d: %s", r.code, r.stderr)
	}
	t.Setenv("PICKET_SMTP_PASSWORD", "wrong-password-xyz")
	r := runNotify(t, in, append(base, "--retry-for", "100ms")...)
	if r.code != 1 || strings.Contains(r.stderr, "wrong-password-xyz") {
		t.Errorf("bad password: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, m := range msgs {
		if !m.TLS || len(m.To) != 2 || !bytes.Contains(m.Data, []byte("Subject: [picket] 3 changes on 10.0.0.0/24\r\n")) {
			t.Errorf("message: tls %v to %v\n%s", m.TLS, m.To, m.Data)
		}
	}
}

func TestSyslogFlag(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := runNotify(t, lines(notifytest.Hostile), "--no-spool", "--syslog", "udp://"+pc.LocalAddr().String(), "--syslog-facility", "16")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	buf := make([]byte, 8192)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	// local0 (16) * 8 + crit (2)
	if rec := string(buf[:n]); !strings.HasPrefix(rec, "<130>1 ") || strings.ContainsAny(rec, "\r\n\x1b") {
		t.Errorf("record %q", rec)
	}
}

// TestSIGTERMKeepsSpool: notify stopped by SIGTERM while a receiver is
// down exits 143 and leaves the alerts in the spool.
func TestSIGTERMKeepsSpool(t *testing.T) {
	labnet.Require(t)
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	cmd := exec.Command(notifyBin, "--spool", spool, "--webhook", "http://127.0.0.1:1/x", "--retry-for", "1h", "--no-digest")
	cmd.Stdin = strings.NewReader(lines(notifytest.Plain("S1", "port-opened", "10.0.0.9", 22), notifytest.Plain("S1", "port-opened", "10.0.0.9", 80)))
	var errb syncbuf.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errb.String(), "retrying") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("exit %v, want 143\n%s", err, errb.String())
	}
	if pending, _ := os.ReadDir(filepath.Join(spool, "pending")); len(pending) != 2 {
		t.Errorf("%d alerts in the spool, want 2", len(pending))
	}
}

// TestKilledBeforeScanEnd: notify is killed while it gathers a scan's
// digest (the scan's end never came); the next run sends what it had
// gathered, once, marked incomplete.
func TestKilledBeforeScanEnd(t *testing.T) {
	labnet.Require(t)
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	rc := &countingReceiver{got: map[string]int{}, acceptN: -1, cut: make(chan struct{})}
	srv, ln := serve(t, "127.0.0.1:0", rc)
	defer srv.Close()
	url := "http://" + ln + "/hook"
	cmd := exec.Command(notifyBin, "--spool", spool, "--webhook", url)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(stdin, lines(`{"type":"scan","scan_id":"S5","phase":"start","scope":{"targets":["10.0.5.0/24"]}}`,
		notifytest.Plain("S5", "port-opened", "10.0.5.1", 80), notifytest.Plain("S5", "port-opened", "10.0.5.2", 443)))
	// Wait until both changes are noted in the spool, then kill.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(filepath.Join(spool, "collect"))
		if len(ents) == 1 {
			data, _ := os.ReadFile(filepath.Join(spool, "collect", ents[0].Name()))
			if bytes.Count(data, []byte("\n")) == 2 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	stdin.Close()
	if out, err := exec.Command(notifyBin, "--spool", spool, "--webhook", url, "--flush").CombinedOutput(); err != nil {
		t.Fatalf("--flush: %v\n%s", err, out)
	}
	if out, err := exec.Command(notifyBin, "--spool", spool, "--webhook", url, "--flush").CombinedOutput(); err != nil {
		t.Fatalf("second --flush: %v\n%s", err, out)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 1 || rc.got["S5/digest"] != 1 {
		t.Fatalf("receiver got %v, want S5/digest once", rc.got)
	}
}

func dupConfig(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "dup.json")
	os.WriteFile(p, []byte(`{"sinks":[{"type":"file","name":"x","path":"a"},{"type":"file","name":"x","path":"b"}]}`), 0o600)
	return p
}

// TestHelpWording checks the webhook flags' help names each sink once.
func TestHelpWording(t *testing.T) {
	r := runNotify(t, "", "--help")
	if r.code != 0 || strings.Contains(r.stdout, "webhook webhook") || !strings.Contains(r.stdout, "send to the webhook at URL") {
		t.Errorf("exit %d, help:\n%s", r.code, r.stdout)
	}
}

func TestSinkNames(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cfg := filepath.Join(dir, "c.json")
	os.WriteFile(cfg, []byte(`{"sinks":[{"type":"file","name":"file-2","path":"`+b+`"}]}`), 0o600)
	// Two unnamed file sinks and one named like the second would be.
	r := runNotify(t, lines(notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)), "--spool", filepath.Join(dir, "sp"),
		"--config", cfg, "--file", a, "--file", a)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(a)
	if bytes.Count(data, []byte("\n")) != 2 {
		t.Errorf("a got %q", data)
	}
	data, _ = os.ReadFile(b)
	if bytes.Count(data, []byte("\n")) != 1 {
		t.Errorf("b got %q", data)
	}
}

// TestExecKeepsCommas: a command line with commas is one command, and
// two --exec flags are two sinks.
func TestExecKeepsCommas(t *testing.T) {
	dir := t.TempDir()
	out1, out2 := filepath.Join(dir, "one, two"), filepath.Join(dir, "b")
	r := runNotify(t, lines(notifytest.Plain("S1", "port-opened", "10.0.0.9", 22)), "--no-spool",
		"--exec", `sh -c 'cat > "$1"' sh '`+out1+`'`, "--exec", "sh -c 'cat > \"$1\"' sh "+out2)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, p := range []string{out1, out2} {
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte(`"key":"S1/port-opened/10.0.0.9/22/tcp"`)) {
			t.Errorf("%s: %q %v", p, data, err)
		}
	}
}

// TestWebhookSinkFlags sends one digest through each webhook sink as the
// command line names it (--slack URL, --discord-file, --teams-env and the
// default $PICKET_WEBHOOK_URL) to a receiver per sink, with --digest-max
// 1: each receiver gets one message in its own shape, saying that two
// more changes were left out.
func TestWebhookSinkFlags(t *testing.T) {
	slack, discord, teams, hook := notifytest.NewReceiver(t), notifytest.NewReceiver(t), notifytest.NewReceiver(t), notifytest.NewReceiver(t)
	urlFile := filepath.Join(t.TempDir(), "discord.url")
	os.WriteFile(urlFile, []byte(discord.URL+"/api/webhooks/1/x\n"), 0o600)
	t.Setenv("TEAMS_URL", teams.URL+"/workflows/x")
	t.Setenv("PICKET_WEBHOOK_URL", hook.URL+"/hook")
	in := lines(
		`{"type":"scan","scan_id":"S7","phase":"start","scope":{"targets":["10.0.0.0/24"]}}`,
		notifytest.Plain("S7", "port-opened", "10.0.0.1", 22),
		notifytest.Plain("S7", "port-opened", "10.0.0.2", 23),
		notifytest.Plain("S7", "port-opened", "10.0.0.3", 24),
		`{"type":"scan","scan_id":"S7","phase":"end","complete":true}`,
	)
	r := runNotify(t, in, "--no-spool", "--digest-max", "1", "--slack", slack.URL+"/services/x",
		"--discord-file", urlFile, "--teams-env", "TEAMS_URL")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, c := range []struct {
		name  string
		rc    *notifytest.Receiver
		shape string
	}{
		{"slack", slack, `"blocks"`},
		{"discord", discord, `"allowed_mentions"`},
		{"teams", teams, `AdaptiveCard`},
		{"webhook", hook, `"digest":true`},
	} {
		reqs := c.rc.Requests()
		if len(reqs) != 1 {
			t.Errorf("%s: %d requests, want 1", c.name, len(reqs))
			continue
		}
		body := string(reqs[0].Body)
		if c.name == "webhook" {
			// The JSON keeps every change in "changes" (README); the
			// cap is on the message text.
			var p notify.Payload
			if err := json.Unmarshal(reqs[0].Body, &p); err != nil || len(p.Changes) != 3 {
				t.Errorf("webhook: %v, %d changes, want all 3", err, len(p.Changes))
			}
			body = p.Text + string(reqs[0].Body[:strings.Index(body, `"text"`)])
		}
		if !strings.Contains(body, c.shape) || !strings.Contains(body, "2 more") || !strings.Contains(body, "10.0.0.1") || strings.Contains(body, "10.0.0.3") {
			t.Errorf("%s: body lacks %s, the first change or \"2 more\", or lists more than one change:\n%s", c.name, c.shape, body)
		}
	}
}

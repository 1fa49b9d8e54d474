// Package e2e runs the built tools together, as a user's pipeline does,
// inside a private network namespace.
package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picketscan/picket/internal/labnet"
	"github.com/picketscan/picket/internal/syncbuf"
)

func TestMain(m *testing.M) { labnet.Main(m) }

// build compiles the named commands into a temporary folder, static as
// the README builds them, and returns the folder.
func build(t *testing.T, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir}
	for _, tool := range tools {
		args = append(args, "../../cmd/"+tool)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir
}

// pipe runs the commands connected stdout to stdin, like a shell pipe,
// and returns each one's exit status and the stderr of them all.
func pipe(t *testing.T, cmds ...*exec.Cmd) ([]int, string) {
	t.Helper()
	var stderr syncbuf.Buffer // the commands write it at once
	for i, c := range cmds {
		c.Stderr = &stderr
		if i > 0 {
			r, err := cmds[i-1].StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			c.Stdin = r
		}
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	codes := make([]int, len(cmds))
	for i, c := range cmds {
		err := c.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			codes[i] = ee.ExitCode()
		case err != nil:
			t.Fatalf("%s: %v", c.Path, err)
		}
	}
	return codes, stderr.String()
}

// alert is the part of notify's --file line that the test checks.
type alert struct {
	Type    string
	Digest  bool
	Count   int
	Changes []struct {
		Type, Kind, IP string
		Port           int
	}
}

// TestProbeNdiffNotify runs `probe | ndiff --baseline B --update | notify
// --file F --spool S` three times over real listeners on loopback: the
// first run learns the open port, the second sees one more port open and
// must deliver exactly one digest holding that one change, the third sees
// nothing new and must send nothing.
func TestProbeNdiffNotify(t *testing.T) {
	labnet.Require(t)
	bin := build(t, "probe", "ndiff", "notify")
	open := labnet.Listen(t, "127.0.0.1:0").Port
	later := labnet.ClosedPort(t)
	dir := t.TempDir()
	baseline, spool := filepath.Join(dir, "state.ndjson"), filepath.Join(dir, "spool")
	ports := fmt.Sprintf("%d,%d", open, later)

	run := func(n int) (string, []alert) {
		t.Helper()
		file := filepath.Join(dir, fmt.Sprintf("alerts%d.ndjson", n))
		codes, stderr := pipe(t,
			exec.Command(filepath.Join(bin, "probe"), "-n", "-Pn", "--method", "connect", "-p", ports, "127.0.0.1"),
			exec.Command(filepath.Join(bin, "ndiff"), "--baseline", baseline, "--update"),
			exec.Command(filepath.Join(bin, "notify"), "--file", file, "--spool", spool),
		)
		wantNdiff := 1 // changes found
		if n == 3 {
			wantNdiff = 0
		}
		if codes[0] != 0 || codes[1] != wantNdiff || codes[2] != 0 {
			t.Fatalf("run %d: exit statuses probe %d, ndiff %d, notify %d (want 0, %d, 0)\n%s", n, codes[0], codes[1], codes[2], wantNdiff, stderr)
		}
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			return stderr, nil
		} else if err != nil {
			t.Fatal(err)
		}
		var alerts []alert
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			var a alert
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("run %d: %s: bad alert line %q: %v", n, file, line, err)
			}
			alerts = append(alerts, a)
		}
		return stderr, alerts
	}

	if _, alerts := run(1); len(alerts) != 1 || !alerts[0].Digest || alerts[0].Count != 2 {
		t.Fatalf("first run: want one digest of host-up and port-opened, got %+v", alerts)
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", later))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stderr, alerts := run(2)
	if len(alerts) != 1 {
		t.Fatalf("second run: %d alerts, want 1: %+v\n%s", len(alerts), alerts, stderr)
	}
	a := alerts[0]
	if a.Type != "alert" || !a.Digest || a.Count != 1 || len(a.Changes) != 1 {
		t.Fatalf("second run: want one digest with one change, got %+v", a)
	}
	if c := a.Changes[0]; c.Type != "change" || c.Kind != "port-opened" || c.IP != "127.0.0.1" || c.Port != int(later) {
		t.Fatalf("second run: change %+v, want port-opened 127.0.0.1:%d", c, later)
	}

	if stderr, alerts := run(3); alerts != nil {
		t.Fatalf("third run, nothing changed: want no alert file, got %+v\n%s", alerts, stderr)
	}
}

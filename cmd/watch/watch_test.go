package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/internal/syncbuf"
	"github.com/picketscan/picket/lib/event"
)

var watchBin string

// TestMain builds the watch binary once, so the tests exercise the real
// program: flags, signals, exit codes and the processes it leaves (or
// must not leave) behind.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "watch-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	watchBin = filepath.Join(dir, "watch")
	if out, err := exec.Command("go", "build", "-o", watchBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build watch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const deadline = 10 * time.Second

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stat returns the state, parent and process group of pid from /proc.
func stat(pid int) (state byte, ppid, pgid int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	ppid, _ = strconv.Atoi(f[1])
	pgid, _ = strconv.Atoi(f[2])
	return f[0][0], ppid, pgid, true
}

// alive reports whether pid runs (a zombie has ended: it only waits to be
// reaped, which init here may never do).
func alive(pid int) bool {
	state, _, _, ok := stat(pid)
	return ok && state != 'Z' && state != 'X'
}

// descendants returns the live processes below pid.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, _, ok := stat(p); ok && alive(p) {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// lines returns the lines of file.
func lines(file string) []string {
	data, _ := os.ReadFile(file)
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func runEvents(t *testing.T, data string) []event.Run {
	t.Helper()
	var out []event.Run
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), `{"type":"run"`) {
			continue
		}
		var r event.Run
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad run event %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// TestSignalLeavesNoDescendants runs a pipeline with background work
// under watch, signals watch, and checks that every process below it is
// gone and that it exits with the signal's code.
func TestSignalLeavesNoDescendants(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}, {syscall.SIGHUP, 129}} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			pids := filepath.Join(t.TempDir(), "pids")
			evfile := filepath.Join(t.TempDir(), "events.ndjson")
			cmd := exec.Command(watchBin, "-w", dir, "--initial", "--events", evfile, "--",
				"sh", "-c", `sleep 1000 & echo $! >> "$0"; sleep 1000 | cat & echo $! >> "$0"; echo $$ >> "$0"; wait`, pids)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			waitFor(t, "the pipeline to start", func() bool { return len(lines(pids)) == 3 })
			var below []int
			// sh, the background sleep, and the pipeline's sleep and cat.
			waitFor(t, "four processes below watch", func() bool { below = descendants(cmd.Process.Pid); return len(below) >= 4 })
			for _, p := range below {
				t.Cleanup(func() {
					if alive(p) {
						_ = syscall.Kill(p, syscall.SIGKILL)
					}
				})
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if code := exitCode(t, err); code != tt.code {
					t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
				}
			case <-time.After(deadline):
				t.Fatal("watch did not exit")
			}
			for _, p := range below {
				if alive(p) {
					t.Errorf("process %d below watch survived", p)
				}
			}
			evs := runEvents(t, strings.Join(lines(evfile), "\n"))
			if len(evs) != 2 || evs[1].Phase != event.PhaseEnd || evs[1].Stopped != "shutdown" || evs[1].Signal != "SIGTERM" {
				t.Errorf("events = %+v, want a start and an end stopped by the shutdown with SIGTERM", evs)
			}
		})
	}
}

// TestOutputPassesThrough checks that the command's stdout reaches
// watch's stdout byte for byte, and that run events go to stderr by
// default.
func TestOutputPassesThrough(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(watchBin, "-w", dir, "--initial", "--", "sh", "-c", `printf 'a\000b\r\n\377'; echo err >&2`)
	var stdout bytes.Buffer
	var stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// The initial run ends after the folder is watched; a change then
	// makes a second run.
	waitFor(t, "the initial run to end", func() bool {
		return strings.Count(stderr.String(), `"phase":"end"`) == 1
	})
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second run to end", func() bool {
		return strings.Count(stderr.String(), `"phase":"end"`) == 2
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	if want := "a\x00b\r\n\xff" + "a\x00b\r\n\xff"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	evs := runEvents(t, stderr.String())
	if len(evs) != 4 || evs[2].Trigger.Kind != event.TriggerFiles || evs[2].Trigger.Paths[0].Path != filepath.Join(dir, "x") {
		t.Errorf("events = %+v", evs)
	}
	if !strings.Contains(stderr.String(), "err\n") {
		t.Errorf("the command's stderr is missing: %q", stderr.String())
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", []string{"-w", dir}, "no command"},
		{"nothing to wait for", []string{"--", "true"}, "nothing to wait for"},
		{"bad policy", []string{"-w", dir, "--on-busy", "later", "--", "true"}, "--on-busy"},
		{"bad signal", []string{"-w", dir, "--stop-signal", "NOPE", "--", "true"}, "--stop-signal"},
		{"missing folder", []string{"-w", filepath.Join(dir, "a/b"), "--", "true"}, "a"},
		{"missing program", []string{"-w", dir, "--", "/nonexistent/prog"}, "/nonexistent/prog"},
		{"bad flag", []string{"--nope", "--", "true"}, "nope"},
		{"negative every", []string{"--every", "-1s", "--", "true"}, "bad --every -1s: want 0 or more"},
		{"negative debounce", []string{"-w", dir, "--debounce", "-1s", "--", "true"}, "bad --debounce -1s: want 0 or more"},
		{"negative jitter", []string{"--every", "1h", "--jitter", "-1s", "--", "true"}, "bad --jitter -1s: want 0 or more"},
		{"negative stop-timeout", []string{"-w", dir, "--stop-timeout", "-1s", "--", "true"}, "bad --stop-timeout -1s: want 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(watchBin, tt.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			code := exitCode(t, cmd.Run())
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// TestSeveralPaths gives -w and --path more than once, as the README's
// pipeline example does, and checks that a change to each path triggers
// a run (the flag's alias must not merge the paths into one).
func TestSeveralPaths(t *testing.T) {
	for _, flag := range []string{"-w", "--path"} {
		t.Run(flag, func(t *testing.T) {
			a, b := t.TempDir(), t.TempDir()
			fa, fb := filepath.Join(a, "targets.txt"), filepath.Join(b, "policy.txt")
			cmd := exec.Command(watchBin, flag, fa, flag, fb, "--initial", "--", "true")
			var stderr syncbuf.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			ends := func(n int) func() bool {
				return func() bool { return strings.Count(stderr.String(), `"phase":"end"`) == n }
			}
			waitFor(t, "the initial run to end: "+stderr.String(), ends(1))
			for i, f := range []string{fa, fb} {
				if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "a run for "+f, ends(i+2))
			}
			evs := runEvents(t, stderr.String())
			if len(evs) != 6 || evs[2].Trigger.Paths[0].Path != fa || evs[4].Trigger.Paths[0].Path != fb {
				t.Errorf("events = %+v", evs)
			}
		})
	}
}

// TestFilterFlags checks that --recursive, --glob and --ignore reach the
// watcher from the command line: in a folder created below the watched
// one, a file the glob does not match and a file an ignore pattern covers
// make no run; a matching file makes one run naming only it.
func TestFilterFlags(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(watchBin, "-r", "-w", dir, "--glob", "*.txt", "--ignore", "skip.txt", "--debounce", "50ms", "--initial", "--", "true")
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ends := func(n int) func() bool {
		return func() bool { return strings.Count(stderr.String(), `"phase":"end"`) == n }
	}
	waitFor(t, "the initial run to end", ends(1))
	sub := filepath.Join(dir, "new")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the new folder is watched
	for _, name := range []string{"a.log", "skip.txt", "b.txt"} {
		if err := os.WriteFile(filepath.Join(sub, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a run for b.txt", ends(2))
	time.Sleep(300 * time.Millisecond) // no further run comes
	evs := runEvents(t, stderr.String())
	if len(evs) != 4 {
		t.Fatalf("events = %+v, want the initial run and one more", evs)
	}
	if p := evs[3].Trigger.Paths; len(p) != 1 || p[0].Path != filepath.Join(sub, "b.txt") {
		t.Errorf("trigger paths %+v, want only %s", p, filepath.Join(sub, "b.txt"))
	}
}

// TestEveryFlag checks that --every alone runs the command on an
// interval, each run's trigger saying so.
func TestEveryFlag(t *testing.T) {
	cmd := exec.Command(watchBin, "--every", "100ms", "--", "true")
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "two interval runs", func() bool { return strings.Count(stderr.String(), `"phase":"end"`) >= 2 })
	for _, ev := range runEvents(t, stderr.String()) {
		if ev.Trigger.Kind != event.TriggerInterval {
			t.Errorf("trigger %+v, want interval", ev.Trigger)
		}
	}
}

package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/picketscan/picket/lib/event"
)

// testDebounce is short so the tests are quick; settle is how long a test
// waits to be sure that no further run comes, well past the debounce.
const (
	testDebounce = 100 * time.Millisecond
	settle       = 500 * time.Millisecond
	deadline     = 10 * time.Second
)

// events is a writer that collects run events for a test.
type events struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (e *events) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.buf.Write(p)
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.buf.String()
}

// runs returns the events written so far of phase ("" for all).
func (e *events) runs(t *testing.T, phase string) []event.Run {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []event.Run
	for _, line := range strings.Split(strings.TrimSpace(e.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r event.Run
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad event line %q: %v", line, err)
		}
		if r.Type != event.TypeRun {
			t.Fatalf("event of type %q", r.Type)
		}
		if phase == "" || r.Phase == phase {
			out = append(out, r)
		}
	}
	return out
}

// harness runs watch on a temporary folder with a command that appends a
// line to a count file outside it, so a test can tell how many runs there
// were.
type harness struct {
	t      *testing.T
	dir    string // watched
	count  string // one line per run
	events *events
	done   chan error
	cancel context.CancelFunc
}

// script is the default command: append a line to the count file.
const script = `echo run >> "$COUNT"`

// start starts Run with cfg completed by the harness: the command is sh
// -c script with $COUNT set, and when cfg has paths they are relative to
// the watched folder. With cfg.Initial, start returns once the initial
// run has begun, which proves the watches are in place (they are set up
// before it); tests that change files must use it.
func start(t *testing.T, cfg Config, sh string) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), events: &events{}, done: make(chan error, 1)}
	h.count = filepath.Join(t.TempDir(), "count")
	t.Setenv("COUNT", h.count)
	if sh == "" {
		sh = script
	}
	cfg.Command = []string{"sh", "-c", sh}
	if len(cfg.Paths) == 0 && cfg.Every == 0 {
		cfg.Paths = []string{"."}
	}
	for i, p := range cfg.Paths {
		cfg.Paths[i] = filepath.Join(h.dir, p)
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = testDebounce
	}
	cfg.Events = h.events
	cfg.Stderr = os.Stderr
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- Run(ctx, cfg) }()
	t.Cleanup(func() { h.stop() })
	if cfg.Initial {
		waitFor(t, "the initial run", deadline, func() bool { return h.runs() >= 1 })
	}
	return h
}

// stop ends Run and returns its error.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(deadline):
		h.t.Fatal("Run did not return after cancel")
		return nil
	}
}

// runs returns how many times the command has run.
func (h *harness) runs() int {
	data, _ := os.ReadFile(h.count)
	return bytes.Count(data, []byte("\n"))
}

// waitRuns waits until the command has run n times and its run ended.
func (h *harness) waitRuns(n int) {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%d runs", n), deadline, func() bool {
		return h.runs() >= n && len(h.events.runs(h.t, event.PhaseEnd)) >= n
	})
}

// exactly waits for n runs, then checks that no further run comes.
func (h *harness) exactly(n int) {
	h.t.Helper()
	h.waitRuns(n)
	time.Sleep(settle)
	if got := h.runs(); got != n {
		h.t.Fatalf("command ran %d times, want %d; events:\n%s", got, n, h.events.String())
	}
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

func (h *harness) write(name, data string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(h.path(name)), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.path(name), []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// lastTrigger returns the paths and kinds of the last run's trigger.
func (h *harness) lastTrigger() event.RunTrigger {
	rs := h.events.runs(h.t, event.PhaseEnd)
	return rs[len(rs)-1].Trigger
}

func hasPath(rt event.RunTrigger, path, kind string) bool {
	for _, pc := range rt.Paths {
		if pc.Path == path {
			for _, k := range pc.Kinds {
				if k == kind {
					return true
				}
			}
		}
	}
	return false
}

func TestWriteTriggersOneRun(t *testing.T) {
	h := start(t, Config{Initial: true}, "")
	h.write("targets.txt", "127.0.0.1\n")
	h.exactly(2)
	rt := h.lastTrigger()
	if rt.Kind != event.TriggerFiles || !hasPath(rt, h.path("targets.txt"), event.PathCreate) {
		t.Errorf("trigger = %+v, want the created file", rt)
	}
	h.write("targets.txt", "127.0.0.2\n")
	h.exactly(3)
	if rt := h.lastTrigger(); !hasPath(rt, h.path("targets.txt"), event.PathWrite) {
		t.Errorf("trigger = %+v, want a write", rt)
	}
	first := h.events.runs(t, event.PhaseEnd)[0]
	if first.Trigger.Kind != event.TriggerInitial || first.ExitStatus == nil || *first.ExitStatus != 0 || first.PID == 0 {
		t.Errorf("first run = %+v, want the initial run exiting 0", first)
	}
}

func TestAtomicSaveOfAWatchedFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(target, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h2 := startFile(t, target)
	// An editor's save: write a temporary file, rename it over the old.
	tmp := filepath.Join(dir, ".targets.txt.tmp123")
	if err := os.WriteFile(tmp, []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	h2.exactly(2)
	if rt := h2.lastTrigger(); len(rt.Paths) != 1 || !hasPath(rt, target, event.PathCreate) {
		t.Errorf("trigger = %+v, want only %s created", rt, target)
	}
	// Another file in the same folder is not the watched file.
	if err := os.WriteFile(filepath.Join(dir, "other.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h2.exactly(2)
	// A second atomic save still triggers: the watch is on the folder,
	// not on the file that was replaced.
	if err := os.WriteFile(tmp, []byte("c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	h2.exactly(3)
}

// startFile runs watch on one file path (absolute) with an initial run.
func startFile(t *testing.T, file string) *harness {
	t.Helper()
	h := &harness{t: t, dir: filepath.Dir(file), events: &events{}, done: make(chan error, 1)}
	h.count = filepath.Join(t.TempDir(), "count")
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	cfg := Config{
		Command: []string{"sh", "-c", `echo run >> "$0"`, h.count}, Paths: []string{file},
		Initial: true, Debounce: testDebounce, Events: h.events,
	}
	go func() { h.done <- Run(ctx, cfg) }()
	t.Cleanup(func() { h.stop() })
	h.waitRuns(1)
	return h
}

func TestDeleteAndRecreate(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(target, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startFile(t, target)
	if err := os.Remove(target); err != nil {
		t.Fatal(err)
	}
	h.exactly(2)
	if rt := h.lastTrigger(); !hasPath(rt, target, event.PathRemove) {
		t.Errorf("trigger = %+v, want a remove", rt)
	}
	if err := os.WriteFile(target, []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.exactly(3)
	if rt := h.lastTrigger(); !hasPath(rt, target, event.PathCreate) {
		t.Errorf("trigger = %+v, want a create", rt)
	}
}

func TestFileNotYetThere(t *testing.T) {
	// A file that does not exist yet can be watched; its creation
	// triggers a run.
	target := filepath.Join(t.TempDir(), "later.txt")
	h := startFile(t, target)
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.exactly(2)
}

func TestNewFolderUnderRecursive(t *testing.T) {
	h := start(t, Config{Initial: true, Recursive: true}, "")
	if err := os.Mkdir(h.path("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.exactly(2)
	// The new folder is watched: a file written in it triggers.
	h.write("sub/a.txt", "x")
	h.exactly(3)
	if rt := h.lastTrigger(); !hasPath(rt, h.path("sub/a.txt"), event.PathCreate) {
		t.Errorf("trigger = %+v, want sub/a.txt", rt)
	}
	// Folders made in one go (mkdir -p) are all watched, and a file
	// put in the deepest before its watch existed is still reported.
	if err := os.MkdirAll(h.path("x/y/z"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.write("x/y/z/deep.txt", "x")
	h.waitRuns(4)
	time.Sleep(settle)
	n := h.runs()
	h.write("x/y/z/deep.txt", "again")
	h.exactly(n + 1)
	if rt := h.lastTrigger(); !hasPath(rt, h.path("x/y/z/deep.txt"), event.PathWrite) {
		t.Errorf("trigger = %+v, want x/y/z/deep.txt written", rt)
	}
	// A removed folder made again is watched again.
	if err := os.RemoveAll(h.path("sub")); err != nil {
		t.Fatal(err)
	}
	h.exactly(n + 2)
	if err := os.Mkdir(h.path("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.exactly(n + 3)
	h.write("sub/b.txt", "x")
	h.exactly(n + 4)
}

func TestWithoutRecursiveSubfoldersAreNotWatched(t *testing.T) {
	h := start(t, Config{Initial: true}, "")
	if err := os.Mkdir(h.path("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.exactly(2) // the new entry in the watched folder
	h.write("sub/a.txt", "x")
	h.exactly(2)
}

func TestSwapAndBackupFilesIgnored(t *testing.T) {
	h := start(t, Config{Initial: true, Recursive: true}, "")
	for _, name := range []string{".targets.txt.swp", ".targets.txt.swx", "targets.txt~", ".#targets.txt", "#targets.txt#", "4913", ".git/index", ".git/objects/ab/cd"} {
		h.write(name, "x")
	}
	h.exactly(1)
	h.write("targets.txt", "x")
	h.exactly(2)
	if rt := h.lastTrigger(); len(rt.Paths) != 1 {
		t.Errorf("trigger = %+v, want only targets.txt", rt)
	}
}

func TestGlobsAndIgnores(t *testing.T) {
	ignoreFile := filepath.Join(t.TempDir(), "watchignore")
	if err := os.WriteFile(ignoreFile, []byte("# generated\n*.gen.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{
		Initial: true, Recursive: true,
		Globs:   []string{"*.txt", "*.yaml"},
		Ignores: []string{"out/", "!keep.gen.txt"},
		// The ignore file's patterns are relative to its own folder,
		// which is not the watched one; *.gen.txt has no slash, so it
		// applies only below that folder.
		IgnoreFiles: []string{ignoreFile},
	}, "")
	h.write("notes.md", "x")
	h.write("out/a.txt", "x")
	h.exactly(1)
	h.write("a.gen.txt", "x") // the ignore file does not cover this folder
	h.exactly(2)
	h.write("policy.yaml", "x")
	h.exactly(3)
}

func TestIgnoreFileInWatchedFolder(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"sub/build", "build"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".watchignore"), []byte("*.gen.txt\n/build/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	count := filepath.Join(t.TempDir(), "count")
	ev := &events{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Command: []string{"sh", "-c", `echo run >> "$0"`, count},
			Paths:   []string{dir}, Recursive: true, Initial: true, Debounce: testDebounce,
			IgnoreFiles: []string{filepath.Join(dir, ".watchignore")}, Events: ev,
		})
	}()
	h := &harness{t: t, dir: dir, count: count, events: ev, done: done, cancel: cancel}
	t.Cleanup(func() { h.stop() })
	h.waitRuns(1)
	h.write("a.gen.txt", "x")
	h.write("build/x.o", "x")
	h.write("sub/b.gen.txt", "x")
	h.exactly(1)
	h.write("sub/build/x.o", "x") // /build/ is anchored to the top
	h.exactly(2)
}

func TestBurstIsDebouncedIntoOneRun(t *testing.T) {
	h := start(t, Config{Initial: true, Debounce: 200 * time.Millisecond}, "")
	for i := range 50 {
		h.write(fmt.Sprintf("f%d.txt", i%5), fmt.Sprint(i))
	}
	h.exactly(2)
	if rt := h.lastTrigger(); len(rt.Paths) != 5 {
		t.Errorf("trigger lists %d paths, want the 5 files", len(rt.Paths))
	}
}

func openGate(t *testing.T, gate string) {
	t.Helper()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the command to take the gate", deadline, func() bool {
		_, err := os.Stat(gate)
		return errors.Is(err, os.ErrNotExist)
	})
}

func TestQueueRunsOnceMoreWithEveryChange(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	t.Setenv("GATE", gate)
	// Each run appends to the count file, then waits until the test
	// opens the gate.
	h := start(t, Config{Initial: true}, `echo run >> "$COUNT"; while [ ! -e "$GATE" ]; do sleep 0.01; done; rm -f "$GATE"`)
	openGate(t, gate)
	h.waitRuns(1)
	h.write("a.txt", "x")
	waitFor(t, "the second run to start", deadline, func() bool { return h.runs() == 2 })
	// Changes while the run is busy, spread over more than a debounce.
	h.write("b.txt", "x")
	time.Sleep(2 * testDebounce)
	h.write("c.txt", "x")
	time.Sleep(2 * testDebounce)
	h.write("b.txt", "y")
	time.Sleep(settle)
	if h.runs() != 2 {
		t.Fatalf("a run started while one was busy")
	}
	openGate(t, gate)
	waitFor(t, "the queued run", deadline, func() bool { return h.runs() == 3 })
	openGate(t, gate)
	h.exactly(3)
	rt := h.lastTrigger()
	if len(rt.Paths) != 2 || !hasPath(rt, h.path("b.txt"), event.PathWrite) || !hasPath(rt, h.path("c.txt"), event.PathCreate) {
		t.Errorf("queued run trigger = %+v, want b.txt and c.txt", rt)
	}
}

func TestOnBusyIgnoreDropsChanges(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	t.Setenv("GATE", gate)
	h := start(t, Config{Initial: true, OnBusy: Ignore}, `echo run >> "$COUNT"; while [ ! -e "$GATE" ]; do sleep 0.01; done; rm -f "$GATE"`)
	h.write("b.txt", "x")
	time.Sleep(settle)
	openGate(t, gate)
	h.exactly(1)
	h.write("c.txt", "x") // not busy now
	waitFor(t, "the second run", deadline, func() bool { return h.runs() == 2 })
	openGate(t, gate)
	h.exactly(2)
}

func TestOnBusySignal(t *testing.T) {
	got := filepath.Join(t.TempDir(), "got")
	t.Setenv("GOT", got)
	h := start(t, Config{Initial: true, OnBusy: Signal, Signal: syscall.SIGUSR1},
		`echo run >> "$COUNT"; trap 'echo usr1 >> "$GOT"; exit 0' USR1; while :; do sleep 0.01; done`)
	h.write("a.txt", "x")
	waitFor(t, "the signal to reach the command", deadline, func() bool {
		data, _ := os.ReadFile(got)
		return string(data) == "usr1\n"
	})
	h.exactly(1)
}

func TestRestartKillsTheGrandchild(t *testing.T) {
	pids := t.TempDir()
	t.Setenv("PIDS", pids)
	// Each run starts a grandchild and records its PID under the run's
	// number.
	h := start(t, Config{Initial: true, OnBusy: Restart, StopTimeout: 5 * time.Second},
		`echo run >> "$COUNT"; n=$(wc -l < "$COUNT"); sleep 1000 & echo $! > "$PIDS/$n"; wait`)
	grandchild := readPID(t, filepath.Join(pids, "1"))
	killPID(t, grandchild)
	if !alive(grandchild) {
		t.Fatal("grandchild not running")
	}
	h.write("a.txt", "x")
	second := readPID(t, filepath.Join(pids, "2"))
	killPID(t, second)
	if alive(grandchild) {
		t.Errorf("grandchild %d of the first run survived the restart", grandchild)
	}
	ends := h.events.runs(t, event.PhaseEnd)
	if len(ends) != 1 || ends[0].Stopped != "restart" || ends[0].Signal != "SIGTERM" {
		t.Errorf("end events = %+v, want run 1 stopped for a restart by SIGTERM", ends)
	}
	if err := h.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if alive(second) {
		t.Errorf("grandchild %d of the second run survived the shutdown", second)
	}
	ends = h.events.runs(t, event.PhaseEnd)
	if len(ends) != 2 || ends[1].Stopped != "shutdown" {
		t.Errorf("end events = %+v, want run 2 stopped by the shutdown", ends)
	}
}

func TestShutdownStopsWhatARunLeftBehind(t *testing.T) {
	pids := t.TempDir()
	t.Setenv("PIDS", pids)
	// The command ends at once, leaving a process in its group.
	h := start(t, Config{Initial: true}, `echo run >> "$COUNT"; sleep 1000 & echo $! > "$PIDS/bg"`)
	bg := readPID(t, filepath.Join(pids, "bg"))
	killPID(t, bg)
	if !alive(bg) {
		t.Fatal("background process not running")
	}
	h.stop()
	if alive(bg) {
		t.Errorf("background process %d survived watch", bg)
	}
}

func TestInterval(t *testing.T) {
	h := start(t, Config{Every: 100 * time.Millisecond, Jitter: 20 * time.Millisecond}, "")
	began := time.Now()
	h.waitRuns(3)
	if took := time.Since(began); took < 250*time.Millisecond {
		t.Errorf("3 interval runs after %s, want about 300ms or more", took)
	}
	for _, r := range h.events.runs(t, event.PhaseEnd) {
		if r.Trigger.Kind != event.TriggerInterval {
			t.Errorf("trigger = %+v, want interval", r.Trigger)
		}
	}
}

func TestIntervalWithFiles(t *testing.T) {
	h := start(t, Config{Initial: true, Paths: []string{"."}, Every: time.Hour}, "")
	h.write("a.txt", "x")
	h.exactly(2)
}

func TestCommandFailureIsReported(t *testing.T) {
	h := start(t, Config{Initial: true}, `echo run >> "$COUNT"; exit 7`)
	h.waitRuns(1)
	r := h.events.runs(t, event.PhaseEnd)[0]
	if r.ExitStatus == nil || *r.ExitStatus != 7 || r.DurationMS <= 0 || r.End < r.Start {
		t.Errorf("end event = %+v, want exit status 7 and a duration", r)
	}
	if starts := h.events.runs(t, event.PhaseStart); len(starts) != 1 || starts[0].PID != r.PID {
		t.Errorf("start events = %+v", starts)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no command", Config{Paths: []string{dir}}, "no command"},
		{"missing program", Config{Command: []string{"/nonexistent/x"}, Paths: []string{dir}}, "/nonexistent/x"},
		{"nothing to wait for", Config{Command: []string{"true"}}, "nothing to wait for"},
		{"missing folder", Config{Command: []string{"true"}, Paths: []string{filepath.Join(dir, "no/such/file")}}, "no/such"},
		{"bad glob", Config{Command: []string{"true"}, Paths: []string{dir}, Globs: []string{"[x"}}, "--glob"},
		{"bad policy", Config{Command: []string{"true"}, Paths: []string{dir}, OnBusy: "later"}, "on-busy"},
		{"jitter alone", Config{Command: []string{"true"}, Paths: []string{dir}, Jitter: time.Second}, "jitter"},
		{"missing ignore file", Config{Command: []string{"true"}, Paths: []string{dir}, IgnoreFiles: []string{filepath.Join(dir, "nope")}}, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), tt.cfg)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want a usage error naming %q", err, tt.want)
			}
		})
	}
}

func TestSteadyWritesDelayTheRun(t *testing.T) {
	// Each write of the same file starts the debounce again, so a file
	// written in many small steps makes one run, after the last step.
	h := start(t, Config{Initial: true, Debounce: 500 * time.Millisecond}, "")
	for i := range 20 {
		h.write("scan.ndjson", strings.Repeat("x", i))
		time.Sleep(20 * time.Millisecond)
	}
	h.exactly(2)
}

func TestChangeListIsBounded(t *testing.T) {
	cs := newChangeSet()
	for i := range maxPendingPaths + 5 {
		cs.add(fmt.Sprint("/w/f", i), kindCreate)
	}
	cs.add("/w/f0", kindWrite) // a kept path still gathers kinds
	rt := trigger{files: cs}.event()
	if len(rt.Paths) != maxListedPaths || rt.MorePaths != maxPendingPaths+5-maxListedPaths {
		t.Errorf("listed %d, more %d", len(rt.Paths), rt.MorePaths)
	}
	if got := cs.paths["/w/f0"].names(); strings.Join(got, ",") != "create,write" {
		t.Errorf("kinds of /w/f0 = %v", got)
	}
}

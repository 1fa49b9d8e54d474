// Package watch runs a command again when files change or on a schedule,
// like entr or watchexec, for keeping Picket's pipeline current: rescan
// when the target list or the policy changes, and every day anyway.
//
// Files are watched through their folders with inotify (fsnotify), so an
// editor's atomic save, a deletion, a re-creation and a new file are all
// seen. Changes are debounced into one run. The command runs in a process
// group of its own; stopping it (for a restart, or when watch is told to
// end) signals the whole group and escalates to SIGKILL, so no process of
// a pipeline is left behind. Each run is reported as a "run" event.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/picketscan/picket/lib/event"
)

// OnBusy says what a trigger does while the command is still running.
type OnBusy string

// The policies for a trigger that comes while the command runs.
const (
	// Queue runs the command once more after the current run ends,
	// with every change gathered meanwhile. No change is lost.
	Queue OnBusy = "queue"
	// Restart stops the current run (its whole process group) and
	// starts a new one.
	Restart OnBusy = "restart"
	// Signal sends Config.Signal to the process group and starts no run.
	Signal OnBusy = "signal"
	// Ignore drops the trigger.
	Ignore OnBusy = "ignore"
)

// ParseOnBusy parses an --on-busy value.
func ParseOnBusy(s string) (OnBusy, error) {
	switch o := OnBusy(s); o {
	case Queue, Restart, Signal, Ignore:
		return o, nil
	}
	return "", fmt.Errorf("bad on-busy policy %q: want queue, restart, signal or ignore", s)
}

// Stopped reasons carried by run events.
const (
	stoppedRestart  = "restart"
	stoppedShutdown = "shutdown"
)

// Config is what Run needs. Zero values take the defaults noted.
type Config struct {
	// Command is the program and its arguments, run without a shell.
	Command []string
	// Paths are the files and folders to watch; Recursive watches
	// every folder below the folders given, including ones created
	// later.
	Paths     []string
	Recursive bool
	// Globs, when given, limit the files that trigger a run to those
	// matching one of these .gitignore-style patterns (relative to the
	// watched folder, or matching at any depth without a "/").
	Globs []string
	// Ignores are .gitignore-style patterns of paths that never trigger
	// a run; IgnoreFiles are files of such patterns, relative to the
	// folder each file is in. DefaultIgnores apply too unless
	// NoDefaultIgnores is set.
	Ignores          []string
	IgnoreFiles      []string
	NoDefaultIgnores bool
	// Debounce is how long no change must come before a run starts
	// (default 300ms).
	Debounce time.Duration
	// Every runs the command at this interval; each run is delayed by a
	// random duration below Jitter, so many machines do not run at once.
	Every  time.Duration
	Jitter time.Duration
	// Initial runs the command once at start.
	Initial bool
	// OnBusy is what a trigger does while the command runs (default Queue).
	OnBusy OnBusy
	// StopSignal is sent to the process group to stop a run (default
	// SIGTERM); after StopTimeout (default 10s) the group gets SIGKILL.
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	// Signal is sent to the process group by OnBusy Signal (default SIGHUP).
	Signal syscall.Signal
	// Stdout and Stderr are the command's output. Files (os.Stdout) are
	// handed to the command as they are; nil is the null device.
	Stdout, Stderr io.Writer
	// Events receives a "run" event when each run starts and ends; nil
	// writes none.
	Events io.Writer
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
	// Now is the clock for event times (default time.Now).
	Now func() time.Time
	// RandDuration returns a random duration in [0, n) for the jitter
	// (default math/rand/v2).
	RandDuration func(n time.Duration) time.Duration
}

// Defaults for Config fields left zero.
const (
	DefaultDebounce    = 300 * time.Millisecond
	DefaultStopTimeout = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
	if c.OnBusy == "" {
		c.OnBusy = Queue
	}
	if c.StopSignal == 0 {
		c.StopSignal = syscall.SIGTERM
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.Signal == 0 {
		c.Signal = syscall.SIGHUP
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RandDuration == nil {
		c.RandDuration = func(n time.Duration) time.Duration { return rand.N(n) }
	}
}

// ErrUsage marks errors in the configuration (as opposed to failures
// while watching), so a command can exit with its usage code.
var ErrUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// check validates c, resolves the paths to watch and builds the filter.
func (c *Config) check() (*Filter, []root, error) {
	if len(c.Command) == 0 {
		return nil, nil, usagef("no command given: put it after --")
	}
	if _, err := exec.LookPath(c.Command[0]); err != nil {
		return nil, nil, usagef("command %s: %v", c.Command[0], errors.Unwrap(err))
	}
	if len(c.Paths) == 0 && c.Every == 0 {
		return nil, nil, usagef("nothing to wait for: give paths to watch, an interval (--every), or both")
	}
	switch {
	case c.Debounce < 0:
		return nil, nil, usagef("negative debounce %s", c.Debounce)
	case c.Every < 0:
		return nil, nil, usagef("negative interval %s", c.Every)
	case c.Jitter < 0:
		return nil, nil, usagef("negative jitter %s", c.Jitter)
	case c.Jitter > 0 && c.Every == 0:
		return nil, nil, usagef("jitter without an interval: give --every too")
	case c.StopTimeout < 0:
		return nil, nil, usagef("negative stop timeout %s", c.StopTimeout)
	}
	if _, err := ParseOnBusy(string(c.OnBusy)); err != nil {
		return nil, nil, usagef("%v", err)
	}
	roots, err := resolveRoots(c.Paths, c.Recursive)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	f, err := c.filter(roots)
	return f, roots, err
}

// filter builds the Filter: default ignores anywhere, then the ignore
// files (relative to their folders), then --ignore and --glob patterns
// relative to each watched folder.
func (c *Config) filter(roots []root) (*Filter, error) {
	f := &Filter{}
	if !c.NoDefaultIgnores {
		rules, err := parsePatterns(DefaultIgnores, "default ignore")
		if err != nil {
			return nil, err
		}
		f.Ignore = append(f.Ignore, Ruleset{Base: "/", Rules: rules})
	}
	for _, name := range c.IgnoreFiles {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, usagef("ignore file: %v", err)
		}
		rules, err := ParseIgnore(name, data)
		if err != nil {
			return nil, usagef("ignore file %v", err)
		}
		base, err := absDir(name)
		if err != nil {
			return nil, err
		}
		f.Ignore = append(f.Ignore, Ruleset{Base: base, Rules: rules})
	}
	ignores, err := parsePatterns(c.Ignores, "--ignore")
	if err != nil {
		return nil, err
	}
	globs, err := parsePatterns(c.Globs, "--glob")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range roots {
		if seen[r.dir] {
			continue
		}
		seen[r.dir] = true
		if len(ignores) > 0 {
			f.Ignore = append(f.Ignore, Ruleset{Base: r.dir, Rules: ignores})
		}
		if len(globs) > 0 {
			f.Include = append(f.Include, Ruleset{Base: r.dir, Rules: globs})
		}
	}
	return f, nil
}

// absDir returns the absolute folder of file name.
func absDir(name string) (string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("ignore file %s: %w", name, err)
	}
	return filepath.Dir(abs), nil
}

func parsePatterns(pats []string, what string) ([]Rule, error) {
	var rules []Rule
	for _, p := range pats {
		r, ok, err := ParsePattern(p)
		if err != nil {
			return nil, usagef("%s: %v", what, err)
		}
		if ok {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// Run watches, runs the command on each trigger, and returns when ctx
// ends (after stopping a run in progress, with the context's cause) or on
// a failure to watch. A command that fails is reported in its run event,
// not as an error of Run.
func Run(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	filter, roots, err := cfg.check()
	if err != nil {
		return err
	}
	l := &loop{ctx: ctx, cfg: cfg, ew: event.NewWriter(io.Discard)}
	if cfg.Events != nil {
		l.ew = event.NewWriter(cfg.Events)
	}
	var batches <-chan *changeSet
	var watchErrs <-chan error
	if len(roots) > 0 {
		fw, err := newFileWatcher(roots, filter, cfg.Debounce, cfg.Log)
		if err != nil {
			return err
		}
		defer fw.Close()
		batches, watchErrs = fw.Batches(), fw.Errors()
	}
	var sched *schedule
	var tick <-chan time.Time
	if cfg.Every > 0 {
		sched = newSchedule(cfg.Every, cfg.Jitter, cfg.RandDuration)
		defer sched.stop()
		tick = sched.C()
	}
	defer l.stopLeftovers()
	if cfg.Initial && ctx.Err() == nil {
		l.trigger(trigger{initial: true})
	}
	for {
		var done <-chan struct{}
		if l.cur != nil {
			done = l.cur.p.Done()
		}
		select {
		case <-ctx.Done():
			l.stop(stoppedShutdown)
			return context.Cause(ctx)
		case err := <-watchErrs:
			l.stop(stoppedShutdown)
			return err
		case cs := <-batches:
			l.trigger(trigger{files: cs})
		case <-tick:
			sched.next()
			l.trigger(trigger{interval: true})
		case <-done:
			l.finish()
			l.startPending()
		}
	}
}

// loop is the state of Run's one goroutine: the run in progress, the
// triggers gathered while it runs, and process groups of ended runs that
// still have members.
type loop struct {
	ctx       context.Context
	cfg       Config
	ew        *event.Writer
	seq       uint64
	cur       *current
	pending   *trigger
	leftovers []int
	writeErr  bool
}

type current struct {
	p       *Process
	ev      event.Run
	begin   time.Time
	stopped string
}

// trigger starts a run, or applies the busy policy when one is running.
func (l *loop) trigger(t trigger) {
	if l.cur == nil {
		l.start(t)
		return
	}
	switch l.cfg.OnBusy {
	case Queue:
		l.queue(t)
	case Restart:
		l.queue(t)
		l.stop(stoppedRestart)
		l.startPending()
	case Signal:
		if err := l.cur.p.Signal(l.cfg.Signal); err != nil {
			l.cfg.Log.Warn("cannot signal the command", "err", err)
		}
	case Ignore:
		l.cfg.Log.Debug("command busy; trigger ignored", "trigger", t.event().Kind)
	}
}

// startPending starts a run for the triggers gathered while the command
// was busy, unless watch is ending.
func (l *loop) startPending() {
	if l.pending == nil || l.ctx.Err() != nil {
		return
	}
	t := *l.pending
	l.pending = nil
	l.start(t)
}

func (l *loop) queue(t trigger) {
	if l.pending == nil {
		l.pending = &trigger{}
	}
	l.pending.merge(t)
}

// start starts the command for trigger t and writes the start event; a
// command that cannot start gets an end event with the error.
func (l *loop) start(t trigger) {
	l.seq++
	now := l.cfg.Now()
	ev := event.Run{
		Type: event.TypeRun, Time: event.FormatTime(now), Phase: event.PhaseStart,
		Seq: l.seq, Trigger: t.event(), Command: l.cfg.Command, Start: event.FormatTime(now),
	}
	p, err := StartProcess(l.cfg.Command, l.cfg.Stdout, l.cfg.Stderr)
	if err != nil {
		l.cfg.Log.Error("cannot start the command", "err", err)
		ev.Phase, ev.End, ev.Error = event.PhaseEnd, ev.Start, err.Error()
		l.write(ev)
		return
	}
	ev.PID = p.PID()
	l.write(ev)
	l.cur = &current{p: p, ev: ev, begin: now}
}

// stop stops the run in progress, if any, and writes its end event.
func (l *loop) stop(why string) {
	if l.cur == nil {
		return
	}
	l.cur.stopped = why
	killed, err := l.cur.p.Stop(l.cfg.StopSignal, l.cfg.StopTimeout)
	if killed {
		l.cfg.Log.Warn("command did not stop in time; killed its process group",
			"signal", SignalName(l.cfg.StopSignal), "timeout", l.cfg.StopTimeout)
	}
	if err != nil {
		l.cfg.Log.Error("cannot stop the command", "err", err)
	}
	l.finish()
}

// finish writes the end event of the run that ended.
func (l *loop) finish() {
	c := l.cur
	l.cur = nil
	o := c.p.Outcome()
	now := l.cfg.Now()
	ev := c.ev
	ev.Phase, ev.Time, ev.End = event.PhaseEnd, event.FormatTime(now), event.FormatTime(now)
	ev.ExitStatus, ev.Signal, ev.Stopped = o.ExitStatus, o.Signal, c.stopped
	ev.DurationMS = float64(now.Sub(c.begin).Microseconds()) / 1000
	if o.Err != nil {
		ev.Error = o.Err.Error()
	}
	l.write(ev)
	live := l.leftovers[:0]
	for _, pgid := range l.leftovers {
		if groupAlive(pgid) {
			live = append(live, pgid)
		}
	}
	l.leftovers = live
	if groupAlive(c.p.PID()) {
		// The command left processes running (started in the
		// background); they are stopped when watch ends.
		l.leftovers = append(l.leftovers, c.p.PID())
	}
}

// stopLeftovers stops what ended runs left running in their process
// groups, so that watch leaves no process behind.
func (l *loop) stopLeftovers() {
	for _, pgid := range l.leftovers {
		if !groupAlive(pgid) {
			continue
		}
		_ = syscall.Kill(-pgid, l.cfg.StopSignal)
		deadline := time.Now().Add(l.cfg.StopTimeout)
		for groupAlive(pgid) && time.Now().Before(deadline) {
			time.Sleep(groupPoll)
		}
		if groupAlive(pgid) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
}

func (l *loop) write(ev event.Run) {
	err := l.ew.Encode(ev)
	if err == nil {
		err = l.ew.Flush()
	}
	if err != nil && !l.writeErr {
		l.writeErr = true
		l.cfg.Log.Error("cannot write run events", "err", err)
	}
}

package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrWatchLimit is returned when the kernel refuses another inotify watch
// or instance because a per-user limit is reached.
var ErrWatchLimit = errors.New("inotify limit reached")

// root is one path given to watch. A file is watched through its folder,
// so that an editor's atomic save (write a temporary file, rename it over
// the old one), a deletion and a re-creation are all seen; a folder is
// watched for what happens to its entries.
type root struct {
	dir       string // absolute folder watched
	file      string // absolute path when a single file was given
	recursive bool
}

// covers reports whether a change of name concerns r.
func (r root) covers(name string) bool {
	switch {
	case r.file != "":
		return name == r.file
	case r.recursive:
		return name == r.dir || strings.HasPrefix(name, r.dir+string(filepath.Separator)) || r.dir == "/"
	default:
		return name == r.dir || filepath.Dir(name) == r.dir
	}
}

// resolveRoots turns the paths as given into absolute roots. A folder must
// exist; a file need not (it may be created later), but its folder must.
func resolveRoots(paths []string, recursive bool) ([]root, error) {
	var roots []root
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("watch %s: %w", p, err)
		}
		fi, err := os.Stat(abs)
		switch {
		case err == nil && fi.IsDir():
			roots = append(roots, root{dir: abs, recursive: recursive})
		case err == nil || errors.Is(err, fs.ErrNotExist):
			dir := filepath.Dir(abs)
			if di, derr := os.Stat(dir); derr != nil || !di.IsDir() {
				if derr == nil {
					derr = errors.New("not a folder")
				}
				return nil, fmt.Errorf("watch %s: folder %s: %w", p, dir, derr)
			}
			roots = append(roots, root{dir: dir, file: abs})
		default:
			return nil, fmt.Errorf("watch %s: %w", p, err)
		}
	}
	return roots, nil
}

// fileWatcher owns an fsnotify watcher. One goroutine reads its events,
// keeps the changes not yet handed out and a debounce timer, and hands a
// batch out once no change has come for the debounce time (or once the
// first change of the batch is maxWait old, so a file that never stops
// changing cannot hold runs back for ever). It never blocks on the
// receiver: changes keep gathering until the batch is taken.
type fileWatcher struct {
	w        *fsnotify.Watcher
	roots    []root
	filter   *Filter
	debounce time.Duration
	maxWait  time.Duration
	log      *slog.Logger
	dirs     map[string]bool // folders with a watch of ours

	out  chan *changeSet
	errc chan error

	cancel context.CancelFunc
	done   chan struct{}
}

// newFileWatcher watches roots (recursively where asked) and starts the
// goroutine that gathers changes. Every folder is watched before it
// returns, so a change made after it returns is seen.
func newFileWatcher(roots []root, filter *Filter, debounce time.Duration, log *slog.Logger) (*fileWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, limitError("start inotify", err)
	}
	fw := &fileWatcher{
		w: w, roots: roots, filter: filter, debounce: debounce,
		maxWait: 10 * debounce, log: log, dirs: map[string]bool{},
		out: make(chan *changeSet), errc: make(chan error, 1), done: make(chan struct{}),
	}
	for _, r := range roots {
		if err := fw.addTree(r, r.dir, nil); err != nil {
			w.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	fw.cancel = cancel
	go fw.loop(ctx)
	return fw, nil
}

// Close stops the goroutine and the fsnotify watcher and waits for both.
func (fw *fileWatcher) Close() error {
	fw.cancel()
	err := fw.w.Close()
	<-fw.done
	return err
}

// Batches delivers batches of changes, each after the debounce time.
func (fw *fileWatcher) Batches() <-chan *changeSet { return fw.out }

// Errors delivers a fatal error: a folder that appeared could not be
// watched, so changes in it would be lost.
func (fw *fileWatcher) Errors() <-chan error { return fw.errc }

// addTree watches dir, and below it every folder not ignored when r is
// recursive. Files found in folders that are new (created is not nil)
// are recorded as created in it, since they may have appeared before the
// watch was in place.
func (fw *fileWatcher) addTree(r root, dir string, created *changeSet) error {
	if !r.recursive {
		return fw.add(dir)
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && p == r.dir {
				return fmt.Errorf("watch %s: %w", p, err)
			}
			// A folder that vanished or cannot be read: it is not
			// ours to report; go on with the rest.
			fw.log.Warn("cannot watch folder", "path", p, "err", err)
			return skipDir(d)
		}
		if !d.IsDir() {
			if created != nil && fw.filter.Triggers(r.dir, p, false) {
				created.add(p, kindCreate)
			}
			return nil
		}
		if p != r.dir && fw.filter.Ignored(r.dir, p, true) {
			return filepath.SkipDir
		}
		if created != nil && p != dir && fw.filter.Triggers(r.dir, p, true) {
			created.add(p, kindCreate)
		}
		if err := fw.add(p); err != nil {
			if errors.Is(err, ErrWatchLimit) || p == r.dir {
				return err
			}
			fw.log.Warn("cannot watch folder", "path", p, "err", err)
			return filepath.SkipDir
		}
		return nil
	})
}

func skipDir(d fs.DirEntry) error {
	if d != nil && d.IsDir() {
		return filepath.SkipDir
	}
	return nil
}

// add watches one folder.
func (fw *fileWatcher) add(dir string) error {
	if fw.dirs[dir] {
		return nil
	}
	if err := fw.w.Add(dir); err != nil {
		return limitError("watch "+dir, err)
	}
	fw.dirs[dir] = true
	return nil
}

// limitError names the sysctl to raise when err is the kernel's answer
// to an exhausted inotify limit.
func limitError(what string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%s: %w (%w): the kernel allows no more inotify watches for this user "+
			"(fs.inotify.max_user_watches is %s%s); raise it, e.g. sysctl fs.inotify.max_user_watches=524288, "+
			"or watch fewer folders", what, ErrWatchLimit, err,
			sysctlValue("fs/inotify/max_user_watches"), nsLimit("user/max_inotify_watches", "fs/inotify/max_user_watches"))
	case errors.Is(err, syscall.EMFILE):
		return fmt.Errorf("%s: %w (%w): the kernel allows no more inotify instances for this user "+
			"(fs.inotify.max_user_instances is %s%s); raise it, e.g. sysctl fs.inotify.max_user_instances=512",
			what, ErrWatchLimit, err,
			sysctlValue("fs/inotify/max_user_instances"), nsLimit("user/max_inotify_instances", "fs/inotify/max_user_instances"))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// nsLimit notes the limit of this user namespace when it is not the
// machine's (in a container, say).
func nsLimit(nsName, globalName string) string {
	ns, global := sysctlValue(nsName), sysctlValue(globalName)
	if ns == "unknown" || ns == global {
		return ""
	}
	return "; this user namespace allows " + ns
}

func sysctlValue(name string) string {
	data, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(data))
}

func (fw *fileWatcher) loop(ctx context.Context) {
	defer close(fw.done)
	pending := newChangeSet()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var first time.Time // when the oldest change not handed out came
	ready := false
	for {
		var out chan *changeSet
		if ready {
			out = fw.out
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fw.w.Events:
			if !ok {
				return
			}
			recorded, err := fw.handle(ev, pending)
			if err != nil {
				select {
				case fw.errc <- err:
				default:
				}
				return
			}
			if !recorded {
				continue // ignored: it neither triggers nor delays a run
			}
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			wait := fw.debounce
			if left := fw.maxWait - now.Sub(first); left < wait {
				wait = max(left, 0)
			}
			timer.Reset(wait)
		case err, ok := <-fw.w.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// The kernel dropped events: anything may have
				// changed, so say so rather than lose a run.
				fw.log.Warn("inotify queue overflowed; some changes were not seen one by one")
				for _, r := range fw.roots {
					pending.add(r.dir, kindOverflow)
				}
				ready = true
				continue
			}
			fw.log.Warn("inotify error", "err", err)
		case <-timer.C:
			if !pending.empty() {
				ready = true
			}
		case out <- pending:
			pending = newChangeSet()
			ready = false
			first = time.Time{}
		}
	}
}

// handle records ev in pending if it triggers a run, and watches a folder
// that appeared under a recursive root. It reports whether ev was
// recorded.
func (fw *fileWatcher) handle(ev fsnotify.Event, pending *changeSet) (recorded bool, err error) {
	name := filepath.Clean(ev.Name)
	k := kindOf(ev.Op)
	if k == 0 {
		return false, nil
	}
	isDir := fw.dirs[name]
	if k&kindCreate != 0 {
		if fi, err := os.Lstat(name); err == nil && fi.IsDir() {
			isDir = true
		}
	}
	if k&(kindRemove|kindRename) != 0 && fw.dirs[name] {
		// The kernel drops the watch of a folder that goes away;
		// forget it and what was below, so a new folder of the same
		// name is watched again.
		for d := range fw.dirs {
			if d == name || strings.HasPrefix(d, name+string(filepath.Separator)) {
				delete(fw.dirs, d)
			}
		}
	}
	for _, r := range fw.roots {
		if !r.covers(name) {
			continue
		}
		if name == r.dir {
			if k&(kindRemove|kindRename) != 0 {
				fw.log.Warn("watched folder went away; it is no longer watched", "path", name)
				pending.add(name, k)
				recorded = true
			}
			continue
		}
		if isDir && k&kindCreate != 0 && r.recursive && !fw.filter.Ignored(r.dir, name, true) {
			before := len(pending.paths)
			if err := fw.addTree(r, name, pending); err != nil {
				return recorded, err
			}
			recorded = recorded || len(pending.paths) != before
		}
		if fw.filter.Triggers(r.dir, name, isDir) {
			pending.add(name, k)
			recorded = true
		}
	}
	return recorded, nil
}

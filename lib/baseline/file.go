package baseline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/picketscan/picket/lib/atomicfile"
	"github.com/picketscan/picket/lib/state"
)

// Load reads the baseline at path. A missing file is reported with an
// error that wraps fs.ErrNotExist, so a first run can start from an empty
// baseline; any other problem (see Read) leaves the file untouched.
func Load(path string) (*state.Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	defer f.Close()
	b, err := Read(bufio.NewReaderSize(f, 1<<20), path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	return b, nil
}

// SaveOptions tune Save.
type SaveOptions struct {
	// Written is the time recorded in the header.
	Written string
	// HistoryDir, if set, receives a copy of each baseline written,
	// named after the baseline and the start time of its latest scan
	// (state.ndjson.20261125T170825.503112584Z), or the written time
	// when that is unknown; a second save of one scan replaces its copy.
	HistoryDir string
	// Keep is how many copies HistoryDir keeps (0: 10).
	Keep int
}

// tempPrefix starts the names of Save's temporary files, next to the
// baseline: ".state.ndjson.tmp-".
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// Save replaces the baseline at path with b atomically: it writes a
// temporary file in the same directory, syncs it, renames it over path
// and syncs the directory. A crash or a kill at any moment leaves either
// the old file or the new one, whole. Temporary files left behind by an
// earlier killed run are removed first, so Save must be called with the
// lock held (see Lock).
func Save(path string, b *state.Baseline, o SaveOptions) error {
	dir := filepath.Dir(path)
	removeStale(dir, tempPrefix(path))
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := atomicfile.CreateSynced(dir, tempPrefix(path), mode, func(w io.Writer) error { return Write(w, b, o.Written) })
	if err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if o.HistoryDir != "" {
		if err := keepHistory(tmp, path, b.Time, o); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	return nil
}

// removeStale removes temporary files of earlier runs that were killed
// between creating and renaming them.
func removeStale(dir, prefix string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// keepHistory puts a copy of the new baseline (the synced temporary file
// tmp) in the history directory and removes the oldest copies beyond
// Keep. The copy is a hard link when the directory is on the same file
// system, and an atomically written copy otherwise.
func keepHistory(tmp, path, when string, o SaveOptions) error {
	keep := o.Keep
	if keep <= 0 {
		keep = 10
	}
	if err := os.MkdirAll(o.HistoryDir, 0o700); err != nil {
		return fmt.Errorf("baseline history: %w", err)
	}
	if when == "" {
		when = o.Written
	}
	stamp := strings.NewReplacer("-", "", ":", "", "/", "").Replace(when)
	if stamp == "" {
		stamp = "undated"
	}
	base := filepath.Base(path) + "."
	dst := filepath.Join(o.HistoryDir, base+stamp)
	os.Remove(dst) // a second save of the same scan replaces the first
	if err := os.Link(tmp, dst); err != nil {
		src, err := os.Open(tmp)
		if err != nil {
			return fmt.Errorf("baseline history: %w", err)
		}
		defer src.Close()
		removeStale(o.HistoryDir, tempPrefix(dst))
		t, err := atomicfile.CreateSynced(o.HistoryDir, tempPrefix(dst), 0o600, func(w io.Writer) error { _, err := io.Copy(w, src); return err })
		if err != nil {
			return fmt.Errorf("baseline history: %w", err)
		}
		if err := os.Rename(t, dst); err != nil {
			os.Remove(t)
			return fmt.Errorf("baseline history: %w", err)
		}
	}
	if err := atomicfile.SyncDir(o.HistoryDir); err != nil {
		return fmt.Errorf("baseline history: %w", err)
	}
	ents, err := os.ReadDir(o.HistoryDir)
	if err != nil {
		return fmt.Errorf("baseline history: %w", err)
	}
	var copies []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), base) && e.Type().IsRegular() {
			copies = append(copies, e.Name())
		}
	}
	// The stamps sort as times do.
	slices.Sort(copies)
	for len(copies) > keep {
		if err := os.Remove(filepath.Join(o.HistoryDir, copies[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("baseline history: %w", err)
		}
		copies = copies[1:]
	}
	return nil
}

// Update runs fn on the baseline at path while holding its lock, and
// saves what fn returns when fn asks for it. A missing baseline is given
// to fn as an empty one with existed false; an unreadable one is an error
// and is left as it is. Runs of Update on one path take turns, so each
// sees the baseline the previous one saved.
func Update(ctx context.Context, path string, o SaveOptions, fn func(b *state.Baseline, existed bool) (next *state.Baseline, save bool, err error)) error {
	unlock, err := Lock(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	b, err := Load(path)
	existed := true
	if errors.Is(err, fs.ErrNotExist) {
		b, existed, err = state.NewBaseline(), false, nil
	}
	if err != nil {
		return err
	}
	next, save, err := fn(b, existed)
	if err != nil || !save {
		return err
	}
	return Save(path, next, o)
}

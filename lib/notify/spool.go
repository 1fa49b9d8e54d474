package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/picketscan/picket/lib/atomicfile"
)

// SentRetention is how long the spool remembers that an alert was
// delivered, so that the same input replayed within it sends nothing
// twice.
const SentRetention = 30 * 24 * time.Hour

// Spool is the durable store of alerts. An alert is written (and
// fsynced) to pending/ before the first attempt to send it; each sink's
// success is recorded in its file; when every sink has it, the file moves
// to sent/, where it records the delivery. So an
// alert survives a receiver that is down, a notify that is killed and a
// reboot, and a replay never sends it again to a sink that took it.
//
// One process uses a spool directory at a time (an flock on its lock
// file); a second waits.
type Spool struct {
	dir  string // "" for a spool in memory only
	lock *os.File
	now  func() time.Time

	mu      sync.Mutex
	pending map[string]*spoolEntry
	sent    map[string][]string // keys delivered in this process (memory spool)
}

type spoolEntry struct {
	Key   string   `json:"key"`
	Sinks []string `json:"sinks"`
	Done  []string `json:"done,omitempty"`
	Alert *Alert   `json:"alert"`
}

type sentRecord struct {
	Key   string    `json:"key"`
	Sinks []string  `json:"sinks"`
	Time  time.Time `json:"time"`
}

// Remaining returns the sinks still owed the alert.
func (e *spoolEntry) remaining() []string {
	var out []string
	for _, s := range e.Sinks {
		if !slices.Contains(e.Done, s) {
			out = append(out, s)
		}
	}
	return out
}

// OpenSpool opens (creating it if needed) the spool in dir, waiting while
// another process holds it. An empty dir gives a spool in memory only,
// which keeps the idempotency within one run but survives nothing.
func OpenSpool(ctx context.Context, dir string, now func() time.Time, log *slog.Logger) (*Spool, error) {
	if now == nil {
		now = time.Now
	}
	s := &Spool{dir: dir, now: now, pending: map[string]*spoolEntry{}, sent: map[string][]string{}}
	if dir == "" {
		return s, nil
	}
	for _, d := range []string{dir, filepath.Join(dir, "pending"), filepath.Join(dir, "sent"), filepath.Join(dir, "collect")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	warned := false
	for {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			lock.Close()
			return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
		}
		if !warned && log != nil {
			log.Warn("spool in use by another notify; waiting", "spool", dir)
			warned = true
		}
		select {
		case <-ctx.Done():
			lock.Close()
			return nil, context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.lock = lock
	if err := s.load(log); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the spool.
func (s *Spool) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing drops the flock
	s.lock = nil
	return err
}

// Dir returns the spool directory ("" in memory).
func (s *Spool) Dir() string { return s.dir }

func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]) + ".json"
}

// load reads the pending alerts and prunes old delivery records. A
// pending alert that also has a delivery record (notify stopped between
// writing one and removing the other) takes the record's sinks as done.
func (s *Spool) load(log *slog.Logger) error {
	pdir := filepath.Join(s.dir, "pending")
	names, err := os.ReadDir(pdir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, de := range names {
		name := de.Name()
		path := filepath.Join(pdir, name)
		if strings.HasPrefix(name, ".tmp") {
			os.Remove(path) // a write that never finished
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		var e spoolEntry
		if err := json.Unmarshal(data, &e); err != nil || e.Alert == nil || e.Key == "" {
			if log != nil {
				log.Warn("spool: unreadable alert file moved aside", "file", path)
			}
			os.Rename(path, path+".bad")
			continue
		}
		if rec, ok := s.readSent(e.Key); ok {
			for _, sk := range rec.Sinks {
				if !slices.Contains(e.Done, sk) {
					e.Done = append(e.Done, sk)
				}
			}
		}
		if len(e.remaining()) == 0 {
			if err := s.finish(&e); err != nil {
				return err
			}
			continue
		}
		s.pending[e.Key] = &e
	}
	if err := s.recoverCollected(log); err != nil {
		return err
	}
	sdir := filepath.Join(s.dir, "sent")
	sents, err := os.ReadDir(sdir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, de := range sents {
		info, err := de.Info()
		if err == nil && s.now().Sub(info.ModTime()) > SentRetention {
			os.Remove(filepath.Join(sdir, de.Name()))
		}
	}
	return nil
}

func (s *Spool) readSent(key string) (sentRecord, bool) {
	if s.dir == "" {
		sinks, ok := s.sent[key]
		return sentRecord{Key: key, Sinks: sinks}, ok
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "sent", fileName(key)))
	if err != nil {
		return sentRecord{}, false
	}
	// Either a sentRecord or a finished spoolEntry: both carry the key
	// and the sinks that have the alert.
	var r sentRecord
	if json.Unmarshal(data, &r) != nil || r.Key != key {
		return sentRecord{}, false
	}
	return r, true
}

// Add stores a for the named sinks and returns the sinks that still need
// it: none when every one of them already took it (in this run or an
// earlier one), only the missing ones when it is already pending. The
// alert is on disk, fsynced, when Add returns.
func (s *Spool) Add(a *Alert, sinks []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.pending[a.Key]; ok {
		changed := false
		for _, sk := range sinks {
			if !slices.Contains(e.Sinks, sk) {
				e.Sinks = append(e.Sinks, sk)
				changed = true
			}
		}
		if changed {
			if err := s.write(e); err != nil {
				return nil, err
			}
		}
		return intersect(e.remaining(), sinks), nil
	}
	var done []string
	if rec, ok := s.readSent(a.Key); ok {
		done = rec.Sinks
	}
	var need []string
	for _, sk := range sinks {
		if !slices.Contains(done, sk) {
			need = append(need, sk)
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	e := &spoolEntry{Key: a.Key, Sinks: slices.Clone(sinks), Done: intersect(done, sinks), Alert: a}
	if err := s.write(e); err != nil {
		return nil, err
	}
	s.pending[a.Key] = e
	return need, nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Delivered records that sink took the alert with key. When every sink
// has it, the alert leaves the spool and a delivery record stays.
func (s *Spool) Delivered(key, sink string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pending[key]
	if !ok {
		return fmt.Errorf("spool: no pending alert %s", key)
	}
	if !slices.Contains(e.Done, sink) {
		e.Done = append(e.Done, sink)
	}
	if len(e.remaining()) > 0 {
		return s.write(e)
	}
	delete(s.pending, key)
	return s.finish(e)
}

// finish writes the delivery record of e and removes its pending file.
func (s *Spool) finish(e *spoolEntry) error {
	if s.dir == "" {
		s.sent[e.Key] = slices.Clone(e.Done)
		return nil
	}
	pending := filepath.Join(s.dir, "pending", fileName(e.Key))
	sdir := filepath.Join(s.dir, "sent")
	old, hadRecord := s.readSent(e.Key)
	if !hadRecord {
		// The common case costs one fsync: the pending file itself
		// becomes the record (a file in sent/ means every sink it
		// names has the alert). A rename is atomic; if a crash loses
		// the removal from pending/, the next load finishes it again.
		err := os.Rename(pending, filepath.Join(sdir, fileName(e.Key)))
		if err == nil {
			now := s.now()
			os.Chtimes(filepath.Join(sdir, fileName(e.Key)), now, now) // retention counts from delivery
			return syncDir(sdir)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("spool: %w", err)
		}
	}
	rec := sentRecord{Key: e.Key, Sinks: e.Done, Time: s.now().UTC()}
	if hadRecord {
		for _, sk := range old.Sinks {
			if !slices.Contains(rec.Sinks, sk) {
				rec.Sinks = append(rec.Sinks, sk)
			}
		}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := writeSync(sdir, fileName(e.Key), data); err != nil {
		return err
	}
	// The removal needs no fsync of its own: if a crash undoes it, the
	// next load finds the delivery record and finishes the alert then.
	if err := os.Remove(pending); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func (s *Spool) write(e *spoolEntry) error {
	if s.dir == "" {
		return nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("spool: encode alert %s: %w", e.Key, err)
	}
	return writeSync(filepath.Join(s.dir, "pending"), fileName(e.Key), data)
}

// Pending lists the alerts still owed to some sink, oldest first, with
// the sinks that still need each.
func (s *Spool) Pending() []PendingAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PendingAlert, 0, len(s.pending))
	for _, e := range s.pending {
		out = append(out, PendingAlert{Alert: e.Alert, Sinks: e.remaining()})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Alert.Created.Equal(out[j].Alert.Created) {
			return out[i].Alert.Created.Before(out[j].Alert.Created)
		}
		return out[i].Alert.Key < out[j].Alert.Key
	})
	return out
}

// PendingAlert is an alert in the spool and the sinks still owed it.
type PendingAlert struct {
	Alert *Alert
	Sinks []string
}

// writeSync writes data to dir/name atomically and durably: a temporary
// file, fsync, rename, fsync of the directory.
func writeSync(dir, name string, data []byte) error {
	err := atomicfile.Replace(dir, name, ".tmp-", 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("spool: write %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("spool: sync %s: %w", dir, err)
	}
	return nil
}

// collectRecord is one line of a digest being gathered.
type collectRecord struct {
	Key    string          `json:"key"`
	ScanID string          `json:"scan_id"`
	Scope  string          `json:"scope,omitempty"`
	Sinks  []string        `json:"sinks"`
	Change json.RawMessage `json:"change"`
}

// Collect durably notes one change of a digest that is still being
// gathered (its scan has not ended), so that a notify killed before the
// scan's end loses nothing: the next open turns what was gathered into a
// digest marked incomplete. Collected ends the note once the digest
// itself is in the spool.
func (s *Spool) Collect(key, scanID, scope string, sinks []string, change json.RawMessage) error {
	if s.dir == "" {
		return nil
	}
	line, err := json.Marshal(collectRecord{Key: key, ScanID: scanID, Scope: scope, Sinks: sinks, Change: change})
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	dir := filepath.Join(s.dir, "collect")
	path := filepath.Join(dir, strings.TrimSuffix(fileName(key), ".json")+".ndjson")
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: collect %s: %w", key, err)
	}
	if statErr != nil {
		return syncDir(dir)
	}
	return nil
}

// Collected removes the notes of the digest with key, now spooled whole.
func (s *Spool) Collected(key string) error {
	if s.dir == "" {
		return nil
	}
	path := filepath.Join(s.dir, "collect", strings.TrimSuffix(fileName(key), ".json")+".ndjson")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// recoverCollected turns the notes of digests that a stopped notify was
// gathering into pending digests, marked incomplete.
func (s *Spool) recoverCollected(log *slog.Logger) error {
	dir := filepath.Join(s.dir, "collect")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, de := range ents {
		path := filepath.Join(dir, de.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		var a *Alert
		var sinks []string
		seen := map[string]bool{}
		for _, line := range strings.Split(string(data), "\n") {
			var r collectRecord
			if json.Unmarshal([]byte(line), &r) != nil || r.Key == "" {
				continue // a line cut short by the crash
			}
			if a == nil {
				a = &Alert{Key: r.Key, ScanID: r.ScanID, Scope: r.Scope, Digest: true, Incomplete: true, Created: s.now().UTC()}
			}
			if !seen[string(r.Change)] {
				seen[string(r.Change)] = true
				a.Changes = append(a.Changes, r.Change)
			}
			for _, sk := range r.Sinks {
				if !slices.Contains(sinks, sk) {
					sinks = append(sinks, sk)
				}
			}
		}
		if a != nil {
			if _, pending := s.pending[a.Key]; !pending {
				items := a.Items()
				sortByHost(items)
				a.Changes = a.Changes[:0]
				for _, it := range items {
					a.Changes = append(a.Changes, it.Raw)
				}
				if _, err := s.Add(a, sinks); err != nil {
					return err
				}
				if log != nil {
					log.Warn("spool: a digest interrupted before its scan ended is kept, marked incomplete", "key", a.Key, "changes", len(a.Changes))
				}
			}
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

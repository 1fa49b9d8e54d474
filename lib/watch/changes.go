package watch

import (
	"slices"

	"github.com/fsnotify/fsnotify"

	"github.com/picketscan/picket/lib/event"
)

// Bounds on what one batch of changes holds: the distinct paths kept in
// memory, and the paths listed in a run event. Paths past the first bound
// are only counted; a run is still triggered for them.
const (
	maxPendingPaths = 10000
	maxListedPaths  = 100
)

// kind is a set of change kinds of one path.
type kind uint8

const (
	kindCreate kind = 1 << iota
	kindWrite
	kindRemove
	kindRename
	kindChmod
	kindOverflow
)

var kindNames = []struct {
	k    kind
	name string
}{
	{kindCreate, event.PathCreate},
	{kindWrite, event.PathWrite},
	{kindRemove, event.PathRemove},
	{kindRename, event.PathRename},
	{kindChmod, event.PathChmod},
	{kindOverflow, event.PathOverflow},
}

// kindOf maps fsnotify's operations to change kinds.
func kindOf(op fsnotify.Op) kind {
	var k kind
	if op.Has(fsnotify.Create) {
		k |= kindCreate
	}
	if op.Has(fsnotify.Write) {
		k |= kindWrite
	}
	if op.Has(fsnotify.Remove) {
		k |= kindRemove
	}
	if op.Has(fsnotify.Rename) {
		k |= kindRename
	}
	if op.Has(fsnotify.Chmod) {
		k |= kindChmod
	}
	return k
}

func (k kind) names() []string {
	var out []string
	for _, kn := range kindNames {
		if k&kn.k != 0 {
			out = append(out, kn.name)
		}
	}
	return out
}

// changeSet collects changed paths and their kinds between two runs.
type changeSet struct {
	paths map[string]kind
	more  int // distinct paths not kept, past maxPendingPaths
}

func newChangeSet() *changeSet { return &changeSet{paths: map[string]kind{}} }

func (c *changeSet) empty() bool { return len(c.paths) == 0 && c.more == 0 }

// add records kind k on path p.
func (c *changeSet) add(p string, k kind) {
	if k == 0 {
		return
	}
	if old, ok := c.paths[p]; ok || len(c.paths) < maxPendingPaths {
		c.paths[p] = old | k
		return
	}
	c.more++
}

// merge adds every change of o to c.
func (c *changeSet) merge(o *changeSet) {
	for p, k := range o.paths {
		c.add(p, k)
	}
	c.more += o.more
}

// trigger is why a run starts: changed files, the schedule, the start of
// watch, or several of these gathered while a run was busy.
type trigger struct {
	files    *changeSet
	interval bool
	initial  bool
}

// merge adds o's reasons to t.
func (t *trigger) merge(o trigger) {
	t.interval = t.interval || o.interval
	t.initial = t.initial || o.initial
	if o.files != nil {
		if t.files == nil {
			t.files = newChangeSet()
		}
		t.files.merge(o.files)
	}
}

// event renders t for a run event: the kind, and the changed paths in
// sorted order, at most maxListedPaths of them.
func (t trigger) event() event.RunTrigger {
	var rt event.RunTrigger
	switch {
	case t.files != nil && !t.files.empty():
		rt.Kind = event.TriggerFiles
	case t.interval:
		rt.Kind = event.TriggerInterval
	default:
		rt.Kind = event.TriggerInitial
	}
	if t.files == nil {
		return rt
	}
	paths := make([]string, 0, len(t.files.paths))
	for p := range t.files.paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if len(paths) > maxListedPaths {
		rt.MorePaths = len(paths) - maxListedPaths
		paths = paths[:maxListedPaths]
	}
	rt.MorePaths += t.files.more
	for _, p := range paths {
		rt.Paths = append(rt.Paths, event.PathChange{Path: p, Kinds: t.files.paths[p].names()})
	}
	return rt
}

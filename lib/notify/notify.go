package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"golang.org/x/time/rate"

	"github.com/picketscan/picket/lib/event"
)

// DigestMode says when changes are gathered into one message per scan.
type DigestMode int

const (
	// DigestAuto digests the changes of scans whose start marker is in
	// the stream and sends other changes one by one.
	DigestAuto DigestMode = iota
	// DigestOn digests every change by scan id, sending at the scan's end
	// or at the end of the input.
	DigestOn
	// DigestOff sends every change on its own.
	DigestOff
)

// Route is one sink with its own filter, timeout and rate limit.
type Route struct {
	Sink Sink
	// Filter selects the changes for this sink, on top of Config.Where.
	Filter *Filter
	// Timeout bounds each attempt (0: DefaultTimeout).
	Timeout time.Duration
	// Limit spaces the attempts to this sink (nil: no limit).
	Limit *rate.Limiter
}

// DefaultTimeout bounds one delivery attempt when a route sets none.
const DefaultTimeout = 15 * time.Second

// Retry is the retry policy: exponential backoff from Base, doubling up
// to Max, with full jitter, for at most Budget per alert and sink. A
// receiver's Retry-After lengthens a wait.
type Retry struct {
	Base, Max, Budget time.Duration
}

// DefaultRetry tries for two minutes, waiting 0.5 s, 1 s, 2 s … 30 s.
var DefaultRetry = Retry{Base: 500 * time.Millisecond, Max: 30 * time.Second, Budget: 2 * time.Minute}

// Config configures Run.
type Config struct {
	Routes []Route
	// Where selects the events that make alerts (nil: every change).
	Where  *Filter
	Digest DigestMode
	// Spool stores alerts until every sink has them. Required.
	Spool *Spool
	Retry Retry
	// Tee, if not nil, receives every input line unchanged, as read.
	Tee *event.Writer
	Log *slog.Logger
	Now func() time.Time
}

// Report counts what a run did.
type Report struct {
	// Alerts is the number of alerts made from the input.
	Alerts int
	// Duplicates were alerts already delivered (or already queued).
	Duplicates int
	// Delivered counts deliveries (alert × sink) that succeeded.
	Delivered int
	// Undelivered counts deliveries left in the spool.
	Undelivered int
}

// ErrUndelivered is returned (wrapped) when some alert is still owed to
// some sink at the end of a run. With a spool on disk it is kept there
// for the next run.
var ErrUndelivered = errors.New("alerts not delivered")

// Run reads events by calling read with a handler for each line, turns
// change events into alerts, spools them and delivers them, after first
// queueing what the spool still holds from earlier runs. A nil read
// delivers the spool alone (--flush). It returns when every alert was
// delivered or given up on (left in the spool), or when ctx ends.
func Run(ctx context.Context, cfg Config, read func(func(event.Line) error) error) (Report, error) {
	if cfg.Spool == nil {
		return Report{}, errors.New("notify: no spool")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Retry == (Retry{}) {
		cfg.Retry = DefaultRetry
	}
	names := map[string]bool{}
	for _, r := range cfg.Routes {
		if names[r.Sink.Name()] {
			return Report{}, fmt.Errorf("notify: two sinks named %q", r.Sink.Name())
		}
		names[r.Sink.Name()] = true
	}
	d := &dispatcher{cfg: cfg, queued: map[string]bool{}, scans: map[string]*scanState{}}
	d.start(ctx)
	for _, p := range cfg.Spool.Pending() {
		d.enqueue(p.Alert, p.Sinks)
	}
	var rerr error
	if read != nil {
		rerr = read(func(l event.Line) error {
			if cfg.Tee != nil {
				if err := cfg.Tee.WriteLine(l.Raw); err != nil {
					return err
				}
				if err := cfg.Tee.Flush(); err != nil {
					return err
				}
			}
			return d.handle(l)
		})
		if rerr == nil {
			rerr = d.endOfInput()
		}
	}
	d.stop()
	rep := d.report()
	if rerr != nil {
		return rep, rerr
	}
	if err := context.Cause(ctx); err != nil {
		return rep, err
	}
	if rep.Undelivered > 0 {
		where := "in the spool " + cfg.Spool.Dir()
		if cfg.Spool.Dir() == "" {
			where = "and lost (no spool)"
		}
		return rep, fmt.Errorf("%w: %d of %d deliveries failed; kept %s", ErrUndelivered, rep.Undelivered, rep.Undelivered+rep.Delivered, where)
	}
	return rep, nil
}

type scanState struct {
	scope  scopeNames
	groups map[string]*digestGroup // by route filter
	order  []string
	// ended is set by the scan's end marker; complete is what it said.
	// The digest waits past the marker because ndiff writes its change
	// events after the scan's lines, end marker included.
	ended, complete bool
	// unmarked is a scan gathered by --digest with no start marker in
	// the input (ndiff's changes from Nmap XML): nothing tells whether
	// it ended, so its digest is not called incomplete.
	unmarked bool
}

type digestGroup struct {
	sinks   []string
	changes []json.RawMessage
}

// dispatcher owns the alerts of one run: the producer side (handle) runs
// on the reading goroutine; one worker per route delivers.
type dispatcher struct {
	cfg     Config
	workers []*worker
	wg      sync.WaitGroup
	queued  map[string]bool // key + "\x00" + sink, queued in this run
	scans   map[string]*scanState
	alerts  int
	dups    int
	mu      sync.Mutex
	counts  Report
}

func (d *dispatcher) start(ctx context.Context) {
	for i := range d.cfg.Routes {
		w := &worker{d: d, route: &d.cfg.Routes[i], wake: make(chan struct{}, 1)}
		d.workers = append(d.workers, w)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			w.run(ctx)
		}()
	}
}

// stop tells the workers that no more alerts come and waits for them.
func (d *dispatcher) stop() {
	for _, w := range d.workers {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		w.signal()
	}
	d.wg.Wait()
}

func (d *dispatcher) report() Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.counts
	r.Alerts, r.Duplicates = d.alerts, d.dups
	return r
}

func (d *dispatcher) count(delivered bool) {
	d.mu.Lock()
	if delivered {
		d.counts.Delivered++
	} else {
		d.counts.Undelivered++
	}
	d.mu.Unlock()
}

func (d *dispatcher) workerFor(name string) *worker {
	for _, w := range d.workers {
		if w.route.Sink.Name() == name {
			return w
		}
	}
	return nil
}

// enqueue hands a to the workers of the named sinks, once per run.
func (d *dispatcher) enqueue(a *Alert, sinks []string) {
	for _, s := range sinks {
		if d.queued[a.Key+"\x00"+s] {
			continue
		}
		d.queued[a.Key+"\x00"+s] = true
		w := d.workerFor(s)
		if w == nil {
			d.cfg.Log.Warn("spooled alert for a sink that is not configured; kept", "sink", s, "key", a.Key)
			d.count(false)
			continue
		}
		w.push(a)
	}
}

// submit spools a new alert for the sinks and queues it.
func (d *dispatcher) submit(a *Alert, sinks []string) error {
	if len(sinks) == 0 {
		return nil
	}
	d.alerts++
	need, err := d.cfg.Spool.Add(a, sinks)
	if err != nil {
		return err
	}
	fresh := 0
	for _, s := range need {
		if !d.queued[a.Key+"\x00"+s] {
			fresh++
		}
	}
	if fresh == 0 {
		d.dups++
		d.cfg.Log.Debug("alert already delivered or queued; not sent again", "key", a.Key)
		return nil
	}
	d.enqueue(a, need)
	return nil
}

// matching returns the names of the routes whose filter passes raw.
func (d *dispatcher) matching(raw []byte) []string {
	var out []string
	for _, r := range d.cfg.Routes {
		if r.Filter.Match(raw) {
			out = append(out, r.Sink.Name())
		}
	}
	return out
}

func (d *dispatcher) handle(l event.Line) error {
	switch l.Type {
	case event.TypeScan:
		id := l.Get("scan_id").String()
		switch l.Get("phase").String() {
		case event.PhaseStart:
			// A new scan begins: the digests of scans that ended go out.
			if err := d.sendEnded(id); err != nil {
				return err
			}
			if d.cfg.Digest != DigestOff && id != "" {
				if _, ok := d.scans[id]; !ok {
					st := &scanState{groups: map[string]*digestGroup{}}
					st.scope.add(l.Get("scope.targets"))
					d.scans[id] = st
				}
			}
		case event.PhaseEnd:
			if st, ok := d.scans[id]; ok {
				st.ended, st.complete = true, l.Get("complete").Bool()
			}
		}
		return nil
	case event.TypeScope:
		// A long scope goes on in scope events: they count in the
		// digest's title.
		if st, ok := d.scans[l.Get("scan_id").String()]; ok {
			st.scope.add(l.Get("targets"))
		}
		return nil
	case event.TypeChange:
	default:
		return nil
	}
	if !d.cfg.Where.Match(l.Raw) {
		return nil
	}
	sinks := d.matching(l.Raw)
	if len(sinks) == 0 {
		return nil
	}
	raw := json.RawMessage(l.Raw)
	id := l.Get("scan_id").String()
	st, ok := d.scans[id]
	if !ok && d.cfg.Digest == DigestOn {
		st = &scanState{groups: map[string]*digestGroup{}, unmarked: true}
		d.scans[id] = st
		ok = true
	}
	if ok {
		// The change joins the digest of each distinct filter that passes
		// it, and is noted once per digest in the spool.
		names := map[string][]string{}
		var order []string
		for _, r := range d.cfg.Routes {
			if !r.Filter.Match(l.Raw) {
				continue
			}
			k := r.Filter.String()
			if _, seen := names[k]; !seen {
				order = append(order, k)
			}
			names[k] = append(names[k], r.Sink.Name())
		}
		for _, k := range order {
			g := st.groups[k]
			if g == nil {
				g = &digestGroup{}
				st.groups[k] = g
				st.order = append(st.order, k)
			}
			g.changes = append(g.changes, raw)
			for _, n := range names[k] {
				if !slices.Contains(g.sinks, n) {
					g.sinks = append(g.sinks, n)
				}
			}
			if err := d.cfg.Spool.Collect(DigestKey(id, k), id, st.scope.String(), names[k], raw); err != nil {
				return err
			}
		}
		return nil
	}
	a := &Alert{Key: ChangeKey(l.Raw), ScanID: id, Created: d.cfg.Now().UTC(), Changes: []json.RawMessage{raw}}
	return d.submit(a, sinks)
}

// sendDigest makes one alert per distinct route filter of the scan.
func (d *dispatcher) sendDigest(id string, st *scanState, incomplete bool) error {
	for _, k := range st.order {
		g := st.groups[k]
		a := &Alert{
			Key: DigestKey(id, k), ScanID: id, Digest: true, Scope: st.scope.String(),
			Incomplete: incomplete, Created: d.cfg.Now().UTC(), Changes: g.changes,
		}
		items := a.Items()
		sortByHost(items)
		a.Changes = a.Changes[:0:0]
		for _, it := range items {
			a.Changes = append(a.Changes, it.Raw)
		}
		if err := d.submit(a, g.sinks); err != nil {
			return err
		}
		if err := d.cfg.Spool.Collected(a.Key); err != nil {
			return err
		}
	}
	return nil
}

// sendEnded sends the digests of the scans whose end marker has been
// read, except scan keep (a shard of it may follow).
func (d *dispatcher) sendEnded(keep string) error {
	ids := make([]string, 0, len(d.scans))
	for id, st := range d.scans {
		if st.ended && id != keep {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := d.sendDigest(id, d.scans[id], !d.scans[id].complete); err != nil {
			return err
		}
		delete(d.scans, id)
	}
	return nil
}

// endOfInput sends the digests still held: those of ended scans as their
// end marker said, those whose end never came marked incomplete.
func (d *dispatcher) endOfInput() error {
	ids := make([]string, 0, len(d.scans))
	for id := range d.scans {
		ids = append(ids, id)
	}
	// Deterministic order for the spool and for tests.
	slices.Sort(ids)
	for _, id := range ids {
		st := d.scans[id]
		if err := d.sendDigest(id, st, !st.unmarked && !(st.ended && st.complete)); err != nil {
			return err
		}
		delete(d.scans, id)
	}
	return nil
}

// scopeNames is what a digest's title says the scan covered: its first
// three targets and how many more the scope (with its continuation
// events) lists.
type scopeNames struct {
	first []string
	total int
}

func (n *scopeNames) add(targets gjson.Result) {
	targets.ForEach(func(_, t gjson.Result) bool {
		if len(n.first) < 3 {
			n.first = append(n.first, t.String())
		}
		n.total++
		return true
	})
}

func (n scopeNames) String() string {
	s := strings.Join(n.first, ", ")
	if more := n.total - len(n.first); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// Package scan is Picket's scan engine: it walks the targets in a
// shuffled order, probes their ports through a probe Method (see
// method.go; one package per method under lib/scan/), and writes scan,
// host and port events.
//
// The engine owns everything that does not depend on how a probe is
// made: the probe order (a keyed permutation of the hosts, and of each
// host's ports), the global concurrency and --rate, per-host timing
// (RTT-based timeouts, a congestion window, slowing down for hosts that
// drop probes sent fast), retries, stopping, event writing and
// statistics. A host's host event is always written before its port
// events.
package scan

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/targets"
)

// Targets is the target list a scan walks; *targets.Set provides it.
type Targets interface {
	Len() uint64
	At(i uint64) targets.Target
	Excluded(a netip.Addr) bool
	All() iter.Seq[targets.Target]
}

// AddrResolver looks up the names of an address; *net.Resolver provides
// it.
type AddrResolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Config is everything one scan needs. The caller builds the target and
// port lists, the methods and the output; Run owns nothing else.
type Config struct {
	Targets Targets
	// Ports are the ports to scan; Method probes those of its protocol.
	Ports  ports.List
	Method Method

	// Discovery, if set, pings every target first (on DiscoveryPorts,
	// by default DefaultDiscoveryPorts) and only the hosts that answer are
	// scanned. Without it every target is treated as up, as Nmap's -Pn
	// does.
	Discovery      Method
	DiscoveryPorts []uint16
	// Names looks up the names of hosts found up; nil skips reverse DNS.
	Names       AddrResolver
	NameTimeout time.Duration

	Concurrency int     // probes in flight at once
	Rate        float64 // probes per second for the whole scan; 0 is unlimited
	// MinRate is the least probes per second of the port scan, sent
	// past the hosts' congestion windows and Concurrency when need be,
	// up to MaxInFlight probes in flight; 0 is none.
	MinRate     float64
	MaxInFlight int
	Retries     int     // most extra probes sent to a port that did not answer
	Timing      *Timing // nil means DefaultTiming()
	AllStates   bool    // write closed and filtered ports (and down hosts) too
	Seed        uint64  // shuffles the probe order
	PingOnly    bool    // stop after discovery: host events only

	Out    *event.Writer
	Log    *slog.Logger
	Now    func() time.Time
	ScanID string
	Tool   event.Tool
	Scope  event.Scope

	// Progress, if set, is called about every ProgressEvery from a
	// goroutine of Run's, and once more at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// DefaultDiscoveryPorts are the ports a host is pinged on: Nmap's
// unprivileged ping. They are listed here only.
func DefaultDiscoveryPorts() []uint16 { return []uint16{80, 443} }

// DiscoveryName describes discovery with ports in the scan scope, e.g.
// "tcp-connect:80,443".
func DiscoveryName(method string, ports []uint16) string {
	s := "tcp-" + method + ":"
	for i, p := range ports {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(p)
	}
	return s
}

// Progress is a snapshot of a running scan for a progress display.
type Progress struct {
	Phase   string // "discovery" or "ports"
	Done    uint64 // ports settled in this phase
	Total   uint64 // ports planned in this phase (before exclusions)
	Open    uint64
	Elapsed time.Duration
	Final   bool
}

// ErrTooLarge is returned when targets × ports does not fit the scan's
// 64-bit index.
var ErrTooLarge = errors.New("targets × ports is too large to scan")

// Run performs the scan and writes its events to cfg.Out: scan start,
// host events each followed by its port events, scan end. It returns the
// statistics written in the end event. When ctx is cancelled it sends
// nothing more, gives up on the probes in flight, writes what it found
// and the end event, with complete false. A write error (such as a
// closed stdout) stops the scan and is returned.
func Run(ctx context.Context, cfg Config) (event.Stats, error) {
	s, err := newScanner(cfg)
	if err != nil {
		return event.Stats{}, err
	}
	return s.run(ctx)
}

type scanner struct {
	cfg    Config
	timing Timing
	start  time.Time
	out    *output

	probes, retries        atomic.Uint64
	open, closed, filtered atomic.Uint64
	errs                   atomic.Uint64
	throttled, gaveUp      atomic.Uint64
	hostsUp                atomic.Uint64
	nameTimeouts           atomic.Int32 // reverse lookups in a row that timed out
	// Progress: probes settled and planned in each phase, and whether
	// discovery still runs.
	discDone, discTotal atomic.Uint64
	portDone, portTotal atomic.Uint64
	discovering         atomic.Bool

	hostsTotal, excluded uint64 // counted by the host sources under the engine's lock
}

func newScanner(cfg Config) (*scanner, error) {
	if cfg.Targets == nil || cfg.Method == nil || cfg.Out == nil {
		return nil, errors.New("scan: targets, method and output are required")
	}
	if len(cfg.Ports.Ports(cfg.Method.Proto())) == 0 {
		return nil, fmt.Errorf("no %v ports to scan", cfg.Method.Proto())
	}
	cfg.Concurrency = max(1, cfg.Concurrency)
	cfg.Retries = min(max(0, cfg.Retries), 100)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.NameTimeout <= 0 {
		cfg.NameTimeout = 2 * time.Second
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	if len(cfg.DiscoveryPorts) == 0 {
		cfg.DiscoveryPorts = DefaultDiscoveryPorts()
	}
	s := &scanner{cfg: cfg, timing: DefaultTiming()}
	if cfg.Timing != nil {
		s.timing = *cfg.Timing
	}
	return s, nil
}

func (s *scanner) run(parent context.Context) (event.Stats, error) {
	// ctx ends on the caller's cancellation or on a write error; the
	// cause tells which.
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	s.start = s.cfg.Now()
	s.out = newOutput(s.cfg.Out, cancel)

	seed := s.cfg.Seed
	s.sendStart(&event.ScanStart{
		Type: event.TypeScan, Time: event.FormatTime(s.start), ScanID: s.cfg.ScanID,
		Phase: event.PhaseStart, Tool: s.cfg.Tool, Schema: event.SchemaVersion, Scope: s.cfg.Scope,
		Seed: &seed,
	})

	stopProgress := s.startProgress()
	bucket := newBucket(s.cfg.Rate)
	all := newTargetSource(s, s.cfg.Targets, s.cfg.Seed)
	switch {
	case s.cfg.Discovery == nil:
		s.portTotal.Store(uint64(len(s.cfg.Ports.Ports(s.cfg.Method.Proto()))) * all.Len())
		s.scanPorts(ctx, all, nil, bucket)
	case s.cfg.PingOnly:
		s.discover(ctx, all, nil, bucket)
	default:
		s.discoverAndScan(ctx, all, bucket)
	}
	stopProgress()

	stats := s.stats()
	end := &event.ScanEnd{
		Type: event.TypeScan, Time: event.FormatTime(s.cfg.Now()), ScanID: s.cfg.ScanID,
		Phase: event.PhaseEnd, Complete: ctx.Err() == nil && stats.Errors == 0, Stats: stats,
	}
	if ctx.Err() != nil {
		end.Interrupted = interruptName(ctx)
	}
	s.out.send(end)
	if werr := s.out.close(); werr != nil {
		return stats, werr
	}
	return stats, nil
}

// interruptName says what stopped the scan, as recorded in the end event:
// the signal's name when the cause carries one, else the cause's text.
func interruptName(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause.Error()
	}
	return "cancelled"
}

func (s *scanner) stats() event.Stats {
	return event.Stats{
		HostsTotal:     s.hostsTotal,
		HostsUp:        s.hostsUp.Load(),
		Excluded:       s.excluded,
		Probes:         s.probes.Load(),
		Retries:        s.retries.Load(),
		Open:           s.open.Load(),
		Closed:         s.closed.Load(),
		Filtered:       s.filtered.Load(),
		Errors:         s.errs.Load(),
		HostsThrottled: s.throttled.Load(),
		HostsGaveUp:    s.gaveUp.Load(),
		ElapsedMS:      math.Round(float64(s.cfg.Now().Sub(s.start).Microseconds())) / 1000,
	}
}

// host is one address a phase probes.
type host struct {
	addr  netip.Addr
	name  string // the name the target was given as, if any
	index uint64 // its index in the target list, which keys its port order
	// ping is the answer that showed the host up in discovery, if any.
	ping *Result
}

// phaseBase is what both phases share; done counts the phase's settled
// probes for progress.
func (s *scanner) phaseBase(ctx context.Context, m Method, portList []uint16, src hostSource, b *bucket, done *atomic.Uint64) phase {
	return phase{
		method:  m,
		ports:   portList,
		source:  src,
		timing:  &s.timing,
		retries: s.cfg.Retries,
		conc:    s.cfg.Concurrency,
		bucket:  b,
		seed:    s.cfg.Seed,
		onSend: func(retry bool) {
			s.probes.Add(1)
			if retry {
				s.retries.Add(1)
			}
		},
		onError: func(dst netip.AddrPort, err error) {
			if ctx.Err() == nil {
				s.noteError(dst, err)
			}
		},
		onDone: func() { done.Add(1) },
	}
}

// scanPorts probes every port of every host in hosts; kick wakes it
// when a source that had no host has one again.
func (s *scanner) scanPorts(ctx context.Context, hosts hostSource, kick <-chan struct{}, b *bucket) {
	portList := s.cfg.Ports.Ports(s.cfg.Method.Proto())
	p := s.phaseBase(ctx, s.cfg.Method, portList, hosts, b, &s.portDone)
	p.mode = modePorts
	p.kick = kick
	p.minRate, p.hardFlight = s.cfg.MinRate, max(s.cfg.Concurrency, s.cfg.MaxInFlight)
	if sh := s.cfg.Scope.Shard; sh != nil && sh.Count > 1 {
		p.shard, p.shards = uint64(sh.Index-1), uint64(sh.Count)
	}
	// Enough hosts at once to keep every probe slot busy, but no more
	// than a million ports' state in memory.
	p.maxActive = max(1, min(s.cfg.Concurrency, (1<<20)/len(portList)))
	p.start = func(h *hostState) {
		if h.ping != nil {
			h.t.seed(h.ping.RTT)
		}
	}
	p.finish = func(e *engine, h *hostState) { s.writeHost(ctx, h.host, &hostResults{e: e, h: h}) }
	if err := p.run(ctx); err != nil {
		s.errs.Add(1)
		s.cfg.Log.Error(err.Error())
	}
}

// hostResults are a finished host's port results.
type hostResults struct {
	e *engine
	h *hostState
}

// writeHost writes a host's event and then its port events. r is nil
// for a host found up whose ports were never probed.
func (s *scanner) writeHost(ctx context.Context, h host, r *hostResults) {
	up, why := h.ping != nil, Result{}
	if up {
		why = *h.ping
	}
	throttle := ""
	if r != nil {
		switch r.h.t.throttle {
		case ThrottleSlowed:
			s.throttled.Add(1)
		case ThrottleGaveUp:
			s.gaveUp.Add(1)
		}
		throttle = r.h.t.throttle
		for pi := range r.h.ports {
			if res, ok := r.h.result(pi); ok {
				s.count(res)
			}
		}
		if !up && r.h.up {
			up, why = true, r.h.upWhy
			s.hostsUp.Add(1)
		}
		if !up {
			why = r.h.best
		}
	}
	if !up && !s.cfg.AllStates {
		return
	}
	ev := s.hostEvent(h, why, up)
	ev.Throttle = throttle
	if up && ev.Hostname == "" {
		ev.Hostname = s.reverseName(ctx, h.addr)
	}
	s.out.send(ev)
	if r == nil {
		return
	}
	for pi, port := range r.h.ports {
		res, ok := r.h.result(pi)
		if ok && (res.State == StateOpen || s.cfg.AllStates) {
			s.out.send(s.portEvent(h, port, res))
		}
	}
}

// noteError counts a probe that ended without a result and logs the
// first few, so a broken setup is visible without flooding stderr.
func (s *scanner) noteError(dst netip.AddrPort, err error) {
	n := s.errs.Add(1)
	switch {
	case n <= 5:
		s.cfg.Log.Warn("probe failed", "target", dst.String(), "err", err.Error())
	case n == 6:
		s.cfg.Log.Warn("more probes failed; the scan end event counts them")
	}
}

func (s *scanner) count(r Result) {
	switch r.State {
	case StateOpen:
		s.open.Add(1)
	case StateClosed:
		s.closed.Add(1)
	default:
		s.filtered.Add(1)
	}
}

func (s *scanner) portEvent(h host, port uint16, r Result) *event.Port {
	ev := &event.Port{
		Type: event.TypePort, Time: event.FormatTime(s.cfg.Now()), ScanID: s.cfg.ScanID,
		IP: h.addr.String(), Hostname: h.name, Port: port, Proto: s.cfg.Method.Proto().String(),
		State: r.State, Reason: r.Reason, RTTms: ms(r.RTT),
	}
	if r.TTL > 0 {
		ttl := r.TTL
		ev.TTL = &ttl
	}
	return ev
}

func (s *scanner) hostEvent(h host, r Result, up bool) *event.Host {
	state, reason := "up", r.Reason
	if !up {
		state = "down"
		if reason == "" {
			reason = ReasonNoResponse
		}
	}
	return &event.Host{
		Type: event.TypeHost, Time: event.FormatTime(s.cfg.Now()), ScanID: s.cfg.ScanID,
		IP: h.addr.String(), Hostname: h.name, State: state, Reason: reason, RTTms: ms(r.RTT),
	}
}

// ms renders a duration in milliseconds with microsecond precision.
func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }

// maxNameTimeouts is how many reverse lookups in a row may time out
// before the scan stops asking: a resolver that does not answer would
// otherwise cost NameTimeout for every host found up.
const maxNameTimeouts = 5

// reverseName looks up a name for addr, bounded by cfg.NameTimeout. The
// answer comes from a remote server, so it is length-checked; JSON
// encoding escapes the rest.
func (s *scanner) reverseName(ctx context.Context, addr netip.Addr) string {
	if s.cfg.Names == nil || s.nameTimeouts.Load() >= maxNameTimeouts || ctx.Err() != nil {
		return ""
	}
	lctx, cancel := context.WithTimeout(ctx, s.cfg.NameTimeout)
	defer cancel()
	names, err := s.cfg.Names.LookupAddr(lctx, addr.String())
	if lctx.Err() != nil && ctx.Err() == nil {
		if s.nameTimeouts.Add(1) == maxNameTimeouts {
			s.cfg.Log.Warn(fmt.Sprintf("reverse DNS stopped: %d lookups in a row timed out; use -n to skip it", maxNameTimeouts))
		}
		return ""
	}
	s.nameTimeouts.Store(0)
	if err != nil || len(names) == 0 {
		return ""
	}
	name := names[0]
	if len(name) > 1 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if len(name) > 253 {
		return ""
	}
	return name
}

func (s *scanner) startProgress() (stop func()) {
	if s.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				p := s.snapshot()
				p.Final = true
				s.cfg.Progress(p)
				return
			case <-t.C:
				s.cfg.Progress(s.snapshot())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (s *scanner) snapshot() Progress {
	if s.discovering.Load() {
		return Progress{
			Phase: "discovery",
			Done:  s.discDone.Load(), Total: s.discTotal.Load(),
			Open: s.open.Load(), Elapsed: s.cfg.Now().Sub(s.start),
		}
	}
	return Progress{
		Phase:   "ports",
		Done:    s.portDone.Load(),
		Total:   s.portTotal.Load(),
		Open:    s.open.Load(),
		Elapsed: s.cfg.Now().Sub(s.start),
	}
}

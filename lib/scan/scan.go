// Package scan runs a port scan: it walks targets × ports in a shuffled
// order through a bounded set of workers, limits the global probe rate,
// retries unanswered probes, and writes scan, host and port events.
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

	"golang.org/x/time/rate"

	"github.com/picketscan/picket/lib/event"
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
// port lists, the prober and the output; Run owns nothing else.
type Config struct {
	Targets Targets
	Ports   []uint16 // TCP ports, in any order
	Prober  Prober

	// Discover pings every target first (a connect to DiscoveryPorts)
	// and scans only the hosts that answer. Without it every target is
	// treated as up, as Nmap's -Pn does.
	Discover       bool
	DiscoveryPorts []uint16
	// Names looks up the names of hosts found up; nil skips reverse DNS.
	Names       AddrResolver
	NameTimeout time.Duration

	Concurrency int     // probes in flight at once
	Rate        float64 // probes per second for the whole scan; 0 is unlimited
	Retries     int     // extra probes sent to a port that did not answer
	AllStates   bool    // write closed and filtered ports (and down hosts) too
	Seed        uint64  // shuffles the probe order

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

// Progress is a snapshot of a running scan for a progress display.
type Progress struct {
	Phase   string // "discovery" or "ports"
	Done    uint64 // probes finished in this phase
	Total   uint64 // probes planned in this phase (before exclusions)
	Open    uint64
	Elapsed time.Duration
	Final   bool
}

// ErrTooLarge is returned when targets × ports does not fit the scan's
// 64-bit index.
var ErrTooLarge = errors.New("targets × ports is too large to scan")

// maxLocalRetries bounds how often a probe that failed locally (no free
// ephemeral port, no file descriptor) is tried again before it counts as
// an error.
const maxLocalRetries = 6

// Run performs the scan and writes its events to cfg.Out: scan start,
// host events, port events, scan end. It returns the statistics written
// in the end event. When ctx is cancelled it stops sending, waits for the
// probes in flight, and still writes the end event, with complete false.
// A write error (such as a closed stdout) stops the scan and is returned.
func Run(ctx context.Context, cfg Config) (event.Stats, error) {
	s, err := newScanner(cfg)
	if err != nil {
		return event.Stats{}, err
	}
	return s.run(ctx)
}

type scanner struct {
	cfg     Config
	start   time.Time
	out     *output
	limiter *rate.Limiter

	probes, retries        atomic.Uint64
	open, closed, filtered atomic.Uint64
	errs                   atomic.Uint64
	nameTimeouts           atomic.Int32  // reverse lookups in a row that timed out
	done                   atomic.Uint64 // probes finished in the current phase
	total                  atomic.Uint64 // probes planned in the current phase
	phase                  atomic.Value  // string

	hostsTotal, hostsUp, excluded uint64
}

func newScanner(cfg Config) (*scanner, error) {
	if cfg.Targets == nil || cfg.Prober == nil || cfg.Out == nil {
		return nil, errors.New("scan: targets, prober and output are required")
	}
	if len(cfg.Ports) == 0 {
		return nil, errors.New("no ports to scan")
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
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
		cfg.DiscoveryPorts = []uint16{80, 443}
	}
	s := &scanner{cfg: cfg}
	if cfg.Rate > 0 {
		// A burst of a fiftieth of a second's worth keeps high rates
		// smooth without sleeping for every single probe.
		burst := max(1, int(cfg.Rate/50))
		s.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), burst)
	}
	s.phase.Store("ports")
	return s, nil
}

func (s *scanner) run(parent context.Context) (event.Stats, error) {
	// ctx ends on the caller's cancellation or on a write error; the
	// cause tells which.
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	s.start = s.cfg.Now()
	s.out = newOutput(s.cfg.Out, cancel)

	s.out.send(&event.ScanStart{
		Type: event.TypeScan, Time: event.FormatTime(s.start), ScanID: s.cfg.ScanID,
		Phase: event.PhaseStart, Tool: s.cfg.Tool, Schema: event.SchemaVersion, Scope: s.cfg.Scope,
	})

	stopProgress := s.startProgress()
	var hosts hostSpace
	if s.cfg.Discover {
		hosts = s.discover(ctx)
	} else {
		hosts = &lazyHosts{t: s.cfg.Targets}
	}
	if ctx.Err() == nil {
		s.scanPorts(ctx, hosts)
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
	werr := s.out.close()
	if werr != nil {
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
		HostsTotal: s.hostsTotal,
		HostsUp:    s.hostsUp,
		Excluded:   s.excluded,
		Probes:     s.probes.Load(),
		Retries:    s.retries.Load(),
		Open:       s.open.Load(),
		Closed:     s.closed.Load(),
		Filtered:   s.filtered.Load(),
		Errors:     s.errs.Load(),
		ElapsedMS:  math.Round(float64(s.cfg.Now().Sub(s.start).Microseconds())) / 1000,
	}
}

// hostSpace is the list of hosts the port phase walks: the hosts
// discovery found up, or, without discovery, the whole target list, which
// may hold excluded addresses the producer must skip.
type hostSpace interface {
	Len() uint64
	At(i uint64) host
}

// host is one address the port phase probes.
type host struct {
	addr netip.Addr
	name string // the name the target was given as, if any
}

type lazyHosts struct{ t Targets }

func (l *lazyHosts) Len() uint64 { return l.t.Len() }
func (l *lazyHosts) At(i uint64) host {
	t := l.t.At(i)
	return host{addr: t.Addr, name: t.Name}
}

type upHosts []host

func (u upHosts) Len() uint64      { return uint64(len(u)) }
func (u upHosts) At(i uint64) host { return u[i] }
func (u upHosts) excludable() bool { return false }

// probe sends one probe and its retries. Unanswered probes are retried
// up to cfg.Retries times; probes that failed locally for a passing
// reason (no ephemeral port free) are retried after a pause.
func (s *scanner) probe(ctx context.Context, dst netip.AddrPort) Result {
	var r Result
	tries, local := 0, 0
	for {
		if tries > 0 || local > 0 {
			if err := s.wait(ctx); err != nil {
				return Result{Err: err}
			}
		}
		s.probes.Add(1)
		r = s.cfg.Prober.Probe(ctx, dst)
		switch {
		case ctx.Err() != nil:
			return Result{Err: context.Cause(ctx)}
		case r.unanswered() && tries < s.cfg.Retries:
			tries++
			s.retries.Add(1)
			continue
		case r.Err != nil && localTransient(r.Err) && local < maxLocalRetries:
			local++
			s.retries.Add(1)
			t := time.NewTimer(time.Duration(local*local) * 10 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return Result{Err: context.Cause(ctx)}
			case <-t.C:
			}
			continue
		}
		return r
	}
}

// wait blocks until the rate limit allows one more probe.
func (s *scanner) wait(ctx context.Context) error {
	if s.limiter == nil {
		return nil
	}
	return s.limiter.Wait(ctx)
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
	return &event.Port{
		Type: event.TypePort, Time: event.FormatTime(s.cfg.Now()), ScanID: s.cfg.ScanID,
		IP: h.addr.String(), Hostname: h.name, Port: port, Proto: "tcp",
		State: r.State, Reason: r.Reason, RTTms: ms(r.RTT),
	}
}

func (s *scanner) hostEvent(h host, state, reason string, rtt time.Duration) *event.Host {
	return &event.Host{
		Type: event.TypeHost, Time: event.FormatTime(s.cfg.Now()), ScanID: s.cfg.ScanID,
		IP: h.addr.String(), Hostname: h.name, State: state, Reason: reason, RTTms: ms(rtt),
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
	if s.cfg.Names == nil || s.nameTimeouts.Load() >= maxNameTimeouts {
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
	wg.Add(1)
	go func() {
		defer wg.Done()
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
	}()
	return func() { close(done); wg.Wait() }
}

func (s *scanner) snapshot() Progress {
	return Progress{
		Phase:   s.phase.Load().(string),
		Done:    s.done.Load(),
		Total:   s.total.Load(),
		Open:    s.open.Load(),
		Elapsed: s.cfg.Now().Sub(s.start),
	}
}

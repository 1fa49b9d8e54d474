package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/picketscan/picket/lib/event"
)

// Stream defaults.
const (
	DefaultConcurrency = 64
	DefaultHostTimeout = 2 * time.Minute
)

// StreamConfig configures a Stream.
type StreamConfig struct {
	// Engine identifies the ports.
	Engine *Engine
	// Out receives every line, enriched or as it came.
	Out *event.Writer
	// Concurrency is how many ports are probed at once.
	Concurrency int
	// Window bounds the lines held while waiting for earlier ones to be
	// written (0: 16 times Concurrency, at least 1024).
	Window int
	// Unordered lets lines of different hosts overtake one another; the
	// lines of one host still keep their order, and a line that names no
	// host (scan start and end) is never overtaken and overtakes nothing.
	Unordered bool
	// HostTimeout bounds the time spent on all the ports of one host,
	// counted from the first of its ports taken up.
	HostTimeout time.Duration
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Stream enriches port events with what runs on the port. Lines are
// submitted in input order by one goroutine; a fixed pool of workers
// probes the ports, and one writer goroutine writes each line as soon as
// the ordering allows: in input order, or with Unordered in input order
// per host.
type Stream struct {
	cfg    StreamConfig
	ctx    context.Context
	cancel context.CancelFunc

	in       chan *item
	jobs     chan *item
	finished chan *item
	slots    chan struct{}
	failed   chan struct{} // closed when the writer failed
	workers  sync.WaitGroup
	writer   sync.WaitGroup
	err      error // the writer's error, read after failed is closed or writer is done
	hostMu   sync.Mutex
	hostEnd  map[string]time.Time
	statsMu  sync.Mutex
	probed   int
	named    int
	closeOne sync.Once
}

// item is one input line on its way through the stream.
type item struct {
	raw     []byte
	key     string // the host ("ip"); "" for a line that names none
	target  Target
	probe   bool
	done    bool // set by the writer goroutine only
	emitted bool
}

// NewStream starts the workers and the writer. Close must be called to
// wait for them.
func NewStream(ctx context.Context, cfg StreamConfig) *Stream {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Window <= 0 {
		cfg.Window = max(1024, 16*cfg.Concurrency)
	}
	if cfg.HostTimeout <= 0 {
		cfg.HostTimeout = DefaultHostTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Stream{
		cfg:      cfg,
		in:       make(chan *item),
		jobs:     make(chan *item),
		finished: make(chan *item, cfg.Concurrency),
		slots:    make(chan struct{}, cfg.Window),
		failed:   make(chan struct{}),
		hostEnd:  map[string]time.Time{},
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	for range cfg.Concurrency {
		s.workers.Go(s.work)
	}
	s.writer.Go(s.write)
	return s
}

// Submit hands one input line to the stream. It blocks while the window
// of held lines is full, and returns the writer's error once writing has
// failed (a closed stdout) or the context's cause once it ended.
func (s *Stream) Submit(line event.Line) error {
	select {
	case s.slots <- struct{}{}:
	case <-s.failed:
		return s.err
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	}
	it := &item{raw: line.Raw}
	if ip := line.Get("ip"); ip.Exists() {
		it.key = ip.String()
	}
	if line.Type == event.TypePort {
		it.target, it.probe = portTarget(line)
	}
	if !it.probe {
		it.done = true
	}
	select {
	case s.in <- it:
	case <-s.failed:
		return s.err
	}
	if it.probe {
		select {
		case s.jobs <- it:
		case <-s.ctx.Done():
			// The worker will never run; the writer learns that the
			// line is done (unchanged) through finished.
			s.finished <- it
			return context.Cause(s.ctx)
		}
	}
	return nil
}

// portTarget reads the port to probe from a port line: one whose state
// is open, or open|filtered over UDP.
func portTarget(line event.Line) (Target, bool) {
	state := line.Get("state").String()
	proto := line.Get("proto").String()
	port := line.Get("port")
	ip := line.Get("ip").String()
	if ip == "" || !port.Exists() || port.Uint() == 0 || port.Uint() > 65535 {
		return Target{}, false
	}
	switch {
	case proto == TCP && state == "open":
	case proto == UDP && (state == "open" || state == "open|filtered"):
	default:
		return Target{}, false
	}
	return Target{IP: ip, Port: uint16(port.Uint()), Proto: proto, Hostname: line.Get("hostname").String()}, true
}

// Close waits for every submitted line to be written, flushes the output
// and stops the workers. It returns the first write error.
func (s *Stream) Close() error {
	s.closeOne.Do(func() {
		close(s.in)
		close(s.jobs)
		s.workers.Wait()
		close(s.finished)
		s.writer.Wait()
		s.cancel()
	})
	if s.err != nil {
		return s.err
	}
	if err := s.cfg.Out.Flush(); err != nil {
		return err
	}
	return nil
}

// Summary returns the ports probed and how many of them were named by a
// probe (not only by the port table).
func (s *Stream) Summary() (probed, named int) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.probed, s.named
}

func (s *Stream) work() {
	for it := range s.jobs {
		s.process(it)
		s.finished <- it
	}
}

// process identifies the port of it and rewrites its line. A panic is
// logged and leaves the line as it came.
func (s *Stream) process(it *item) {
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Log.Error(fmt.Sprintf("fingerprint %s:%d/%s: internal error: %v", it.target.IP, it.target.Port, it.target.Proto, r))
		}
	}()
	if s.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithDeadline(s.ctx, s.hostDeadline(it.target.IP))
	defer cancel()
	res := s.cfg.Engine.Identify(ctx, it.target)
	if s.ctx.Err() != nil {
		// Interrupted, not timed out: what was learned is partial, so
		// the line goes out as it came rather than claim "unknown".
		return
	}
	raw, err := event.SetField(it.raw, "service", res.Service)
	if err == nil && res.TLS != nil {
		raw, err = event.SetField(raw, "tls", res.TLS)
	}
	if err != nil {
		s.cfg.Log.Error(fmt.Sprintf("fingerprint %s:%d/%s: %v", it.target.IP, it.target.Port, it.target.Proto, err))
		return
	}
	it.raw = raw
	s.statsMu.Lock()
	s.probed++
	if res.Service.Method == "probed" && res.Service.Name != "unknown" {
		s.named++
	}
	s.statsMu.Unlock()
}

// hostDeadline is when the time allowed for ip's ports runs out.
func (s *Stream) hostDeadline(ip string) time.Time {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	end, ok := s.hostEnd[ip]
	if !ok {
		end = s.cfg.Now().Add(s.cfg.HostTimeout)
		s.hostEnd[ip] = end
	}
	return end
}

// write is the writer goroutine: it receives lines in input order and
// completions from the workers, and writes whatever the ordering allows.
func (s *Stream) write() {
	var pending []*item
	in, finished := s.in, s.finished
	for in != nil || finished != nil {
		select {
		case it, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			pending = append(pending, it)
		case it, ok := <-finished:
			if !ok {
				finished = nil
				continue
			}
			it.done = true
		}
		pending = s.emit(pending)
	}
	s.emit(pending)
}

// emit writes the items of pending that may go now and returns the rest.
func (s *Stream) emit(pending []*item) []*item {
	wrote := false
	if !s.cfg.Unordered {
		n := 0
		for n < len(pending) && pending[n].done {
			s.writeLine(pending[n])
			n++
		}
		wrote = n > 0
		pending = pending[n:]
	} else {
		blocked := map[string]bool{}
		allBefore := true // every item before this one has been written
		for _, it := range pending {
			if it.key == "" {
				// A line naming no host waits for all before it and
				// holds back all after it.
				if !allBefore || !it.done {
					break
				}
				s.writeLine(it)
				continue
			}
			if it.done && !blocked[it.key] {
				s.writeLine(it)
				continue
			}
			blocked[it.key] = true
			allBefore = false
		}
		rest := pending[:0]
		for _, it := range pending {
			if !it.emitted {
				rest = append(rest, it)
			} else {
				wrote = true
			}
		}
		clear(pending[len(rest):])
		pending = rest
	}
	if wrote && s.err == nil {
		if err := s.cfg.Out.Flush(); err != nil {
			s.fail(err)
		}
	}
	return pending
}

// writeLine writes one item and frees its slot. After a write error the
// lines are dropped: the reader of the output is gone.
func (s *Stream) writeLine(it *item) {
	it.emitted = true
	<-s.slots
	if s.err != nil {
		return
	}
	if err := s.cfg.Out.WriteLine(it.raw); err != nil {
		s.fail(err)
	}
}

func (s *Stream) fail(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	close(s.failed)
	s.cancel()
}

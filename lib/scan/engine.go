package scan

import (
	"container/heap"
	"context"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"
)

// The engine runs one phase of a scan (discovery or ports) with one
// method: it activates hosts from a source a few at a time, sends probes
// to their ports in a shuffled order within the limits of the global
// concurrency, the global rate and each host's timing, times out
// unanswered probes, resends them, and hands each finished host to a
// callback. All its state is guarded by one mutex; a few sender
// goroutines take a probe under the lock and send it outside, so a
// method's Send may block for a moment (a connect on loopback does the
// whole handshake inside connect(2)) without stalling the others.

// phaseMode says when a host is finished.
type phaseMode int

const (
	// modePorts probes every port of a host.
	modePorts phaseMode = iota
	// modePing stops at a host's first answer that proves it up.
	modePing
)

// hostSource yields the hosts of a phase, one at a time, under the
// engine's lock. A source that answers pullWait sends on the phase's
// kick channel when it may have a host again.
type hostSource interface {
	next() (host, pull)
}

// phase is what one run of the engine does.
type phase struct {
	mode   phaseMode
	method Method
	ports  []uint16
	source hostSource
	// kick, if set, wakes the phase when its source may have a host
	// again after it answered pullWait.
	kick    <-chan struct{}
	timing  *Timing
	retries int
	conc    int
	bucket  *bucket
	// seed keys each host's port order.
	seed uint64
	// shard of shards (0 of 1 when the scan is not split): the phase
	// probes position pos of host k's port order only when
	// (k+pos) mod shards is shard, so shards split every host's ports
	// evenly and cover each (host, port) exactly once between them.
	shard, shards uint64
	// maxActive bounds the hosts probed at once.
	maxActive int
	// minRate, when set, is the least probes per second the phase
	// sends: when the hosts' congestion windows, their slowdowns or conc
	// would send fewer, it sends anyway, up to hardFlight probes in
	// flight (Nmap's --min-rate). The rate limit and each host's
	// MinGap still hold.
	minRate    float64
	hardFlight int
	// start prepares a newly activated host (seeds its timing).
	start func(*hostState)
	// finish is called once per host, from a goroutine of the phase's,
	// when the host's ports are all settled or the phase stops.
	finish func(*engine, *hostState)
	// counters
	onSend  func(retry bool)
	onError func(dst netip.AddrPort, err error)
	onDone  func()
}

// Per-port flags.
const (
	fFinal    uint8 = 1 << iota // the port has its result
	fOut                        // its latest try is in flight
	fQueued                     // it waits in the retry queue
	fError                      // it ended with a local error
	fReprobed                   // it went unanswered once and is asked again
)

// portRes is a port's result, packed: the engine holds one per port of
// each active host.
type portRes struct {
	state  uint8 // index into states
	reason uint8 // index into the phase's reasons
	ttl    uint8
	rtt    float32 // milliseconds
}

// hostState is one host being probed.
type hostState struct {
	host
	ports   []uint16
	perm    permutation
	nextNew int
	step    int // positions between two new ports of this shard
	retry   []int32
	flags   []uint8
	tries   []uint8
	local   []uint8 // local failures per port
	base    []uint8 // tries that do not count: local failures, rounds before a reprobe
	// deadline is when the latest try of each port times out, since the
	// engine's epoch.
	deadline []int64
	res      []portRes
	pending  int // ports without a result
	flight   int // probes in flight
	t        hostTiming
	// up is set by the first answer that proves the host alive.
	up     bool
	upWhy  Result
	best   Result // the most telling non-answer, for a host found down
	done   bool
	active int // position in the engine's active list, -1 if none
	// recovered counts re-probed ports that answered since the last
	// slowdown: then the ports still unanswered are suspect too.
	recovered int
	// refused is set once a port of h answered closed: the host is up
	// and sends errors, so a silent port may be one whose error the
	// host's rate limit held back.
	refused bool
	// silentRounds counts the paced rounds that asked its silent ports
	// again (Timing.SilentPace); paced is set while one runs.
	silentRounds int
	paced        bool
	// quiet counts the ports of a paced round that stayed silent since
	// the last that answered; silenced counts all those of the round.
	quiet, silenced int
	// reask is the port a paced round asks a second time, at once after
	// its first silence (-1: none yet).
	reask int32
	// reasons is the engine's reason table as of the host's finish.
	reasons []string
}

// expiry is a probe the engine stopped waiting for.
type expiry struct {
	h     *hostState
	pi    int
	try   int
	final bool // no further try will follow
	dead  bool // the port already has its result
}

type timeoutEntry struct {
	at  time.Time
	h   *hostState
	pi  int32
	try uint8
}

type timeoutHeap []timeoutEntry

func (q timeoutHeap) Len() int           { return len(q) }
func (q timeoutHeap) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q timeoutHeap) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *timeoutHeap) Push(x any)        { *q = append(*q, x.(timeoutEntry)) }
func (q *timeoutHeap) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type engine struct {
	p     phase
	sess  Session
	epoch time.Time

	mu         sync.Mutex
	changed    chan struct{}
	waiters    int
	active     []*hostState
	byAddr     map[netip.Addr]*hostState
	deferred   []host // hosts whose address is already active
	exhausted  bool
	rr         int
	flight     int
	timeouts   timeoutHeap
	portIndex  []int32
	reasons    []string
	reasonIdx  map[string]uint8
	finishedCh chan *hostState
	// finishing counts hosts handed to a finisher and not yet written;
	// they count against maxActive, so the finishers' queue never fills
	// and a slow finisher (reverse DNS) holds back new hosts.
	finishing int
	// owed is how many probes the phase is behind its minRate (at most
	// a small burst), as of owedAt.
	owed   float64
	owedAt time.Time
}

// states maps portRes.state to names.
var states = []string{"", StateOpen, StateClosed, StateFiltered, StateOpenFiltered}

func stateIndex(s string) uint8 {
	for i, n := range states {
		if n == s {
			return uint8(i)
		}
	}
	return 0
}

// run runs the phase until every host is finished or ctx ends.
func (p phase) run(ctx context.Context) error {
	e := &engine{
		p:          p,
		epoch:      time.Now(),
		changed:    make(chan struct{}),
		byAddr:     make(map[netip.Addr]*hostState),
		portIndex:  make([]int32, 1<<16),
		reasonIdx:  make(map[string]uint8),
		reasons:    []string{""},
		finishedCh: make(chan *hostState, max(1, p.maxActive)),
	}
	for i := range e.portIndex {
		e.portIndex[i] = -1
	}
	for i, port := range p.ports {
		if e.portIndex[port] < 0 {
			e.portIndex[port] = int32(i)
		}
	}
	sess, err := p.method.Start(ctx, e.sink)
	if err != nil {
		return err
	}
	e.sess = sess

	var finishers sync.WaitGroup
	for range max(1, min(finisherCount, p.conc/2)) {
		finishers.Go(func() {
			for h := range e.finishedCh {
				p.finish(e, h)
				e.mu.Lock()
				e.finishing--
				e.wake()
				e.mu.Unlock()
			}
		})
	}

	senders := min(max(2, 2*runtime.GOMAXPROCS(0)), max(1, p.conc))
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() { e.sender(ctx) })
	}
	wg.Wait()

	// Stopped or done: give up on whatever is still in flight, close
	// the session so nothing more is sent, and finish the active hosts
	// with what they have.
	e.mu.Lock()
	var left []expiry
	for _, t := range e.timeouts {
		if x, ok := e.expire(t); ok {
			x.final = true
			left = append(left, x)
		}
	}
	e.timeouts = nil
	e.mu.Unlock()
	for _, x := range left {
		r, ok := e.sess.Expire(Probe{Dst: netip.AddrPortFrom(x.h.addr, x.h.ports[x.pi]), Try: x.try}, true)
		// A probe cut short had no time to go unanswered: keep what the
		// method heard (a connect's soft error), not a verdict on
		// silence (UDP's open|filtered), which would be invented.
		if ok && r.Reason != ReasonNoResponse {
			e.mu.Lock()
			e.settle(x.h, x.pi, x.try, r)
			e.mu.Unlock()
		}
	}
	_ = e.sess.Close()
	e.mu.Lock()
	for _, h := range append([]*hostState(nil), e.active...) {
		e.finishHost(h)
	}
	e.mu.Unlock()
	close(e.finishedCh)
	finishers.Wait()
	return nil
}

// finisherCount is how many hosts may be finished (reverse DNS, events)
// at once; fewer with a small concurrency, which also bounds the reverse
// lookups in flight.
const finisherCount = 16

// sender takes probes and expiries from the engine and carries them out
// until the phase ends.
func (e *engine) sender(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var xs []expiry
	for {
		e.mu.Lock()
		p, h, pi, ok := e.next(ctx, timer, &xs)
		e.mu.Unlock()
		if len(xs) > 0 {
			for _, x := range xs {
				e.carryExpiry(x)
			}
			xs = xs[:0]
			continue
		}
		if !ok {
			return
		}
		r, done := e.sess.Send(p)
		e.mu.Lock()
		if done {
			e.answer(h, pi, p.Try, r)
		} else if !h.done && h.flags[pi]&fOut != 0 && int(h.tries[pi])-1 == p.Try {
			// Only a probe still waiting needs a timeout; most answers
			// on a LAN are there as Send returns.
			heap.Push(&e.timeouts, timeoutEntry{at: e.epoch.Add(time.Duration(h.deadline[pi])), h: h, pi: int32(pi), try: uint8(min(p.Try, 255))})
		}
		e.mu.Unlock()
	}
}

// carryExpiry asks the method for a last answer to an expired probe and
// settles the port.
func (e *engine) carryExpiry(x expiry) {
	if !x.dead && e.p.timing.SilentPace > 0 && e.p.mode == modePorts {
		e.mu.Lock()
		x.final = e.pacedFinal(x)
		e.mu.Unlock()
	}
	dst := netip.AddrPortFrom(x.h.addr, x.h.ports[x.pi])
	r, ok := e.sess.Expire(Probe{Dst: dst, Try: x.try}, x.final)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !ok && !x.h.done {
		x.h.t.expired()
	}
	switch {
	case ok:
		e.settle(x.h, x.pi, x.try, r)
	case x.dead:
	case x.final:
		e.settle(x.h, x.pi, x.try, Result{State: StateFiltered, Reason: ReasonNoResponse})
	default:
		e.queueRetry(x.h, x.pi)
	}
	if x.h.paced && !x.h.done && !x.dead && (!ok || r.Reason == ReasonNoResponse) {
		// The probe found an error to spend and spent none: the next
		// probe may go at once. The port is asked once more at once
		// (in case the probe came a little early for the host's
		// budget), then it is silent.
		if x.h.flight == 0 {
			x.h.t.next = time.Now()
		}
		if x.final {
			x.h.silenced++
			x.h.quiet++
			if x.h.quiet >= maxQuiet {
				e.endRound(x.h)
			}
		} else if n := len(x.h.retry); n > 0 && x.h.retry[n-1] == int32(x.pi) {
			copy(x.h.retry[1:], x.h.retry[:n-1])
			x.h.retry[0] = int32(x.pi)
		}
	}
	e.check(x.h)
	e.wake()
}

// next returns the next probe to send, or expired probes in xs, or ok
// false when the phase is over. It waits, with the lock released, while
// there is nothing to do.
func (e *engine) next(ctx context.Context, timer *time.Timer, xs *[]expiry) (Probe, *hostState, int, bool) {
	for {
		if ctx.Err() != nil {
			e.wake()
			return Probe{}, nil, 0, false
		}
		now := time.Now()
		for len(e.timeouts) > 0 && !e.timeouts[0].at.After(now) && len(*xs) < 64 {
			t := heap.Pop(&e.timeouts).(timeoutEntry)
			if x, ok := e.expire(t); ok {
				*xs = append(*xs, x)
			}
		}
		if len(*xs) > 0 {
			return Probe{}, nil, 0, true
		}
		if e.fill(now) {
			// Other senders may have waited for hosts.
			e.wake()
		}
		if len(e.active) == 0 && e.exhausted && len(e.deferred) == 0 && e.finishing == 0 {
			e.wake()
			return Probe{}, nil, 0, false
		}
		wait := time.Second
		owed := e.owing(now)
		if force := owed >= 1 && e.flight < e.p.hardFlight; e.flight < e.p.conc || force {
			n := len(e.active)
			for i := range n {
				h := e.active[(e.rr+i)%n]
				if !h.hasWork() {
					continue
				}
				if d := h.t.gapNext.Sub(now); d > 0 {
					wait = min(wait, d)
					continue
				}
				ok := e.flight < e.p.conc && h.flight < h.t.window()
				if d := h.t.next.Sub(now); ok && d > 0 {
					wait = min(wait, d)
					ok = false
				}
				if !ok {
					// Behind the least rate: send past the window and
					// the slowdown, not the pace of a silent round.
					if !force {
						continue
					}
					if d := h.t.next.Sub(now); h.t.floor > 0 && d > 0 {
						wait = min(wait, d)
						continue
					}
				}
				if d := e.p.bucket.take(now); d > 0 {
					wait = min(wait, d)
					break
				}
				e.rr = (e.rr + i + 1) % n
				pi := h.take()
				return e.launch(h, pi, now), h, pi, true
			}
		}
		if e.p.minRate > 0 && owed < 1 {
			wait = min(wait, time.Duration((1-owed)/e.p.minRate*float64(time.Second))+time.Microsecond)
		}
		if len(e.timeouts) > 0 {
			wait = min(wait, e.timeouts[0].at.Sub(now))
		}
		ch := e.changed
		e.waiters++
		e.mu.Unlock()
		timer.Reset(max(wait, 0))
		select {
		case <-ch:
		case <-timer.C:
		case <-e.p.kick:
		case <-ctx.Done():
		}
		timer.Stop()
		e.mu.Lock()
		e.waiters--
	}
}

// owing brings the phase's debt to its least rate up to now and
// returns it; 0 without a least rate.
func (e *engine) owing(now time.Time) float64 {
	if e.p.minRate <= 0 {
		return 0
	}
	if e.owedAt.IsZero() {
		e.owedAt = now
	}
	if now.After(e.owedAt) {
		// A burst of a fiftieth of a second: a phase that was held up
		// does not catch up in one rush.
		e.owed = min(max(1, e.p.minRate/50), e.owed+now.Sub(e.owedAt).Seconds()*e.p.minRate)
		e.owedAt = now
	}
	return e.owed
}

// launch records a probe of port pi of h about to be sent.
func (e *engine) launch(h *hostState, pi int, now time.Time) Probe {
	try := int(h.tries[pi])
	h.tries[pi]++
	h.flags[pi] |= fOut
	h.flight++
	e.flight++
	h.t.sent(now)
	if e.p.minRate > 0 {
		e.owed = max(0, e.owed-1)
	}
	last := try-int(h.base[pi]) >= h.t.allowedRetries(e.p.retries)
	h.deadline[pi] = int64(now.Add(h.t.timeout(last)).Sub(e.epoch))
	if e.p.onSend != nil {
		e.p.onSend(try > 0)
	}
	return Probe{Dst: netip.AddrPortFrom(h.addr, h.ports[pi]), Try: try}
}

// expire turns a timeout that came due into an expiry, or reports false
// for one that no longer matters (its try was answered).
func (e *engine) expire(t timeoutEntry) (expiry, bool) {
	h, pi := t.h, int(t.pi)
	if h.done || h.flags[pi]&fOut == 0 || int(h.tries[pi])-1 != int(t.try) {
		return expiry{}, false
	}
	h.flags[pi] &^= fOut
	h.flight--
	e.flight--
	dead := h.flags[pi]&fFinal != 0
	final := dead || int(t.try)-int(h.base[pi]) >= h.t.allowedRetries(e.p.retries) || t.try == 254
	return expiry{h: h, pi: pi, try: int(t.try), final: final, dead: dead}, true
}

// sink takes answers that arrive after Send returned.
func (e *engine) sink(a Answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.byAddr[a.Dst.Addr()]
	if h == nil {
		return
	}
	pi := e.portIndex[a.Dst.Port()]
	if pi < 0 || int(pi) >= len(h.ports) {
		return
	}
	e.answer(h, int(pi), a.Try, a.Result)
}

// answer takes the outcome of try (or -1) of port pi of h, from Send or
// from the sink.
func (e *engine) answer(h *hostState, pi, try int, r Result) {
	defer e.wake()
	if h.done {
		return
	}
	current := int(h.tries[pi]) - 1
	if h.flags[pi]&fOut != 0 && (try == current || try < 0) {
		h.flags[pi] &^= fOut
		h.flight--
		e.flight--
	}
	if errors.Is(r.Err, ErrTransient) && h.flags[pi]&fFinal == 0 && h.local[pi] < maxLocalRetries {
		// Not a try: the probe never left. Wait a moment and send it
		// again.
		h.local[pi]++
		h.base[pi]++
		n := time.Duration(h.local[pi])
		h.t.next = time.Now().Add(n * n * 10 * time.Millisecond)
		e.queueRetry(h, pi)
		if e.p.onSend != nil {
			e.p.onSend(true)
		}
		return
	}
	e.settle(h, pi, try, r)
	e.check(h)
}

// maxLocalRetries bounds how often a probe that failed locally is tried
// again before it counts as an error.
const maxLocalRetries = 6

// settle records a result for port pi of h, unless it already has a
// better one. Answers to any try count while the port is still open to
// question, and a late answer replaces a no-response.
func (e *engine) settle(h *hostState, pi, try int, r Result) {
	if h.done {
		return
	}
	f := h.flags[pi]
	if f&fFinal != 0 {
		prev := h.res[pi]
		silent := states[prev.state] == StateFiltered || states[prev.state] == StateOpenFiltered
		if r.Err != nil || prev.state == 0 || !(silent && e.reasons[prev.reason] == ReasonNoResponse) {
			return
		}
	} else {
		h.pending--
		if e.p.onDone != nil && f&fReprobed == 0 {
			e.p.onDone() // a port asked again was counted the first time
		}
	}
	h.flags[pi] |= fFinal
	if r.Err != nil {
		h.flags[pi] |= fError
		if e.p.onError != nil {
			e.p.onError(netip.AddrPortFrom(h.addr, h.ports[pi]), r.Err)
		}
		return
	}
	h.res[pi] = portRes{state: stateIndex(r.State), reason: e.reason(r.Reason), ttl: uint8(min(max(r.TTL, 0), 255)), rtt: float32(r.RTT.Seconds() * 1000)}
	if r.Reason == ReasonNoResponse {
		if h.best.State == "" {
			h.best = r
		}
		return
	}
	h.best = r
	if r.State == StateClosed {
		h.refused = true
	}
	if h.flags[pi]&fReprobed != 0 {
		h.flags[pi] &^= fReprobed
		h.recovered++
		h.quiet = 0
		if h.paced && h.t.throttle == "" {
			// The host held answers back and gave them once probed
			// slower.
			h.t.throttle = ThrottleSlowed
		}
	}
	if r.answered() {
		if h.paced {
			// An answer of a paced round says nothing about drops: the
			// pace is fixed until the round ends.
			if !h.up {
				h.up, h.upWhy = true, r
			}
			return
		}
		if try < 0 {
			try = int(h.tries[pi]) - 1
		}
		// Tries before the port's current round (before the last
		// slowdown) tell nothing about the pace the host gets now.
		if eff := try - int(h.base[pi]); eff >= 0 && h.t.answered(eff, r.RTT, time.Now()) {
			e.reprobe(h)
		}
		if !h.up {
			h.up, h.upWhy = true, r
			if e.p.mode == modePing {
				e.settleAll(h)
			}
		}
	}
}

// settleAll ends a ping at its first answer: the other probes are
// expired at once.
func (e *engine) settleAll(h *hostState) {
	now := time.Now()
	for pi := range h.flags {
		if h.flags[pi]&fFinal == 0 {
			h.flags[pi] |= fFinal
			h.pending--
			if e.p.onDone != nil {
				e.p.onDone()
			}
		}
		if h.flags[pi]&fOut != 0 {
			heap.Push(&e.timeouts, timeoutEntry{at: now, h: h, pi: int32(pi), try: uint8(min(int(h.tries[pi])-1, 255))})
		}
	}
}

// reprobe puts the ports of h that went unanswered back to question,
// after the engine slowed down for h, and gives the ports still in
// question their full count of tries again.
func (e *engine) reprobe(h *hostState) {
	noResp := e.reason(ReasonNoResponse)
	h.recovered = 0
	for pi := range h.flags {
		if h.flags[pi]&fFinal == 0 && h.tries[pi] > 0 && h.tries[pi] < 200 {
			h.base[pi] = h.tries[pi]
			if h.flags[pi]&fOut != 0 {
				h.base[pi]-- // the try in flight counts as the first
			}
			continue
		}
		if h.flags[pi]&(fFinal|fError) == fFinal && h.res[pi].reason == noResp && h.tries[pi] < 200 {
			h.flags[pi] &^= fFinal
			h.flags[pi] |= fReprobed
			h.base[pi] = h.tries[pi]
			h.pending++
			e.queueRetry(h, pi)
		}
	}
}

func (e *engine) queueRetry(h *hostState, pi int) {
	if h.flags[pi]&fQueued == 0 {
		h.flags[pi] |= fQueued
		h.retry = append(h.retry, int32(pi))
	}
}

// check finishes h once every port has a result and nothing is in
// flight.
// A host that dropped probes since the engine last judged it is not
// finished yet: the engine slows down and probes its unanswered ports
// again (a host behind an ICMP rate limit answers one probe a second).
func (e *engine) check(h *hostState) {
	if h.done || h.pending != 0 || h.flight != 0 {
		return
	}
	if e.p.mode == modePorts && e.silentRound(h) {
		return
	}
	if e.p.mode == modePorts && !h.paced && h.t.suspect(h.recovered > 0) && e.hasNoResponse(h) && h.t.evaluate(time.Now(), true) {
		e.reprobe(h)
		if h.pending > 0 {
			return
		}
	}
	e.finishHost(h)
}

// silentRound starts a paced round that asks the silent ports of h
// again, one try each, at the pace of Timing.SilentPace, when h answered
// some port closed (so it sends errors) and the method asks for such
// rounds; a further round only follows one in which a port judged
// silent answered late, or whose errors came further apart than the pace
// (hostTiming.slowRefill). It reports whether a round started.
func (e *engine) silentRound(h *hostState) bool {
	c := e.p.timing
	if c.SilentPace <= 0 || !h.refused || h.silentRounds >= c.SilentRounds || !e.hasNoResponse(h) {
		return false
	}
	if h.paced && !e.heardLate(h) && !h.t.slowRefill(e.erredSends(h), h.silentRounds == 1) {
		return false
	}
	if h.paced {
		// The late answers came after the timeout their probes had:
		// wait twice the slowest round trip of the host from now on.
		slowest := float32(0)
		for pi := range h.flags {
			if h.flags[pi]&(fFinal|fError) == fFinal {
				slowest = max(slowest, h.res[pi].rtt)
			}
		}
		h.t.waitAtLeast(2 * time.Duration(float64(slowest)*float64(time.Millisecond)))
	}
	again := h.paced
	h.silentRounds++
	h.paced = true
	h.quiet, h.silenced, h.reask = 0, 0, -1
	h.t.startPaced(time.Now(), again)
	e.reprobe(h)
	if !again {
		e.likelyDroppedFirst(h)
	}
	// One try per port: a round's probe finds an error to spend, so
	// silence means silence.
	allowed := uint8(h.t.allowedRetries(e.p.retries))
	for pi := range h.flags {
		if h.flags[pi]&fReprobed != 0 {
			h.base[pi] = h.tries[pi] - min(h.tries[pi], allowed)
		}
	}
	return h.pending > 0
}

// likelyDroppedFirst moves to the front of the first paced round of h
// the silent ports whose first probe went out before that of a port
// that drew an error (the first probes follow h.perm): the host most
// likely had an error to spend when they came, so they are likely
// dropped. A dropped port asked early in the round costs its timeout;
// asked last, it waits a refill of its own.
func (e *engine) likelyDroppedFirst(h *hostState) {
	closed := stateIndex(StateClosed)
	pos := make([]int32, len(h.ports))
	last := int32(-1)
	for p := range len(h.ports) {
		pi := h.perm.At(uint64(p))
		pos[pi] = int32(p)
		if h.flags[pi]&(fFinal|fError) == fFinal && h.res[pi].state == closed {
			last = int32(p)
		}
	}
	slices.SortStableFunc(h.retry, func(a, b int32) int {
		ea, eb := pos[a] < last, pos[b] < last
		switch {
		case ea && !eb:
			return -1
		case eb && !ea:
			return 1
		}
		return 0
	})
}

// pacedFinal reports whether the expired probe x is the last try of its
// port when the method asks for paced rounds. Before a round, on a host
// that answered some port closed, a silent probe gets no resend of its
// own (it would only find the host's error budget spent): its port waits
// for the round. In a round, a port's first silent probe is asked again
// at once (unless resends are off), the second is final.
func (e *engine) pacedFinal(x expiry) bool {
	h, c := x.h, e.p.timing
	switch {
	case h.done:
		return x.final
	case !h.paced:
		return x.final || (h.refused && h.silentRounds < c.SilentRounds)
	case x.final && e.p.retries > 0 && h.reask != int32(x.pi):
		h.reask = int32(x.pi)
		return false
	}
	return x.final
}

// erredSends returns, in order, when the probes of the current paced
// round of h that drew an error were sent.
func (e *engine) erredSends(h *hostState) []time.Time {
	closed := stateIndex(StateClosed)
	wait := h.t.timeout(true) // every probe of a round is a last try
	var sends []time.Time
	for pi := range h.flags {
		if h.flags[pi]&(fFinal|fError) != fFinal || h.res[pi].state != closed {
			continue
		}
		if at := e.epoch.Add(time.Duration(h.deadline[pi]) - wait); !at.Before(h.t.paceStart) {
			sends = append(sends, at)
		}
	}
	slices.SortFunc(sends, time.Time.Compare)
	return sends
}

// heardLate reports whether a port that the paced round of h judged
// silent answered after all: the probe sent at once after it then found
// the host's errors spent, so the round's silence is in doubt.
func (e *engine) heardLate(h *hostState) bool {
	noResp := e.reason(ReasonNoResponse)
	still := 0
	for pi := range h.flags {
		if h.flags[pi]&(fFinal|fReprobed|fError) == fFinal|fReprobed && h.res[pi].reason == noResp {
			still++
		}
	}
	return h.silenced > still
}

// maxQuiet is how many probes of a paced round may go unanswered in a
// row before the round ends: the round's pace leaves a closed port its
// error, so that many silent ports in a row are a firewall's drops, and
// the host's other silent ports are not worth a second each.
const maxQuiet = 16

// endRound ends the paced round of h: the silent ports it has not asked
// yet keep their no-response.
func (e *engine) endRound(h *hostState) {
	for pi := range h.flags {
		if h.flags[pi]&(fReprobed|fOut|fFinal) == fReprobed {
			h.flags[pi] = (h.flags[pi] | fFinal) &^ fReprobed
			h.pending--
		}
	}
	h.recovered, h.silenced = 0, 0 // no further round
}

// hasNoResponse reports whether some port of h went unanswered.
func (e *engine) hasNoResponse(h *hostState) bool {
	noResp := e.reason(ReasonNoResponse)
	for pi := range h.flags {
		if h.flags[pi]&(fFinal|fError) == fFinal && h.res[pi].reason == noResp {
			return true
		}
	}
	return false
}

// finishHost removes h from the active hosts and hands it to a finisher.
func (e *engine) finishHost(h *hostState) {
	if h.done {
		return
	}
	h.done = true
	if i := h.active; i >= 0 {
		last := len(e.active) - 1
		e.active[i] = e.active[last]
		e.active[i].active = i
		e.active = e.active[:last]
		h.active = -1
	}
	if e.byAddr[h.addr] == h {
		delete(e.byAddr, h.addr)
	}
	h.flight = 0
	// Reasons are only ever appended: the host keeps the table as it is
	// now, which holds every reason of its ports.
	h.reasons = e.reasons
	e.finishing++
	e.finishedCh <- h
	e.wake()
}

// fill activates hosts up to the phase's limit and reports whether it
// activated any.
func (e *engine) fill(now time.Time) (filled bool) {
	for len(e.active)+e.finishing < e.p.maxActive {
		var h host
		switch {
		case len(e.deferred) > 0 && e.byAddr[e.deferred[0].addr] == nil:
			h = e.deferred[0]
			e.deferred = e.deferred[1:]
		case e.exhausted:
			return filled
		default:
			var got pull
			h, got = e.p.source.next()
			if got == pullEnd {
				e.exhausted = true
			}
			if got != pullHost {
				return filled
			}
			if e.byAddr[h.addr] != nil {
				// The same address twice at once would mix their
				// answers; it waits until the first one is done.
				e.deferred = append(e.deferred, h)
				continue
			}
		}
		e.activate(h, now)
		filled = true
	}
	return filled
}

func (e *engine) activate(h host, now time.Time) {
	n := len(e.p.ports)
	hs := &hostState{
		host:     h,
		ports:    e.p.ports,
		perm:     newPermutation(uint64(n), e.p.seed^mix64(h.index+1)),
		flags:    make([]uint8, n),
		tries:    make([]uint8, n),
		local:    make([]uint8, n),
		base:     make([]uint8, n),
		deadline: make([]int64, n),
		res:      make([]portRes, n),
		pending:  n,
		step:     1,
		t:        newHostTiming(e.p.timing, e.p.conc, now),
		active:   len(e.active),
	}
	if e.p.shards > 1 {
		e.shardHost(hs)
	}
	if e.p.start != nil {
		e.p.start(hs)
	}
	e.active = append(e.active, hs)
	e.byAddr[h.addr] = hs
	if hs.pending == 0 {
		e.finishHost(hs)
	}
}

// shardHost keeps to h the positions of its port order that belong to
// the phase's shard: the first is (shard-k) mod shards, then every
// shards-th. The others are settled without a result at once, so they
// are neither probed nor reported.
func (e *engine) shardHost(h *hostState) {
	n := uint64(len(h.ports))
	first := (e.p.shard + e.p.shards - h.index%e.p.shards) % e.p.shards
	for pos := range n {
		if pos%e.p.shards != first {
			h.flags[h.perm.At(pos)] = fFinal | fError
			h.pending--
		}
	}
	h.nextNew, h.step = int(min(first, n)), int(e.p.shards)
}

// hasWork reports whether h has a port to probe now.
func (h *hostState) hasWork() bool {
	for len(h.retry) > 0 {
		pi := h.retry[0]
		if h.flags[pi]&(fFinal|fOut) == 0 {
			return true
		}
		h.flags[pi] &^= fQueued
		h.retry = h.retry[1:]
	}
	return h.nextNew < len(h.ports)
}

// take returns the port to probe next: a resend first, else a new port
// in the host's shuffled order. hasWork must have said yes.
func (h *hostState) take() int {
	if len(h.retry) > 0 {
		pi := int(h.retry[0])
		h.retry = h.retry[1:]
		h.flags[pi] &^= fQueued
		return pi
	}
	pi := int(h.perm.At(uint64(h.nextNew)))
	h.nextNew += h.step
	return pi
}

// reason interns a reason string.
func (e *engine) reason(s string) uint8 {
	if i, ok := e.reasonIdx[s]; ok {
		return i
	}
	if len(e.reasons) >= 255 {
		return 0
	}
	e.reasons = append(e.reasons, s)
	i := uint8(len(e.reasons) - 1)
	e.reasonIdx[s] = i
	return i
}

// wake tells waiting senders that something changed.
func (e *engine) wake() {
	if e.waiters > 0 {
		close(e.changed)
		e.changed = make(chan struct{})
	}
}

// result returns the result of port pi of a finished host.
func (h *hostState) result(pi int) (Result, bool) {
	f := h.flags[pi]
	if f&fFinal == 0 || f&fError != 0 {
		return Result{}, false
	}
	r := h.res[pi]
	return Result{State: states[r.state], Reason: h.reasons[r.reason], TTL: int(r.ttl),
		RTT: time.Duration(float64(r.rtt) * float64(time.Millisecond))}, true
}

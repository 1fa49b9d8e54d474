package scan

import "sync"

// pull is what a host source has for the engine.
type pull int

const (
	pullHost pull = iota // a host to probe
	pullWait             // none now; the source's kick channel says when to ask again
	pullEnd              // none, and none will come
)

// targetSource yields the targets in a shuffled order (a keyed
// permutation of the target list), skipping excluded addresses and
// counting them and the targets it yields as it goes, so the counts are
// right however early the scan stops. It is used under the engine's lock.
type targetSource struct {
	s    *scanner
	t    Targets
	perm permutation
	i    uint64
}

func newTargetSource(s *scanner, t Targets, seed uint64) *targetSource {
	return &targetSource{s: s, t: t, perm: newPermutation(t.Len(), seed)}
}

// Len is the number of targets before exclusions.
func (ts *targetSource) Len() uint64 { return ts.t.Len() }

func (ts *targetSource) next() (host, pull) {
	for ts.i < ts.t.Len() {
		k := ts.perm.At(ts.i)
		ts.i++
		t := ts.t.At(k)
		// An IPv4-mapped IPv6 address is the IPv4 address, and is
		// reported in its IPv4 form.
		a := t.Addr.Unmap()
		if ts.t.Excluded(a) || ts.t.Excluded(t.Addr) {
			ts.s.excluded++
			continue
		}
		ts.s.hostsTotal++
		return host{addr: a, name: t.Name, index: k}, pullHost
	}
	return host{}, pullEnd
}

// upQueue hands the hosts discovery finds up to the port scan while
// discovery goes on, as Nmap's host groups do: a /16 shows its first
// open ports seconds after the start, not after every address was
// pinged. It holds at most limit hosts; while it is full, discovery
// pings no new target (gate), so memory stays flat however many hosts
// are up and however far discovery runs ahead of the port scan.
type upQueue struct {
	mu     sync.Mutex
	hosts  []host // hosts[head:] wait for the port scan
	head   int
	limit  int
	closed bool
	// ready wakes the port scan (a host came, or discovery ended);
	// room wakes discovery (the port scan took a host). Each holds one
	// signal, so a signal sent while nobody waits is not lost.
	ready, room chan struct{}
}

func newUpQueue(limit int) *upQueue {
	return &upQueue{limit: max(1, limit), ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// add queues a host found up.
func (q *upQueue) add(h host) {
	q.mu.Lock()
	q.hosts = append(q.hosts, h)
	q.mu.Unlock()
	signal(q.ready)
}

// close says discovery is over: no host will be added.
func (q *upQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.ready)
}

// full reports whether discovery should wait before pinging more.
func (q *upQueue) full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.hosts)-q.head >= q.limit
}

// next is the port scan's host source.
func (q *upQueue) next() (host, pull) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.hosts) {
		if q.closed {
			return host{}, pullEnd
		}
		return host{}, pullWait
	}
	h := q.hosts[q.head]
	q.hosts[q.head] = host{}
	q.head++
	if q.head == len(q.hosts) || q.head > 1024 && q.head*2 > len(q.hosts) {
		// Drop what was taken, so the slice does not grow with the scan.
		q.hosts = append(q.hosts[:0], q.hosts[q.head:]...)
		q.head = 0
	}
	signal(q.room)
	return h, pullHost
}

// gatedSource is discovery's host source: the targets, but none while
// the port scan's queue is full.
type gatedSource struct {
	src *targetSource
	q   *upQueue
}

func (g gatedSource) next() (host, pull) {
	if g.q.full() {
		return host{}, pullWait
	}
	return g.src.next()
}

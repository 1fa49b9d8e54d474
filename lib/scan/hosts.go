package scan

import "sync"

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

func (ts *targetSource) next() (host, bool) {
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
		return host{addr: a, name: t.Name, index: k}, true
	}
	return host{}, false
}

// upList is the hosts discovery found up, in the order they answered.
type upList struct {
	mu    sync.Mutex
	hosts []host
	i     int
}

func (u *upList) add(h host) {
	u.mu.Lock()
	u.hosts = append(u.hosts, h)
	u.mu.Unlock()
}

func (u *upList) Len() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return uint64(len(u.hosts))
}

func (u *upList) next() (host, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.i >= len(u.hosts) {
		return host{}, false
	}
	u.i++
	return u.hosts[u.i-1], true
}

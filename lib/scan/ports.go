package scan

import (
	"context"
	"math/bits"
	"net/netip"
	"sync"
)

// job is one port of one host for a worker to probe.
type job struct {
	index uint64 // host index in the host space
	host  host
	port  uint16
}

// scanPorts probes every port of every host in hosts: a producer walks
// the shuffled space, workers probe, the output writes.
func (s *scanner) scanPorts(ctx context.Context, hosts hostSpace) {
	nh, np := hosts.Len(), uint64(len(s.cfg.Ports))
	hi, total := bits.Mul64(nh, np)
	if hi != 0 || total > 1<<63 {
		s.cfg.Log.Error(ErrTooLarge.Error())
		s.errs.Add(1)
		return
	}
	s.phase.Store("ports")
	s.done.Store(0)
	s.total.Store(total)

	jobs := make(chan job, s.cfg.Concurrency)
	var wg sync.WaitGroup
	seen := &upSet{m: make(map[uint64]struct{})}
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.probePort(ctx, j, seen)
			}
		}()
	}

	skipped := s.produce(ctx, hosts, total, jobs)
	close(jobs)
	wg.Wait()

	if !s.cfg.Discover {
		// Without discovery, each excluded host skipped exactly np
		// probes; the count is exact once the whole space was walked.
		s.excluded = skipped / np
		s.hostsTotal = nh - s.excluded
		s.hostsUp = uint64(seen.len())
	}
}

// produce feeds jobs in shuffled order until the space is exhausted or
// ctx ends. It returns how many probes it skipped for excluded hosts.
func (s *scanner) produce(ctx context.Context, hosts hostSpace, total uint64, jobs chan<- job) (skipped uint64) {
	np := uint64(len(s.cfg.Ports))
	perm := newPermutation(total, s.cfg.Seed)
	checkExcluded := !s.cfg.Discover
	for i := uint64(0); i < total; i++ {
		k := perm.At(i)
		hi, pi := k/np, k%np
		h := hosts.At(hi)
		if checkExcluded && s.cfg.Targets.Excluded(h.addr) {
			skipped++
			s.done.Add(1)
			continue
		}
		if err := s.wait(ctx); err != nil {
			return skipped
		}
		select {
		case jobs <- job{index: hi, host: h, port: s.cfg.Ports[pi]}:
		case <-ctx.Done():
			return skipped
		}
	}
	return skipped
}

func (s *scanner) probePort(ctx context.Context, j job, seen *upSet) {
	dst := netip.AddrPortFrom(j.host.addr, j.port)
	r := s.probe(ctx, dst)
	if r.Err != nil {
		if ctx.Err() == nil {
			s.noteError(dst, r.Err)
		}
		return
	}
	s.done.Add(1)
	s.count(r)
	// Without discovery, a host is reported up by its first answer.
	if !s.cfg.Discover && r.answered() && seen.add(j.index) {
		h := j.host
		ev := s.hostEvent(h, "up", r.Reason, r.RTT)
		if ev.Hostname == "" {
			ev.Hostname = s.reverseName(ctx, h.addr)
		}
		s.out.send(ev)
	}
	if r.State == StateOpen || s.cfg.AllStates {
		s.out.send(s.portEvent(j.host, j.port, r))
	}
}

// upSet remembers which hosts have answered.
type upSet struct {
	mu sync.Mutex
	m  map[uint64]struct{}
}

// add records host i and reports whether it is new.
func (u *upSet) add(i uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.m[i]; ok {
		return false
	}
	u.m[i] = struct{}{}
	return true
}

func (u *upSet) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.m)
}

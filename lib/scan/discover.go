package scan

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// discover pings every target and returns the hosts that answered. A
// host is up when any discovery port answers, whether it accepts the
// connection or refuses it: both prove a live stack. This is Nmap's
// unprivileged ping; raw ICMP and ARP discovery need privileges and come
// with the raw-socket methods.
func (s *scanner) discover(ctx context.Context) hostSpace {
	s.phase.Store("discovery")
	s.done.Store(0)
	s.total.Store(s.cfg.Targets.Len())

	var (
		mu  sync.Mutex
		up  upHosts
		wg  sync.WaitGroup
		all uint64
	)
	// Each ping has one probe per discovery port in flight.
	workers := max(1, s.cfg.Concurrency/len(s.cfg.DiscoveryPorts))
	jobs := make(chan host, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range jobs {
				state, reason, rtt, err := s.ping(ctx, h.addr)
				if err != nil {
					if ctx.Err() == nil {
						s.noteError(netip.AddrPortFrom(h.addr, s.cfg.DiscoveryPorts[0]), err)
					}
					continue
				}
				s.done.Add(1)
				if state != "up" {
					if s.cfg.AllStates {
						s.out.send(s.hostEvent(h, state, reason, rtt))
					}
					continue
				}
				ev := s.hostEvent(h, state, reason, rtt)
				if ev.Hostname == "" {
					ev.Hostname = s.reverseName(ctx, h.addr)
				}
				s.out.send(ev)
				mu.Lock()
				up = append(up, h)
				mu.Unlock()
			}
		}()
	}
	for t := range s.cfg.Targets.All() {
		if ctx.Err() != nil {
			break
		}
		all++
		select {
		case jobs <- host{addr: t.Addr, name: t.Name}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()

	s.hostsTotal = all
	s.excluded = s.cfg.Targets.Len() - all
	s.hostsUp = uint64(len(up))
	return up
}

// ping probes the discovery ports of addr at once and settles on the
// first answer. It returns the last local error when no probe could be
// made at all.
func (s *scanner) ping(ctx context.Context, addr netip.Addr) (state, reason string, rtt time.Duration, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan Result, len(s.cfg.DiscoveryPorts))
	for _, p := range s.cfg.DiscoveryPorts {
		go func() {
			if err := s.wait(ctx); err != nil {
				results <- Result{Err: err}
				return
			}
			results <- s.probe(ctx, netip.AddrPortFrom(addr, p))
		}()
	}
	var best Result
	found := false
	for range s.cfg.DiscoveryPorts {
		// Collect every result, so no probe outlives the ping; once one
		// answered, cancelling makes the others return at once.
		r := <-results
		switch {
		case found:
		case r.answered():
			found, best = true, r
			cancel()
		case r.Err == nil || best.State == "":
			best = r
		}
	}
	if found {
		return "up", best.Reason, best.RTT, nil
	}
	if best.Err != nil {
		return "", "", 0, best.Err
	}
	return "down", best.Reason, best.RTT, nil
}

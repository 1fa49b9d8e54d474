package scan

import (
	"context"
	"sync"
)

// upQueueLimit is how many hosts found up may wait for the port scan
// before discovery pauses: enough to keep the port scan fed, few enough
// that memory does not grow with the target list.
const upQueueLimit = 4096

// discover pings the targets of src on the discovery ports. A host is
// up when any discovery port answers, whether it accepts the connection
// or refuses it: both prove a live stack. With the connect method this
// is Nmap's unprivileged ping; raw ICMP and ARP discovery are discovery
// methods of their own. Each host found up goes to q for the port scan,
// or, when q is nil (--ping-only), straight to the output.
func (s *scanner) discover(ctx context.Context, src hostSource, q *upQueue, b *bucket) {
	s.discovering.Store(true)
	defer s.discovering.Store(false)
	s.discTotal.Store(s.cfg.Targets.Len() * uint64(len(s.cfg.DiscoveryPorts)))
	p := s.phaseBase(ctx, s.cfg.Discovery, s.cfg.DiscoveryPorts, src, b, &s.discDone)
	p.mode = modePing
	p.maxActive = max(1, s.cfg.Concurrency/len(s.cfg.DiscoveryPorts))
	portCount := uint64(len(s.cfg.Ports.Ports(s.cfg.Method.Proto())))
	if q != nil {
		p.kick = q.room
	}
	p.finish = func(e *engine, h *hostState) {
		if h.up {
			why := h.upWhy
			hh := h.host
			hh.ping = &why
			s.hostsUp.Add(1)
			if q == nil {
				s.writeHost(ctx, hh, nil)
				return
			}
			s.portTotal.Add(portCount)
			q.add(hh)
			return
		}
		if s.cfg.AllStates && h.pending == 0 {
			s.out.send(s.hostEvent(h.host, h.best, false))
		}
	}
	if err := p.run(ctx); err != nil {
		s.errs.Add(1)
		s.cfg.Log.Error(err.Error())
	}
}

// discoverAndScan runs discovery and the port scan side by side: each
// host found up joins the port scan at once, as Nmap's host groups do,
// so the first results of a large sweep come early and the hosts found
// up never pile up (discovery waits while upQueueLimit of them wait).
// Each phase keeps at most Concurrency probes in flight; the rate limit
// is shared.
func (s *scanner) discoverAndScan(ctx context.Context, all *targetSource, b *bucket) {
	q := newUpQueue(upQueueLimit)
	// The port scan ending early (its method failed to start) stops
	// discovery too: nothing would scan what it finds.
	dctx, stopDiscovery := context.WithCancel(ctx)
	defer stopDiscovery()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer q.close()
		s.discover(dctx, gatedSource{src: all, q: q}, q, b)
	})
	s.scanPorts(ctx, q, q.ready, b)
	stopDiscovery()
	wg.Wait()
	// Hosts found up whose ports were never reached (the scan was
	// stopped) still get their host event.
	for h, got := q.next(); got == pullHost; h, got = q.next() {
		s.writeHost(ctx, h, nil)
	}
}

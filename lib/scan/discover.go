package scan

import "context"

// discover pings every target on the discovery ports and returns the
// hosts that answered. A host is up when any discovery port answers,
// whether it accepts the connection or refuses it: both prove a live
// stack. With the connect method this is Nmap's unprivileged ping; raw
// ICMP and ARP discovery are discovery methods of their own.
func (s *scanner) discover(ctx context.Context, all *targetSource, b *bucket) *upList {
	s.phase.Store("discovery")
	s.done.Store(0)
	s.total.Store(all.Len() * uint64(len(s.cfg.DiscoveryPorts)))
	up := &upList{}
	p := s.phaseBase(ctx, s.cfg.Discovery, s.cfg.DiscoveryPorts, all, b)
	p.mode = modePing
	p.maxActive = max(1, s.cfg.Concurrency/len(s.cfg.DiscoveryPorts))
	p.finish = func(e *engine, h *hostState) {
		if h.up {
			why := h.upWhy
			hh := h.host
			hh.ping = &why
			s.hostsUp.Add(1)
			up.add(hh)
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
	return up
}

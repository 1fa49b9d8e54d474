package service

import (
	"context"
	"slices"
	"time"
)

// probeUDP sends the UDP probes in order, a few at a time, and matches
// the first datagram of each answer; the first hard match cancels the
// others.
func (s *session) probeUDP(ctx context.Context) {
	likely, rest := s.order(UDP)
	s.runProbes(ctx, slices.Concat(likely, rest), s.e.cfg.Parallel, s.udpExchange)
}

// udpExchange sends one UDP probe and reports whether its answer gave a
// hard match.
func (s *session) udpExchange(ctx context.Context, p *Probe, rank int) bool {
	cctx, cancel := context.WithTimeout(ctx, min(p.TotalWait, s.e.cfg.Timeout))
	defer cancel()
	conn, err := s.e.cfg.Dial(cctx, "udp", s.addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	stop := context.AfterFunc(cctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if d, ok := cctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	if _, err := conn.Write(p.Payload); err != nil {
		return false
	}
	buf := make([]byte, min(s.e.cfg.MaxAnswer, 65535))
	n, err := conn.Read(buf)
	if err != nil || n == 0 {
		return false
	}
	return s.record(p, buf[:n], rank)
}

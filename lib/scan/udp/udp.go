// Package udp is the UDP probe method, as Nmap's -sU: a datagram per
// probe, carrying a request of the port's protocol where one is known
// (payload.go), sent on a raw socket and answered through the packet
// socket of lib/scan/raw. A UDP answer means open, an ICMP port
// unreachable closed, another ICMP error filtered, and silence after the
// last try open|filtered.
//
// Linux answers at most one closed UDP port per second and host (after
// a burst of six; net.ipv4.icmp_ratelimit), so most closed ports of a
// scan come back silent at first. The engine takes care of that: a port
// that answers only a resent probe counts as a drop, so the engine slows
// down for that host and asks its silent ports again; and a host that
// answered some port closed has its still silent ports asked once more,
// a probe per ICMP refill (Tune), before they are called open|filtered.
//
// Like syn, the method keeps no table of probes: the source port of a
// probe is a keyed hash of its destination, and an answer or ICMP error
// must come back to that port.
package udp

import (
	"context"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/raw"
)

// ReasonUDPResponse is Nmap's reason for a port that answered a UDP
// probe.
const ReasonUDPResponse = "udp-response"

// Method is the UDP method.
type Method struct{}

var _ scan.Method = (*Method)(nil)

// New returns the UDP method, or an error saying why the process may
// not send raw packets.
func New(scan.MethodConfig) (scan.Method, error) {
	if err := raw.Available(); err != nil {
		return nil, err
	}
	return &Method{}, nil
}

// Proto returns UDP.
func (m *Method) Proto() ports.Proto { return ports.UDP }

// Start opens the receive socket, then the raw sockets.
func (m *Method) Start(ctx context.Context, sink scan.Sink) (scan.Session, error) {
	s := &Session{ctx: ctx, sink: sink, key: raw.NewKey(), epoch: time.Now()}
	var err error
	if s.recv, s.send, err = raw.Open(ctx, sink, s.craft, s.receive); err != nil {
		return nil, err
	}
	return s, nil
}

// Tune makes the engine ask the silent ports of a host that sends port
// unreachables again at the pace of the kernel's ICMP rate limit (one
// error a second, with a tenth of room), for up to three rounds.
func Tune(t *scan.Timing) {
	t.SilentPace = 1100 * time.Millisecond
	t.SilentRounds = 3
}

// Session is one scan's UDP prober.
type Session struct {
	ctx   context.Context
	sink  scan.Sink
	key   raw.Key
	epoch time.Time
	recv  *raw.Receiver
	send  *raw.Sender
	src   raw.Sources
}

// Send queues one datagram. Its outcome comes later through the sink, or
// from Expire.
func (s *Session) Send(p scan.Probe) (scan.Result, bool) {
	if err := s.ctx.Err(); err != nil {
		return scan.Result{Err: context.Cause(s.ctx)}, true
	}
	s.send.Send(p)
	return scan.Result{}, false
}

// sourcePort is the source port of every probe of dst:port.
func (s *Session) sourcePort(dst netip.Addr, port uint16) uint16 {
	return raw.SourcePort(s.key.Sum(dst, port, 1<<31))
}

func (s *Session) craft(f *raw.Frame, p scan.Probe) (netip.Addr, error) {
	dst := p.Dst.Addr().Unmap()
	src, err := s.src.Source(dst)
	if err != nil {
		return dst, err
	}
	port := p.Dst.Port()
	ip := f.IP(src, dst, raw.ProtoUDP, uint16(s.key.Sum(dst, port, uint32(p.Try))))
	f.UDP = layers.UDP{SrcPort: layers.UDPPort(s.sourcePort(dst, port)), DstPort: layers.UDPPort(port)}
	if err := f.UDP.SetNetworkLayerForChecksum(ip); err != nil {
		return dst, err
	}
	return dst, gopacket.SerializeLayers(f.Buf, raw.Opts, ip, &f.UDP, gopacket.Payload(Payload(port, p.Try)))
}

// receive handles one packet that passed the filter.
func (s *Session) receive(p *raw.Packet) {
	switch p.Proto {
	case raw.ProtoUDP:
		if p.DstPort != s.sourcePort(p.Src, p.SrcPort) {
			return
		}
		if p.SrcPort == s.sourcePort(p.Dst, p.DstPort) {
			// One of our own probes, seen arriving on loopback: its
			// source port is the cookie of its destination.
			return
		}
		s.sink(scan.Answer{Dst: netip.AddrPortFrom(p.Src, p.SrcPort), Try: -1,
			Result: scan.Result{State: scan.StateOpen, Reason: ReasonUDPResponse, TTL: int(p.TTL)}})
	case raw.ProtoICMP, raw.ProtoICMPv6:
		q := p.Quoted
		if !p.HasQuote || q.Proto != raw.ProtoUDP {
			return
		}
		dst := q.Dst.Unmap()
		if q.SrcPort != s.sourcePort(dst, q.DstPort) {
			return
		}
		v6 := p.Proto == raw.ProtoICMPv6
		reason := scan.ICMPReason(v6, p.ICMPType, p.ICMPCode)
		if reason == "" {
			return
		}
		r := scan.Result{State: scan.StateFiltered, Reason: reason, TTL: int(p.TTL)}
		// Port unreachable from the target itself means nothing listens
		// there; from a router on the way it is a filter.
		if reason == scan.ReasonPortUnreach && p.Src == dst {
			r.State = scan.StateClosed
		}
		s.sink(scan.Answer{Dst: netip.AddrPortFrom(dst, q.DstPort), Try: -1, Result: r})
	}
}

// Expire calls a port that stayed silent through its last try
// open|filtered: a UDP service need not answer what it does not
// understand, and a firewall may drop the probe.
func (s *Session) Expire(_ scan.Probe, final bool) (scan.Result, bool) {
	if !final {
		return scan.Result{}, false
	}
	return scan.Result{State: scan.StateOpenFiltered, Reason: scan.ReasonNoResponse}, true
}

// Close stops the receiver and closes the sockets.
func (s *Session) Close() error {
	s.send.Close()
	return s.recv.Close()
}

// Package udp is the UDP probe method, as Nmap's -sU: a datagram per
// probe, carrying a request of the port's protocol where one is known
// (payload.go), sent on a raw socket and answered through the packet
// socket of lib/scan/raw. A UDP answer means open, an ICMP port
// unreachable closed, another ICMP error filtered, and silence after the
// last try open|filtered.
//
// Linux answers at most one closed UDP port per second and host (after
// a burst of six; net.ipv4.icmp_ratelimit), so most closed ports of a
// scan come back silent at first. The engine takes care of that (Tune):
// once a host has answered some port closed, its silent ports are not
// resent at once (the resends would find the host's budget spent) but
// asked again in a paced round, one probe at a time, each when the host
// has earned an error to send, so a silent probe of the round means a
// silent port.
//
// Like syn, the method keeps no table of probes: the source port of a
// probe is a keyed hash of its destination, and an answer or ICMP error
// must come back to that port. The time a probe is sent rides in its IP
// header (IPv4 identification, IPv6 flow label), which an ICMP error
// quotes back, so errors give the engine round-trip times.
package udp

import (
	"context"
	"encoding/binary"
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
	s := &Session{}
	if err := s.Open(ctx, sink, s.craft, s.receive); err != nil {
		return nil, err
	}
	return s, nil
}

// Tune makes the engine ask the silent ports of a host that sends port
// unreachables again, one at a time, at the pace of the kernel's ICMP
// rate limit (Linux: one error a second, counted in jiffies of up to
// 10 ms; the engine adds the host's RTT variation, and a probe that
// comes early is asked again at once), instead of resending them before
// that budget refills; and it drops the final wait, which only gives a
// connect's own SYN resend time.
func Tune(t *scan.Timing) {
	t.SilentPace = 1010 * time.Millisecond
	t.SilentRounds = 3
	t.FinalWait = 0
}

// Session is one scan's UDP prober.
type Session struct {
	raw.Base
}

// Send queues one datagram. Its outcome comes later through the sink, or
// from Expire.
func (s *Session) Send(p scan.Probe) (scan.Result, bool) {
	return s.Queue(p)
}

// sourcePort is the source port of every probe of dst:port.
func (s *Session) sourcePort(dst netip.Addr, port uint16) uint16 {
	return raw.SourcePort(s.Key.Sum(dst, port, 1<<31))
}

func (s *Session) craft(f *raw.Frame, p scan.Probe) (netip.Addr, error) {
	dst := p.Dst.Addr().Unmap()
	src, err := s.Src.Source(dst)
	if err != nil {
		return dst, err
	}
	port := p.Dst.Port()
	// The probe carries the time it is made where an ICMP error quotes
	// it back: in the IPv4 identification (never 0, which the kernel
	// would replace) or the IPv6 flow label.
	stamp := max(raw.Stamp(time.Since(s.Epoch).Nanoseconds()), 1)
	ip := f.IP(src, dst, raw.ProtoUDP, stamp)
	if !dst.Is4() {
		f.IP6.FlowLabel = uint32(stamp)
	}
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
		s.Sink(scan.Answer{Dst: netip.AddrPortFrom(p.Src, p.SrcPort), Try: -1,
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
		if stamp, ok := quotedStamp(p); ok {
			r.RTT = time.Duration(raw.Since(stamp, time.Since(s.Epoch).Nanoseconds()))
		}
		// Port unreachable from the target itself means nothing listens
		// there; from a router on the way it is a filter.
		if reason == scan.ReasonPortUnreach && p.Src == dst {
			r.State = scan.StateClosed
		}
		s.Sink(scan.Answer{Dst: netip.AddrPortFrom(dst, q.DstPort), Try: -1, Result: r})
	}
}

// quotedStamp returns the send stamp of the probe an ICMP error quotes:
// the identification of its IPv4 header or the flow label of its IPv6
// header (craft puts it there).
func quotedStamp(p *raw.Packet) (uint16, bool) {
	b := p.Payload
	if p.Proto == raw.ProtoICMPv6 {
		// Four unused bytes, then the quoted header.
		if len(b) < 8 || b[4]>>4 != 6 {
			return 0, false
		}
		return binary.BigEndian.Uint16(b[6:8]), true
	}
	if len(b) < 6 || b[0]>>4 != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[4:6]), true
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

// Package syn is the SYN probe method, as Nmap's -sS and masscan do it:
// a raw TCP SYN per probe, sent without a socket of the kernel's, and
// the answers read from a packet socket. A SYN-ACK means open, a reset
// closed, an ICMP error filtered. The kernel, which has no socket for
// the probe, resets the half-open connection itself.
//
// The method is stateless: the sequence number carries a keyed cookie of
// the destination and a 16-bit send time, and the source port is derived
// from the same key, so an answer proves which probe it is for, and how
// long it took, without any table of probes in flight. Memory does not
// grow with the scan.
package syn

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

// Method is the SYN method.
type Method struct{}

var _ scan.Method = (*Method)(nil)

// New returns the SYN method, or an error saying why the process may
// not send raw packets.
func New(scan.MethodConfig) (scan.Method, error) {
	if err := raw.Available(); err != nil {
		return nil, err
	}
	return &Method{}, nil
}

// Tune drops the engine's final wait: it gives a connect's kernel time
// to resend its SYN, and a raw SYN has no such resend, so the last try
// of a port waits the host's measured timeout like the others, as
// Nmap's SYN scan does.
func Tune(t *scan.Timing) { t.FinalWait = 0 }

// Proto returns TCP.
func (m *Method) Proto() ports.Proto { return ports.TCP }

// Start opens the receive socket first, then the raw sockets, and
// starts the receiver.
func (m *Method) Start(ctx context.Context, sink scan.Sink) (scan.Session, error) {
	s := &Session{}
	if err := s.Open(ctx, sink, s.craft, s.receive); err != nil {
		return nil, err
	}
	return s, nil
}

// Session is one scan's SYN prober.
type Session struct {
	raw.Base
}

// mss is the MSS option every probe carries, as a real stack's SYN
// does; some stacks ignore a SYN without options.
var mss = []byte{0x05, 0xb4} // 1460

// Send queues one SYN for the sender threads. Its outcome comes later
// through the sink.
func (s *Session) Send(p scan.Probe) (scan.Result, bool) {
	return s.Queue(p)
}

// craft makes the SYN of probe p, stamped with the time it is made.
func (s *Session) craft(f *raw.Frame, p scan.Probe) (netip.Addr, error) {
	dst := p.Dst.Addr().Unmap()
	src, err := s.Src.Source(dst)
	if err != nil {
		return dst, err
	}
	port := p.Dst.Port()
	sport, seq := s.cookie(dst, port, raw.Stamp(time.Since(s.Epoch).Nanoseconds()))
	ip := f.IP(src, dst, raw.ProtoTCP, uint16(seq))
	f.Opts[0] = layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: mss}
	f.TCP = layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(port), Seq: seq,
		SYN: true, Window: 1024, Options: f.Opts[:1]}
	if err := f.TCP.SetNetworkLayerForChecksum(ip); err != nil {
		return dst, err
	}
	return dst, gopacket.SerializeLayers(f.Buf, raw.Opts, ip, &f.TCP)
}

// cookie returns the source port and sequence number of a probe of
// dst:port sent at stamp: the port from a keyed hash of the destination,
// the sequence number the stamp and 16 bits of a keyed hash of the
// destination and the stamp.
func (s *Session) cookie(dst netip.Addr, port uint16, stamp uint16) (sport uint16, seq uint32) {
	sport = raw.SourcePort(s.Key.Sum(dst, port, 1<<31))
	seq = uint32(stamp)<<16 | uint32(s.Key.Sum(dst, port, uint32(stamp))&0xffff)
	return sport, seq
}

// check validates an answer from target:port to our sport that
// acknowledges seq+1 (a SYN-ACK or reset) or quotes seq (an ICMP error),
// and returns the probe's send stamp.
func (s *Session) check(target netip.Addr, port, sport uint16, seq uint32) (uint16, bool) {
	stamp := uint16(seq >> 16)
	wantPort, wantSeq := s.cookie(target, port, stamp)
	return stamp, sport == wantPort && seq == wantSeq
}

// receive handles one packet that passed the filter.
func (s *Session) receive(p *raw.Packet) {
	now := time.Since(s.Epoch).Nanoseconds()
	switch p.Proto {
	case raw.ProtoTCP:
		if !p.ACK {
			return
		}
		stamp, ok := s.check(p.Src, p.SrcPort, p.DstPort, p.Ack-1)
		if !ok {
			return
		}
		r := scan.Result{TTL: int(p.TTL), RTT: time.Duration(raw.Since(stamp, now))}
		switch {
		case p.RST:
			r.State, r.Reason = scan.StateClosed, scan.ReasonReset
		case p.SYN:
			r.State, r.Reason = scan.StateOpen, scan.ReasonSynAck
		default:
			return
		}
		s.Sink(scan.Answer{Dst: netip.AddrPortFrom(p.Src, p.SrcPort), Try: -1, Result: r})
	case raw.ProtoICMP, raw.ProtoICMPv6:
		q := p.Quoted
		if !p.HasQuote || q.Proto != raw.ProtoTCP {
			return
		}
		dst := q.Dst.Unmap()
		stamp, ok := s.check(dst, q.DstPort, q.SrcPort, q.Seq)
		if !ok {
			return
		}
		reason := scan.ICMPReason(p.Proto == raw.ProtoICMPv6, p.ICMPType, p.ICMPCode)
		if reason == "" {
			return
		}
		r := scan.Result{State: scan.StateFiltered, Reason: reason, TTL: int(p.TTL),
			RTT: time.Duration(raw.Since(stamp, now))}
		s.Sink(scan.Answer{Dst: netip.AddrPortFrom(dst, q.DstPort), Try: -1, Result: r})
	}
}

// Expire has nothing to free: the method keeps no state per probe.
func (s *Session) Expire(scan.Probe, bool) (scan.Result, bool) { return scan.Result{}, false }

// Package ping is host discovery as Nmap does it by default when
// privileged: an ICMP echo request, a TCP SYN to port 443 and a TCP ACK
// to port 80 (and, optionally, an ICMP timestamp request), sent raw. Any
// answer proves the host up: an echo or timestamp reply, a SYN-ACK or a
// reset (an ACK out of the blue is answered by a reset, which a stateless
// firewall lets through where it stops SYNs).
//
// The discovery phase of the engine probes "ports"; here each probe kind
// is one pseudo-port (Kinds), so the engine times, resends and settles the
// kinds of a host as it does the ports of a scan. Like syn, the method is
// stateless: every probe carries a keyed cookie of its destination in a
// field the answer echoes (ICMP identifier, TCP sequence or
// acknowledgement number) and a send stamp for the round trip.
package ping

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/scan"
	"github.com/picketscan/picket/lib/scan/raw"
)

// Probe kinds, the pseudo-ports of a discovery phase.
const (
	KindEcho      uint16 = 1 // ICMP or ICMPv6 echo request
	KindSYN443    uint16 = 2 // TCP SYN to port 443
	KindACK80     uint16 = 3 // TCP ACK to port 80
	KindTimestamp uint16 = 4 // ICMP timestamp request (IPv4 only)
)

// Kinds are the probes Nmap sends by default when privileged.
var Kinds = []uint16{KindEcho, KindSYN443, KindACK80}

// Reasons for a host found up, in Nmap's words.
const (
	ReasonEchoReply      = "echo-reply"
	ReasonTimestampReply = "timestamp-reply"
)

// Describe names kinds for the scan scope, e.g.
// "icmp-echo,tcp-syn:443,tcp-ack:80".
func Describe(kinds []uint16) string {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		switch k {
		case KindEcho:
			names = append(names, "icmp-echo")
		case KindSYN443:
			names = append(names, "tcp-syn:443")
		case KindACK80:
			names = append(names, "tcp-ack:80")
		case KindTimestamp:
			names = append(names, "icmp-timestamp")
		default:
			names = append(names, fmt.Sprintf("kind-%d", k))
		}
	}
	return strings.Join(names, ",")
}

// Method is the discovery method.
type Method struct{}

var _ scan.Method = (*Method)(nil)

// New returns the method, or why the process may not send raw packets.
func New(scan.MethodConfig) (scan.Method, error) {
	if err := raw.Available(); err != nil {
		return nil, err
	}
	return &Method{}, nil
}

// Proto is TCP: the engine's ports are probe kinds here, not ports.
func (m *Method) Proto() ports.Proto { return ports.TCP }

// Start opens the receive socket, then the raw sockets.
func (m *Method) Start(ctx context.Context, sink scan.Sink) (scan.Session, error) {
	s := &Session{}
	if err := s.Open(ctx, sink, s.craft, s.receive); err != nil {
		return nil, err
	}
	return s, nil
}

// Session is one scan's pinger.
type Session struct {
	raw.Base
}

// Send queues one probe of kind p.Dst.Port().
func (s *Session) Send(p scan.Probe) (scan.Result, bool) {
	if p.Dst.Port() == KindTimestamp && !p.Dst.Addr().Unmap().Is4() {
		// ICMPv6 has no timestamp request: nothing to send, nothing to
		// learn.
		return scan.Result{State: scan.StateFiltered, Reason: scan.ReasonNoResponse}, true
	}
	return s.Queue(p)
}

// tcpPort is the TCP port a kind probes.
func tcpPort(kind uint16) uint16 {
	if kind == KindSYN443 {
		return 443
	}
	return 80
}

// id is the 16-bit cookie of ICMP probes to dst.
func (s *Session) id(dst netip.Addr) uint16 { return uint16(s.Key.Sum(dst, 0, 7)) }

// tcpCookie is the source port and the sequence (SYN) or
// acknowledgement (ACK) number of a TCP probe of dst:port at stamp.
func (s *Session) tcpCookie(dst netip.Addr, port, stamp uint16) (uint16, uint32) {
	return raw.SourcePort(s.Key.Sum(dst, port, 1<<31)), uint32(stamp)<<16 | uint32(s.Key.Sum(dst, port, uint32(stamp))&0xffff)
}

func (s *Session) craft(f *raw.Frame, p scan.Probe) (netip.Addr, error) {
	dst := p.Dst.Addr().Unmap()
	src, err := s.Src.Source(dst)
	if err != nil {
		return dst, err
	}
	stamp := raw.Stamp(time.Since(s.Epoch).Nanoseconds())
	kind := p.Dst.Port()
	switch kind {
	case KindEcho, KindTimestamp:
		body := make([]byte, 12)
		if dst.Is4() {
			ip := f.IP(src, dst, raw.ProtoICMP, stamp)
			t := uint8(8)
			if kind == KindTimestamp {
				t = 13
			}
			f.ICMP4 = layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(t, 0), Id: s.id(dst), Seq: stamp}
			return dst, gopacket.SerializeLayers(f.Buf, raw.Opts, ip, &f.ICMP4, gopacket.Payload(body))
		}
		ip := f.IP(src, dst, raw.ProtoICMPv6, 0)
		f.ICMP6 = layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		if err := f.ICMP6.SetNetworkLayerForChecksum(ip); err != nil {
			return dst, err
		}
		echo := &layers.ICMPv6Echo{Identifier: s.id(dst), SeqNumber: stamp}
		return dst, gopacket.SerializeLayers(f.Buf, raw.Opts, ip, &f.ICMP6, echo, gopacket.Payload(body[:8]))
	case KindSYN443, KindACK80:
		port := tcpPort(kind)
		sport, cookie := s.tcpCookie(dst, port, stamp)
		ip := f.IP(src, dst, raw.ProtoTCP, stamp)
		f.TCP = layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(port), Window: 1024}
		if kind == KindSYN443 {
			f.TCP.SYN, f.TCP.Seq = true, cookie
		} else {
			f.TCP.ACK, f.TCP.Ack, f.TCP.Seq = true, cookie, uint32(s.Key.Sum(dst, port, 3))
		}
		if err := f.TCP.SetNetworkLayerForChecksum(ip); err != nil {
			return dst, err
		}
		return dst, gopacket.SerializeLayers(f.Buf, raw.Opts, ip, &f.TCP)
	}
	return dst, fmt.Errorf("ping: unknown probe kind %d", kind)
}

// up reports host src up through probe kind.
func (s *Session) up(src netip.Addr, kind uint16, reason string, ttl uint8, stamp uint16, now int64) {
	s.Sink(scan.Answer{Dst: netip.AddrPortFrom(src, kind), Try: -1, Result: scan.Result{
		State: scan.StateOpen, Reason: reason, TTL: int(ttl), RTT: time.Duration(raw.Since(stamp, now))}})
}

func (s *Session) receive(p *raw.Packet) {
	now := time.Since(s.Epoch).Nanoseconds()
	switch p.Proto {
	case raw.ProtoICMP, raw.ProtoICMPv6:
		if p.ICMPID != s.id(p.Src) {
			return
		}
		switch {
		case p.Proto == raw.ProtoICMP && p.ICMPType == 0, p.Proto == raw.ProtoICMPv6 && p.ICMPType == 129:
			s.up(p.Src, KindEcho, ReasonEchoReply, p.TTL, p.ICMPSeq, now)
		case p.Proto == raw.ProtoICMP && p.ICMPType == 14:
			s.up(p.Src, KindTimestamp, ReasonTimestampReply, p.TTL, p.ICMPSeq, now)
		}
	case raw.ProtoTCP:
		switch p.SrcPort {
		case 443:
			if !p.ACK {
				return
			}
			stamp := uint16((p.Ack - 1) >> 16)
			sport, cookie := s.tcpCookie(p.Src, 443, stamp)
			if p.DstPort != sport || p.Ack-1 != cookie {
				return
			}
			reason := scan.ReasonSynAck
			if p.RST {
				reason = scan.ReasonReset
			} else if !p.SYN {
				return
			}
			s.up(p.Src, KindSYN443, reason, p.TTL, stamp, now)
		case 80:
			// The reset to an ACK takes its sequence number from the
			// ACK's acknowledgement number.
			if !p.RST {
				return
			}
			stamp := uint16(p.Seq >> 16)
			sport, cookie := s.tcpCookie(p.Src, 80, stamp)
			if p.DstPort != sport || p.Seq != cookie {
				return
			}
			s.up(p.Src, KindACK80, scan.ReasonReset, p.TTL, stamp, now)
		}
	}
}

// Expire has nothing to free.
func (s *Session) Expire(scan.Probe, bool) (scan.Result, bool) { return scan.Result{}, false }

package raw

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Packet is what a Decoder found in one received packet: the IP header's
// addresses and TTL, then the TCP or UDP header, or the ICMP message and,
// for an ICMP error, the probe it quotes.
type Packet struct {
	Src, Dst netip.Addr
	TTL      uint8
	Proto    uint8 // ProtoTCP, ProtoUDP, ProtoICMP or ProtoICMPv6

	SrcPort, DstPort uint16
	Seq, Ack         uint32
	SYN, ACK, RST    bool

	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16 // of an echo or timestamp reply
	// Quoted is the start of the packet an ICMP error is about; its
	// fields are valid when HasQuote is set.
	HasQuote bool
	Quoted   Quote

	// Payload is the UDP payload or the ICMP message body; it points
	// into the received buffer.
	Payload []byte
}

// Quote is the probe an ICMP error quotes: its header and the first
// eight bytes of its transport header.
type Quote struct {
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Seq              uint32 // TCP only
	ICMPID, ICMPSeq  uint16 // an ICMP echo or timestamp probe
}

// Decoder decodes received packets with gopacket's layers, chaining
// their DecodeFromBytes by hand: the layers are reused, nothing is
// allocated per packet, and no time goes to guessing the layer after
// the transport header (a DecodingLayerParser looks up the application
// protocol of every TCP port, a tenth of a SYN scan's receive work). It
// is for one goroutine.
type Decoder struct {
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
}

// NewDecoder returns a decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode decodes pkt, which starts at its IP header, into p. It reports
// false for a packet it cannot use.
func (d *Decoder) Decode(pkt []byte, p *Packet) bool {
	*p = Packet{}
	if len(pkt) < 20 {
		return false
	}
	var body []byte
	switch pkt[0] >> 4 {
	case 4:
		if d.ip4.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback) != nil ||
			d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
			return false
		}
		p.Src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
		p.Dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
		p.TTL, p.Proto = d.ip4.TTL, uint8(d.ip4.Protocol)
		body = d.ip4.Payload
	case 6:
		if d.ip6.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback) != nil {
			return false
		}
		p.Src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
		p.Dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
		p.TTL, p.Proto = d.ip6.HopLimit, uint8(d.ip6.NextHeader)
		body = d.ip6.Payload
	default:
		return false
	}
	switch p.Proto {
	case ProtoTCP:
		if d.tcp.DecodeFromBytes(body, gopacket.NilDecodeFeedback) != nil {
			return false
		}
		p.SrcPort, p.DstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
		p.Seq, p.Ack = d.tcp.Seq, d.tcp.Ack
		p.SYN, p.ACK, p.RST = d.tcp.SYN, d.tcp.ACK, d.tcp.RST
	case ProtoUDP:
		if d.udp.DecodeFromBytes(body, gopacket.NilDecodeFeedback) != nil {
			return false
		}
		p.SrcPort, p.DstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		p.Payload = d.udp.Payload
	case ProtoICMP:
		if pkt[0]>>4 != 4 || d.icmp4.DecodeFromBytes(body, gopacket.NilDecodeFeedback) != nil {
			return false
		}
		p.ICMPType, p.ICMPCode = d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
		p.ICMPID, p.ICMPSeq = d.icmp4.Id, d.icmp4.Seq
		p.Payload = d.icmp4.Payload
		if isError4(p.ICMPType) {
			p.Quoted, p.HasQuote = quote(d.icmp4.Payload)
		}
	case ProtoICMPv6:
		if pkt[0]>>4 != 6 || d.icmp6.DecodeFromBytes(body, gopacket.NilDecodeFeedback) != nil {
			return false
		}
		p.ICMPType, p.ICMPCode = d.icmp6.TypeCode.Type(), d.icmp6.TypeCode.Code()
		msg := d.icmp6.Payload // after type, code and checksum
		if len(msg) >= 4 {
			p.ICMPID, p.ICMPSeq = binary.BigEndian.Uint16(msg), binary.BigEndian.Uint16(msg[2:])
		}
		p.Payload = msg
		if p.ICMPType < 128 && len(msg) >= 4 {
			p.Quoted, p.HasQuote = quote(msg[4:])
		}
	default:
		return false
	}
	return true
}

// isError4 reports whether an ICMPv4 type is an error that quotes the
// packet it is about.
func isError4(t uint8) bool { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12 }

// quote reads the start of a quoted packet. Only as much as a probe's
// validation needs is required: the IP header and 8 transport bytes.
func quote(b []byte) (Quote, bool) {
	var q Quote
	if len(b) < 20 {
		return q, false
	}
	var t []byte
	switch b[0] >> 4 {
	case 4:
		ihl := int(b[0]&0xf) * 4
		if ihl < 20 || len(b) < ihl+8 {
			return q, false
		}
		q.Proto = b[9]
		q.Src = netip.AddrFrom4([4]byte(b[12:16]))
		q.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		t = b[ihl : ihl+8]
	case 6:
		if len(b) < 48 {
			return q, false
		}
		q.Proto = b[6]
		q.Src = netip.AddrFrom16([16]byte(b[8:24]))
		q.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		t = b[40:48]
	default:
		return q, false
	}
	switch q.Proto {
	case ProtoTCP, ProtoUDP:
		q.SrcPort = binary.BigEndian.Uint16(t)
		q.DstPort = binary.BigEndian.Uint16(t[2:])
		if q.Proto == ProtoTCP {
			q.Seq = binary.BigEndian.Uint32(t[4:])
		}
	case ProtoICMP, ProtoICMPv6:
		q.ICMPID = binary.BigEndian.Uint16(t[4:])
		q.ICMPSeq = binary.BigEndian.Uint16(t[6:])
	}
	return q, true
}

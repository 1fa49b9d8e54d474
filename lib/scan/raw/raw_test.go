package raw

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func TestKeySeparates(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	a := netip.MustParseAddr("192.0.2.1")
	if k1.Sum(a, 80, 0) == k2.Sum(a, 80, 0) {
		t.Error("two keys give the same cookie")
	}
	if k1.Sum(a, 80, 0) != k1.Sum(netip.MustParseAddr("::ffff:192.0.2.1"), 80, 0) {
		t.Error("a 4-in-6 spelling gives another cookie")
	}
	seen := map[uint64]bool{}
	for port := range uint16(1000) {
		for extra := range uint32(4) {
			c := k1.Sum(a, port, extra)
			if seen[c] {
				t.Fatalf("cookie repeats at port %d extra %d", port, extra)
			}
			seen[c] = true
		}
	}
}

func TestStampSince(t *testing.T) {
	tests := []struct{ sent, now, want int64 }{
		{0, 64_000, 64_000},
		{1_000_000, 1_320_000, 320_000},
		// Across the stamp's wrap.
		{65535 * ClockUnit, 65536*ClockUnit + 3*ClockUnit, 4 * ClockUnit},
	}
	for _, tc := range tests {
		if got := Since(Stamp(tc.sent), tc.now); got != tc.want {
			t.Errorf("Since(Stamp(%d), %d) = %d, want %d", tc.sent, tc.now, got, tc.want)
		}
	}
}

// packet serialises layers for a decoder test.
func packet(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, Opts, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var f Frame
	ip := f.IP(src, dst, ProtoTCP, 7)
	tcp := &layers.TCP{SrcPort: 443, DstPort: 61001, Seq: 5, Ack: 100, SYN: true, ACK: true}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	synAck := packet(t, ip, tcp)

	qip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: dst.AsSlice(), DstIP: src.AsSlice()}
	qudp := &layers.UDP{SrcPort: 61002, DstPort: 53}
	_ = qudp.SetNetworkLayerForChecksum(qip)
	probe4 := packet(t, qip, qudp, gopacket.Payload([]byte("query")))
	unreach := packet(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 63, Protocol: layers.IPProtocolICMPv4, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(probe4))

	src6, dst6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	ip6 := f.IP(src6, dst6, ProtoTCP, 0)
	rst := &layers.TCP{SrcPort: 22, DstPort: 61003, Ack: 9, RST: true, ACK: true}
	_ = rst.SetNetworkLayerForChecksum(ip6)
	rst6 := packet(t, ip6, rst)

	var d = NewDecoder()
	var p Packet
	if !d.Decode(synAck, &p) || p.Proto != ProtoTCP || !p.SYN || !p.ACK || p.SrcPort != 443 || p.DstPort != 61001 || p.Ack != 100 || p.TTL != 64 || p.Src != src {
		t.Errorf("SYN-ACK decoded as %+v", p)
	}
	if !d.Decode(rst6, &p) || p.Proto != ProtoTCP || !p.RST || p.Src != src6 || p.SrcPort != 22 || p.Ack != 9 {
		t.Errorf("IPv6 RST decoded as %+v", p)
	}
	if !d.Decode(unreach, &p) || p.Proto != ProtoICMP || p.ICMPType != 3 || p.ICMPCode != 3 || !p.HasQuote ||
		p.Quoted.Proto != ProtoUDP || p.Quoted.Dst != src || p.Quoted.SrcPort != 61002 || p.Quoted.DstPort != 53 {
		t.Errorf("ICMP port unreachable decoded as %+v", p)
	}
	for _, bad := range [][]byte{nil, {0x45}, synAck[:25], make([]byte, 40)} {
		if d.Decode(bad, &p) {
			t.Errorf("decoded junk %x as %+v", bad, p)
		}
	}
}

// FuzzDecode feeds the decoder hostile packets: it must never panic and
// never read past what it was given.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, 0, 80, 0xee, 0x48, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 4, 0, 0, 0, 0, 0})
	f.Add(make([]byte, 48))
	d := NewDecoder()
	var p Packet
	f.Fuzz(func(t *testing.T, b []byte) {
		d.Decode(b, &p)
		quote(b)
	})
}

package udp

import (
	"encoding/binary"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TestPayloadsParse decodes each request with an independent parser
// where gopacket has one, and checks the framing of the others.
func TestPayloadsParse(t *testing.T) {
	if n := len(Ports()); n < 10 {
		t.Errorf("%d payloads, want at least 10", n)
	}
	dnsTests := []struct {
		port  uint16
		name  string
		qtype layers.DNSType
	}{{53, "", layers.DNSTypeNS}, {5353, "_services._dns-sd._udp.local", layers.DNSTypePTR}}
	for _, tc := range dnsTests {
		var dns layers.DNS
		if err := dns.DecodeFromBytes(Payload(tc.port, 0), gopacket.NilDecodeFeedback); err != nil {
			t.Errorf("port %d: %v", tc.port, err)
			continue
		}
		if dns.QR || len(dns.Questions) != 1 || string(dns.Questions[0].Name) != tc.name || dns.Questions[0].Type != tc.qtype {
			t.Errorf("port %d: query %+v", tc.port, dns.Questions)
		}
	}
	var ntp layers.NTP
	if err := ntp.DecodeFromBytes(Payload(123, 0), gopacket.NilDecodeFeedback); err != nil || ntp.Version != 4 || ntp.Mode != 3 {
		t.Errorf("NTP: %v, version %d mode %d", err, ntp.Version, ntp.Mode)
	}
	// SNMP: a BER sequence whose lengths add up, v2c then v1.
	for try, version := range []byte{1, 0} {
		b := Payload(161, try)
		if b[0] != 0x30 || int(b[1]) != len(b)-2 || b[2] != 0x02 || b[4] != version || string(b[7:13]) != "public" {
			t.Errorf("SNMP try %d: % x", try, b)
		}
	}
	ike := Payload(500, 0)
	if int(binary.BigEndian.Uint32(ike[24:])) != len(ike) || ike[16] != 1 || ike[17] != 0x10 || ike[18] != 2 {
		t.Errorf("IKE header: % x", ike[:28])
	}
	if sa := ike[28:]; int(binary.BigEndian.Uint16(sa[2:])) != len(sa) {
		t.Errorf("IKE SA length %d, payload %d", binary.BigEndian.Uint16(sa[2:]), len(sa))
	}
	nb := Payload(137, 0)
	if len(nb) != 50 || nb[12] != 32 || string(nb[13:15]) != "CK" || string(nb[15:45]) != "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" || nb[47] != 0x21 {
		t.Errorf("NetBIOS: % x", nb)
	}
	if rpc := Payload(111, 0); len(rpc) != 40 || binary.BigEndian.Uint32(rpc[12:]) != 100000 {
		t.Errorf("RPC: % x", rpc)
	}
	if tftp := Payload(69, 0); tftp[1] != 1 || tftp[len(tftp)-1] != 0 {
		t.Errorf("TFTP: %q", tftp)
	}
	if Payload(9, 0) != nil {
		t.Error("a port without a payload got one")
	}
}

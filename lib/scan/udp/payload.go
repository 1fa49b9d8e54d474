package udp

import (
	"encoding/binary"
	"slices"
)

// A UDP service answers only a datagram it understands, so a probe of a
// well-known port carries a request of that port's protocol. Each is
// written here from the protocol's specification; the rest get an
// empty datagram, which some services answer as well.
//
// A payload may depend on the try, so a port is asked more than one way
// (SNMP: v2c, then v1).
type payload func(try int) []byte

// payloads maps a port to its request.
var payloads = map[uint16]payload{
	53:    fixed(dnsQuery(0x5043, ".", 2)), // NS of the root (RFC 1035)
	69:    fixed(tftpRead()),
	111:   fixed(rpcNull(100000, 2)), // portmapper NULL call (RFC 5531)
	123:   fixed(ntpClient()),
	137:   fixed(netbiosStat()),
	161:   snmpGet,
	500:   fixed(ikeMainMode()),
	1900:  fixed([]byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n")),
	5351:  fixed([]byte{0, 0}),                                    // NAT-PMP: version 0, public address request (RFC 6886)
	5353:  fixed(dnsQuery(0, "_services._dns-sd._udp.local", 12)), // DNS-SD enumeration (RFC 6763)
	5683:  fixed(coapGet()),
	11211: fixed(memcachedVersion()),
}

// Payload returns the request sent to port on try.
func Payload(port uint16, try int) []byte {
	if p := payloads[port]; p != nil {
		return p(try)
	}
	return nil
}

// Ports lists the ports that have a payload of their own, in order.
func Ports() []uint16 {
	ps := make([]uint16, 0, len(payloads))
	for p := range payloads {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func fixed(b []byte) payload { return func(int) []byte { return b } }

// dnsQuery is a DNS query (RFC 1035 4.1) for name of qtype, class IN,
// recursion desired.
func dnsQuery(id uint16, name string, qtype uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x01, 0x00) // RD
	b = append(b, 0, 1, 0, 0, 0, 0, 0, 0)
	b = appendName(b, name)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1)
}

// appendName appends a domain name as length-prefixed labels.
func appendName(b []byte, name string) []byte {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			if i > start {
				b = append(b, byte(i-start))
				b = append(b, name[start:i]...)
			}
			start = i + 1
		}
	}
	return append(b, 0)
}

// tftpRead is a TFTP read request (RFC 1350) for a file that is not
// there; a server answers with an error packet, which proves it.
func tftpRead() []byte {
	b := []byte{0, 1}
	b = append(b, "picket-probe"...)
	b = append(b, 0)
	b = append(b, "octet"...)
	return append(b, 0)
}

// rpcNull is an ONC RPC call (RFC 5531) of procedure 0 of prog/vers
// with no credentials.
func rpcNull(prog, vers uint32) []byte {
	var b []byte
	for _, w := range []uint32{0x50434b54, 0, 2, prog, vers, 0, 0, 0, 0, 0} {
		// xid, CALL, RPC version 2, program, version, NULL procedure,
		// AUTH_NONE credential and verifier, each of length 0.
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return b
}

// ntpClient is an NTPv4 client request (RFC 5905): LI 3 (unsynchronised),
// version 4, mode 3, the rest zero.
func ntpClient() []byte {
	b := make([]byte, 48)
	b[0] = 3<<6 | 4<<3 | 3
	return b
}

// netbiosStat is a NetBIOS node status request (RFC 1002 4.2.17) for the
// wildcard name "*".
func netbiosStat() []byte {
	b := []byte{0x50, 0x4b, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 32}
	name := [16]byte{'*'}
	for _, c := range name {
		// First-level encoding: each half byte as a letter from 'A'.
		b = append(b, 'A'+c>>4, 'A'+c&0xf)
	}
	b = append(b, 0)
	return append(b, 0, 0x21, 0, 1) // NBSTAT, IN
}

// snmpGet is an SNMP GetRequest for sysDescr.0 with community public:
// version 2c on even tries, 1 on odd ones (RFC 1157, RFC 3416), BER
// encoded.
func snmpGet(try int) []byte {
	version := byte(1) // v2c
	if try%2 == 1 {
		version = 0 // v1
	}
	tlv := func(tag byte, parts ...[]byte) []byte {
		var v []byte
		for _, p := range parts {
			v = append(v, p...)
		}
		return append([]byte{tag, byte(len(v))}, v...)
	}
	oid := []byte{0x2b, 6, 1, 2, 1, 1, 1, 0} // 1.3.6.1.2.1.1.1.0
	varbind := tlv(0x30, tlv(0x06, oid), []byte{0x05, 0x00})
	pdu := tlv(0xa0, tlv(0x02, []byte{0x50, 0x4b}), tlv(0x02, []byte{0}), tlv(0x02, []byte{0}), tlv(0x30, varbind))
	return tlv(0x30, tlv(0x02, []byte{version}), tlv(0x04, []byte("public")), pdu)
}

// ikeMainMode is an IKEv1 Main Mode first message (RFC 2408, RFC 2409):
// an ISAKMP header and a security association with one proposal of one
// transform (3DES, SHA-1, pre-shared key, group 2, 8 hours).
func ikeMainMode() []byte {
	attrs := []uint16{1, 5, 2, 2, 3, 1, 4, 2, 11, 1, 12, 28800}
	var transform []byte
	for i := 0; i < len(attrs); i += 2 {
		transform = binary.BigEndian.AppendUint16(transform, 0x8000|attrs[i]) // basic attribute
		transform = binary.BigEndian.AppendUint16(transform, attrs[i+1])
	}
	// Transform payload: last, transform 1, KEY_IKE.
	transform = append([]byte{0, 0, 0, 0, 1, 1, 0, 0}, transform...)
	binary.BigEndian.PutUint16(transform[2:], uint16(len(transform)))
	// Proposal payload: last, proposal 1, PROTO_ISAKMP, no SPI, one
	// transform.
	proposal := append([]byte{0, 0, 0, 0, 1, 1, 0, 1}, transform...)
	binary.BigEndian.PutUint16(proposal[2:], uint16(len(proposal)))
	// SA payload: last, DOI IPsec, situation identity only.
	sa := append([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, proposal...)
	binary.BigEndian.PutUint16(sa[2:], uint16(len(sa)))
	hdr := []byte{'p', 'i', 'c', 'k', 'e', 't', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0} // SA next, v1.0, main mode
	msg := append(hdr, sa...)
	binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
	return msg
}

// coapGet is a confirmable CoAP GET of /.well-known/core (RFC 7252,
// RFC 6690).
func coapGet() []byte {
	b := []byte{0x40, 0x01, 0x50, 0x4b}
	b = append(b, 0xbb) // Uri-Path (11), length 11
	b = append(b, ".well-known"...)
	b = append(b, 0x04) // Uri-Path again, length 4
	return append(b, "core"...)
}

// memcachedVersion is a memcached "version" command over UDP: the frame
// header (request id, sequence 0, one datagram, reserved), then the text
// command.
func memcachedVersion() []byte {
	return append([]byte{0x50, 0x4b, 0, 0, 0, 1, 0, 0}, "version\r\n"...)
}

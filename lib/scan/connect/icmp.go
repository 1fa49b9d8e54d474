package connect

import "github.com/picketscan/picket/lib/scan"

// Origins of an extended socket error (struct sock_extended_err).
const (
	originICMP  = 2
	originICMP6 = 3
)

// icmpReason names an ICMP or ICMPv6 error the kernel queued on a socket
// as Nmap does in its reasons, through the table every method shares
// (scan.ICMPReason); "" for an origin that is not ICMP.
func icmpReason(origin, typ, code byte) string {
	switch origin {
	case originICMP:
		return scan.ICMPReason(false, typ, code)
	case originICMP6:
		return scan.ICMPReason(true, typ, code)
	}
	return ""
}

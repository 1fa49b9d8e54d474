package connect

import "github.com/picketscan/picket/lib/scan"

// Origins of an extended socket error (struct sock_extended_err).
const (
	originICMP  = 2
	originICMP6 = 3
)

// icmpReason names an ICMP or ICMPv6 error as Nmap does in its reasons;
// "" for an origin that is not ICMP.
func icmpReason(origin, typ, code byte) string {
	switch origin {
	case originICMP:
		return icmp4Reason(typ, code)
	case originICMP6:
		return icmp6Reason(typ, code)
	}
	return ""
}

func icmp4Reason(typ, code byte) string {
	switch typ {
	case 3: // destination unreachable
		switch code {
		case 0, 6, 11: // net, net unknown, net for TOS
			return scan.ReasonNetUnreach
		case 1, 7, 8, 12: // host, host unknown, host isolated, host for TOS
			return scan.ReasonHostUnreach
		case 2:
			return scan.ReasonProtoUnreach
		case 3:
			return scan.ReasonPortUnreach
		case 9:
			return scan.ReasonNetProhibited
		case 10:
			return scan.ReasonHostProhibited
		case 13, 14, 15: // communication, precedence violation, precedence cutoff
			return scan.ReasonAdminProhibited
		}
		return scan.ReasonDestUnreach // fragmentation needed, source route failed
	case 4:
		return scan.ReasonSourceQuench
	case 11:
		return scan.ReasonTimeExceeded
	case 12:
		return scan.ReasonParamProblem
	}
	return ""
}

func icmp6Reason(typ, code byte) string {
	switch typ {
	case 1: // destination unreachable
		switch code {
		case 0:
			return scan.ReasonNoRoute
		case 1, 5: // administratively prohibited, source address failed policy
			return scan.ReasonAdminProhibited
		case 2:
			return scan.ReasonBeyondScope
		case 3:
			return scan.ReasonHostUnreach
		case 4:
			return scan.ReasonPortUnreach
		case 6:
			return scan.ReasonRejectRoute
		}
		return scan.ReasonDestUnreach
	case 2: // packet too big
		return scan.ReasonDestUnreach
	case 3:
		return scan.ReasonTimeExceeded
	case 4:
		return scan.ReasonParamProblem
	}
	return ""
}

package raw

import "github.com/picketscan/picket/lib/scan"

// ICMPReason names an ICMP (v6 false) or ICMPv6 error as Nmap does in
// its reasons; "" for a type that is not an error. (lib/scan/connect
// has the same table for the errors the kernel queues on a socket.)
func ICMPReason(v6 bool, typ, code uint8) string {
	if v6 {
		return icmp6Reason(typ, code)
	}
	return icmp4Reason(typ, code)
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

package scan

// ICMPReason names an ICMP (v6 false) or ICMPv6 error by its type and
// code as Nmap does in its reasons; "" for a type that is not an error.
// It is the one table every method uses: the raw methods for the errors
// they receive, connect for the errors the kernel queues on a socket.
func ICMPReason(v6 bool, typ, code uint8) string {
	if v6 {
		return icmp6Reason(typ, code)
	}
	return icmp4Reason(typ, code)
}

func icmp4Reason(typ, code uint8) string {
	switch typ {
	case 3: // destination unreachable
		switch code {
		case 0, 6, 11: // net, net unknown, net for TOS
			return ReasonNetUnreach
		case 1, 7, 8, 12: // host, host unknown, host isolated, host for TOS
			return ReasonHostUnreach
		case 2:
			return ReasonProtoUnreach
		case 3:
			return ReasonPortUnreach
		case 9:
			return ReasonNetProhibited
		case 10:
			return ReasonHostProhibited
		case 13, 14, 15: // communication, precedence violation, precedence cutoff
			return ReasonAdminProhibited
		}
		return ReasonDestUnreach // fragmentation needed, source route failed
	case 4:
		return ReasonSourceQuench
	case 11:
		return ReasonTimeExceeded
	case 12:
		return ReasonParamProblem
	}
	return ""
}

func icmp6Reason(typ, code uint8) string {
	switch typ {
	case 1: // destination unreachable
		switch code {
		case 0:
			return ReasonNoRoute
		case 1, 5: // administratively prohibited, source address failed policy
			return ReasonAdminProhibited
		case 2:
			return ReasonBeyondScope
		case 3:
			return ReasonHostUnreach
		case 4:
			return ReasonPortUnreach
		case 6:
			return ReasonRejectRoute
		}
		return ReasonDestUnreach
	case 2: // packet too big
		return ReasonDestUnreach
	case 3:
		return ReasonTimeExceeded
	case 4:
		return ReasonParamProblem
	}
	return ""
}

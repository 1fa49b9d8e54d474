package diff

import (
	"strconv"
	"strings"

	"github.com/picketscan/picket/lib/event"
)

// Summary returns the one-line human form of a change, in the spirit of
// Nmap's Ndiff: "+" for what appeared, "-" for what went away, "~" for
// what changed, ">" for a service that moved, "!" for a condition
// (expiring certificate, policy) and "?" for what was not looked at:
//
//	+443/tcp open https nginx 1.22
//	-23/tcp open telnet
//	~22/tcp open ssh OpenSSH 8.9p1 -> ssh OpenSSH 9.2p1
//	>8443/tcp open https nginx 1.22 (moved from 443/tcp)
//	+192.0.2.7 up
//
// Text from the scanned hosts (service names, products) is printed with
// control characters escaped.
func Summary(x *event.Change) string { return summary(x) }

func summary(x *event.Change) string {
	var b strings.Builder
	spec := strconv.Itoa(int(x.Port)) + "/" + x.Proto
	if x.Proto == "" {
		spec = x.IP
	}
	switch x.Kind {
	case event.KindHostUp:
		b.WriteString("+" + x.IP + " up")
	case event.KindHostDown:
		b.WriteString("-" + x.IP + " down")
	case event.KindPortOpened:
		b.WriteString("+" + spec + " " + portText(x.After))
	case event.KindPortClosed:
		b.WriteString("-" + spec + " " + portText(x.Before))
		if x.After != nil && x.After.State != "" {
			b.WriteString(" -> " + x.After.State)
		}
	case event.KindPortState:
		b.WriteString("~" + spec + " " + portText(x.Before) + " -> " + stateOf(x.After))
	case event.KindServiceChanged:
		b.WriteString("~" + spec + " " + portText(x.Before) + " -> " + serviceText(x.After))
	case event.KindServiceMoved:
		b.WriteString(">" + spec + " " + portText(x.After) + " (moved from " + strconv.Itoa(int(x.FromPort)) + "/" + x.Proto + ")")
	case event.KindTLSChanged:
		b.WriteString("~" + spec + " tls " + short(certOf(x.Before)) + " -> " + short(certOf(x.After)))
	case event.KindTLSExpiring:
		b.WriteString("!" + spec + " tls certificate")
		if x.After != nil && x.After.TLS != nil {
			if cn := x.After.TLS.SubjectCN; cn != "" {
				b.WriteString(" " + escape(cn))
			}
			b.WriteString(" expires " + escape(x.After.TLS.NotAfter))
		}
	case event.KindPolicyViolation:
		b.WriteString("!" + spec + " " + portText(x.After) + " not allowed by policy")
		if x.Rule != "" {
			b.WriteString(" (" + escape(x.Rule) + ")")
		}
	case event.KindUnknown:
		if x.Proto == "" {
			b.WriteString("?" + x.IP + " " + stateOf(x.Before) + " (not scanned)")
		} else {
			b.WriteString("?" + spec + " " + portText(x.Before) + " (not scanned)")
		}
	default:
		b.WriteString(x.Kind + " " + spec)
	}
	return b.String()
}

func stateOf(o *event.Observed) string {
	if o == nil || o.State == "" {
		return "unknown"
	}
	return o.State
}

// portText is "open https nginx 1.22 (Ubuntu)".
func portText(o *event.Observed) string {
	s := stateOf(o)
	if svc := serviceText(o); svc != "" {
		s += " " + svc
	}
	return s
}

// serviceText is "https nginx 1.22 (Ubuntu)", or "" with no service.
func serviceText(o *event.Observed) string {
	if o == nil || o.Service == nil {
		return ""
	}
	s := o.Service
	var parts []string
	for _, p := range []string{s.Name, s.Product, s.Version} {
		if p != "" {
			parts = append(parts, escape(p))
		}
	}
	if s.ExtraInfo != "" {
		parts = append(parts, "("+escape(s.ExtraInfo)+")")
	}
	return strings.Join(parts, " ")
}

func certOf(o *event.Observed) string {
	if o == nil || o.TLS == nil {
		return ""
	}
	return o.TLS.SHA256
}

func short(sha string) string {
	sha = escape(sha)
	if len(sha) > 16 {
		return sha[:16] + "…"
	}
	if sha == "" {
		return "none"
	}
	return sha
}

// escape quotes control characters so a hostile banner cannot forge
// lines in a text report or a terminal.
func escape(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			q := strconv.QuoteToGraphic(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

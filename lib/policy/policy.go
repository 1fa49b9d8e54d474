// Package policy reads an allowed-ports policy and checks open ports
// against it: "audit every open port" as a check a machine can do.
//
// A policy is a text file, one rule per line; '#' starts a comment:
//
//	# hosts                     ports           expectations
//	allow 10.0.0.0/24           22              service=ssh product=OpenSSH
//	allow 10.0.1.5,10.0.1.6     80,443          service=http*
//	allow *.example.com         443
//	allow *                     T:53,U:53
//	severity policy-violation   critical
//	severity port-opened        info
//
// "allow HOSTS PORTS [service=GLOB] [product=GLOB]" allows the ports on
// the hosts. HOSTS is a comma-separated list of addresses, CIDR blocks,
// IPv4 octet ranges (as for probe's targets), host-name globs matched
// against the name a scan reported (*.example.com), or * for every host.
// PORTS uses probe's -p syntax (22,80,1-1024,T:53,U:53, - for all ports;
// plain numbers are TCP). service= and product= are globs ('*', '?',
// case-insensitive) on what fingerprint found; a port whose service is
// not known (no fingerprint) is not held to them. A port is allowed when
// some rule allows it; an open port that no rule allows is a violation.
//
// "severity KIND LEVEL" overrides the default severity of a kind of
// change (info, warning or critical).
package policy

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/targets"
)

// Limits on a policy file.
const (
	maxLine  = 64 << 10
	maxRules = 100000
)

// Policy is a parsed policy file.
type Policy struct {
	rules []rule
	// Severity maps kinds of change to the severity the policy gives
	// them.
	Severity map[string]string
}

type rule struct {
	where   string // "policy.txt:3"
	anyHost bool
	specs   []targets.Spec
	globs   []string // lower-case host-name patterns
	ports   ports.List
	service string // lower-case glob, "" for any
	product string
}

var kinds = map[string]bool{
	event.KindHostUp: true, event.KindHostDown: true, event.KindPortOpened: true, event.KindPortClosed: true,
	event.KindPortState: true, event.KindServiceChanged: true, event.KindServiceMoved: true,
	event.KindTLSChanged: true, event.KindTLSExpiring: true, event.KindPolicyViolation: true, event.KindUnknown: true,
}

// Parse reads a policy. name identifies it in errors, which give the line:
// "policy.txt:3: bad ports "22-": …".
func Parse(r io.Reader, name string) (*Policy, error) {
	p := &Policy{Severity: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	num := 0
	for sc.Scan() {
		num++
		where := name + ":" + strconv.Itoa(num)
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "allow":
			if len(p.rules) >= maxRules {
				return nil, fmt.Errorf("%s: more than %d rules", where, maxRules)
			}
			ru, err := parseAllow(f[1:], where)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			p.rules = append(p.rules, ru)
		case "severity":
			if len(f) != 3 {
				return nil, fmt.Errorf("%s: want \"severity KIND LEVEL\"", where)
			}
			if !kinds[f[1]] {
				return nil, fmt.Errorf("%s: unknown kind of change %q", where, clip(f[1]))
			}
			switch f[2] {
			case event.SeverityInfo, event.SeverityWarning, event.SeverityCritical:
			default:
				return nil, fmt.Errorf("%s: severity %q is not info, warning or critical", where, clip(f[2]))
			}
			p.Severity[f[1]] = f[2]
		default:
			return nil, fmt.Errorf("%s: unknown directive %q (want allow or severity)", where, clip(f[0]))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read policy %s: line %d: %w", name, num+1, err)
	}
	return p, nil
}

func parseAllow(f []string, where string) (rule, error) {
	ru := rule{where: where}
	if len(f) < 2 {
		return ru, fmt.Errorf("want \"allow HOSTS PORTS [service=GLOB] [product=GLOB]\"")
	}
	for _, h := range strings.Split(f[0], ",") {
		switch {
		case h == "":
			return ru, fmt.Errorf("empty host in %q", clip(f[0]))
		case h == "*":
			ru.anyHost = true
			continue
		}
		if s, err := targets.ParseSpec(h); err == nil && s.Kind() != targets.KindName {
			ru.specs = append(ru.specs, s)
			continue
		} else if err != nil && !isGlob(h) {
			return ru, fmt.Errorf("bad host %q: %v", clip(h), err)
		}
		g := strings.ToLower(h)
		if _, err := path.Match(g, ""); err != nil {
			return ru, fmt.Errorf("bad host pattern %q", clip(h))
		}
		ru.globs = append(ru.globs, g)
	}
	pl, err := ports.Parse(f[1], ports.ParseOptions{})
	if err != nil {
		return ru, fmt.Errorf("bad ports %q: %w", clip(f[1]), err)
	}
	ru.ports = pl
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return ru, fmt.Errorf("want key=value, got %q", clip(kv))
		}
		v = strings.ToLower(v)
		if _, err := path.Match(v, ""); err != nil {
			return ru, fmt.Errorf("bad pattern %q", clip(kv))
		}
		switch k {
		case "service":
			ru.service = v
		case "product":
			ru.product = v
		default:
			return ru, fmt.Errorf("unknown expectation %q (want service= or product=)", clip(k))
		}
	}
	return ru, nil
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// Allowed reports whether the policy allows an open port proto/port on
// addr (known as hostname) running svc (nil when unknown). rule names
// the rule that allowed it, or for a violation the rule whose service or
// product expectation it broke, or "" when no rule covers the port.
func (p *Policy) Allowed(addr netip.Addr, hostname, proto string, port uint16, svc *event.Service) (ok bool, rule string) {
	pr, err := ports.ParseProto(proto)
	if err != nil {
		return false, ""
	}
	pt := ports.Port{Proto: pr, Num: port}
	host := strings.ToLower(hostname)
	broke := ""
	for i := range p.rules {
		ru := &p.rules[i]
		if !ru.ports.Contains(pt) || !ru.matchHost(addr, host) {
			continue
		}
		if why := ru.expect(svc); why != "" {
			if broke == "" {
				broke = ru.where + ": " + why
			}
			continue
		}
		return true, ru.where
	}
	return false, broke
}

func (ru *rule) matchHost(addr netip.Addr, host string) bool {
	if ru.anyHost {
		return true
	}
	for _, s := range ru.specs {
		if s.Contains(addr) {
			return true
		}
	}
	if host == "" {
		return false
	}
	for _, g := range ru.globs {
		if ok, _ := path.Match(g, host); ok {
			return true
		}
	}
	return false
}

// expect returns why svc breaks the rule's expectations, or "".
func (ru *rule) expect(svc *event.Service) string {
	if svc == nil {
		return ""
	}
	if ru.service != "" {
		if ok, _ := path.Match(ru.service, strings.ToLower(svc.Name)); !ok {
			return "expects service " + ru.service
		}
	}
	if ru.product != "" && svc.Product != "" {
		if ok, _ := path.Match(ru.product, strings.ToLower(svc.Product)); !ok {
			return "expects product " + ru.product
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

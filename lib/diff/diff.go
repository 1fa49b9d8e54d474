// Package diff compares a scan with a baseline and returns the changes
// and the merged baseline. It is pure: no files, no sockets, no clock
// (the time comes in Options), so every rule here is a table test.
//
// The rules, in short:
//
//   - A port or host is compared only where the current scan looked: a
//     port it reported, or a port inside the scope (targets, exclusions,
//     ports) of a scan that completed. Everything else is carried over
//     from the baseline unchanged and reported as "unknown" only with
//     Options.ReportUnknown. So a scan with a narrower scope, or one that
//     was cut short, never reports false closures.
//   - A host that a complete scan covered but did not report (or reported
//     down) is host-down; its ports are carried over, not reported closed.
//   - A new host is host-up, followed by a port-opened for each open port.
//   - A port that was open and is now closed, or not reported by a
//     complete scan that covered it, is port-closed; one that was not open
//     and is now open is port-opened; any other change of state between
//     two reported states is port-state.
//   - An open port whose service (name, product, version) or certificate
//     (SHA-256) changed is service-changed or tls-changed; a missing
//     service or certificate on either side is no change, and the known
//     one is kept.
//   - A port-closed and a port-opened on one host that carry the same
//     certificate, SSH host key, or product and version, are folded into
//     one service-moved change.
//   - tls-expiring and policy-violation are conditions, reported on every
//     scan that sees them (policy-violation only for new ports with
//     Options.PolicyNewOnly).
//   - With Options.Confirm N > 1, a change of a host or port already known
//     is reported only once N consecutive complete scans agree on it; until
//     then the baseline keeps the old view and counts in Pending.
package diff

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/state"
)

// defaultSeverity gives each kind of change its severity unless a policy
// overrides it. An expired certificate is critical whatever this says
// about tls-expiring, unless a policy overrides it.
var defaultSeverity = map[string]string{
	event.KindHostUp:          event.SeverityWarning,
	event.KindHostDown:        event.SeverityWarning,
	event.KindPortOpened:      event.SeverityWarning,
	event.KindPortClosed:      event.SeverityInfo,
	event.KindPortState:       event.SeverityInfo,
	event.KindServiceChanged:  event.SeverityWarning,
	event.KindServiceMoved:    event.SeverityWarning,
	event.KindTLSChanged:      event.SeverityInfo,
	event.KindTLSExpiring:     event.SeverityWarning,
	event.KindPolicyViolation: event.SeverityCritical,
	event.KindUnknown:         event.SeverityInfo,
}

// DefaultSeverity returns the default severity of a kind of change, and
// "" for an unknown kind.
func DefaultSeverity(kind string) string { return defaultSeverity[kind] }

// Kinds lists every kind of change, in the order of the documentation.
func Kinds() []string {
	return []string{
		event.KindHostUp, event.KindHostDown, event.KindPortOpened, event.KindPortClosed,
		event.KindPortState, event.KindServiceChanged, event.KindServiceMoved, event.KindTLSChanged,
		event.KindTLSExpiring, event.KindPolicyViolation, event.KindUnknown,
	}
}

// Policy decides whether an open port is allowed. rule names the rule
// that allowed it or that it broke ("" when no rule matched at all).
type Policy interface {
	Allowed(addr netip.Addr, hostname, proto string, port uint16, svc *event.Service) (ok bool, rule string)
}

// Options tune Compare.
type Options struct {
	// Now is the time written on the changes and the moment certificate
	// expiry is measured from.
	Now time.Time
	// CertWarn is how close to expiry a certificate is reported
	// tls-expiring; 0 turns the check off.
	CertWarn time.Duration
	// Confirm is the number of consecutive complete scans a change must
	// hold for before it is reported; 0 and 1 report at once.
	Confirm int
	// ReportUnknown reports baseline ports the scan did not look at.
	ReportUnknown bool
	// Policy, if set, is checked against every open port.
	Policy Policy
	// PolicyNewOnly checks the policy only on ports reported opened (or
	// moved) by this comparison.
	PolicyNewOnly bool
	// Severity overrides the default severity per kind.
	Severity map[string]string
	// Emit, if set, receives each change as it is found (host by host,
	// in the order of Result.Changes), which then stays empty: a first
	// run against an empty baseline can report a million new ports
	// without holding them all. An error from Emit stops the comparison.
	Emit func(*event.Change) error
}

// Result is the outcome of Compare.
type Result struct {
	// Changes in a stable order: by address, host changes first, then by
	// protocol and port (empty with Options.Emit).
	Changes []event.Change
	// Count is the number of changes found.
	Count int
	// Baseline is the baseline merged with the scan, to be written when
	// the scan is complete; nil when Emit failed.
	Baseline *state.Baseline
	// Err is the error from Options.Emit that stopped the comparison.
	Err error
}

// Compare compares cur with base. Neither is modified; the merged
// baseline shares unchanged ports' services and certificates with them.
func Compare(base *state.Baseline, cur *state.Scan, o Options) Result {
	if base == nil {
		base = state.NewBaseline()
	}
	c := &comparer{o: o, base: base, cur: cur, now: event.FormatTime(o.Now)}
	c.scanTime = cur.Start
	if c.scanTime == "" {
		c.scanTime = c.now
	}
	nb := &state.Baseline{ScanID: cur.ScanID, Time: c.scanTime, Hosts: make(map[netip.Addr]*state.Host, len(base.Hosts)+len(cur.Hosts))}
	if cur.ScanID == "" {
		nb.ScanID = base.ScanID
	}
	c.nb = nb
	addrs := make([]netip.Addr, 0, len(base.Hosts)+len(cur.Hosts))
	for a := range base.Hosts {
		addrs = append(addrs, a)
	}
	for a := range cur.Hosts {
		if _, ok := base.Hosts[a]; !ok {
			addrs = append(addrs, a)
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		c.host(a, base.Hosts[a], cur.Hosts[a])
		if c.err != nil {
			return Result{Count: c.count, Err: c.err}
		}
	}
	return Result{Changes: c.out, Count: c.count, Baseline: nb}
}

type comparer struct {
	o        Options
	base     *state.Baseline
	cur      *state.Scan
	nb       *state.Baseline
	now      string
	scanTime string
	out      []event.Change
	count    int
	err      error
	hostOut  []event.Change // changes of the host being compared
	opened   map[portKey]bool
}

type portKey struct {
	proto string
	num   uint16
}

func (c *comparer) severity(kind string) string {
	if s, ok := c.o.Severity[kind]; ok && s != "" {
		return s
	}
	return defaultSeverity[kind]
}

func (c *comparer) change(kind string, h *state.Host, addr netip.Addr) event.Change {
	ch := event.Change{
		Type: event.TypeChange, Time: c.now, ScanID: c.cur.ScanID, BaselineScanID: c.base.ScanID,
		Kind: kind, Severity: c.severity(kind), IP: addr.String(),
	}
	if h != nil {
		ch.Hostname = h.Hostname
	}
	return ch
}

func hostUp(h *state.Host) bool {
	if h == nil {
		return false
	}
	return h.State == state.HostUp || (h.State == "" && len(h.Ports) > 0)
}

func (c *comparer) host(addr netip.Addr, bh, ch *state.Host) {
	c.hostOut = c.hostOut[:0]
	clear(c.opened)
	name := ""
	if bh != nil {
		name = bh.Hostname
	}
	if ch != nil && ch.Hostname != "" {
		name = ch.Hostname
	}
	checked := c.cur.Checked(addr, name)
	curUp := ch != nil && ch.State != state.HostDown && (ch.State == state.HostUp || len(ch.Ports) > 0)
	curDown := !curUp && ((ch != nil && ch.State == state.HostDown) || (ch == nil && len(checked) > 0))
	baseUp := hostUp(bh)

	switch {
	case curUp:
		c.hostIsUp(addr, name, bh, ch, baseUp, checked)
	case curDown:
		c.hostIsDown(addr, name, bh, ch, baseUp)
	default:
		// Not looked at: carry everything over.
		if bh != nil {
			c.nb.Hosts[addr] = bh
			if c.o.ReportUnknown && baseUp {
				c.unknownHost(addr, bh)
			}
		}
	}
	c.foldMoves()
	// Host changes first, then by port, each port's changes in the
	// order found (a port-opened before its policy-violation).
	slices.SortStableFunc(c.hostOut, func(a, b event.Change) int {
		if (a.Proto == "") != (b.Proto == "") {
			if a.Proto == "" {
				return -1
			}
			return 1
		}
		if d := strings.Compare(a.Proto, b.Proto); d != 0 {
			return d
		}
		return int(a.Port) - int(b.Port)
	})
	c.count += len(c.hostOut)
	if c.o.Emit == nil {
		c.out = append(c.out, c.hostOut...)
		return
	}
	for i := range c.hostOut {
		if err := c.o.Emit(&c.hostOut[i]); err != nil {
			c.err = err
			return
		}
	}
	clear(c.hostOut)
}

func (c *comparer) unknownHost(addr netip.Addr, bh *state.Host) {
	n := 0
	for i := range bh.Ports {
		if bh.Ports[i].State == state.StateOpen {
			c.unknownPort(addr, bh, &bh.Ports[i])
			n++
		}
	}
	if n == 0 {
		x := c.change(event.KindUnknown, bh, addr)
		x.Before = &event.Observed{State: bh.State, Reason: bh.Reason}
		x.FirstSeen = bh.FirstSeen
		x.Summary = summary(&x)
		c.hostOut = append(c.hostOut, x)
	}
}

func (c *comparer) unknownPort(addr netip.Addr, bh *state.Host, bp *state.Port) {
	x := c.change(event.KindUnknown, bh, addr)
	x.Port, x.Proto = bp.Num, bp.Proto
	x.Before = bp.Observed()
	x.FirstSeen = bp.FirstSeen
	x.Summary = summary(&x)
	c.hostOut = append(c.hostOut, x)
}

// confirmed applies --confirm to a change of a known host or port whose
// new view has signature sig: it returns whether to report it now, and
// the pending record to keep otherwise.
func (c *comparer) confirmed(prev *state.Pending, sig string) (bool, *state.Pending) {
	if c.o.Confirm <= 1 {
		return true, nil
	}
	if !c.cur.Complete() {
		// An incomplete scan neither reports nor counts.
		return false, prev
	}
	p := &state.Pending{Sig: sig, Count: 1, Since: c.scanTime}
	if prev != nil && prev.Sig == sig {
		p.Count, p.Since = prev.Count+1, prev.Since
	}
	if p.Count >= c.o.Confirm {
		return true, nil
	}
	return false, p
}

func (c *comparer) hostIsDown(addr netip.Addr, name string, bh, ch *state.Host, baseUp bool) {
	if !baseUp {
		if bh != nil {
			nh := *bh
			nh.Pending = nil
			if ch != nil {
				nh.State, nh.Reason = state.HostDown, ch.Reason
			}
			c.nb.Hosts[addr] = &nh
		} else if ch != nil {
			c.nb.Hosts[addr] = &state.Host{Addr: addr, Hostname: name, State: state.HostDown, Reason: ch.Reason, FirstSeen: c.scanTime, LastSeen: c.scanTime}
		}
		return
	}
	nh := *bh
	ok, pend := c.confirmed(bh.Pending, state.HostDown)
	if !ok {
		nh.Pending = pend
		c.nb.Hosts[addr] = &nh
		return
	}
	x := c.change(event.KindHostDown, bh, addr)
	x.Before = &event.Observed{State: state.HostUp, Reason: bh.Reason}
	after := &event.Observed{State: state.HostDown}
	if ch != nil {
		after.Reason = ch.Reason
	}
	x.After = after
	x.FirstSeen = bh.FirstSeen
	x.Summary = summary(&x)
	c.hostOut = append(c.hostOut, x)
	nh.State, nh.Reason, nh.Pending = state.HostDown, after.Reason, nil
	nh.FirstSeen = c.scanTime
	c.nb.Hosts[addr] = &nh
}

func (c *comparer) hostIsUp(addr netip.Addr, name string, bh, ch *state.Host, baseUp bool, checked []*state.Part) {
	nh := &state.Host{Addr: addr, Hostname: name, State: state.HostUp, Reason: ch.Reason, LastSeen: c.scanTime}
	portConfirm := true
	if baseUp {
		nh.FirstSeen = bh.FirstSeen
		if nh.Reason == "" {
			nh.Reason = bh.Reason
		}
	} else {
		// A host that was down or never seen came up. A host already
		// known is confirmed like a port; a new one is reported at once
		// unless it was pending.
		var prev *state.Pending
		if bh != nil {
			prev = bh.Pending
		}
		ok, pend := c.confirmed(prev, state.HostUp)
		if !ok {
			if bh != nil {
				carry := *bh
				carry.Pending = pend
				c.nb.Hosts[addr] = &carry
			} else {
				c.nb.Hosts[addr] = &state.Host{Addr: addr, Hostname: name, Pending: pend}
			}
			c.policyOnly(addr, nh, ch)
			return
		}
		x := c.change(event.KindHostUp, nh, addr)
		if bh != nil && bh.State != "" {
			x.Before = &event.Observed{State: bh.State, Reason: bh.Reason}
			x.FirstSeen = bh.FirstSeen
		}
		x.After = &event.Observed{State: state.HostUp, Reason: ch.Reason}
		x.Summary = summary(&x)
		c.hostOut = append(c.hostOut, x)
		nh.FirstSeen = c.scanTime
		// The ports of a host that just came up are reported at once.
		portConfirm = false
	}
	var bports []state.Port
	if bh != nil {
		bports = bh.Ports
	}
	nh.Ports = make([]state.Port, 0, mergedLen(bports, ch.Ports))
	i, j := 0, 0
	for i < len(bports) || j < len(ch.Ports) {
		var bp, cp *state.Port
		switch {
		case i == len(bports):
			cp = &ch.Ports[j]
			j++
		case j == len(ch.Ports):
			bp = &bports[i]
			i++
		default:
			switch d := state.ComparePorts(&bports[i], &ch.Ports[j]); {
			case d < 0:
				bp = &bports[i]
				i++
			case d > 0:
				cp = &ch.Ports[j]
				j++
			default:
				bp, cp = &bports[i], &ch.Ports[j]
				i++
				j++
			}
		}
		c.port(addr, nh, bp, cp, checked, portConfirm)
	}
	c.nb.Hosts[addr] = nh
	c.policy(addr, nh, ch)
}

// mergedLen counts the distinct ports of two sorted lists, so the merged
// list is allocated once.
func mergedLen(a, b []state.Port) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch d := state.ComparePorts(&a[i], &b[j]); {
		case d < 0:
			i++
		case d > 0:
			j++
		default:
			i++
			j++
		}
		n++
	}
	return n + len(a) - i + len(b) - j
}

// port compares one port and appends its new view to nh.Ports.
func (c *comparer) port(addr netip.Addr, nh *state.Host, bp, cp *state.Port, checked []*state.Part, confirm bool) {
	if cp == nil {
		if !state.PortChecked(checked, bp.Proto, bp.Num) {
			nh.Ports = append(nh.Ports, *bp)
			if c.o.ReportUnknown && bp.State == state.StateOpen {
				c.unknownPort(addr, nh, bp)
			}
			return
		}
		if bp.State != state.StateOpen {
			// A closed or filtered port no longer listed, or a pending
			// port that did not come back: nothing to say, nothing to
			// keep.
			return
		}
		if confirm {
			ok, pend := c.confirmed(bp.Pending, "absent")
			if !ok {
				np := *bp
				np.Pending = pend
				nh.Ports = append(nh.Ports, np)
				return
			}
		}
		x := c.change(event.KindPortClosed, nh, addr)
		x.Port, x.Proto = bp.Num, bp.Proto
		x.Before = bp.Observed()
		x.FirstSeen = bp.FirstSeen
		x.Summary = summary(&x)
		c.hostOut = append(c.hostOut, x)
		return
	}

	np := *cp
	np.LastSeen = c.scanTime
	np.FirstSeen = c.scanTime
	np.Pending = nil
	bOpen := bp != nil && bp.State == state.StateOpen
	cOpen := cp.State == state.StateOpen
	if bp != nil && bp.State == cp.State {
		np.FirstSeen = bp.FirstSeen
		if np.FirstSeen == "" {
			np.FirstSeen = c.scanTime
		}
	}
	if bOpen && cOpen {
		if np.Service == nil {
			np.Service = bp.Service
		}
		if np.TLS == nil {
			np.TLS = bp.TLS
		}
	}
	var xs []event.Change
	mk := func(kind string) event.Change {
		x := c.change(kind, nh, addr)
		x.Port, x.Proto = cp.Num, cp.Proto
		if bp != nil && bp.State != state.StateNone {
			x.Before = bp.Observed()
			x.FirstSeen = bp.FirstSeen
		}
		x.After = cp.Observed()
		return x
	}
	known := bp != nil && bp.State != state.StateNone
	switch {
	case !bOpen && cOpen:
		xs = append(xs, mk(event.KindPortOpened))
	case bOpen && cp.State == state.StateClosed:
		xs = append(xs, mk(event.KindPortClosed))
	case known && bp.State != cp.State:
		xs = append(xs, mk(event.KindPortState))
	case bOpen && cOpen:
		if serviceChanged(bp.Service, cp.Service) {
			xs = append(xs, mk(event.KindServiceChanged))
		}
		if bp.TLS != nil && cp.TLS != nil && bp.TLS.SHA256 != "" && cp.TLS.SHA256 != "" && !strings.EqualFold(bp.TLS.SHA256, cp.TLS.SHA256) {
			xs = append(xs, mk(event.KindTLSChanged))
		}
	}
	if len(xs) > 0 && confirm && c.o.Confirm > 1 {
		var prev *state.Pending
		if bp != nil {
			prev = bp.Pending
		}
		if ok, pend := c.confirmed(prev, signature(cp)); !ok {
			if bp != nil {
				keep := *bp
				keep.Pending = pend
				nh.Ports = append(nh.Ports, keep)
			} else if pend != nil {
				nh.Ports = append(nh.Ports, state.Port{Num: cp.Num, Proto: cp.Proto, Pending: pend})
			}
			xs = nil
			np.Proto = ""
		}
	}
	if np.Proto != "" {
		nh.Ports = append(nh.Ports, np)
	}
	for k := range xs {
		if xs[k].Kind == event.KindPortOpened {
			if c.opened == nil {
				c.opened = map[portKey]bool{}
			}
			c.opened[portKey{cp.Proto, cp.Num}] = true
		}
		xs[k].Summary = summary(&xs[k])
	}
	c.hostOut = append(c.hostOut, xs...)
	if cOpen {
		c.expiring(addr, nh, cp)
	}
}

// expiring reports a certificate that expires within CertWarn.
func (c *comparer) expiring(addr netip.Addr, nh *state.Host, cp *state.Port) {
	if c.o.CertWarn <= 0 || cp.TLS == nil || cp.TLS.NotAfter == "" {
		return
	}
	end, ok := parseTime(cp.TLS.NotAfter)
	if !ok || end.Sub(c.o.Now) > c.o.CertWarn {
		return
	}
	x := c.change(event.KindTLSExpiring, nh, addr)
	if !end.After(c.o.Now) {
		if _, set := c.o.Severity[event.KindTLSExpiring]; !set {
			x.Severity = event.SeverityCritical
		}
	}
	x.Port, x.Proto = cp.Num, cp.Proto
	x.After = cp.Observed()
	if bp := c.baselinePort(addr, cp); bp != nil && bp.State == state.StateOpen {
		x.FirstSeen = bp.FirstSeen
	}
	x.Summary = summary(&x)
	c.hostOut = append(c.hostOut, x)
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// policy checks the open ports of a host seen up.
func (c *comparer) policy(addr netip.Addr, nh, ch *state.Host) {
	if c.o.Policy == nil {
		return
	}
	for i := range ch.Ports {
		cp := &ch.Ports[i]
		if cp.State != state.StateOpen {
			continue
		}
		if c.o.PolicyNewOnly && !c.opened[portKey{cp.Proto, cp.Num}] {
			continue
		}
		ok, rule := c.o.Policy.Allowed(addr, nh.Hostname, cp.Proto, cp.Num, cp.Service)
		if ok {
			continue
		}
		x := c.change(event.KindPolicyViolation, nh, addr)
		x.Port, x.Proto = cp.Num, cp.Proto
		x.After = cp.Observed()
		x.Rule = rule
		if bp := c.baselinePort(addr, cp); bp != nil && bp.State == state.StateOpen {
			x.FirstSeen = bp.FirstSeen
		}
		x.Summary = summary(&x)
		c.hostOut = append(c.hostOut, x)
	}
}

// policyOnly checks the policy for a host whose own change is pending.
func (c *comparer) policyOnly(addr netip.Addr, nh, ch *state.Host) {
	if !c.o.PolicyNewOnly {
		c.policy(addr, nh, ch)
	}
}

func (c *comparer) baselinePort(addr netip.Addr, cp *state.Port) *state.Port {
	bh := c.base.Hosts[addr]
	if bh == nil {
		return nil
	}
	return bh.Port(cp.Proto, cp.Num)
}

func serviceChanged(a, b *event.Service) bool {
	if a == nil || b == nil {
		return false
	}
	return a.Name != b.Name || a.Product != b.Product || a.Version != b.Version
}

// signature identifies a port's view for --confirm: state, service and
// certificate.
func signature(p *state.Port) string {
	var b strings.Builder
	b.WriteString(p.State)
	if p.Service != nil {
		b.WriteString("|" + p.Service.Name + "|" + p.Service.Product + "|" + p.Service.Version)
	}
	if p.TLS != nil && p.TLS.SHA256 != "" {
		b.WriteString("|" + strings.ToLower(p.TLS.SHA256))
	}
	return b.String()
}

// identity names what a service is, for service-moved: its certificate,
// its SSH host key, or its product and version. "" means too little is
// known to tell it from another.
func identity(o *event.Observed) string {
	if o == nil {
		return ""
	}
	if o.TLS != nil && o.TLS.SHA256 != "" {
		return "tls:" + strings.ToLower(o.TLS.SHA256)
	}
	if s := o.Service; s != nil {
		if s.HostKey != "" {
			return "hostkey:" + s.HostKey
		}
		if s.Product != "" {
			return "svc:" + s.Name + "\x00" + s.Product + "\x00" + s.Version
		}
	}
	return ""
}

// foldMoves turns a port-closed and a port-opened of one service on the
// host into one service-moved change, pairing them in port order.
func (c *comparer) foldMoves() {
	closed := map[string][]int{}
	for i, x := range c.hostOut {
		if x.Kind == event.KindPortClosed {
			if id := identity(x.Before); id != "" {
				closed[id] = append(closed[id], i)
			}
		}
	}
	if len(closed) == 0 {
		return
	}
	drop := map[int]bool{}
	for i := range c.hostOut {
		x := &c.hostOut[i]
		if x.Kind != event.KindPortOpened || x.Proto == "" {
			continue
		}
		id := identity(x.After)
		cands := closed[id]
		if id == "" || len(cands) == 0 {
			continue
		}
		from := c.hostOut[cands[0]]
		closed[id] = cands[1:]
		drop[cands[0]] = true
		x.Kind = event.KindServiceMoved
		x.Severity = c.severity(event.KindServiceMoved)
		x.FromPort = from.Port
		x.Before = from.Before
		x.FirstSeen = from.FirstSeen
		x.Summary = summary(x)
	}
	if len(drop) == 0 {
		return
	}
	out := c.hostOut[:0]
	for i, x := range c.hostOut {
		if !drop[i] {
			out = append(out, x)
		}
	}
	c.hostOut = out
}

package state

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/picketscan/picket/lib/event"
)

// Builder collects the events of one or more scans into a Scan. Feed it
// lines with AddLine (or the parts with Start, HostSeen, PortSeen and
// End, as the Nmap XML reader does), then call Scan once.
//
// A scan start that announces scope_parts is continued by that many
// "scope" events, whose targets and exclusions AddLine appends to the
// scan's scope in seq order. The scope is closed by the scan's first
// host or port event or its end: a part missing by then (or out of
// order, or late) leaves the scan's scope incomplete, and the scan
// counts as incomplete, so nothing it did not report is taken as down
// or closed; Part.ScopeErr says why, for the caller to report. A scope
// event out of order or without its scan start is also an AddLine error.
type Builder struct {
	dec   *Decoder
	parts map[string]*Part
	order []*Part
	hosts map[netip.Addr]*Host
	// upIn holds, for a host a shard of a split scan reported up, the
	// shardKey of that split scan: the other shards report the host
	// too, and one that got no answer must not turn it down.
	upIn map[netip.Addr]string
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{dec: NewDecoder(), parts: map[string]*Part{}, hosts: map[netip.Addr]*Host{}, upIn: map[netip.Addr]string{}}
}

// part returns the part of scanID, making one without a scope if the
// input has not started that scan.
func (b *Builder) part(scanID string) *Part {
	if p, ok := b.parts[scanID]; ok {
		return p
	}
	p := &Part{ScanID: scanID}
	b.parts[scanID] = p
	b.order = append(b.order, p)
	return p
}

// Start records the start of scan scanID at time with its scope (nil
// when unknown).
func (b *Builder) Start(scanID, time string, scope *event.Scope) {
	p := b.part(scanID)
	p.Start, p.Scope = time, scope
}

// expectScope records that the scope of scan scanID continues in n
// "scope" events.
func (b *Builder) expectScope(scanID string, n int) {
	p := b.part(scanID)
	p.scopeWant = n
}

// addScopePart appends one "scope" event to its scan's scope.
func (b *Builder) addScopePart(raw []byte) error {
	var sp event.ScopePart
	if err := json.Unmarshal(raw, &sp); err != nil {
		return fmt.Errorf("scope event: %w", err)
	}
	p, ok := b.parts[sp.ScanID]
	switch {
	case !ok || p.Scope == nil:
		return fmt.Errorf("scope event %d of scan %s: no scan start with a scope before it; ignored", sp.Seq, sp.ScanID)
	case p.sealed:
		if p.ScopeErr == nil {
			p.ScopeErr = fmt.Errorf("scan %s: scope incomplete: scope event %d came after the scan's hosts, ports or end", sp.ScanID, sp.Seq)
		}
		return fmt.Errorf("scope event %d of scan %s: after the scan's hosts, ports or end; ignored", sp.Seq, sp.ScanID)
	case p.ScopeErr != nil:
		return fmt.Errorf("scope event %d of scan %s: ignored, the scope is already incomplete", sp.Seq, sp.ScanID)
	case sp.Seq != p.scopeGot+1 || sp.Seq > p.scopeWant:
		p.ScopeErr = fmt.Errorf("scan %s: scope incomplete: scope event %d came where %d of %d was due", sp.ScanID, sp.Seq, p.scopeGot+1, p.scopeWant)
		return fmt.Errorf("scope event %d of scan %s: out of order, %d of %d was due", sp.Seq, sp.ScanID, p.scopeGot+1, p.scopeWant)
	}
	p.Scope.Targets = append(p.Scope.Targets, sp.Targets...)
	p.Scope.Exclude = append(p.Scope.Exclude, sp.Exclude...)
	p.scopeGot++
	return nil
}

// seal closes the scope of p: its scope events must all have come.
func (p *Part) seal() {
	if p.sealed {
		return
	}
	p.sealed = true
	if p.ScopeErr == nil && p.scopeGot < p.scopeWant {
		p.ScopeErr = fmt.Errorf("scan %s: scope incomplete: %d of %d scope events came before its first host, port or end event", p.ScanID, p.scopeGot, p.scopeWant)
	}
}

// End records the end of scan scanID.
func (b *Builder) End(scanID string, complete bool) {
	p := b.part(scanID)
	p.seal()
	p.ended, p.Complete = true, complete
}

// HostSeen records a host event of scan scanID. A later report of the same
// address replaces the state, except that a host one shard of a split
// scan reported up stays up when another shard of it reports the host
// down (each shard reports the hosts it saw answer, and with -Pn a shard
// whose ports got no answer sees the host down); a name is kept once
// known.
func (b *Builder) HostSeen(scanID string, h Host) {
	p := b.part(scanID)
	p.seal()
	cur := b.host(h.Addr, h.Hostname)
	key := ""
	if p.Scope != nil && p.Scope.Shard != nil && p.Scope.Shard.Count > 1 {
		key = p.shardKey()
	}
	if key != "" && h.State != HostUp && cur.State == HostUp && b.upIn[h.Addr] == key {
		return
	}
	cur.State, cur.Reason = h.State, h.Reason
	if key != "" && h.State == HostUp {
		b.upIn[h.Addr] = key
	} else {
		delete(b.upIn, h.Addr)
	}
}

// PortSeen records a port event of scan scanID for addr.
func (b *Builder) PortSeen(scanID string, addr netip.Addr, hostname string, p Port) {
	b.part(scanID).seal()
	h := b.host(addr, hostname)
	p.FirstSeen, p.LastSeen, p.Pending = "", "", nil
	h.Ports = append(h.Ports, p)
}

// PortsSeen records several port events of scan scanID for addr at once.
func (b *Builder) PortsSeen(scanID string, addr netip.Addr, hostname string, ps []Port) {
	b.part(scanID).seal()
	h := b.host(addr, hostname)
	if h.Ports == nil {
		h.Ports = make([]Port, 0, len(ps))
	}
	for _, p := range ps {
		p.FirstSeen, p.LastSeen, p.Pending = "", "", nil
		h.Ports = append(h.Ports, p)
	}
}

func (b *Builder) host(addr netip.Addr, hostname string) *Host {
	h, ok := b.hosts[addr]
	if !ok {
		h = &Host{Addr: addr}
		b.hosts[addr] = h
	}
	if hostname != "" {
		h.Hostname = hostname
	}
	return h
}

// AddLine takes one event line: scan starts and ends, scope events,
// hosts and ports are recorded; every other type is ignored. It returns
// an error for a scan, scope, host or port line it cannot read, naming
// what is wrong.
func (b *Builder) AddLine(l event.Line) error {
	switch l.Type {
	case event.TypeScan:
		return b.addScan(l.Raw)
	case event.TypeScope:
		return b.addScopePart(l.Raw)
	case event.TypeHost, event.TypePort:
		rec, err := b.dec.DecodeLine(l.Raw)
		if err != nil {
			return fmt.Errorf("%s event: %w", l.Type, err)
		}
		if l.Type == event.TypeHost {
			b.HostSeen(rec.ScanID, rec.Host)
		} else {
			b.PortSeen(rec.ScanID, rec.Addr, rec.Hostname, rec.Port)
		}
	}
	return nil
}

func (b *Builder) addScan(raw []byte) error {
	var s struct {
		ScanID   string       `json:"scan_id"`
		Time     string       `json:"time"`
		Phase    string       `json:"phase"`
		Scope    *event.Scope `json:"scope"`
		Parts    int          `json:"scope_parts"`
		Complete bool         `json:"complete"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("scan event: %w", err)
	}
	switch s.Phase {
	case event.PhaseStart:
		b.Start(s.ScanID, s.Time, s.Scope)
		if s.Parts > 0 && s.Scope != nil {
			b.expectScope(s.ScanID, s.Parts)
		}
	case event.PhaseEnd:
		b.End(s.ScanID, s.Complete)
	}
	return nil
}

// Scan finishes the build: ports are sorted, shards of one split scan are
// merged, and scopes are parsed. A scope that cannot be parsed is an
// error. The Builder must not be used afterwards.
func (b *Builder) Scan() (*Scan, error) {
	s := &Scan{Hosts: b.hosts, named: map[string][]netip.Addr{}}
	for _, h := range b.hosts {
		h.SortPorts()
		if h.Hostname != "" {
			k := strings.ToLower(h.Hostname)
			s.named[k] = append(s.named[k], h.Addr)
		}
	}
	for _, p := range b.order {
		// A scan that never ended, or one of which only an end was
		// seen, is incomplete: what it did not report proves nothing.
		if !p.ended || p.Scope == nil {
			p.Complete = false
		}
		if p.ScopeErr == nil && p.scopeGot < p.scopeWant {
			p.ScopeErr = fmt.Errorf("scan %s: scope incomplete: %d of %d scope events came", p.ScanID, p.scopeGot, p.scopeWant)
		}
		if p.ScopeErr != nil {
			p.Complete = false
		}
	}
	s.Parts = mergeShards(b.order)
	for _, p := range s.Parts {
		if err := p.prepare(); err != nil {
			return nil, err
		}
	}
	if len(b.order) > 0 {
		s.ScanID, s.Start = b.order[0].ScanID, b.order[0].Start
		for _, p := range b.order {
			if p.Scope != nil {
				s.ScanID, s.Start = p.ScanID, p.Start
				break
			}
		}
	}
	return s, nil
}

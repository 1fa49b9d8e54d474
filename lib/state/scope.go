package state

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/targets"
)

// Part is one scan, or the shards of one split scan, as found in the
// input: the scope it set out to cover and whether it finished.
type Part struct {
	// ScanID is the scan's scan_id (of its first shard for a merged one).
	ScanID string
	// Start is the scan start time.
	Start string
	// Scope is the scan's scope, nil when the input had no scan start
	// for it; then the part covers only what it reported.
	Scope *event.Scope
	// Complete is true when the scan ended with "complete": true (for a
	// split scan: when every shard did).
	Complete bool
	// Shards lists the shard indexes merged into this part.
	Shards []int
	// ScopeErr, when set, says why the scope is incomplete: "scope"
	// events the scan start announced were missing, out of order or
	// late. Such a part is not Complete, so its silence proves nothing.
	ScopeErr error

	ended bool
	// The "scope" events announced and read, and whether the scope is
	// closed (by the scan's first host or port event or its end).
	scopeWant, scopeGot int
	sealed              bool
	key                 string // shardKey, once computed
	// Coverage, built by prepare. Addresses and prefixes go into sets
	// searched in O(log n), so a scope of a million scattered addresses
	// costs no more per host than a /8; octet ranges and names are few
	// and tried in turn.
	in     *netipx.IPSet  // target addresses and prefixes
	specs  []targets.Spec // octet ranges
	names  []targets.Spec // host names (with or without a prefix length)
	out    *netipx.IPSet  // excluded addresses and prefixes
	excl   []targets.Spec // excluded octet ranges and names
	ports  ports.List
	usable bool // the scope parsed
}

// prepare parses the part's scope. A scope that cannot be parsed makes
// the part cover nothing beyond what it reported, which is the safe
// reading: nothing is reported closed on its account.
func (p *Part) prepare() error {
	p.usable = false
	if p.Scope == nil {
		return nil
	}
	var in, out netipx.IPSetBuilder
	for i, t := range p.Scope.Targets {
		s, err := targets.ParseSpec(t)
		if err != nil {
			return fmt.Errorf("scan %s: scope target %d: %w", p.ScanID, i+1, err)
		}
		switch s.Kind() {
		case targets.KindAddr:
			in.Add(s.Addr().WithZone(""))
		case targets.KindPrefix:
			in.AddPrefix(s.Prefix())
		case targets.KindName:
			p.names = append(p.names, s)
		default:
			p.specs = append(p.specs, s)
		}
	}
	for i, t := range p.Scope.Exclude {
		s, err := targets.ParseSpec(t)
		if err != nil {
			return fmt.Errorf("scan %s: scope exclusion %d: %w", p.ScanID, i+1, err)
		}
		switch s.Kind() {
		case targets.KindAddr:
			out.Add(s.Addr().WithZone(""))
		case targets.KindPrefix:
			out.AddPrefix(s.Prefix())
		default:
			p.excl = append(p.excl, s)
		}
	}
	var err error
	if p.in, err = in.IPSet(); err != nil {
		return fmt.Errorf("scan %s: scope targets: %w", p.ScanID, err)
	}
	if p.out, err = out.IPSet(); err != nil {
		return fmt.Errorf("scan %s: scope exclusions: %w", p.ScanID, err)
	}
	if p.Scope.Ports != "" {
		// No ports (a ping scan) covers hosts only.
		pl, err := ports.Parse(p.Scope.Ports, ports.ParseOptions{})
		if err != nil {
			return fmt.Errorf("scan %s: scope ports %q: %w", p.ScanID, p.Scope.Ports, err)
		}
		p.ports = pl
	}
	p.usable = true
	return nil
}

// CoversHost reports whether the part set out to scan addr, known by
// hostname. named maps host names to the addresses the scan reported
// under them, so that a target given as a name (with a prefix length or
// not) can be placed.
func (p *Part) CoversHost(addr netip.Addr, hostname string, named map[string][]netip.Addr) bool {
	if !p.usable {
		return false
	}
	addr = addr.WithZone("")
	in := setHas(p.in, addr)
	for i := 0; !in && i < len(p.specs); i++ {
		in = p.specs[i].Contains(addr)
	}
	for i := 0; !in && i < len(p.names); i++ {
		in = nameCovers(p.names[i], addr, hostname, named)
	}
	if !in || setHas(p.out, addr) {
		return false
	}
	for _, s := range p.excl {
		if s.Contains(addr) || (s.Kind() == targets.KindName && nameCovers(s, addr, hostname, named)) {
			return false
		}
	}
	return true
}

// setHas reports whether set holds a, an IPv4 address also in its
// IPv4-mapped IPv6 form, as targets.Spec.Contains does.
func setHas(set *netipx.IPSet, a netip.Addr) bool {
	a = a.Unmap()
	return set.Contains(a) || a.Is4() && set.Contains(netip.AddrFrom16(a.As16()))
}

func nameCovers(s targets.Spec, addr netip.Addr, hostname string, named map[string][]netip.Addr) bool {
	if s.Bits() < 0 {
		return hostname != "" && strings.EqualFold(s.Name(), hostname)
	}
	if hostname != "" && strings.EqualFold(s.Name(), hostname) {
		return true
	}
	for _, a := range named[strings.ToLower(s.Name())] {
		if a.Is4() != addr.Is4() {
			continue
		}
		if pfx, err := a.Prefix(s.Bits()); err == nil && pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// CoversPort reports whether the part's port list holds proto/num.
func (p *Part) CoversPort(proto string, num uint16) bool {
	if !p.usable {
		return false
	}
	pr, err := ports.ParseProto(proto)
	if err != nil {
		return false
	}
	return p.ports.Contains(ports.Port{Proto: pr, Num: num})
}

// Scan is the current observation: the hosts and ports reported by one
// or more scans (or shards) read together, and the parts they came from.
type Scan struct {
	// ScanID is the scan_id of the first scan read.
	ScanID string
	// Start is the start time of the first scan read.
	Start string
	Hosts map[netip.Addr]*Host
	Parts []*Part
	named map[string][]netip.Addr
}

// Complete reports whether every part of the scan finished. An empty scan
// (no part at all) is not complete.
func (s *Scan) Complete() bool {
	if len(s.Parts) == 0 {
		return false
	}
	for _, p := range s.Parts {
		if !p.Complete {
			return false
		}
	}
	return true
}

// Checked reports whether a complete part of the scan set out to scan
// host addr (known by hostname), so that its silence means down.
func (s *Scan) Checked(addr netip.Addr, hostname string) []*Part {
	var out []*Part
	for _, p := range s.Parts {
		if p.Complete && p.CoversHost(addr, hostname, s.named) {
			out = append(out, p)
		}
	}
	return out
}

// Covered reports whether any part, complete or not, meant to scan addr.
func (s *Scan) Covered(addr netip.Addr, hostname string) bool {
	for _, p := range s.Parts {
		if p.CoversHost(addr, hostname, s.named) {
			return true
		}
	}
	return false
}

// PortChecked reports whether one of parts (from Checked) scanned
// proto/num.
func PortChecked(parts []*Part, proto string, num uint16) bool {
	for _, p := range parts {
		if p.CoversPort(proto, num) {
			return true
		}
	}
	return false
}

// shardKey returns the key of the split scan p is a shard of, computed
// once from its whole scope: the caller makes sure the scope is complete
// (sealed) before it asks.
func (p *Part) shardKey() string {
	if p.key == "" {
		p.key = shardKey(p.Scope)
	}
	return p.key
}

// shardKey identifies the shards of one split scan: the same scope
// (shard aside) and the same shard count.
func shardKey(sc *event.Scope) string {
	var b strings.Builder
	for _, t := range sc.Targets {
		b.WriteString(t)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, t := range sc.Exclude {
		b.WriteString(t)
		b.WriteByte(0)
	}
	fmt.Fprintf(&b, "\x01%s\x01%s\x01%s\x01%d", sc.Ports, sc.Method, sc.Discovery, sc.Shard.Count)
	return b.String()
}

// mergeShards folds the shards of each split scan into one part, complete
// only when every shard from 1 to the count is present and complete.
func mergeShards(parts []*Part) []*Part {
	var out []*Part
	groups := map[string]*Part{}
	seen := map[string]map[int]bool{}
	for _, p := range parts {
		if p.Scope == nil || p.Scope.Shard == nil || p.Scope.Shard.Count < 1 {
			out = append(out, p)
			continue
		}
		key := p.shardKey()
		g, ok := groups[key]
		if !ok {
			sc := *p.Scope
			sc.Shard = nil
			g = &Part{ScanID: p.ScanID, Start: p.Start, Scope: &sc, Complete: true, ended: true}
			groups[key] = g
			seen[key] = map[int]bool{}
			out = append(out, g)
		}
		idx := p.Scope.Shard.Index
		if idx < 1 || idx > p.Scope.Shard.Count || seen[key][idx] {
			g.Complete = false
		}
		seen[key][idx] = true
		g.Shards = append(g.Shards, idx)
		if g.ScopeErr == nil {
			g.ScopeErr = p.ScopeErr
		}
		g.Complete = g.Complete && p.Complete
	}
	for key, g := range groups {
		count := 0
		for i := range seen[key] {
			if i >= 1 {
				count++
			}
		}
		want := 0
		for _, p := range parts {
			if p.Scope != nil && p.Scope.Shard != nil && p.Scope.Shard.Count >= 1 && p.shardKey() == key {
				want = p.Scope.Shard.Count
				break
			}
		}
		if count != want {
			g.Complete = false
		}
		slices.Sort(g.Shards)
	}
	return out
}

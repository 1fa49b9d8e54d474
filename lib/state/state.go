// Package state is ndiff's model of what is known about a network: the
// hosts and ports a scan reported (Scan, with the scope it set out to
// cover) and the merged memory of earlier scans (Baseline, with when each
// port was first and last seen and any change still waiting for
// confirmation). It holds no files and no sockets: lib/nmapxml and the
// event decoder here fill a Builder, lib/baseline reads and writes a
// Baseline, and lib/diff compares the two.
package state

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/picketscan/picket/lib/event"
)

// Port states in Nmap's vocabulary. StateNone marks a baseline entry that
// exists only to hold a pending change: the port was never confirmed in
// any state.
const (
	StateOpen           = "open"
	StateClosed         = "closed"
	StateFiltered       = "filtered"
	StateUnfiltered     = "unfiltered"
	StateOpenFiltered   = "open|filtered"
	StateClosedFiltered = "closed|filtered"
	StateNone           = ""
)

// Host states.
const (
	HostUp   = "up"
	HostDown = "down"
)

// Port is what is known about one port of one host. Proto is "tcp" or
// "udp". FirstSeen and LastSeen are set in a baseline: the start time of
// the first scan that saw the port in its present state and of the latest
// scan that saw it.
type Port struct {
	Num       uint16
	Proto     string
	State     string
	Reason    string
	Service   *event.Service
	TLS       *event.TLS
	FirstSeen string
	LastSeen  string
	Pending   *Pending
}

// Less orders ports by protocol, then number.
func (p *Port) Less(o *Port) bool { return ComparePorts(p, o) < 0 }

// ComparePorts orders ports by protocol ("tcp" before "udp"), then number.
func ComparePorts(a, b *Port) int {
	if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	return cmp.Compare(a.Num, b.Num)
}

// Observed returns the port as a side of a change.
func (p *Port) Observed() *event.Observed {
	return &event.Observed{State: p.State, Reason: p.Reason, Service: p.Service, TLS: p.TLS}
}

// Pending is a change seen in fewer consecutive complete scans than
// --confirm asks for. Sig identifies what the port or host changed to
// (state, service and certificate); Count is the number of consecutive
// complete scans that saw it; Since is the start time of the first.
type Pending struct {
	Sig   string `json:"sig"`
	Count int    `json:"count"`
	Since string `json:"since,omitempty"`
}

// Host is what is known about one address. State is HostUp, HostDown or
// "" when a scan reported ports but no host event. Ports are sorted by
// ComparePorts once a Builder or a baseline reader is done.
type Host struct {
	Addr      netip.Addr
	Hostname  string
	State     string
	Reason    string
	FirstSeen string
	LastSeen  string
	Pending   *Pending
	Ports     []Port
}

// Port returns the host's port proto/num, or nil. Ports must be sorted.
func (h *Host) Port(proto string, num uint16) *Port {
	key := Port{Proto: proto, Num: num}
	i, ok := slices.BinarySearchFunc(h.Ports, &key, func(a Port, b *Port) int { return ComparePorts(&a, b) })
	if !ok {
		return nil
	}
	return &h.Ports[i]
}

// SortPorts sorts the host's ports and drops duplicates, keeping the last
// report of each port.
func (h *Host) SortPorts() {
	slices.SortStableFunc(h.Ports, func(a, b Port) int { return ComparePorts(&a, &b) })
	out := h.Ports[:0]
	for i := range h.Ports {
		if n := len(out); n > 0 && ComparePorts(&out[n-1], &h.Ports[i]) == 0 {
			out[n-1] = h.Ports[i]
			continue
		}
		out = append(out, h.Ports[i])
	}
	clear(h.Ports[len(out):])
	h.Ports = out
}

// Baseline is ndiff's memory: every host and port known from earlier
// complete scans, merged.
type Baseline struct {
	// ScanID is the scan_id of the latest scan merged in.
	ScanID string
	// Time is the start time of that scan.
	Time  string
	Hosts map[netip.Addr]*Host
}

// NewBaseline returns an empty baseline.
func NewBaseline() *Baseline { return &Baseline{Hosts: map[netip.Addr]*Host{}} }

// PortCount returns the number of ports in b.
func (b *Baseline) PortCount() int {
	n := 0
	for _, h := range b.Hosts {
		n += len(h.Ports)
	}
	return n
}

// SortedAddrs returns the addresses of hosts, sorted.
func SortedAddrs(hosts map[netip.Addr]*Host) []netip.Addr {
	addrs := make([]netip.Addr, 0, len(hosts))
	for a := range hosts {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return addrs
}

// FromScan turns a scan into a baseline, as when an old scan file is
// compared with a new one (ndiff OLD NEW): every host and port it
// reported, first and last seen at its start. A host reported only
// through its ports is up.
func FromScan(s *Scan) *Baseline {
	b := &Baseline{ScanID: s.ScanID, Time: s.Start, Hosts: make(map[netip.Addr]*Host, len(s.Hosts))}
	for a, h := range s.Hosts {
		nh := *h
		if nh.State == "" && len(nh.Ports) > 0 {
			nh.State = HostUp
		}
		nh.FirstSeen, nh.LastSeen = s.Start, s.Start
		nh.Ports = slices.Clone(h.Ports)
		for i := range nh.Ports {
			nh.Ports[i].FirstSeen, nh.Ports[i].LastSeen = s.Start, s.Start
		}
		b.Hosts[a] = &nh
	}
	return b
}

// Package ports implements Nmap-compatible port specifications for Picket's
// scanner: the -p syntax ("22,80,T:1-1024,U:53,http*"), --top-ports from an
// embedded frequency-ordered table, and --exclude-ports.
//
// A List is an immutable, sorted, de-duplicated set of (protocol, port)
// pairs stored as ranges, so "-" (all 65535 ports) costs a few bytes and
// Len and At stay cheap for the scanner's shuffled enumeration.
package ports

//go:generate go run ./internal/gentop -services /usr/share/nmap/nmap-services -out .

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Proto is a transport protocol that ports belong to.
type Proto uint8

// The protocols Picket scans. The zero Proto is deliberately invalid so a
// forgotten field is caught instead of silently meaning TCP.
const (
	TCP Proto = iota + 1
	UDP
)

// numProtos is the number of valid protocols; List keeps one range set each.
const numProtos = 2

// String returns "tcp" or "udp", the names used in Picket's events.
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// valid reports whether p is TCP or UDP.
func (p Proto) valid() bool { return p == TCP || p == UDP }

// ParseProto returns the Proto named "tcp" or "udp" (case-insensitively).
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q: want tcp or udp", s)
}

// Port is one port number of one protocol.
type Port struct {
	Proto Proto
	Num   uint16
}

// String returns the form "80/tcp".
func (p Port) String() string { return strconv.Itoa(int(p.Num)) + "/" + p.Proto.String() }

// span is an inclusive range of port numbers.
type span struct{ lo, hi uint16 }

func (s span) size() int { return int(s.hi) - int(s.lo) + 1 }

// set is a sorted list of disjoint, non-adjacent spans with the running
// count of ports before each span, so At can binary-search.
type set struct {
	spans  []span
	before []int
	n      int
}

// newSet normalises arbitrary spans (any order, overlapping) into a set.
func newSet(spans []span) set {
	if len(spans) == 0 {
		return set{}
	}
	sorted := slices.Clone(spans)
	slices.SortFunc(sorted, func(a, b span) int { return int(a.lo) - int(b.lo) })
	merged := sorted[:1]
	for _, s := range sorted[1:] {
		last := &merged[len(merged)-1]
		if int(s.lo) <= int(last.hi)+1 {
			last.hi = max(last.hi, s.hi)
			continue
		}
		merged = append(merged, s)
	}
	out := set{spans: slices.Clip(merged), before: make([]int, len(merged))}
	for i, s := range merged {
		out.before[i] = out.n
		out.n += s.size()
	}
	return out
}

// at returns the i'th port of the set; 0 <= i < s.n.
func (s set) at(i int) uint16 {
	k := sort.Search(len(s.spans), func(k int) bool { return s.before[k] > i }) - 1
	return s.spans[k].lo + uint16(i-s.before[k])
}

func (s set) contains(n uint16) bool {
	k := sort.Search(len(s.spans), func(k int) bool { return s.spans[k].hi >= n })
	return k < len(s.spans) && s.spans[k].lo <= n
}

// without returns the ports of s that are not in ex.
func (s set) without(ex set) set {
	var out []span
	j := 0
	for _, cur := range s.spans {
		lo, hi := int(cur.lo), int(cur.hi)
		for j < len(ex.spans) && int(ex.spans[j].hi) < lo {
			j++
		}
		for k := j; k < len(ex.spans) && int(ex.spans[k].lo) <= hi; k++ {
			e := ex.spans[k]
			if int(e.lo) > lo {
				out = append(out, span{uint16(lo), e.lo - 1})
			}
			lo = int(e.hi) + 1
		}
		if lo <= hi {
			out = append(out, span{uint16(lo), uint16(hi)})
		}
	}
	return newSet(out)
}

// List is an immutable set of ports, sorted by protocol (TCP first) and then
// by number. The zero List is empty and ready to use.
type List struct {
	sets [numProtos]set
}

// newList builds a List from per-protocol spans, indexed by Proto-1.
func newList(spans [numProtos][]span) List {
	var l List
	for i := range spans {
		l.sets[i] = newSet(spans[i])
	}
	return l
}

// Len returns the number of ports in l.
func (l List) Len() int {
	n := 0
	for _, s := range l.sets {
		n += s.n
	}
	return n
}

// At returns the i'th port of l in its sorted order, in O(log n) time, so a
// scanner can walk a permutation of indexes without expanding the list. Like
// a slice index, it panics unless 0 <= i < l.Len().
func (l List) At(i int) Port {
	if i >= 0 {
		for k, s := range l.sets {
			if i < s.n {
				return Port{Proto: Proto(k + 1), Num: s.at(i)}
			}
			i -= s.n
		}
	}
	panic(fmt.Sprintf("ports: index %d out of range [0:%d]", i, l.Len()))
}

// Contains reports whether p is in l.
func (l List) Contains(p Port) bool {
	return p.Proto.valid() && l.sets[p.Proto-1].contains(p.Num)
}

// Ports returns the port numbers of protocol p in ascending order. It
// allocates one element per port; prefer Len and At for large lists.
func (l List) Ports(p Proto) []uint16 {
	if !p.valid() {
		return nil
	}
	s := l.sets[p-1]
	out := make([]uint16, 0, s.n)
	for _, sp := range s.spans {
		for n := int(sp.lo); n <= int(sp.hi); n++ {
			out = append(out, uint16(n))
		}
	}
	return out
}

// Only returns the ports of l that belong to protocol p, so a scan method
// for one protocol can take its part of a list such as "T:22,U:53".
func (l List) Only(p Proto) List {
	var out List
	if p.valid() {
		out.sets[p-1] = l.sets[p-1]
	}
	return out
}

// Without returns the ports of l that are not in ex, as --exclude-ports
// needs.
func (l List) Without(ex List) List {
	var out List
	for i := range l.sets {
		out.sets[i] = l.sets[i].without(ex.sets[i])
	}
	return out
}

// Equal reports whether l and o hold the same ports.
func (l List) Equal(o List) bool {
	for i := range l.sets {
		if !slices.Equal(l.sets[i].spans, o.sets[i].spans) {
			return false
		}
	}
	return true
}

// String returns the canonical specification of l: ranges collapsed, TCP
// ports after "T:" and UDP ports after "U:", e.g. "T:1-1024,8080,U:53". An
// empty protocol is left out and an empty List is "". Parse reads the result
// back to an equal List whatever the default protocols.
func (l List) String() string {
	var b strings.Builder
	for i, s := range l.sets {
		if s.n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(qualifiers[i])
		for k, sp := range s.spans {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(sp.lo)))
			if sp.hi != sp.lo {
				b.WriteByte('-')
				b.WriteString(strconv.Itoa(int(sp.hi)))
			}
		}
	}
	return b.String()
}

// qualifiers are the Nmap protocol prefixes, indexed by Proto-1.
var qualifiers = [numProtos]string{"T:", "U:"}

package targets

import (
	"cmp"
	"net/netip"
	"slices"
)

// span is an inclusive interval of addresses of one family.
type span struct{ lo, hi netip.Addr }

// excluder answers whether an address is excluded. Addresses, prefixes
// and resolved names become intervals, sorted and merged so that a lookup
// is a binary search whatever the length of the list; octet ranges, which
// can describe millions of disjoint intervals, are kept as bitmaps and
// tested one after the other.
type excluder struct {
	spans  []span
	ranges []*octets
}

func (x *excluder) addAddr(a netip.Addr) {
	a = a.WithZone("")
	x.spans = append(x.spans, span{a, a})
}

func (x *excluder) addPrefix(p netip.Prefix) {
	p = p.Masked()
	x.spans = append(x.spans, span{p.Addr(), lastAddr(p)})
}

// finish sorts and merges the intervals; it must be called once all have
// been added.
func (x *excluder) finish() {
	if len(x.spans) == 0 {
		return
	}
	slices.SortFunc(x.spans, func(a, b span) int { return cmp.Or(a.lo.Compare(b.lo), a.hi.Compare(b.hi)) })
	out := x.spans[:1]
	for _, s := range x.spans[1:] {
		cur := &out[len(out)-1]
		next := cur.hi.Next()
		if s.lo.Compare(cur.hi) <= 0 || (next.IsValid() && s.lo == next) {
			if s.hi.Compare(cur.hi) > 0 {
				cur.hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	x.spans = slices.Clip(out)
}

// spanOf returns the index of the interval holding a, or -1. a must carry
// no zone.
func (x *excluder) spanOf(a netip.Addr) int {
	lo, hi := 0, len(x.spans)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.spans[m].lo.Compare(a) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo > 0 && a.Compare(x.spans[lo-1].hi) <= 0 {
		return lo - 1
	}
	return -1
}

func (x *excluder) has(a netip.Addr) bool {
	if x.spanOf(a) >= 0 {
		return true
	}
	for _, o := range x.ranges {
		if o.contains(a) {
			return true
		}
	}
	return false
}

// contains reports whether a is excluded. Zones are ignored, and an
// IPv4-mapped IPv6 address is also tested as the IPv4 address it maps,
// so that an exclusion cannot be dodged by the spelling of an address.
func (x *excluder) contains(a netip.Addr) bool {
	if len(x.spans) == 0 && len(x.ranges) == 0 {
		return false
	}
	a = a.WithZone("")
	if x.has(a) {
		return true
	}
	return a.Is4In6() && x.has(a.Unmap())
}

func (x *excluder) empty() bool { return len(x.spans) == 0 && len(x.ranges) == 0 }

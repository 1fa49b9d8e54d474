package targets

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// mapped4 is the block of IPv4-mapped IPv6 addresses, ::ffff:0.0.0.0/96.
// An address in it stands for the IPv4 address in its last 32 bits:
// connecting to ::ffff:10.0.0.1 on a dual-stack socket reaches 10.0.0.1.
var mapped4 = netip.MustParsePrefix("::ffff:0.0.0.0/96")

// canonical returns the form of a that the package compares and reports:
// without a zone, and an IPv4-mapped IPv6 address as the IPv4 address it
// maps.
func canonical(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// canonicalPrefix returns p masked, without a zone, and, when it lies
// inside the IPv4-mapped block (::ffff:a.b.c.d/96 or longer), as the
// IPv4 prefix it maps: ::ffff:10.0.0.0/120 is 10.0.0.0/24.
func canonicalPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// excluder answers whether an address is excluded. Addresses, prefixes
// and resolved names go into a netipx set, which sorts and merges them
// into disjoint ranges; those are then kept as plain integers, one list
// per family, so that a lookup is a binary search over a few bytes per
// range whatever the length of the list (netipx's own ranges hold two
// 24-byte addresses each and made a lookup four times slower). Octet
// ranges, which can describe millions of disjoint intervals, are kept as
// bitmaps and tested one after the other.
//
// Everything is held in canonical form (see canonical), and lookups
// canonicalise the address first, so an exclusion cannot be dodged by
// spelling an address, or a prefix, in its IPv4-mapped IPv6 form or the
// other way round.
type excluder struct {
	b      netipx.IPSetBuilder
	v4     []span4 // sorted and disjoint, once finished
	v6     []span6
	ranges []*octets
}

// span4 and span6 are inclusive intervals of IPv4 and IPv6 addresses as
// numbers.
type (
	span4 struct{ lo, hi uint32 }
	span6 struct{ lo, hi u128 }
	u128  struct{ hi, lo uint64 }
)

func (a u128) cmp(b u128) int { return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo)) }

func num4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func num6(a netip.Addr) u128 {
	hi, lo := toU128(a)
	return u128{hi, lo}
}

func (x *excluder) addAddr(a netip.Addr) { x.b.Add(canonical(a)) }

func (x *excluder) addPrefix(p netip.Prefix) {
	p = canonicalPrefix(p)
	x.b.AddPrefix(p)
	// An IPv6 prefix shorter than /96 that covers the mapped block (such
	// as ::/64) covers every IPv4 address in its mapped spelling.
	if p.Addr().Is6() && p.Overlaps(mapped4) {
		x.b.AddPrefix(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
	}
}

// finish builds the interval lists; it must be called once all
// exclusions have been added.
func (x *excluder) finish() error {
	set, err := x.b.IPSet()
	if err != nil {
		return err
	}
	x.b = netipx.IPSetBuilder{}
	for _, r := range set.Ranges() {
		if r.From().Is4() {
			x.v4 = append(x.v4, span4{num4(r.From()), num4(r.To())})
		} else {
			x.v6 = append(x.v6, span6{num6(r.From()), num6(r.To())})
		}
	}
	return nil
}

// last returns the last address of the interval holding a, which must be
// canonical, and whether there is one.
func (x *excluder) last(a netip.Addr) (netip.Addr, bool) {
	if a.Is4() {
		n := num4(a)
		i, found := slices.BinarySearchFunc(x.v4, n, func(s span4, n uint32) int {
			return cmp.Compare(s.hi, n)
		})
		if !found && (i == len(x.v4) || x.v4[i].lo > n) {
			return netip.Addr{}, false
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], x.v4[i].hi)
		return netip.AddrFrom4(b), true
	}
	n := num6(a)
	i, found := slices.BinarySearchFunc(x.v6, n, func(s span6, n u128) int { return s.hi.cmp(n) })
	if !found && (i == len(x.v6) || x.v6[i].lo.cmp(n) > 0) {
		return netip.Addr{}, false
	}
	return fromU128(x.v6[i].hi.hi, x.v6[i].hi.lo, false), true
}

// has reports whether the canonical address a is excluded.
func (x *excluder) has(a netip.Addr) bool {
	if _, ok := x.last(a); ok {
		return true
	}
	for _, o := range x.ranges {
		if o.contains(a) {
			return true
		}
	}
	return false
}

// contains reports whether a, in any spelling, is excluded.
func (x *excluder) contains(a netip.Addr) bool {
	if x.empty() {
		return false
	}
	return x.has(canonical(a))
}

func (x *excluder) empty() bool { return len(x.v4) == 0 && len(x.v6) == 0 && len(x.ranges) == 0 }

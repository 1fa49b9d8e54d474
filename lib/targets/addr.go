package targets

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Addresses are handled as 128-bit numbers in two halves. IPv4 addresses
// use their IPv4-mapped form, so the arithmetic below works for both
// families as long as the results stay inside the same block.

func toU128(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func fromU128(hi, lo uint64, is4 bool) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	if is4 {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

// addOffset returns a+i. The caller keeps the result inside a's block.
func addOffset(a netip.Addr, i uint64) netip.Addr {
	hi, lo := toU128(a)
	lo, carry := bits.Add64(lo, i, 0)
	return fromU128(hi+carry, lo, a.Is4())
}

// distance returns b-a for a <= b of the same family.
func distance(a, b netip.Addr) (hi, lo uint64) {
	ahi, alo := toU128(a)
	bhi, blo := toU128(b)
	lo, borrow := bits.Sub64(blo, alo, 0)
	hi, _ = bits.Sub64(bhi, ahi, borrow)
	return hi, lo
}

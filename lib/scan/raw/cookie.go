package raw

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
)

// Key keys the cookies of one scan. A cookie is a keyed hash of a probe's
// destination that the method writes into fields the target must echo
// (the TCP sequence number, the source port, an ICMP identifier), so an
// answer proves which probe it belongs to without a table of probes.
type Key struct{ k0, k1 uint64 }

// NewKey returns a fresh random key.
func NewKey() Key {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return Key{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
}

// Sum hashes an address, a port and a small extra word (a probe kind,
// a timestamp) under the key.
func (k Key) Sum(a netip.Addr, port uint16, extra uint32) uint64 {
	b := a.Unmap().As16()
	h := k.k0
	h = mix64(h ^ binary.LittleEndian.Uint64(b[:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(b[8:]))
	h = mix64(h ^ uint64(port)<<32 ^ uint64(extra) ^ k.k1)
	return h
}

// mix64 is the SplitMix64 finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Source ports of probes lie in [PortBase, PortBase+PortSpan): above
// Linux's ephemeral range (32768–60999), so a probe's source port never
// belongs to a socket of the kernel's, and the receive filter can keep to
// that range.
const (
	PortBase = 61000
	PortSpan = 4096
)

// SourcePort derives a probe's source port from its cookie.
func SourcePort(cookie uint64) uint16 { return PortBase + uint16(cookie>>52)%PortSpan }

// Clock stamps are 16 bits of time in units of ClockUnit, carried in a
// probe next to its cookie so that a stateless method can measure the
// round trip. They wrap after 65536 units (about 2.1 s); the engine does
// not take round trips that long as samples.
const ClockUnit = 32_000 // nanoseconds

// Stamp is the 16-bit clock stamp of t nanoseconds since the session
// began.
func Stamp(ns int64) uint16 { return uint16(ns / ClockUnit) }

// Since is the time in nanoseconds from stamp s to now (nanoseconds since
// the session began), modulo the stamp's range.
func Since(s uint16, now int64) int64 { return int64(Stamp(now)-s) * ClockUnit }

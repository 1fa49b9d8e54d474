package scan

import "math/bits"

// permutation is a keyed bijection on [0, n). The scanner walks the
// space of targets × ports through it, so probes reach hosts and ports in
// a random-looking order without ever holding the space in memory: a /8
// times 65535 ports costs the same few words as one host.
//
// It is a four-round balanced Feistel network on the smallest even number
// of bits that covers n, with cycle walking to stay below n. The domain is
// less than four times n, so a lookup takes fewer than four walks on
// average.
type permutation struct {
	n        uint64
	halfBits uint
	mask     uint64
	keys     [4]uint64
}

func newPermutation(n, seed uint64) permutation {
	p := permutation{n: n}
	if n < 2 {
		return p
	}
	width := uint(bits.Len64(n - 1))
	p.halfBits = (width + 1) / 2
	p.mask = 1<<p.halfBits - 1
	s := seed
	for i := range p.keys {
		s = mix64(s + 0x9e3779b97f4a7c15)
		p.keys[i] = s
	}
	return p
}

// At returns the i-th element of the permuted sequence, for i < n.
func (p permutation) At(i uint64) uint64 {
	if p.n < 2 {
		return i
	}
	x := p.encrypt(i)
	for x >= p.n {
		x = p.encrypt(x)
	}
	return x
}

func (p permutation) encrypt(x uint64) uint64 {
	l, r := x>>p.halfBits, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(mix64(r^k)&p.mask)
	}
	return l<<p.halfBits | r
}

// mix64 is the SplitMix64 finaliser: a cheap, well-spread 64-bit mixer.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

package scan

import "testing"

func TestPermutationIsBijection(t *testing.T) {
	for _, n := range []uint64{0, 1, 2, 3, 4, 5, 7, 8, 100, 255, 256, 1000, 65535, 65536, 70001} {
		for _, seed := range []uint64{0, 1, 42} {
			p := newPermutation(n, seed)
			seen := make([]bool, n)
			for i := uint64(0); i < n; i++ {
				v := p.At(i)
				if v >= n {
					t.Fatalf("n=%d seed=%d: At(%d)=%d out of range", n, seed, i, v)
				}
				if seen[v] {
					t.Fatalf("n=%d seed=%d: value %d produced twice", n, seed, v)
				}
				seen[v] = true
			}
		}
	}
}

func TestPermutationShuffles(t *testing.T) {
	// The order must not be the identity, nor keep long runs of
	// neighbours: consecutive probes would then hit one host's
	// consecutive ports.
	const n = 65535
	p := newPermutation(n, 7)
	fixed, adjacent := 0, 0
	prev := p.At(0)
	for i := uint64(1); i < n; i++ {
		v := p.At(i)
		if v == i {
			fixed++
		}
		if v == prev+1 || v+1 == prev {
			adjacent++
		}
		prev = v
	}
	if fixed > n/100 || adjacent > n/100 {
		t.Fatalf("order looks sequential: %d fixed points, %d adjacent steps of %d", fixed, adjacent, n)
	}
	if newPermutation(n, 7).At(1) == newPermutation(n, 8).At(1) && newPermutation(n, 7).At(2) == newPermutation(n, 8).At(2) {
		t.Fatal("different seeds gave the same order")
	}
}

func TestPermutationHuge(t *testing.T) {
	// A /8 times all ports: lookups stay in range and cost no memory.
	n := uint64(1<<24) * 65535
	p := newPermutation(n, 3)
	for i := uint64(0); i < 1000; i++ {
		if v := p.At(n - 1 - i); v >= n {
			t.Fatalf("At(%d)=%d out of range %d", n-1-i, v, n)
		}
	}
}

func BenchmarkPermutation(b *testing.B) {
	p := newPermutation(uint64(1<<24)*1000, 1)
	var sink uint64
	for i := 0; i < b.N; i++ {
		sink += p.At(uint64(i))
	}
	_ = sink
}

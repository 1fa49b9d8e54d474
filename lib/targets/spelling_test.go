package targets

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// spellings returns ways to write the address a (IPv4) as a target or
// exclusion specification that covers it, chosen by k, together with the
// names a fake resolver must know for them. Every spelling covers a and
// at most a /24 around it.
func spellings(a netip.Addr) []string {
	b := a.As4()
	m := netip.AddrFrom16(a.As16()) // ::ffff:a.b.c.d
	m16 := m.As16()
	hex := fmt.Sprintf("::ffff:%02x%02x:%02x%02x", m16[12], m16[13], m16[14], m16[15])
	net24 := netip.PrefixFrom(a, 24).Masked().Addr()
	mnet24 := netip.AddrFrom16(net24.As16())
	return []string{
		a.String(),
		m.String(),
		strings.ToUpper(hex),
		"0:0:0:0:0:ffff:" + a.String(),
		a.String() + "/32",
		m.String() + "/128",
		net24.String() + "/24",
		mnet24.String() + "/120",
		hex + "/" + fmt.Sprint(96+24+int(b[3])%9), // /120 to /128 around a
		fmt.Sprintf("%d.%d.%d.0-255", b[0], b[1], b[2]),
		fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3]) + "-" + fmt.Sprint(b[3]),
		"v4.spelling.example",
		"mapped.spelling.example",
		"mapped.spelling.example/24",
	}
}

// spellingDNS resolves the names spellings uses for a: once to the IPv4
// address, once to its IPv4-mapped form, as resolvers hand them out.
func spellingDNS(a netip.Addr) fakeResolver {
	m := netip.AddrFrom16(a.As16())
	return fakeResolver{
		"v4.spelling.example":     {a.String()},
		"mapped.spelling.example": {m.String()},
	}
}

// checkNeverYielded builds a Set of target and exclusion and fails if a,
// in any spelling, is yielded or not reported excluded.
func checkNeverYielded(t *testing.T, a netip.Addr, target, exclusion string) {
	t.Helper()
	s, err := Build(context.Background(), Config{
		Targets:  Args([]string{target}, "argument"),
		Exclude:  Args([]string{exclusion}, "--exclude"),
		Resolver: spellingDNS(a),
	})
	if err != nil {
		t.Fatalf("target %q, exclusion %q: %v", target, exclusion, err)
	}
	m := netip.AddrFrom16(a.As16())
	if !s.Excluded(a) || !s.Excluded(m) {
		t.Errorf("target %q, exclusion %q: Excluded(%s) %v, Excluded(%s) %v", target, exclusion, a, s.Excluded(a), m, s.Excluded(m))
	}
	for tg := range s.All() {
		if tg.Addr == a || tg.Addr == m {
			t.Fatalf("target %q, exclusion %q: All yielded the excluded %s", target, exclusion, tg.Addr)
		}
		if tg.Addr.Is4In6() {
			t.Fatalf("target %q: All yielded the mapped spelling %s", target, tg.Addr)
		}
	}
}

// TestExclusionSpelling checks every pair of spellings of one address:
// the excluded address is never yielded, whichever way target and
// exclusion are written.
func TestExclusionSpelling(t *testing.T) {
	for _, as := range []string{"10.0.0.1", "192.0.2.255", "0.0.0.0", "255.255.255.0"} {
		a := netip.MustParseAddr(as)
		sp := spellings(a)
		for _, target := range sp {
			for _, exclusion := range sp {
				checkNeverYielded(t, a, target, exclusion)
			}
		}
	}
}

// TestExclusionCoversMappedBlock checks that an IPv6 exclusion around the
// whole IPv4-mapped block excludes IPv4 targets, and that an IPv6 target
// around it yields IPv4 addresses and skips the excluded ones.
func TestExclusionCoversMappedBlock(t *testing.T) {
	s, err := Build(context.Background(), Config{
		Targets: Args([]string{"10.0.0.1", "::ffff:0.0.0.0/95"}, "argument"),
		Exclude: Args([]string{"::/80"}, "--exclude"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for tg := range s.All() {
		t.Fatalf("All yielded %s, want nothing", tg.Addr)
	}

	s, err = Build(context.Background(), Config{
		Targets: Args([]string{"::ffff:255.255.255.0/120", "::1:0:0:0/126"}, "argument"),
		Exclude: Args([]string{"255.255.255.0/25"}, "--exclude"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for tg := range s.All() {
		got = append(got, tg.Addr.String())
	}
	if len(got) != 128+4 || got[0] != "255.255.255.128" || got[127] != "255.255.255.255" || got[128] != "::1:0:0:0" {
		t.Errorf("All = %d addresses, %q...", len(got), got[:min(len(got), 3)])
	}
}

// FuzzExclusionSpelling generates an address and a pair of spellings of
// it, one as the target and one as the exclusion, and checks the address
// is never yielded.
func FuzzExclusionSpelling(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1}, uint8(1), uint8(0))
	f.Add([]byte{192, 0, 2, 0}, uint8(7), uint8(11))
	f.Add([]byte{0, 0, 0, 0}, uint8(13), uint8(2))
	f.Fuzz(func(t *testing.T, addr []byte, ti, ei uint8) {
		if len(addr) != 4 {
			return
		}
		a := netip.AddrFrom4([4]byte(addr))
		sp := spellings(a)
		checkNeverYielded(t, a, sp[int(ti)%len(sp)], sp[int(ei)%len(sp)])
	})
}

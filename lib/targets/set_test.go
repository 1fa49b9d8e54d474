package targets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a table; a name it does not know fails as a
// real resolver does for NXDOMAIN.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip" {
		return nil, fmt.Errorf("unexpected network %q", network)
	}
	list, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(list))
	for i, s := range list {
		out[i] = netip.MustParseAddr(s)
	}
	return out, nil
}

// countingResolver counts lookups per name.
type countingResolver struct {
	Resolver
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	c.mu.Lock()
	c.calls[host]++
	c.mu.Unlock()
	return c.Resolver.LookupNetIP(ctx, network, host)
}

var testDNS = fakeResolver{
	"dual.example":   {"2001:db8::10", "192.0.2.10", "192.0.2.11"},
	"v4.example":     {"198.51.100.7"},
	"v6only.example": {"2001:db8::66", "2001:db8::67"},
	"mapped.example": {"::ffff:203.0.113.5"},
	"multi.example":  {"10.9.0.1", "10.9.1.1", "2001:db8:9::1"},
}

func collect(s *Set) []string {
	var out []string
	for t := range s.All() {
		str := t.Addr.String()
		if t.Name != "" {
			str = t.Name + "=" + str
		}
		out = append(out, str)
	}
	return out
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name     string
		targets  []string
		exclude  []string
		wantLen  uint64
		wantAll  []string
		wantWarn []string
	}{
		{
			name:    "addresses",
			targets: []string{"192.0.2.7", "::1", "fe80::1%lo"},
			wantLen: 3,
			wantAll: []string{"192.0.2.7", "::1", "fe80::1%lo"},
		},
		{
			name:    "cidr and ranges in order",
			targets: []string{"192.0.2.0/30", "10.0.0.1-2", "2001:db8::/127"},
			wantLen: 8,
			wantAll: []string{"192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3", "10.0.0.1", "10.0.0.2", "2001:db8::", "2001:db8::1"},
		},
		{
			name:    "duplicates kept",
			targets: []string{"192.0.2.1", "192.0.2.0/31"},
			wantLen: 3,
			wantAll: []string{"192.0.2.1", "192.0.2.0", "192.0.2.1"},
		},
		{
			name:    "name prefers first ipv4",
			targets: []string{"dual.example"},
			wantLen: 1,
			wantAll: []string{"dual.example=192.0.2.10"},
		},
		{
			name:    "name with ipv6 only",
			targets: []string{"v6only.example"},
			wantLen: 1,
			wantAll: []string{"v6only.example=2001:db8::66"},
		},
		{
			name:    "ipv4-mapped answer is ipv4",
			targets: []string{"mapped.example"},
			wantLen: 1,
			wantAll: []string{"mapped.example=203.0.113.5"},
		},
		{
			name:    "name with prefix",
			targets: []string{"v4.example/30"},
			wantLen: 4,
			wantAll: []string{"198.51.100.4", "198.51.100.5", "198.51.100.6", "v4.example=198.51.100.7"},
		},
		{
			name:    "ipv6 name with prefix",
			targets: []string{"v6only.example/126"},
			wantLen: 4,
			wantAll: []string{"2001:db8::64", "2001:db8::65", "v6only.example=2001:db8::66", "2001:db8::67"},
		},
		{
			name:     "unresolvable name skipped with a warning",
			targets:  []string{"192.0.2.1", "nosuch.invalid", "v4.example"},
			wantLen:  2,
			wantAll:  []string{"192.0.2.1", "v4.example=198.51.100.7"},
			wantWarn: []string{`argument 2: resolve "nosuch.invalid": lookup nosuch.invalid: no such host`},
		},
		{
			name:    "exclude address prefix and range",
			targets: []string{"10.0.0.0/28"},
			exclude: []string{"10.0.0.0", "10.0.0.4/30", "10.0.0.9-13,15"},
			wantLen: 16,
			wantAll: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.8", "10.0.0.14"},
		},
		{
			name:    "exclude name excludes all its addresses",
			targets: []string{"10.9.0-1.1", "2001:db8:9::1"},
			exclude: []string{"multi.example"},
			wantLen: 3,
			wantAll: nil,
		},
		{
			name:    "exclude name with prefix",
			targets: []string{"10.9.0-2.1"},
			exclude: []string{"multi.example/24"},
			wantLen: 3,
			wantAll: []string{"10.9.2.1"},
		},
		{
			name:    "excluding a name target by address",
			targets: []string{"dual.example", "v4.example"},
			exclude: []string{"192.0.2.10"},
			wantLen: 2,
			wantAll: []string{"v4.example=198.51.100.7"},
		},
		{
			name:    "exclusion zone ignored",
			targets: []string{"fe80::1%lo", "fe80::2%lo"},
			exclude: []string{"fe80::1"},
			wantLen: 2,
			wantAll: []string{"fe80::2%lo"},
		},
		{
			name:    "everything excluded",
			targets: []string{"192.0.2.0/24", "2001:db8::/120"},
			exclude: []string{"192.0.0.0/8", "2001:db8::/32"},
			wantLen: 512,
			wantAll: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warns []string
			s, err := Build(context.Background(), Config{
				Targets:  Args(tt.targets, "argument"),
				Exclude:  Args(tt.exclude, "--exclude"),
				Resolver: testDNS,
				Warn:     func(m string) { warns = append(warns, m) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != tt.wantLen {
				t.Errorf("Len = %d, want %d", s.Len(), tt.wantLen)
			}
			if got := collect(s); !reflect.DeepEqual(got, tt.wantAll) {
				t.Errorf("All\n got %q\nwant %q", got, tt.wantAll)
			}
			if !reflect.DeepEqual(warns, tt.wantWarn) {
				t.Errorf("warnings\n got %q\nwant %q", warns, tt.wantWarn)
			}
			if !reflect.DeepEqual(s.Specs(), tt.targets) {
				t.Errorf("Specs = %q", s.Specs())
			}
			if len(tt.exclude) > 0 && !reflect.DeepEqual(s.ExcludeSpecs(), tt.exclude) {
				t.Errorf("ExcludeSpecs = %q", s.ExcludeSpecs())
			}
			// All must agree with At and Excluded.
			var viaAt []string
			for i := range s.Len() {
				tg := s.At(i)
				if s.Excluded(tg.Addr) {
					continue
				}
				str := tg.Addr.String()
				if tg.Name != "" {
					str = tg.Name + "=" + str
				}
				viaAt = append(viaAt, str)
			}
			if !reflect.DeepEqual(viaAt, tt.wantAll) {
				t.Errorf("At+Excluded\n got %q\nwant %q", viaAt, tt.wantAll)
			}
		})
	}
}

// TestBuildEmpty checks that no targets at all (an empty -iL file) is a
// scan of zero hosts, the same case as every target excluded.
func TestBuildEmpty(t *testing.T) {
	for _, c := range []Config{
		{},
		{Targets: Args([]string{"10.0.0.0/30"}, "argument"), Exclude: Args([]string{"10.0.0.0/29"}, "--exclude")},
	} {
		s, err := Build(context.Background(), c)
		if err != nil {
			t.Fatalf("Build(%d targets): %v", len(c.Targets), err)
		}
		for tg := range s.All() {
			t.Errorf("All yielded %s", tg.Addr)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		exclude []string
		want    string
		is      error
	}{
		{name: "nothing resolves", targets: []string{"nosuch.invalid", "nosuch.invalid/24", "other.invalid"},
			want: `no targets to scan: no target name resolved (3 tried): argument 1: resolve "nosuch.invalid": lookup nosuch.invalid: no such host; 2 more`, is: ErrNoTargets},
		{name: "bad target", targets: []string{"10.0.0.1", "10.0.0.300"},
			want: `argument 2: bad target "10.0.0.300": octet 4 value 300 is over 255`},
		{name: "bad exclusion", targets: []string{"10.0.0.1"}, exclude: []string{"10.0.0.0/33"},
			want: `--exclude 1: bad exclusion "10.0.0.0/33": prefix /33 is over 32 for IPv4`},
		{name: "ipv6 /0 too large", targets: []string{"::/0"},
			want: `argument 1: bad target "::/0": prefix /0 covers 2^128 addresses, more than the limit of 2^63 (use /65 or longer)`},
		{name: "ipv6 /64 too large", targets: []string{"2001:db8::/64"},
			want: `argument 1: bad target "2001:db8::/64": prefix /64 covers 2^64 addresses, more than the limit of 2^63 (use /65 or longer)`},
		{name: "ipv6 name prefix too large", targets: []string{"v6only.example/48"},
			want: `argument 1: bad target "v6only.example/48": prefix /48 covers 2^80 addresses, more than the limit of 2^63 (use /65 or longer)`},
		{name: "total too large", targets: []string{"2001:db8::/65", "10.0.0.1"},
			want: `argument 2: targets cover more than 2^63 addresses in all`},
		{name: "name prefix over 32 for ipv4", targets: []string{"v4.example/40"},
			want: `argument 1: bad target "v4.example/40": prefix /40 is over 32 for IPv4 address 198.51.100.7`},
		{name: "exclusion name prefix over 32", targets: []string{"10.0.0.1"}, exclude: []string{"multi.example/64"},
			want: `--exclude 1: bad exclusion "multi.example/64": prefix /64 is over 32 for IPv4 address 10.9.0.1`},
		{name: "unresolvable exclusion", targets: []string{"10.0.0.1"}, exclude: []string{"nosuch.invalid"},
			want: `--exclude 1: resolve exclusion "nosuch.invalid": lookup nosuch.invalid: no such host`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Build(context.Background(), Config{
				Targets:  Args(tt.targets, "argument"),
				Exclude:  Args(tt.exclude, "--exclude"),
				Resolver: testDNS,
			})
			if err == nil {
				t.Fatalf("Build succeeded with %d targets", s.Len())
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestBuildMaxLen(t *testing.T) {
	s, err := Build(context.Background(), Config{Targets: Args([]string{"2001:db8::/65"}, "argument")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != MaxLen {
		t.Errorf("Len = %d, want 2^63", s.Len())
	}
	if got := s.At(MaxLen - 1).Addr.String(); got != "2001:db8::7fff:ffff:ffff:ffff" {
		t.Errorf("last address %s", got)
	}
}

func TestBuildResolvesEachNameOnce(t *testing.T) {
	r := &countingResolver{Resolver: testDNS, calls: map[string]int{}}
	var targets []string
	for range 50 {
		targets = append(targets, "v4.example", "dual.example/31", "nosuch.invalid")
	}
	var nwarn int
	s, err := Build(context.Background(), Config{
		Targets:  Args(targets, "argument"),
		Exclude:  Args([]string{"dual.example"}, "--exclude"),
		Resolver: r,
		Warn:     func(string) { nwarn++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"v4.example": 1, "dual.example": 1, "nosuch.invalid": 1}
	if !reflect.DeepEqual(r.calls, want) {
		t.Errorf("lookups %v, want %v", r.calls, want)
	}
	if nwarn != 50 {
		t.Errorf("%d warnings, want one per unresolvable target (50)", nwarn)
	}
	if s.Len() != 150 {
		t.Errorf("Len = %d, want 150", s.Len())
	}
}

// blockingResolver waits for the context.
type blockingResolver struct{}

func (blockingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestBuildCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("host%d.example", i))
	}
	_, err := Build(ctx, Config{Targets: Args(names, "argument"), Resolver: blockingResolver{}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
	if !strings.HasPrefix(err.Error(), "resolve targets: ") {
		t.Errorf("error %q lacks context", err)
	}
}

func TestSetAt(t *testing.T) {
	s, err := Build(context.Background(), Config{
		Targets: Args([]string{"10.0.0.0/8", "10.0-3.1.1-254", "::1", "2001:db8::/104"}, "argument"),
	})
	if err != nil {
		t.Fatal(err)
	}
	const n8 = 1 << 24
	if want := uint64(n8 + 4*254 + 1 + n8); s.Len() != want {
		t.Fatalf("Len = %d, want %d", s.Len(), want)
	}
	tests := []struct {
		i    uint64
		want string
	}{
		{0, "10.0.0.0"},
		{n8 - 1, "10.255.255.255"},
		{n8, "10.0.1.1"},
		{n8 + 253, "10.0.1.254"},
		{n8 + 254, "10.1.1.1"},
		{n8 + 4*254 - 1, "10.3.1.254"},
		{n8 + 4*254, "::1"},
		{n8 + 4*254 + 1, "2001:db8::"},
		{n8 + 4*254 + 1 + 0x123456, "2001:db8::12:3456"},
		{s.Len() - 1, "2001:db8::ff:ffff"},
	}
	for _, tt := range tests {
		if got := s.At(tt.i).Addr.String(); got != tt.want {
			t.Errorf("At(%d) = %s, want %s", tt.i, got, tt.want)
		}
	}
	if got := s.At(s.Len()); got != (Target{}) {
		t.Errorf("At(Len) = %v, want the zero Target", got)
	}
	var sink Target
	allocs := testing.AllocsPerRun(1000, func() {
		for _, tt := range tests {
			sink = s.At(tt.i)
		}
	})
	_ = sink
	if allocs != 0 {
		t.Errorf("At allocates %.1f times per run", allocs)
	}
}

func TestExcluded(t *testing.T) {
	s, err := Build(context.Background(), Config{
		Targets:  Args([]string{"10.0.0.1"}, "argument"),
		Exclude:  Args([]string{"192.0.2.0/24", "10.1-2.*.7", "2001:db8::/64", "fe80::1%eth0", "198.51.100.1", "v6only.example"}, "--exclude"),
		Resolver: testDNS,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"192.0.2.0", true},
		{"192.0.2.255", true},
		{"192.0.3.0", false},
		{"192.0.1.255", false},
		{"::ffff:192.0.2.9", true},
		{"10.1.200.7", true},
		{"10.2.0.7", true},
		{"10.3.0.7", false},
		{"10.1.0.8", false},
		{"2001:db8::ffff:1", true},
		{"2001:db8:0:1::", false},
		{"fe80::1", true},
		{"fe80::1%lo", true},
		{"fe80::2", false},
		{"198.51.100.1", true},
		{"198.51.100.2", false},
		{"2001:db8::67", true},
		{"0.0.0.0", false},
		{"::", false},
	}
	for _, tt := range tests {
		if got := s.Excluded(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Excluded(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if s.Excluded(netip.Addr{}) {
		t.Error("the zero Addr is excluded")
	}
}

// TestExcludedLongList checks a long exclusion file: 10,000 single
// addresses, some adjacent, merged into intervals and searched.
func TestExcludedLongList(t *testing.T) {
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, "10.%d.%d.%d\n", i/4096, (i/16)%256, (i%16)*2)
	}
	path := writeFile(t, "excludes.txt", b.String())
	ex, err := readFile(t, path, "excludes.txt")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(context.Background(), Config{Targets: Args([]string{"10.0-2.0-255.0-31"}, "argument"), Exclude: ex})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for tg := range s.All() {
		if b := tg.Addr.As4(); b[3]%2 == 0 && int(b[1])*4096+int(b[2])*16+int(b[3])/2 < 10000 {
			t.Fatalf("All yielded excluded %s", tg.Addr)
		}
		n++
	}
	if want := 3*256*32 - 10000; n != want {
		t.Errorf("All yielded %d, want %d", n, want)
	}
	allocs := testing.AllocsPerRun(100, func() { s.Excluded(netip.MustParseAddr("10.1.2.4")) })
	if allocs != 0 {
		t.Errorf("Excluded allocates %.1f times", allocs)
	}
}

// TestAllSkipsExcludedRuns checks that an excluded block inside a huge
// target is skipped in one step: without that this test would not end.
func TestAllSkipsExcludedRuns(t *testing.T) {
	s, err := Build(context.Background(), Config{
		Targets: Args([]string{"2001:db8::/66", "10.0.0.0/8", "192.0.2.1"}, "argument"),
		Exclude: Args([]string{"2001:db8::/67", "2001:db8::2000:0:0:0/67", "10.0.0.0/8"}, "--exclude"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(s); !reflect.DeepEqual(got, []string{"192.0.2.1"}) {
		t.Errorf("All = %q", got)
	}

	s, err = Build(context.Background(), Config{
		Targets: Args([]string{"10.0.0.0/16"}, "argument"),
		Exclude: Args([]string{"10.0.0.0/17", "10.0.128.1-254", "10.0.129.0/24", "10.0.200.0/21"}, "--exclude"),
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for tg := range s.All() {
		if s.Excluded(tg.Addr) {
			t.Fatalf("All yielded excluded %s", tg.Addr)
		}
		n++
	}
	if want := 1<<15 - 254 - 256 - 2048; n != want {
		t.Errorf("All yielded %d, want %d", n, want)
	}
}

func TestAllStopsEarly(t *testing.T) {
	s, err := Build(context.Background(), Config{Targets: Args([]string{"10.0.0.0/8"}, "argument")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range s.All() {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("n = %d", n)
	}
}

func BenchmarkExcluded(b *testing.B) {
	var ex []string
	for i := range 10000 {
		ex = append(ex, netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}).String())
	}
	ex = append(ex, "192.168.0.0/16", "172.16.0.0/12", "10.200.*.1-5")
	s, err := Build(context.Background(), Config{Targets: Args([]string{"10.0.0.1"}, "argument"), Exclude: Args(ex, "--exclude")})
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("10.20.30.40")
	for b.Loop() {
		s.Excluded(a)
	}
}

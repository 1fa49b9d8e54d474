package targets

import (
	"context"
	"slices"
	"testing"
)

// TestResolveAllAndIPv6 checks which addresses of a name are scanned:
// one (IPv4 first) by default, all with ResolveAll, the IPv6 ones only
// with IPv6.
func TestResolveAllAndIPv6(t *testing.T) {
	r := fakeResolver{
		"dual.test": {"2001:db8::1", "192.0.2.1", "192.0.2.2", "2001:db8::2"},
		"v4.test":   {"192.0.2.9"},
	}
	tests := []struct {
		name     string
		all, v6  bool
		targets  []string
		want     []string
		wantWarn bool
	}{
		{"first IPv4", false, false, []string{"dual.test"}, []string{"192.0.2.1"}, false},
		{"resolve all", true, false, []string{"dual.test"}, []string{"2001:db8::1", "192.0.2.1", "192.0.2.2", "2001:db8::2"}, false},
		{"IPv6 first", false, true, []string{"dual.test"}, []string{"2001:db8::1"}, false},
		{"IPv6 all", true, true, []string{"dual.test"}, []string{"2001:db8::1", "2001:db8::2"}, false},
		{"IPv6 of an IPv4-only name", false, true, []string{"v4.test", "dual.test"}, []string{"2001:db8::1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var warned []string
			s, err := Build(context.Background(), Config{
				Targets: Args(tc.targets, "argument"), Resolver: r, ResolveAll: tc.all, IPv6: tc.v6,
				Warn: func(m string) { warned = append(warned, m) },
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for tg := range s.All() {
				got = append(got, tg.Addr.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("addresses %v, want %v", got, tc.want)
			}
			if (len(warned) > 0) != tc.wantWarn {
				t.Errorf("warnings %q", warned)
			}
		})
	}
}

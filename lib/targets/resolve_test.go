package targets

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// TestIPv6RejectsIPv4Targets checks that with IPv6 (-6) a literal IPv4
// target is a SpecError naming it, before any name is looked up, while
// IPv6 targets and IPv4 exclusions are accepted.
func TestIPv6RejectsIPv4Targets(t *testing.T) {
	dns := fakeResolver{"named.test": {"192.0.2.7", "2001:db8::7"}}
	for _, bad := range []string{"192.0.2.1", "192.0.2.0/24", "10.0-1.0.1", "::ffff:192.0.2.1", "::ffff:192.0.2.0/120"} {
		t.Run(bad, func(t *testing.T) {
			r := &countingResolver{Resolver: dns, calls: map[string]int{}}
			_, err := Build(context.Background(), Config{
				Targets:  Args([]string{"named.test", "2001:db8::1", bad}, "argument"),
				Resolver: r, IPv6: true,
			})
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a SpecError", err)
			}
			if se.Where != "argument 3" || se.Text != bad || !strings.Contains(err.Error(), "-6") {
				t.Errorf("error %q does not name argument 3, %q and -6", err, bad)
			}
			if len(r.calls) != 0 {
				t.Errorf("names looked up before the error: %v", r.calls)
			}
		})
	}
	s, err := Build(context.Background(), Config{
		Targets:  Args([]string{"named.test", "2001:db8::/126"}, "argument"),
		Exclude:  Args([]string{"192.0.2.0/24"}, "exclusion"),
		Resolver: dns, IPv6: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 5 {
		t.Errorf("%d addresses, want 5", s.Len())
	}
	// Without IPv6 an IPv4 target is fine.
	if _, err := Build(context.Background(), Config{Targets: Args([]string{"192.0.2.1"}, "argument")}); err != nil {
		t.Errorf("IPv4 target without -6: %v", err)
	}
}

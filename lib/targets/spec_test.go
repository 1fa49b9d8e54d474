package targets

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name        string
		text        string
		kind        Kind
		len         uint64
		first, last string
		at          map[uint64]string
	}{
		{name: "ipv4 address", text: "192.0.2.7", kind: KindAddr, len: 1, first: "192.0.2.7", last: "192.0.2.7"},
		{name: "ipv6 address", text: "::1", kind: KindAddr, len: 1, first: "::1", last: "::1"},
		{name: "ipv6 zone", text: "fe80::1%eth0", kind: KindAddr, len: 1, first: "fe80::1%eth0", last: "fe80::1%eth0"},
		{name: "ipv4 mapped", text: "::ffff:192.0.2.1", kind: KindAddr, len: 1, first: "192.0.2.1", last: "192.0.2.1"},
		{name: "ipv4 mapped in hex", text: "::FFFF:c000:201", kind: KindAddr, len: 1, first: "192.0.2.1", last: "192.0.2.1"},
		{name: "ipv4 mapped with a zone", text: "::ffff:192.0.2.1%eth0", kind: KindAddr, len: 1, first: "192.0.2.1", last: "192.0.2.1"},
		{name: "ipv4 mapped prefix", text: "::ffff:192.0.2.0/120", kind: KindPrefix, len: 256, first: "192.0.2.0", last: "192.0.2.255"},
		{name: "ipv4 mapped /96", text: "0:0:0:0:0:ffff:1.2.3.4/96", kind: KindPrefix, len: 1 << 32, first: "0.0.0.0", last: "255.255.255.255"},
		{name: "prefix around the mapped block stays IPv6", text: "::ffff:0.0.0.0/95", kind: KindPrefix, len: 1 << 33, first: "::fffe:0:0", last: "::ffff:255.255.255.255"},
		{name: "ipv4 cidr", text: "192.0.2.0/24", kind: KindPrefix, len: 256, first: "192.0.2.0", last: "192.0.2.255"},
		{name: "ipv4 cidr host bits", text: "192.0.2.77/28", kind: KindPrefix, len: 16, first: "192.0.2.64", last: "192.0.2.79"},
		{name: "ipv4 /32", text: "192.0.2.1/32", kind: KindPrefix, len: 1, first: "192.0.2.1", last: "192.0.2.1"},
		{name: "ipv4 /0", text: "0.0.0.0/0", kind: KindPrefix, len: 1 << 32, first: "0.0.0.0", last: "255.255.255.255"},
		{name: "ipv4 /8", text: "10.1.2.3/8", kind: KindPrefix, len: 1 << 24, first: "10.0.0.0", last: "10.255.255.255",
			at: map[uint64]string{256: "10.0.1.0", 65536: "10.1.0.0"}},
		{name: "ipv6 cidr", text: "2001:db8::/120", kind: KindPrefix, len: 256, first: "2001:db8::", last: "2001:db8::ff"},
		{name: "ipv6 /104", text: "2001:db8::ab:cdef/104", kind: KindPrefix, len: 1 << 24, first: "2001:db8::", last: "2001:db8::ff:ffff"},
		{name: "ipv6 /65", text: "2001:db8::/65", kind: KindPrefix, len: 1 << 63, first: "2001:db8::", last: "2001:db8::7fff:ffff:ffff:ffff"},
		{name: "ipv6 /128", text: "2001:db8::1/128", kind: KindPrefix, len: 1, first: "2001:db8::1", last: "2001:db8::1"},
		{name: "octet ranges", text: "10.0-3.1.1-254", kind: KindRange, len: 4 * 254, first: "10.0.1.1", last: "10.3.1.254",
			at: map[uint64]string{253: "10.0.1.254", 254: "10.1.1.1"}},
		{name: "comma list", text: "192.168.3-5,7.1", kind: KindRange, len: 4, first: "192.168.3.1", last: "192.168.7.1",
			at: map[uint64]string{1: "192.168.4.1", 2: "192.168.5.1", 3: "192.168.7.1"}},
		{name: "comma list sorted and deduplicated", text: "10.0.0.9,1,5,1-2", kind: KindRange, len: 4, first: "10.0.0.1", last: "10.0.0.9",
			at: map[uint64]string{1: "10.0.0.2", 2: "10.0.0.5"}},
		{name: "star", text: "10.0.*.1", kind: KindRange, len: 256, first: "10.0.0.1", last: "10.0.255.1"},
		{name: "all stars", text: "*.*.*.*", kind: KindRange, len: 1 << 32, first: "0.0.0.0", last: "255.255.255.255"},
		{name: "open start", text: "10.0.0.-5", kind: KindRange, len: 6, first: "10.0.0.0", last: "10.0.0.5"},
		{name: "open end", text: "10.0.0.250-", kind: KindRange, len: 6, first: "10.0.0.250", last: "10.0.0.255"},
		{name: "open both", text: "10.0.-.1", kind: KindRange, len: 256, first: "10.0.0.1", last: "10.0.255.1"},
		{name: "single value range", text: "10.0.0.7-7", kind: KindRange, len: 1, first: "10.0.0.7", last: "10.0.0.7"},
		{name: "name", text: "scanme.example", kind: KindName},
		{name: "name with prefix", text: "example.com/28", kind: KindName},
		{name: "name trailing dot", text: "example.com.", kind: KindName},
		{name: "single label", text: "localhost", kind: KindName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSpec(tt.text)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.text, err)
			}
			if s.Kind() != tt.kind {
				t.Fatalf("kind %v, want %v", s.Kind(), tt.kind)
			}
			if s.String() != tt.text {
				t.Errorf("String() = %q, want %q", s.String(), tt.text)
			}
			n, ok := s.Len()
			if tt.kind == KindName {
				if ok {
					t.Errorf("Len of a name is known: %d", n)
				}
				return
			}
			if !ok || n != tt.len {
				t.Fatalf("Len = %d, %v; want %d", n, ok, tt.len)
			}
			check := func(i uint64, want string) {
				t.Helper()
				got := s.At(i)
				if got.String() != want {
					t.Errorf("At(%d) = %s, want %s", i, got, want)
				}
				if !s.Contains(got) {
					t.Errorf("Contains(At(%d)=%s) = false", i, got)
				}
			}
			check(0, tt.first)
			check(n-1, tt.last)
			for i, want := range tt.at {
				check(i, want)
			}
			if a := s.At(n); a.IsValid() {
				t.Errorf("At(Len) = %s, want the zero Addr", a)
			}
		})
	}
}

func TestSpecAccessors(t *testing.T) {
	s, _ := ParseSpec("example.com/28")
	if s.Name() != "example.com" || s.Bits() != 28 {
		t.Errorf("name spec: Name %q Bits %d", s.Name(), s.Bits())
	}
	s, _ = ParseSpec("example.com")
	if s.Bits() != -1 {
		t.Errorf("name without prefix: Bits %d", s.Bits())
	}
	s, _ = ParseSpec("192.0.2.77/28")
	if got := s.Prefix(); got != netip.MustParsePrefix("192.0.2.64/28") {
		t.Errorf("Prefix = %s", got)
	}
	if s.Contains(netip.MustParseAddr("192.0.2.80")) || s.Contains(netip.MustParseAddr("::ffff:192.0.2.80")) {
		t.Error("prefix contains an address outside it")
	}
	if !s.Contains(netip.MustParseAddr("::ffff:192.0.2.64")) {
		t.Error("prefix does not contain an address inside it spelled IPv4-mapped")
	}
	s, _ = ParseSpec("::/80")
	if !s.Contains(netip.MustParseAddr("10.0.0.1")) || s.Contains(netip.MustParseAddr("2001:db8::1")) {
		t.Error("::/80 membership wrong: it covers the mapped block")
	}
	s, _ = ParseSpec("10.1-2.3.4")
	if s.Contains(netip.MustParseAddr("10.3.3.4")) || !s.Contains(netip.MustParseAddr("10.2.3.4")) {
		t.Error("octet range membership wrong")
	}
	if s.Addr().IsValid() || s.Prefix().IsValid() || s.Bits() != -1 {
		t.Error("range has an address, prefix or bits")
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"empty", "", `bad target "": empty`},
		{"whitespace", "10.0.0.1 10.0.0.2", `bad target "10.0.0.1 10.0.0.2": contains whitespace`},
		{"octet over 255", "10.0.0.300", `bad target "10.0.0.300": octet 4 value 300 is over 255`},
		{"long octet", "10.0.99999999999999999999.1", `bad target "10.0.99999999999999999999.1": octet 3 value 99999999999999999999 is over 255`},
		{"range end over 255", "10.0.0.1-256", `bad target "10.0.0.1-256": octet 4 value 256 is over 255`},
		{"reversed range", "10.0.5-3.1", `bad target "10.0.5-3.1": octet 3 range 5-3 is reversed`},
		{"leading zero", "010.0.0.1", `bad target "010.0.0.1": octet 1 value 010 has a leading zero`},
		{"ipv4 prefix 33", "10.0.0.0/33", `bad target "10.0.0.0/33": prefix /33 is over 32 for IPv4`},
		{"ipv6 prefix 129", "2001:db8::/129", `bad target "2001:db8::/129": prefix /129 is over 128 for IPv6`},
		{"huge prefix", "10.0.0.0/12345", `bad target "10.0.0.0/12345": prefix /12345 is over 32 for IPv4`},
		{"name prefix 129", "example.com/129", `bad target "example.com/129": prefix /129 is over 128`},
		{"empty prefix", "10.0.0.0/", `bad target "10.0.0.0/": empty prefix length`},
		{"prefix not a number", "10.0.0.0/x", `bad target "10.0.0.0/x": prefix length "x" is not a number`},
		{"negative prefix", "10.0.0.0/-1", `bad target "10.0.0.0/-1": prefix length "-1" is not a number`},
		{"prefix leading zero", "10.0.0.0/08", `bad target "10.0.0.0/08": prefix length "08" has a leading zero`},
		{"two slashes", "10.0.0.0/8/9", `bad target "10.0.0.0/8/9": more than one '/'`},
		{"nothing before prefix", "/24", `bad target "/24": no address before the prefix length`},
		{"too many octets", "1.2.3.4.5", `bad target "1.2.3.4.5": has 5 octets, IPv4 needs 4`},
		{"too few octets", "1.2.3", `bad target "1.2.3": has 3 octets, IPv4 needs 4`},
		{"bare number", "42", `bad target "42": has 1 octet, IPv4 needs 4`},
		{"empty octet", "1..2.3", `bad target "1..2.3": octet 2 is empty`},
		{"empty list item", "1.2,,3.4.5", `bad target "1.2,,3.4.5": octet 2 has an empty item in its list`},
		{"double range", "1.2.3.4-5-6", `bad target "1.2.3.4-5-6": octet 4 item "4-5-6" is not a number or range`},
		{"star in range", "1.2.3.*-5", `bad target "1.2.3.*-5": octet 4 item "*-5" is not a number or range`},
		{"star suffix", "1.2.3.1*", `bad target "1.2.3.1*": octet 4 item "1*" is not a number or range`},
		{"range with prefix", "10.0.0-5.0/24", `bad target "10.0.0-5.0/24": an octet range takes no prefix length`},
		{"ipv6 range", "2001:db8::1-5", `bad target "2001:db8::1-5": IPv6 addresses take no ranges`},
		{"ipv6 list", "2001:db8::1,2", `bad target "2001:db8::1,2": IPv6 addresses take no ranges`},
		{"ipv6 garbage", "2001:db8:::1", `bad target "2001:db8:::1": not a valid IPv6 address`},
		{"host and port", "example.com:80", `bad target "example.com:80": not a valid IPv6 address`},
		{"zone with prefix", "fe80::1%eth0/64", `bad target "fe80::1%eth0/64": an address with a zone takes no prefix length`},
		{"empty zone", "fe80::1%", `bad target "fe80::1%": not a valid IPv6 address`},
		{"ipv4 zone", "10.0.0.1%eth0", `bad target "10.0.0.1%eth0": only IPv6 addresses take a zone`},
		{"garbage", "foo!bar", `bad target "foo!bar": invalid character '!' in host name`},
		{"non-ascii", "bücher.example", `bad target "bücher.example": invalid character 'ü' in host name`},
		{"invalid utf8", "a\xffb", `bad target "a\xffb": invalid byte "\xff" in host name`},
		{"empty label", "foo..example", `bad target "foo..example": host name has an empty label`},
		{"hyphen label", "-v", `bad target "-v": host name label "-v" starts or ends with '-'`},
		{"long label", "a234567890123456789012345678901234567890123456789012345678901234.example",
			`bad target "a234567890123456789012345678901234567890123456789012345678901234.example": host name has a label longer than 63 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSpec(tt.text)
			if err == nil {
				t.Fatalf("ParseSpec(%q) succeeded", tt.text)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var se *SpecError
			if !errors.As(err, &se) || se.Text != tt.text {
				t.Errorf("error is not a *SpecError for the text: %#v", err)
			}
		})
	}
}

func TestParseSpecLongName(t *testing.T) {
	label := "abcdefghij"
	name := label
	for len(name) < 260 {
		name += "." + label
	}
	_, err := ParseSpec(name)
	if err == nil || err.(*SpecError).Reason != "host name is longer than 253 characters" {
		t.Fatalf("long name: %v", err)
	}
}

package targets

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says what a Spec describes.
type Kind uint8

// The kinds of target specification.
const (
	// KindAddr is one IPv4 or IPv6 address, possibly with an IPv6 zone.
	KindAddr Kind = iota + 1
	// KindPrefix is a CIDR block, network and broadcast addresses included.
	KindPrefix
	// KindRange is an IPv4 octet range such as 10.0-3.1.1-254.
	KindRange
	// KindName is a host name, optionally followed by a prefix length.
	KindName
)

// String returns a short lowercase name for the kind.
func (k Kind) String() string {
	switch k {
	case KindAddr:
		return "address"
	case KindPrefix:
		return "prefix"
	case KindRange:
		return "range"
	case KindName:
		return "name"
	}
	return "invalid"
}

// Spec is one parsed target specification. The zero Spec is invalid.
// Specs are values: copying one is cheap and the copies share nothing
// mutable.
type Spec struct {
	text string
	kind Kind
	// addr is the address of a KindAddr and the first address of a
	// KindPrefix.
	addr netip.Addr
	// bits is the prefix length of a KindPrefix or of a KindName given
	// with one; -1 otherwise.
	bits int
	name string
	oct  *octets
}

// octets holds an IPv4 octet range: for each octet the set of allowed
// values, both as a bitmap for membership tests and as an ascending list
// for enumeration. As in Nmap, a value listed twice counts once and the
// values are enumerated in ascending order whatever order they were given
// in.
type octets struct {
	set  [4][4]uint64
	vals [4][]uint8
}

func (o *octets) contains(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	for i, v := range b {
		if o.set[i][v>>6]&(1<<(v&63)) == 0 {
			return false
		}
	}
	return true
}

func (o *octets) len() uint64 {
	n := uint64(1)
	for i := range o.vals {
		n *= uint64(len(o.vals[i]))
	}
	return n
}

// at returns the i-th address of the range, the last octet varying
// fastest.
func (o *octets) at(i uint64) netip.Addr {
	var b [4]byte
	for k := 3; k >= 0; k-- {
		n := uint64(len(o.vals[k]))
		b[k] = o.vals[k][i%n]
		i /= n
	}
	return netip.AddrFrom4(b)
}

// String returns the text the spec was parsed from.
func (s Spec) String() string { return s.text }

// Kind reports what the spec describes.
func (s Spec) Kind() Kind { return s.kind }

// Addr returns the address of a KindAddr spec or the first address of a
// KindPrefix spec, and the zero Addr for other kinds.
func (s Spec) Addr() netip.Addr {
	if s.kind == KindAddr || s.kind == KindPrefix {
		return s.addr
	}
	return netip.Addr{}
}

// Prefix returns the block of a KindPrefix spec, masked, and the zero
// Prefix for other kinds.
func (s Spec) Prefix() netip.Prefix {
	if s.kind != KindPrefix {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(s.addr, s.bits)
}

// Name returns the host name of a KindName spec, without its prefix
// length, and "" for other kinds.
func (s Spec) Name() string { return s.name }

// Bits returns the prefix length of a KindPrefix spec or of a KindName
// spec given with one, and -1 otherwise.
func (s Spec) Bits() int {
	if s.kind == KindPrefix || s.kind == KindName {
		return s.bits
	}
	return -1
}

// Len reports how many addresses the spec covers. ok is false when the
// count cannot be known without resolving a name, or when it exceeds
// MaxLen (an IPv6 prefix shorter than /65).
func (s Spec) Len() (n uint64, ok bool) {
	switch s.kind {
	case KindAddr:
		return 1, true
	case KindPrefix:
		host := s.addr.BitLen() - s.bits
		if host > 63 {
			return 0, false
		}
		return 1 << host, true
	case KindRange:
		return s.oct.len(), true
	}
	return 0, false
}

// At returns the i-th address the spec covers, in ascending order, or
// the zero Addr when i is out of range or the spec is a name.
func (s Spec) At(i uint64) netip.Addr {
	switch s.kind {
	case KindAddr:
		if i == 0 {
			return s.addr
		}
	case KindPrefix:
		host := s.addr.BitLen() - s.bits
		if host >= 64 || i < 1<<host {
			return addOffset(s.addr, i)
		}
	case KindRange:
		if i < s.oct.len() {
			return s.oct.at(i)
		}
	}
	return netip.Addr{}
}

// Contains reports whether the spec covers a. Zones are ignored, and an
// IPv4-mapped IPv6 address is the same address as the IPv4 one it maps.
// A name contains nothing until it is resolved.
func (s Spec) Contains(a netip.Addr) bool {
	a = canonical(a)
	switch s.kind {
	case KindAddr:
		return a == s.addr.WithZone("")
	case KindPrefix:
		p := netip.PrefixFrom(s.addr, s.bits)
		// An IPv6 prefix shorter than /96 may cover the mapped block.
		return p.Contains(a) || a.Is4() && p.Contains(netip.AddrFrom16(a.As16()))
	case KindRange:
		return s.oct.contains(a)
	}
	return false
}

// SpecError describes a target or exclusion specification that cannot be
// used. Its message is one line: where the text came from, the text
// quoted, and why it was refused.
type SpecError struct {
	// Where is the origin of the text, such as "argument 2" or
	// "hosts.txt:14"; empty when ParseSpec reports it.
	Where string
	// Text is the specification as given.
	Text string
	// Exclude is set for exclusions.
	Exclude bool
	// Reason says what is wrong, e.g. "octet 4 value 300 is over 255".
	Reason string
}

func (e *SpecError) Error() string {
	what := "target"
	if e.Exclude {
		what = "exclusion"
	}
	msg := fmt.Sprintf("bad %s %q: %s", what, e.Text, e.Reason)
	if e.Where != "" {
		msg = e.Where + ": " + msg
	}
	return msg
}

// ParseSpec parses one Nmap-style target specification without resolving
// anything. It accepts an IPv4 or IPv6 address (IPv6 may carry a zone,
// fe80::1%eth0), a CIDR block (192.0.2.0/24, 2001:db8::/120), an IPv4
// octet range in which each octet is a number, a range a-b, an open range
// -b, a- or -, a *, or a comma list of those (192.168.3-5,7.1), and a
// host name with an optional prefix length (example.com/28).
//
// An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is read as the IPv4
// address it maps, and a prefix inside the mapped block (::ffff:192.0.2.0/120,
// /96 or longer) as the IPv4 prefix it maps (192.0.2.0/24), so Addr, Prefix
// and Bits describe the IPv4 form while String keeps the text as given.
//
// Text made only of digits, dots, commas, hyphens and * is always read as
// IPv4, so "1.2.3" is an error rather than a name to resolve. Octets with
// leading zeros are refused because some tools read them as octal. Errors
// are *SpecError.
func ParseSpec(text string) (Spec, error) {
	fail := func(format string, args ...any) (Spec, error) {
		return Spec{}, &SpecError{Text: text, Reason: fmt.Sprintf(format, args...)}
	}
	if text == "" {
		return fail("empty")
	}
	if strings.IndexFunc(text, unicode.IsSpace) >= 0 {
		return fail("contains whitespace")
	}
	host, bitsText, hasBits := strings.Cut(text, "/")
	bits := -1
	if hasBits {
		if strings.Contains(bitsText, "/") {
			return fail("more than one '/'")
		}
		if host == "" {
			return fail("no address before the prefix length")
		}
		var reason string
		bits, reason = parseBits(bitsText)
		if reason != "" {
			return fail("%s", reason)
		}
	}
	var (
		s      Spec
		reason string
	)
	switch {
	case strings.Contains(host, ":"):
		s, reason = parseV6(host, bits, bitsText)
	case isV4Syntax(host):
		s, reason = parseV4(host, bits, bitsText)
	default:
		s, reason = parseName(host, bits, bitsText)
	}
	if reason != "" {
		return fail("%s", reason)
	}
	s.text = text
	return s, nil
}

// parseBits parses a prefix length. Each family checks its own upper
// limit afterwards; lengths of more than three digits come back as 999.
func parseBits(t string) (int, string) {
	if t == "" {
		return 0, "empty prefix length"
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, fmt.Sprintf("prefix length %q is not a number", t)
		}
	}
	if len(t) > 1 && t[0] == '0' {
		return 0, fmt.Sprintf("prefix length %q has a leading zero", t)
	}
	if len(t) > 3 {
		return 999, ""
	}
	n, _ := strconv.Atoi(t)
	return n, ""
}

func parseV6(host string, bits int, bitsText string) (Spec, string) {
	addrPart, _, _ := strings.Cut(host, "%")
	if strings.ContainsAny(addrPart, "-,*") {
		return Spec{}, "IPv6 addresses take no ranges"
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is6() {
		return Spec{}, "not a valid IPv6 address"
	}
	if bits < 0 {
		// An IPv4-mapped address is the IPv4 address it maps.
		return Spec{kind: KindAddr, addr: a.Unmap(), bits: -1}, ""
	}
	if a.Zone() != "" {
		return Spec{}, "an address with a zone takes no prefix length"
	}
	if bits > 128 {
		return Spec{}, fmt.Sprintf("prefix /%s is over 128 for IPv6", bitsText)
	}
	p := canonicalPrefix(netip.PrefixFrom(a, bits))
	return Spec{kind: KindPrefix, addr: p.Addr(), bits: p.Bits()}, ""
}

func isV4Syntax(t string) bool {
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9', c == '.', c == ',', c == '-', c == '*':
		default:
			return false
		}
	}
	return true
}

func parseV4(host string, bits int, bitsText string) (Spec, string) {
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		plural := "s"
		if len(parts) == 1 {
			plural = ""
		}
		return Spec{}, fmt.Sprintf("has %d octet%s, IPv4 needs 4", len(parts), plural)
	}
	var (
		o     octets
		plain [4]byte
		isRng bool
	)
	for k, part := range parts {
		if part == "" {
			return Spec{}, fmt.Sprintf("octet %d is empty", k+1)
		}
		items := strings.Split(part, ",")
		if len(items) > 1 {
			isRng = true
		}
		for _, item := range items {
			lo, hi, single, reason := parseItem(item)
			if reason != "" {
				return Spec{}, fmt.Sprintf("octet %d %s", k+1, reason)
			}
			if !single {
				isRng = true
			}
			plain[k] = byte(lo)
			for v := lo; v <= hi; v++ {
				o.set[k][v>>6] |= 1 << (v & 63)
			}
		}
	}
	if !isRng {
		a := netip.AddrFrom4(plain)
		if bits < 0 {
			return Spec{kind: KindAddr, addr: a, bits: -1}, ""
		}
		if bits > 32 {
			return Spec{}, fmt.Sprintf("prefix /%s is over 32 for IPv4", bitsText)
		}
		p := netip.PrefixFrom(a, bits).Masked()
		return Spec{kind: KindPrefix, addr: p.Addr(), bits: bits}, ""
	}
	if bits >= 0 {
		return Spec{}, "an octet range takes no prefix length"
	}
	for k := range o.vals {
		for v := 0; v < 256; v++ {
			if o.set[k][v>>6]&(1<<(v&63)) != 0 {
				o.vals[k] = append(o.vals[k], uint8(v))
			}
		}
	}
	return Spec{kind: KindRange, oct: &o, bits: -1}, ""
}

// parseItem parses one item of an octet's comma list. single is true for
// a plain number.
func parseItem(item string) (lo, hi int, single bool, reason string) {
	if item == "" {
		return 0, 0, false, "has an empty item in its list"
	}
	if item == "*" {
		return 0, 255, false, ""
	}
	from, to, isRange := strings.Cut(item, "-")
	if !isRange {
		v, reason := parseOctet(item)
		return v, v, true, reason
	}
	if strings.ContainsAny(to, "-*") || strings.Contains(from, "*") {
		return 0, 0, false, fmt.Sprintf("item %q is not a number or range", item)
	}
	lo, hi = 0, 255
	if from != "" {
		if lo, reason = parseOctet(from); reason != "" {
			return 0, 0, false, reason
		}
	}
	if to != "" {
		if hi, reason = parseOctet(to); reason != "" {
			return 0, 0, false, reason
		}
	}
	if lo > hi {
		return 0, 0, false, fmt.Sprintf("range %s is reversed", item)
	}
	return lo, hi, false, ""
}

func parseOctet(t string) (int, string) {
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, fmt.Sprintf("item %q is not a number or range", t)
		}
	}
	if len(t) > 1 && t[0] == '0' {
		return 0, fmt.Sprintf("value %s has a leading zero", t)
	}
	if len(t) > 3 {
		return 0, fmt.Sprintf("value %s is over 255", t)
	}
	v, _ := strconv.Atoi(t)
	if v > 255 {
		return 0, fmt.Sprintf("value %s is over 255", t)
	}
	return v, ""
}

// maxNameLen is the longest host name DNS can carry, without the final
// dot.
const maxNameLen = 253

func parseName(host string, bits int, bitsText string) (Spec, string) {
	if strings.Contains(host, "%") {
		return Spec{}, "only IPv6 addresses take a zone"
	}
	n := strings.TrimSuffix(host, ".")
	if len(n) > maxNameLen {
		return Spec{}, fmt.Sprintf("host name is longer than %d characters", maxNameLen)
	}
	for i := 0; i < len(n); {
		r, size := utf8.DecodeRuneInString(n[i:])
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		if !ok {
			if r == utf8.RuneError && size == 1 {
				return Spec{}, fmt.Sprintf("invalid byte %q in host name", n[i:i+1])
			}
			return Spec{}, fmt.Sprintf("invalid character %q in host name", r)
		}
		i += size
	}
	for label := range strings.SplitSeq(n, ".") {
		switch {
		case label == "":
			return Spec{}, "host name has an empty label"
		case len(label) > 63:
			return Spec{}, "host name has a label longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return Spec{}, fmt.Sprintf("host name label %q starts or ends with '-'", label)
		}
	}
	if bits > 128 {
		return Spec{}, fmt.Sprintf("prefix /%s is over 128", bitsText)
	}
	return Spec{kind: KindName, name: host, bits: bits}, ""
}

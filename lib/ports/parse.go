package ports

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadSpec is wrapped by every error Parse returns for a malformed or
// unresolvable specification, so a command can tell usage errors apart.
var ErrBadSpec = errors.New("bad port spec")

// ParseOptions tells Parse what unqualified ports and service names mean.
type ParseOptions struct {
	// Default lists the protocols that ports written before any T: or U:
	// qualifier belong to. Empty means TCP, as for Nmap's TCP scans; a UDP
	// scan passes []Proto{UDP}, a combined scan both.
	Default []Proto
	// Names resolves service names and wildcards such as "ssh" or "http*".
	// Nil means LoadNames, or WellKnown() when that is nil too.
	Names Names
	// LoadNames, if set and Names is nil, is called once, when the spec
	// first names a service, and its Names are used; a spec of numbers
	// never calls it, so a command can offer a large services file (see
	// ServicesFile) without reading it on every run. Its error fails
	// Parse as it is, without ErrBadSpec.
	LoadNames func() (Names, error)
}

// Parse reads a port specification in Nmap's -p syntax:
//
//	22              one port
//	22,80,443       a list
//	1-1024          a range; "-1024" starts at 1, "60000-" ends at 65535,
//	                "-" alone is 1-65535
//	0, 0-1024       port 0, only when written explicitly
//	T:80,U:53,161   T: and U: qualify every item up to the next qualifier
//	ssh,http*       service names, with * and ? wildcards, resolved for the
//	                protocols in effect
//
// Spaces around items are ignored and one trailing comma is tolerated, as in
// Nmap. Unlike Nmap, service names are matched case-insensitively, and a
// qualifier must be followed by ports in the same item ("T:,80" and "T:U:53"
// are errors). S: (SCTP) and P: (IP protocols) are rejected because Picket scans
// neither. Errors wrap ErrBadSpec and name the offending item, e.g.
//
//	bad port spec "22,80-x": "80-x" is not a port or range
func Parse(spec string, opts ParseOptions) (List, error) {
	p := parser{spec: spec, names: opts.Names, load: opts.LoadNames}
	if p.names == nil && p.load == nil {
		p.names = WellKnown()
	}
	p.cur = opts.Default
	if len(p.cur) == 0 {
		p.cur = []Proto{TCP}
	}
	for _, proto := range p.cur {
		if !proto.valid() {
			return List{}, fmt.Errorf("parse ports: default protocol %v is not tcp or udp", proto)
		}
	}
	if err := p.parse(); err != nil {
		return List{}, err
	}
	return newList(p.spans), nil
}

// parser holds the state of one Parse call.
type parser struct {
	spec  string
	names Names
	load  func() (Names, error)
	cur   []Proto
	spans [numProtos][]span
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrBadSpec, p.spec, fmt.Sprintf(format, args...))
}

func (p *parser) parse() error {
	if strings.TrimSpace(p.spec) == "" {
		return p.errorf("empty")
	}
	items := strings.Split(p.spec, ",")
	if len(items) > 1 && strings.TrimSpace(items[len(items)-1]) == "" {
		items = items[:len(items)-1]
	}
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return p.errorf("stray comma: item %d is empty", i+1)
		}
		for len(item) >= 2 && item[1] == ':' && isLetter(item[0]) {
			protos, err := p.qualifier(item)
			if err != nil {
				return err
			}
			p.cur = protos
			rest := strings.TrimSpace(item[2:])
			if rest == "" || len(rest) >= 2 && rest[1] == ':' && isLetter(rest[0]) {
				return p.errorf("%q is followed by no ports", item[:2])
			}
			item = rest
		}
		if err := p.item(item); err != nil {
			return err
		}
	}
	return nil
}

// qualifier returns the protocols that the "X:" prefix of item selects.
func (p *parser) qualifier(item string) ([]Proto, error) {
	switch item[0] {
	case 'T':
		return []Proto{TCP}, nil
	case 'U':
		return []Proto{UDP}, nil
	case 'S':
		return nil, p.errorf("%q: SCTP (S:) is not supported", item)
	case 'P':
		return nil, p.errorf("%q: IP protocols (P:) are not supported", item)
	}
	return nil, p.errorf("%q has unknown protocol qualifier %q, want T: or U:", item, item[:2])
}

// item adds one port, range or service name for the protocols in effect.
func (p *parser) item(item string) error {
	if c := item[0]; c == '-' || isDigit(c) {
		s, err := p.rangeOf(item)
		if err != nil {
			return err
		}
		for _, proto := range p.cur {
			p.spans[proto-1] = append(p.spans[proto-1], s)
		}
		return nil
	}
	if !isName(item) {
		return p.errorf("%q is not a port, range or service name", item)
	}
	if p.names == nil {
		n, err := p.load()
		if err != nil {
			return err
		}
		if n == nil {
			n = WellKnown()
		}
		p.names = n
	}
	found := false
	for _, proto := range p.cur {
		for _, n := range p.names.Lookup(item, proto) {
			p.spans[proto-1] = append(p.spans[proto-1], span{n, n})
			found = true
		}
	}
	if !found {
		return p.errorf("no %s service matches %q", protoNames(p.cur), item)
	}
	return nil
}

// rangeOf parses "N", "N-M", "-M", "N-" or "-".
func (p *parser) rangeOf(item string) (span, error) {
	loText, hiText, isRange := strings.Cut(item, "-")
	if !isRange {
		n, err := p.number(item, loText)
		return span{n, n}, err
	}
	lo, hi := uint16(1), uint16(65535)
	var err error
	if loText != "" {
		if lo, err = p.number(item, loText); err != nil {
			return span{}, err
		}
	}
	if hiText != "" {
		if hi, err = p.number(item, hiText); err != nil {
			return span{}, err
		}
	}
	if lo > hi {
		return span{}, p.errorf("%q is a reversed range", item)
	}
	return span{lo, hi}, nil
}

// number parses the decimal port text that is part of item.
func (p *parser) number(item, text string) (uint16, error) {
	if text == "" {
		return 0, p.errorf("%q is not a port or range", item)
	}
	for i := 0; i < len(text); i++ {
		if !isDigit(text[i]) {
			return 0, p.errorf("%q is not a port or range", item)
		}
	}
	digits := strings.TrimLeft(text, "0")
	n, _ := strconv.Atoi("0" + digits)
	if len(digits) > 5 || n > 65535 {
		if item == text {
			return 0, p.errorf("port %s is out of range 0-65535", text)
		}
		return 0, p.errorf("%q: port %s is out of range 0-65535", item, text)
	}
	return uint16(n), nil
}

// protoNames joins protocol names for messages: "tcp", "tcp or udp".
func protoNames(ps []Proto) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " or ")
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isName reports whether s looks like a service name or wildcard: it starts
// with a letter or wildcard and holds only letters, digits, wildcards and
// the punctuation found in registered names.
func isName(s string) bool {
	if s == "" || !(isLetter(s[0]) || s[0] == '*' || s[0] == '?') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || isDigit(c) || strings.IndexByte("-_.+/*?", c) >= 0) {
			return false
		}
	}
	return true
}

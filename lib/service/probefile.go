// Package service is Picket's service and version detection: a parser for
// Nmap's service-probe format (nmap-service-probes), a matcher that runs
// its regular expressions over the raw bytes a service sent, the
// expansion of its version templates, and the engine that connects to a
// port, sends the probes in order and reports what answered.
package service

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Transport protocols a probe is sent over.
const (
	TCP = "tcp"
	UDP = "udp"
)

// Defaults of the probe file's directives, as Nmap documents them.
const (
	defaultRarity     = 5
	defaultTotalWait  = 5 * time.Second
	defaultTCPWrapped = 2 * time.Second
)

// ErrMalformed is wrapped by every error about a bad probe-file line.
var ErrMalformed = errors.New("malformed probe file")

// LineError is one malformed line of a probe file.
type LineError struct {
	File   string
	Line   int
	Reason string
}

func (e *LineError) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Reason
}

// Unwrap lets errors.Is(err, ErrMalformed) recognise a LineError.
func (e *LineError) Unwrap() error { return ErrMalformed }

// Probe is one Probe section of a probe file: what to send and how to
// read the answer.
type Probe struct {
	// Proto is TCP or UDP.
	Proto string
	// Name is the probe's name, e.g. "NULL" or "GetRequest".
	Name string
	// Payload is what the probe sends (empty for NULL).
	Payload []byte
	// NoPayload marks a probe that Nmap's UDP port scan must not reuse
	// as a payload; it has no meaning for version detection.
	NoPayload bool
	// Rarity is how seldom the probe gets an answer, 1 (often) to 9.
	Rarity int
	// Ports and SSLPorts list the ports the probe is most likely to
	// identify, in clear text and inside TLS.
	Ports, SSLPorts PortSet
	// TotalWait is how long to wait for the answer; TCPWrapped is how
	// soon a connection closed without data counts as tcpwrapped.
	TotalWait, TCPWrapped time.Duration
	// Fallback names the probes whose matches are also tried on this
	// probe's answer; Fallbacks holds them once the file is loaded.
	Fallback  []string
	Fallbacks []*Probe
	// Matches are the probe's match and softmatch lines, in file order.
	Matches []*Match
	// Source is where the probe was declared, "file:line".
	Source string
}

// Match is one match or softmatch line.
type Match struct {
	// Service is the service name, without an "ssl/" prefix.
	Service string
	// SSL is true for a service name written "ssl/NAME": the answer
	// says the service runs inside TLS.
	SSL bool
	// Soft marks a softmatch: the service is known, the version is not.
	Soft bool
	// Pattern is the regular expression as written in the file.
	Pattern string
	// Template holds the version fields, with $1-style references.
	Template Template
	// Source is where the line is, "file:line".
	Source string

	re                 matcher
	ignoreCase, dotAll bool
}

// Template holds the version-information fields of a match line. Each
// may refer to the pattern's groups with $1 to $9 and the helpers $P(n),
// $SUBST(n,"from","to") and $I(n,"<" or ">").
type Template struct {
	Product, Version, Info, Hostname, OS, Device string
	CPE                                          []string
}

// PortSet is a set of port numbers given as sorted, merged ranges.
type PortSet []PortRange

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi uint16 }

// Contains reports whether p is in the set.
func (s PortSet) Contains(p uint16) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].Hi >= p })
	return i < len(s) && s[i].Lo <= p
}

// ProbeSet is a loaded probe file (or several merged).
type ProbeSet struct {
	// Probes are in file order.
	Probes []*Probe
	// ExcludeTCP and ExcludeUDP are the ports the Exclude directive says
	// never to probe.
	ExcludeTCP, ExcludeUDP PortSet
	// Stats counts what was loaded and skipped.
	Stats LoadStats
}

// LoadStats counts the match lines of the files loaded.
type LoadStats struct {
	// Probes is the number of probes loaded.
	Probes int
	// Matches counts match and softmatch lines compiled; RE2 of them
	// with Go's regexp and Backtrack with the backtracking engine.
	Matches, RE2, Backtrack int
	// Skipped counts lines skipped, and Reasons how many for each
	// reason (e.g. "regex does not compile").
	Skipped int
	Reasons map[string]int
}

// String summarises the counts in one line for the start-up message.
func (s LoadStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d probes, %d match lines loaded (%d with Go regexp, %d with the backtracking engine), %d lines skipped",
		s.Probes, s.Matches, s.RE2, s.Backtrack, s.Skipped)
	if len(s.Reasons) > 0 {
		keys := make([]string, 0, len(s.Reasons))
		for k := range s.Reasons {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%d %s", s.Reasons[k], k)
		}
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	return b.String()
}

// ParseOptions configure Parse.
type ParseOptions struct {
	// Strict makes the first malformed line an error instead of a line
	// reported and skipped.
	Strict bool
	// Report, if not nil, is called with each malformed line skipped.
	Report func(*LineError)
	// MatchTimeout bounds one match of a pattern that needs the
	// backtracking engine; 0 means DefaultMatchTimeout.
	MatchTimeout time.Duration
}

// Parse reads a probe file in Nmap's nmap-service-probes format. name
// identifies the file in errors ("file:line: reason"). A malformed line
// is reported through opts.Report and skipped, or returned as a
// *LineError with opts.Strict; a match line whose pattern does not
// compile counts as malformed. Lines before the first Probe that are not
// Exclude directives are malformed.
func Parse(name string, data []byte, opts ParseOptions) (*ProbeSet, error) {
	p := &parser{name: name, opts: opts, set: &ProbeSet{Stats: LoadStats{Reasons: map[string]int{}}}}
	if p.opts.MatchTimeout <= 0 {
		p.opts.MatchTimeout = DefaultMatchTimeout
	}
	num := 0
	for len(data) > 0 {
		var line []byte
		if i := indexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		num++
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if err := p.line(num, string(line)); err != nil {
			return nil, err
		}
	}
	p.compilePending()
	p.set.Stats.Probes = len(p.set.Probes)
	if err := resolveFallbacks(p.set.Probes); err != nil {
		return nil, err
	}
	return p.set, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

type parser struct {
	name string
	opts ParseOptions
	set  *ProbeSet
	cur  *Probe
	// pending are the match lines whose patterns are still to compile;
	// reports holds the malformed lines until they can be given in line
	// order.
	pending []pendingMatch
	reports []*LineError
}

type pendingMatch struct {
	m    *Match
	num  int
	word string
	err  error
}

// count adds a compiled match line to the statistics.
func (p *parser) count(m *Match) {
	p.set.Stats.Matches++
	if m.re.backtracking() {
		p.set.Stats.Backtrack++
	} else {
		p.set.Stats.RE2++
	}
}

// compilePending compiles the deferred patterns on every core, then
// drops the lines that failed and reports every malformed line in line
// order.
func (p *parser) compilePending() {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(1, len(p.pending)/64)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(p.pending) {
					return
				}
				pm := &p.pending[i]
				pm.err = pm.m.compile(p.opts.MatchTimeout)
			}
		})
	}
	wg.Wait()
	for _, pm := range p.pending {
		if pm.err != nil {
			_ = p.bad(pm.num, reasonCompile, pm.word+": "+pm.err.Error())
			continue
		}
		p.count(pm.m)
	}
	for _, pr := range p.set.Probes {
		pr.Matches = slices.DeleteFunc(pr.Matches, func(m *Match) bool { return m.re == nil })
	}
	p.pending = nil
	slices.SortStableFunc(p.reports, func(a, b *LineError) int { return a.Line - b.Line })
	if p.opts.Report != nil {
		for _, e := range p.reports {
			p.opts.Report(e)
		}
	}
	p.reports = nil
}

// bad handles one malformed line: an error in strict mode, otherwise a
// report, a count and nil.
func (p *parser) bad(num int, category, reason string) error {
	e := &LineError{File: p.name, Line: num, Reason: reason}
	if p.opts.Strict {
		return e
	}
	p.set.Stats.Skipped++
	p.set.Stats.Reasons[category]++
	p.reports = append(p.reports, e)
	return nil
}

func (p *parser) line(num int, line string) error {
	line = strings.TrimLeft(line, " \t")
	if line == "" || line[0] == '#' {
		return nil
	}
	word, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimLeft(rest, " \t")
	if word == "Probe" {
		return p.probe(num, rest)
	}
	if word == "Exclude" {
		tcp, udp, err := parseExclude(rest)
		if err != nil {
			return p.bad(num, "bad Exclude", "Exclude: "+err.Error())
		}
		p.set.ExcludeTCP = mergeRanges(append(p.set.ExcludeTCP, tcp...))
		p.set.ExcludeUDP = mergeRanges(append(p.set.ExcludeUDP, udp...))
		return nil
	}
	if p.cur == nil {
		return p.bad(num, "directive before any Probe", fmt.Sprintf("%q before the first Probe line", word))
	}
	switch word {
	case "match", "softmatch":
		// In strict mode patterns compile in line order, so the first
		// bad line is the one reported; otherwise they compile together
		// at the end, on every core.
		m, category, err := parseMatch(rest, word == "softmatch", p.opts.MatchTimeout, !p.opts.Strict)
		if err != nil {
			return p.bad(num, category, word+": "+err.Error())
		}
		m.Source = p.name + ":" + strconv.Itoa(num)
		p.cur.Matches = append(p.cur.Matches, m)
		if p.opts.Strict {
			p.count(m)
		} else {
			p.pending = append(p.pending, pendingMatch{m: m, num: num, word: word})
		}
	case "ports", "sslports":
		set, err := parsePortList(rest)
		if err != nil {
			return p.bad(num, "bad ports", word+": "+err.Error())
		}
		if word == "ports" {
			p.cur.Ports = set
		} else {
			p.cur.SSLPorts = set
		}
	case "rarity":
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || n < 1 || n > 9 {
			return p.bad(num, "bad rarity", fmt.Sprintf("rarity: %q is not a number from 1 to 9", rest))
		}
		p.cur.Rarity = n
	case "totalwaitms", "tcpwrappedms":
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || n < 0 || n > 300000 {
			return p.bad(num, "bad "+word, fmt.Sprintf("%s: %q is not a number of milliseconds up to 300000", word, rest))
		}
		if word == "totalwaitms" {
			p.cur.TotalWait = time.Duration(n) * time.Millisecond
		} else {
			p.cur.TCPWrapped = time.Duration(n) * time.Millisecond
		}
	case "fallback":
		var names []string
		for f := range strings.SplitSeq(rest, ",") {
			if f = strings.TrimSpace(f); f != "" {
				names = append(names, f)
			}
		}
		if len(names) == 0 {
			return p.bad(num, "bad fallback", "fallback: no probe names")
		}
		p.cur.Fallback = names
	default:
		return p.bad(num, "unknown directive", fmt.Sprintf("unknown directive %q", word))
	}
	return nil
}

// probe starts a new Probe section: "TCP|UDP NAME q|payload| [no-payload]".
func (p *parser) probe(num int, rest string) error {
	// A malformed Probe line leaves no current probe, so its match lines
	// are reported too rather than attached to the previous probe.
	p.cur = nil
	fields := strings.Fields(rest)
	if len(fields) < 3 {
		return p.bad(num, "bad Probe", "Probe: want \"Probe TCP|UDP NAME q|PAYLOAD|\"")
	}
	proto := strings.ToLower(fields[0])
	if proto != TCP && proto != UDP {
		return p.bad(num, "bad Probe", fmt.Sprintf("Probe: protocol %q is not TCP or UDP", fields[0]))
	}
	name := fields[1]
	// The payload starts after the name and may contain spaces.
	after := strings.TrimLeft(rest, " \t")
	for range 2 {
		after = strings.TrimLeft(after, " \t")
		after = strings.TrimLeft(after[strings.IndexAny(after+" ", " \t"):], " \t")
	}
	if len(after) < 3 || after[0] != 'q' {
		return p.bad(num, "bad Probe", "Probe: payload must be q followed by a delimited string")
	}
	delim := after[1]
	end := strings.IndexByte(after[2:], delim)
	if end < 0 {
		return p.bad(num, "bad Probe", fmt.Sprintf("Probe: payload not closed by %q", delim))
	}
	payload, err := unescapePayload(after[2 : 2+end])
	if err != nil {
		return p.bad(num, "bad Probe", "Probe: "+err.Error())
	}
	pr := &Probe{
		Proto: proto, Name: name, Payload: payload,
		Rarity: defaultRarity, TotalWait: defaultTotalWait, TCPWrapped: defaultTCPWrapped,
		Source: p.name + ":" + strconv.Itoa(num),
	}
	for _, opt := range strings.Fields(after[2+end+1:]) {
		if opt != "no-payload" {
			return p.bad(num, "bad Probe", fmt.Sprintf("Probe: unknown option %q", opt))
		}
		pr.NoPayload = true
	}
	p.set.Probes = append(p.set.Probes, pr)
	p.cur = pr
	return nil
}

// resolveFallbacks links each probe's fallback names to probes: one of
// the same protocol when there is one, otherwise one of the other (Nmap's
// DNSVersionBindReqTCP falls back to the UDP DNSVersionBindReq, whose
// patterns fit both). A name no probe has is ignored, as Nmap does.
func resolveFallbacks(probes []*Probe) error {
	byName := map[string]*Probe{}
	anyProto := map[string]*Probe{}
	for _, pr := range probes {
		key := pr.Proto + "/" + pr.Name
		if _, dup := byName[key]; !dup {
			byName[key] = pr
		}
		if _, dup := anyProto[pr.Name]; !dup {
			anyProto[pr.Name] = pr
		}
	}
	for _, pr := range probes {
		pr.Fallbacks = pr.Fallbacks[:0]
		for _, n := range pr.Fallback {
			fb := byName[pr.Proto+"/"+n]
			if fb == nil {
				fb = anyProto[n]
			}
			if fb != nil && fb != pr {
				pr.Fallbacks = append(pr.Fallbacks, fb)
			}
		}
	}
	return nil
}

// Merge appends the probes of other to s: a probe of the same protocol
// and name gains other's match lines, a new probe is added. Fallbacks are
// linked again over the merged set.
func (s *ProbeSet) Merge(other *ProbeSet) {
	byName := map[string]*Probe{}
	for _, pr := range s.Probes {
		byName[pr.Proto+"/"+pr.Name] = pr
	}
	for _, pr := range other.Probes {
		if have := byName[pr.Proto+"/"+pr.Name]; have != nil {
			have.Matches = append(have.Matches, pr.Matches...)
			have.Ports = mergeRanges(append(slices.Clone(have.Ports), pr.Ports...))
			have.SSLPorts = mergeRanges(append(slices.Clone(have.SSLPorts), pr.SSLPorts...))
			continue
		}
		s.Probes = append(s.Probes, pr)
		byName[pr.Proto+"/"+pr.Name] = pr
	}
	s.ExcludeTCP = mergeRanges(append(s.ExcludeTCP, other.ExcludeTCP...))
	s.ExcludeUDP = mergeRanges(append(s.ExcludeUDP, other.ExcludeUDP...))
	s.Stats.Probes = len(s.Probes)
	s.Stats.Matches += other.Stats.Matches
	s.Stats.RE2 += other.Stats.RE2
	s.Stats.Backtrack += other.Stats.Backtrack
	s.Stats.Skipped += other.Stats.Skipped
	if s.Stats.Reasons == nil {
		s.Stats.Reasons = map[string]int{}
	}
	for k, v := range other.Stats.Reasons {
		s.Stats.Reasons[k] += v
	}
	_ = resolveFallbacks(s.Probes)
}

// unescapePayload decodes the C-style escapes of a probe payload: \\, \0,
// \a, \b, \f, \n, \r, \t, \v and \xHH. Other escaped characters stand for
// themselves.
func unescapePayload(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, errors.New("payload ends with a lone backslash")
		}
		switch c = s[i]; c {
		case '0':
			out = append(out, 0)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(s) {
				return nil, errors.New(`payload: \x needs two hex digits`)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf(`payload: \x%s is not a hex byte`, s[i+1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// parsePortList reads "21,23,80-90" into a PortSet.
func parsePortList(s string) (PortSet, error) {
	var set PortSet
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r, err := parseRange(f)
		if err != nil {
			return nil, err
		}
		set = append(set, r)
	}
	if len(set) == 0 {
		return nil, errors.New("no ports")
	}
	return mergeRanges(set), nil
}

func parseRange(f string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(f, "-")
	a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	if err != nil {
		return PortRange{}, fmt.Errorf("%q is not a port or range", f)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 16); err != nil || b < a {
			return PortRange{}, fmt.Errorf("%q is not a port or range", f)
		}
	}
	return PortRange{uint16(a), uint16(b)}, nil
}

// parseExclude reads the Exclude directive: a comma list of ports and
// ranges, each optionally prefixed by T: or U: (a prefix holds for the
// entries after it; entries before any prefix are both TCP and UDP).
func parseExclude(s string) (tcp, udp PortSet, err error) {
	mode := "both"
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case strings.HasPrefix(f, "T:"):
			mode, f = TCP, f[2:]
		case strings.HasPrefix(f, "U:"):
			mode, f = UDP, f[2:]
		}
		r, err := parseRange(f)
		if err != nil {
			return nil, nil, err
		}
		if mode != UDP {
			tcp = append(tcp, r)
		}
		if mode != TCP {
			udp = append(udp, r)
		}
	}
	return mergeRanges(tcp), mergeRanges(udp), nil
}

func mergeRanges(s PortSet) PortSet {
	if len(s) == 0 {
		return nil
	}
	slices.SortFunc(s, func(a, b PortRange) int { return int(a.Lo) - int(b.Lo) })
	out := s[:1]
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if uint32(r.Lo) <= uint32(last.Hi)+1 {
			last.Hi = max(last.Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

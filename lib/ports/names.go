package ports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Names resolves service names to port numbers for Parse.
type Names interface {
	// Lookup returns the ports registered for protocol p under every name
	// that pattern matches. Pattern matching is case-insensitive; '*'
	// matches any run of characters and '?' any one character. The result
	// may be in any order and is nil when nothing matches.
	Lookup(pattern string, p Proto) []uint16
}

// table is a Names backed by a map from lower-case name to ports per
// protocol.
type table struct {
	ports map[string]*[numProtos][]uint16
	names []string // sorted keys of ports, for wildcard scans
}

func newTable() *table { return &table{ports: map[string]*[numProtos][]uint16{}} }

func (t *table) add(name string, proto Proto, port uint16) {
	name = strings.ToLower(name)
	e := t.ports[name]
	if e == nil {
		e = new([numProtos][]uint16)
		t.ports[name] = e
		t.names = append(t.names, name)
	}
	if !slices.Contains(e[proto-1], port) {
		e[proto-1] = append(e[proto-1], port)
	}
}

// done sorts the name index once the table is filled.
func (t *table) done() *table {
	slices.Sort(t.names)
	return t
}

// Lookup implements Names.
func (t *table) Lookup(pattern string, p Proto) []uint16 {
	if !p.valid() {
		return nil
	}
	pattern = strings.ToLower(pattern)
	if !strings.ContainsAny(pattern, "*?") {
		if e := t.ports[pattern]; e != nil {
			return slices.Clone(e[p-1])
		}
		return nil
	}
	var out []uint16
	for _, name := range t.names {
		if match(pattern, name) {
			out = append(out, t.ports[name][p-1]...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// match reports whether name matches pattern, where '*' matches any run of
// bytes and '?' any single byte. It backtracks only to the last '*', so it
// runs in O(len(pattern)*len(name)) time even on hostile patterns.
func match(pattern, name string) bool {
	pi, ni := 0, 0
	star, resume := -1, 0
	for ni < len(name) {
		switch {
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == name[ni]):
			pi++
			ni++
		case pi < len(pattern) && pattern[pi] == '*':
			star, resume = pi, ni
			pi++
		case star >= 0:
			resume++
			pi, ni = star+1, resume
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// multiNames is the Names that MultiNames returns.
type multiNames []Names

// MultiNames returns Names that looks a pattern up in each of ns and merges
// the ports found, so a command can add a user's nmap-services or
// /etc/services to WellKnown(). Nil entries are ignored.
func MultiNames(ns ...Names) Names {
	out := make(multiNames, 0, len(ns))
	for _, n := range ns {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// Lookup implements Names.
func (m multiNames) Lookup(pattern string, p Proto) []uint16 {
	var out []uint16
	for _, n := range m {
		out = append(out, n.Lookup(pattern, p)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// WellKnown returns the built-in table of common IANA service names (see
// wellknown.go). It is built on first use and shared; it is read-only.
func WellKnown() Names { return wellKnownTable() }

var wellKnownTable = sync.OnceValue(func() *table {
	t := newTable()
	for _, s := range wellKnown {
		if s.protos&onTCP != 0 {
			t.add(s.name, TCP, s.port)
		}
		if s.protos&onUDP != 0 {
			t.add(s.name, UDP, s.port)
		}
	}
	return t.done()
})

// NmapServicesPath is where Debian's nmap package installs Nmap's list of
// service names and ports.
const NmapServicesPath = "/usr/share/nmap/nmap-services"

// ServicesFile returns a ParseOptions.LoadNames that reads the services
// file at path (nmap-services or /etc/services format, see
// ParseServicesFile). When there is no file at path it gives WellKnown(),
// so service names work without Nmap installed; a file that exists but
// cannot be read or parsed is an error naming it. The file is read at
// most once per call of the function returned.
func ServicesFile(path string) func() (Names, error) {
	return sync.OnceValues(func() (Names, error) {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return WellKnown(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("read service names: %w", err)
		}
		defer f.Close()
		n, err := ParseServicesFile(f)
		if err != nil {
			return nil, fmt.Errorf("read service names from %s: %w", path, err)
		}
		return n, nil
	})
}

// maxServicesLine bounds one line of a services file; real lines are well
// under 1 KiB.
const maxServicesLine = 64 << 10

// ParseServicesFile reads service names in the format shared by
// /etc/services and Nmap's nmap-services:
//
//	name  port/proto  [frequency | aliases...]  [# comment]
//
// Aliases become names of their own; a numeric third field is taken as
// Nmap's open frequency and ignored. Entries for protocols other than tcp
// and udp (sctp, ddp) are skipped. The caller opens the file, so the
// package never reads the file system by itself. Errors name the line.
func ParseServicesFile(r io.Reader) (Names, error) {
	t := newTable()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxServicesLine)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("services line %d: %q has no port/proto", line, strings.TrimSpace(text))
		}
		num, protoName, ok := strings.Cut(fields[1], "/")
		if !ok {
			return nil, fmt.Errorf("services line %d: %q is not port/proto", line, fields[1])
		}
		port, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("services line %d: %q is not a port number 0-65535", line, num)
		}
		proto, err := ParseProto(protoName)
		if err != nil {
			continue
		}
		t.add(fields[0], proto, uint16(port))
		for i, f := range fields[2:] {
			if _, err := strconv.ParseFloat(f, 64); i == 0 && err == nil {
				continue
			}
			t.add(f, proto, uint16(port))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read services line %d: %w", line+1, err)
	}
	return t.done(), nil
}

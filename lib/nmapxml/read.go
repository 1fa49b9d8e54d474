// Package nmapxml reads Nmap's XML output (-oX) into ndiff's scan model
// and writes comparisons in the XML format of Nmap's Ndiff, so existing
// Nmap scans and the tools that read Ndiff's output plug into Picket.
package nmapxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/ports"
	"github.com/picketscan/picket/lib/state"
	"github.com/picketscan/picket/lib/targets"
)

// Limits on what one document may hold, so a hostile or broken file
// cannot make the reader hold unbounded text.
const (
	maxText  = 4 << 10 // text of one element (cpe, script elem)
	maxPorts = 1 << 17 // ports of one host (two protocols × 65536)
	maxDepth = 64
)

// Looks reports whether the start of a file is XML (an Nmap document)
// rather than NDJSON: its first non-space byte is '<'.
func Looks(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	return len(head) > 0 && head[0] == '<'
}

// Info describes the Nmap run a document came from.
type Info struct {
	ScanID   string // "nmap-" and the start time in Unix seconds
	Args     string
	Start    string // event.TimeLayout
	StartStr string
	Version  string
	Complete bool // the run finished: runstats/finished with exit="success"
	// Truncated is set when the document ended early (an interrupted
	// Nmap leaves its XML unfinished); what was read is kept.
	Truncated bool
}

// ReadScan reads one Nmap XML document from r into b. name identifies
// the input in errors ("scan.xml:12: ..."). A document cut short is not
// an error: the hosts read so far are kept and the scan is incomplete, so
// nothing it did not report is taken as closed. The scope is taken from
// the command line in the nmaprun element's args when it names its
// targets plainly; otherwise (-iL, -iR, a target that cannot be parsed)
// the scan is taken to cover exactly the hosts it lists. The ports
// covered are those of scaninfo.
func ReadScan(r io.Reader, name string, b *state.Builder) (Info, error) {
	rd := &reader{l: newLexer(r), name: name, b: b}
	err := rd.run()
	return rd.info, err
}

type reader struct {
	l    *lexer
	name string
	b    *state.Builder
	info Info

	stack    []string
	seen     map[string]string
	services map[string]*event.Service
	sawRun   bool
	portSpec []string
	listed   []netip.Addr

	// The host being read.
	inHost   bool
	addr     netip.Addr
	hostname string
	nameType string
	hstate   string
	hreason  string
	ports    []state.Port
	port     *state.Port
	// Inside a script of the current port.
	script string
	tables []string
	elem   string
	text   []byte
	inText bool
}

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", r.name, r.l.line, fmt.Sprintf(format, args...))
}

func (r *reader) run() error {
	for {
		err := r.l.next()
		if err == io.EOF {
			if len(r.stack) > 0 && r.sawRun {
				r.info.Truncated = true
			}
			break
		}
		if err == errUnexpectedEOF && r.sawRun {
			r.info.Truncated = true
			break
		}
		var se *syntaxError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("%s:%d: not Nmap XML: %s", r.name, se.line, se.msg)
		case err == errUnexpectedEOF:
			return fmt.Errorf("%s:%d: not Nmap XML: unexpected end", r.name, r.l.line)
		case err != nil:
			return fmt.Errorf("read %s: %w", r.name, err)
		}
		switch r.l.kind {
		case tokStart:
			if len(r.stack) >= maxDepth {
				return r.errorf("elements nested deeper than %d", maxDepth)
			}
			if len(r.stack) == 0 && r.sawRun {
				return r.errorf("a second root element")
			}
			name := intern(r.l.name)
			r.stack = append(r.stack, name)
			if err := r.start(name); err != nil {
				return err
			}
		case tokEnd:
			if n := len(r.stack); n == 0 || r.stack[n-1] != string(r.l.name) {
				return r.errorf("unexpected </%s>", clip(string(r.l.name)))
			}
			name := r.stack[len(r.stack)-1]
			r.stack = r.stack[:len(r.stack)-1]
			if err := r.end(name); err != nil {
				return err
			}
		case tokText:
			if len(r.stack) == 0 && len(bytes.TrimSpace(r.l.text)) > 0 {
				return r.errorf("text outside the root element")
			}
			if r.inText && len(r.text)+len(r.l.text) <= maxText {
				r.text = append(r.text, r.l.text...)
			}
		}
	}
	if !r.sawRun {
		return fmt.Errorf("%s: not Nmap XML: no nmaprun element", r.name)
	}
	if r.inHost {
		// A host cut off in the middle is dropped: its port list may
		// be partial, which the incomplete scan already allows for.
		r.inHost = false
	}
	r.finish()
	return nil
}

// attr returns an attribute of the current tag as a string. Values seen
// before are shared: service names, products and versions repeat from
// port to port.
func (r *reader) attr(name string) string {
	v := r.l.attr(name)
	if len(v) == 0 {
		return ""
	}
	if len(v) > 64 {
		return string(v)
	}
	if s, ok := r.seen[string(v)]; ok {
		return s
	}
	s := string(v)
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	if len(r.seen) < 1<<16 {
		r.seen[s] = s
	}
	return s
}

// word returns an attribute whose values repeat (states, reasons,
// protocols) without allocating for the common ones.
func (r *reader) word(name string) string { return intern(r.l.attr(name)) }

func (r *reader) start(name string) error {
	switch name {
	case "nmaprun":
		if r.sawRun {
			return r.errorf("a second nmaprun element")
		}
		r.sawRun = true
		r.info.Args = r.attr("args")
		r.info.Version = r.attr("version")
		r.info.StartStr = r.attr("startstr")
		if s, err := strconv.ParseInt(r.attr("start"), 10, 64); err == nil && s >= 0 {
			r.info.Start = event.FormatTime(time.Unix(s, 0))
			r.info.ScanID = "nmap-" + strconv.FormatInt(s, 10)
		} else {
			r.info.ScanID = "nmap"
		}
	case "scaninfo":
		if !r.sawRun {
			return r.errorf("scaninfo outside nmaprun")
		}
		proto := r.attr("protocol")
		svc := r.attr("services")
		switch proto {
		case "tcp":
			r.portSpec = append(r.portSpec, "T:"+svc)
		case "udp":
			r.portSpec = append(r.portSpec, "U:"+svc)
		}
	case "host":
		if !r.sawRun {
			return r.errorf("host outside nmaprun")
		}
		r.inHost = true
		r.addr, r.hostname, r.nameType, r.hstate, r.hreason = netip.Addr{}, "", "", "", ""
		r.ports = r.ports[:0]
	case "status":
		if r.inHost {
			r.hstate, r.hreason = r.word("state"), r.word("reason")
		}
	case "address":
		if typ := string(r.l.attr("addrtype")); r.inHost && (typ == "ipv4" || typ == "ipv6") {
			a, err := netip.ParseAddr(string(r.l.attr("addr")))
			if err != nil {
				return r.errorf("bad address %q", clip(r.attr("addr")))
			}
			if !r.addr.IsValid() {
				r.addr = a.WithZone("")
			}
		}
	case "hostname":
		if r.inHost {
			// A name the user gave beats one from reverse DNS.
			n, typ := r.attr("name"), r.attr("type")
			if r.hostname == "" || (typ == "user" && r.nameType != "user") {
				r.hostname, r.nameType = clip(n), typ
			}
		}
	case "port":
		if !r.inHost {
			return r.errorf("port outside host")
		}
		if len(r.ports) >= maxPorts {
			return r.errorf("more than %d ports in one host", maxPorts)
		}
		n, err := strconv.ParseUint(string(r.l.attr("portid")), 10, 16)
		if err != nil {
			return r.errorf("bad portid %q", clip(r.attr("portid")))
		}
		proto := r.word("protocol")
		if proto != "tcp" && proto != "udp" {
			// sctp and ip protocol scans have no place in the model.
			r.port = nil
			return nil
		}
		r.ports = append(r.ports, state.Port{Num: uint16(n), Proto: proto})
		r.port = &r.ports[len(r.ports)-1]
	case "state":
		if r.port != nil {
			r.port.State, r.port.Reason = r.word("state"), r.word("reason")
		}
	case "service":
		if r.port != nil {
			s := &event.Service{Name: r.attr("name"), Product: r.attr("product"), Version: r.attr("version"),
				ExtraInfo: r.attr("extrainfo"), OSType: r.attr("ostype"), DeviceType: r.attr("devicetype"),
				Tunnel: r.attr("tunnel"), Method: r.attr("method"), Hostname: r.attr("hostname")}
			s.Conf, _ = strconv.Atoi(r.attr("conf"))
			r.port.Service = s
		}
	case "cpe":
		if r.port != nil && r.port.Service != nil {
			r.inText, r.text = true, r.text[:0]
		}
	case "script":
		if r.port != nil {
			r.script = r.attr("id")
			r.tables = r.tables[:0]
		}
	case "table":
		if r.script != "" && len(r.tables) < 16 {
			r.tables = append(r.tables, r.attr("key"))
		}
	case "elem":
		if r.script == "ssl-cert" {
			r.elem = r.attr("key")
			r.inText, r.text = true, r.text[:0]
		}
	case "finished":
		r.info.Complete = r.attr("exit") == "success"
	}
	return nil
}

func (r *reader) end(name string) error {
	switch name {
	case "host":
		if r.inHost {
			r.flushHost()
		}
		r.inHost = false
	case "port":
		if r.port != nil && r.port.Service != nil {
			r.port.Service = r.shareService(r.port.Service)
		}
		r.port = nil
	case "cpe":
		if r.inText && r.port != nil && r.port.Service != nil && len(r.port.Service.CPE) < 16 {
			r.port.Service.CPE = append(r.port.Service.CPE, string(r.text))
		}
		r.inText = false
	case "script":
		r.script = ""
	case "table":
		if len(r.tables) > 0 {
			r.tables = r.tables[:len(r.tables)-1]
		}
	case "elem":
		if r.script == "ssl-cert" && r.port != nil {
			r.certElem(string(r.text))
		}
		r.inText = false
	}
	return nil
}

// shareService returns a service equal to s read before, or s: a
// million ports of a few products then cost a few Service values.
func (r *reader) shareService(s *event.Service) *event.Service {
	key := strings.Join(append([]string{s.Name, s.Product, s.Version, s.ExtraInfo, s.OSType, s.DeviceType,
		s.Tunnel, s.Method, s.Hostname, strconv.Itoa(s.Conf)}, s.CPE...), "\x00")
	if old, ok := r.services[key]; ok {
		return old
	}
	if r.services == nil {
		r.services = map[string]*event.Service{}
	}
	if len(r.services) < 1<<16 {
		r.services[key] = s
	}
	return s
}

// certElem takes what ndiff needs from Nmap's ssl-cert script: the
// subject's common name, the expiry and a SHA-256 fingerprint when the
// script gives one.
func (r *reader) certElem(v string) {
	table := ""
	if len(r.tables) > 0 {
		table = r.tables[len(r.tables)-1]
	}
	set := func(f func(t *event.TLS)) {
		if r.port.TLS == nil {
			r.port.TLS = new(event.TLS)
		}
		f(r.port.TLS)
	}
	switch {
	case table == "subject" && r.elem == "commonName":
		set(func(t *event.TLS) { t.SubjectCN = v })
	case table == "issuer" && r.elem == "commonName":
		set(func(t *event.TLS) { t.Issuer = v })
	case table == "validity" && r.elem == "notAfter":
		set(func(t *event.TLS) { t.NotAfter = v })
	case table == "validity" && r.elem == "notBefore":
		set(func(t *event.TLS) { t.NotBefore = v })
	case table == "" && r.elem == "sha256":
		set(func(t *event.TLS) { t.SHA256 = strings.ToLower(strings.ReplaceAll(v, " ", "")) })
	}
}

func (r *reader) flushHost() {
	if !r.addr.IsValid() {
		return
	}
	id := r.info.ScanID
	switch r.hstate {
	case state.HostUp, state.HostDown:
		r.b.HostSeen(id, state.Host{Addr: r.addr, Hostname: r.hostname, State: r.hstate, Reason: r.hreason})
	}
	r.b.PortsSeen(id, r.addr, r.hostname, r.ports)
	r.listed = append(r.listed, r.addr)
}

func (r *reader) finish() {
	scope := &event.Scope{Method: "nmap", Discovery: "nmap"}
	if pl, err := ports.Parse(strings.Join(r.portSpec, ","), ports.ParseOptions{}); err == nil {
		scope.Ports = pl.String()
	}
	tg, ex, ok := ArgsTargets(r.info.Args)
	if ok {
		scope.Targets, scope.Exclude = tg, ex
	} else {
		slices.SortFunc(r.listed, netip.Addr.Compare)
		r.listed = slices.Compact(r.listed)
		for _, a := range r.listed {
			scope.Targets = append(scope.Targets, a.String())
		}
	}
	r.b.Start(r.info.ScanID, r.info.Start, scope)
	r.b.End(r.info.ScanID, r.info.Complete && !r.info.Truncated)
}

// valueOptions are Nmap's options that take their value as the next
// argument.
var valueOptions = map[string]bool{
	"-p": true, "-e": true, "-S": true, "-D": true, "-g": true, "-b": true, "-oN": true, "-oX": true,
	"-oG": true, "-oA": true, "-oS": true, "-oM": true, "-iL": true, "-iR": true, "-sI": true,
	"--exclude": true, "--excludefile": true, "--exclude-ports": true, "--top-ports": true,
	"--port-ratio": true, "--max-retries": true, "--host-timeout": true, "--scan-delay": true,
	"--max-scan-delay": true, "--min-rate": true, "--max-rate": true, "--min-rtt-timeout": true,
	"--max-rtt-timeout": true, "--initial-rtt-timeout": true, "--min-hostgroup": true,
	"--max-hostgroup": true, "--min-parallelism": true, "--max-parallelism": true, "--script": true,
	"--script-args": true, "--script-args-file": true, "--script-timeout": true, "--data": true,
	"--data-string": true, "--data-length": true, "--ttl": true, "--mtu": true, "--source-port": true,
	"--spoof-mac": true, "--ip-options": true, "--dns-servers": true, "--datadir": true,
	"--servicedb": true, "--versiondb": true, "--stylesheet": true, "--version-intensity": true,
	"--proxies": true, "--proxy": true, "--resume": true, "--max-os-tries": true, "--stats-every": true,
	"--script-help": true, "--unprivileged-timing": false,
}

// ArgsTargets finds the targets and exclusions in an Nmap command line
// as recorded in the args attribute. ok is false when the targets cannot
// be known from it: read from a file (-iL), random (-iR), excluded by a
// file, or not valid target specifications.
func ArgsTargets(args string) (tg, ex []string, ok bool) {
	f := strings.Fields(args)
	if len(f) < 2 {
		return nil, nil, false
	}
	for i := 1; i < len(f); i++ {
		a := f[i]
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			opt, val, hasVal := strings.Cut(a, "=")
			switch opt {
			case "-iL", "-iR", "--excludefile", "--resume":
				return nil, nil, false
			}
			if !hasVal && valueOptions[opt] {
				if i+1 >= len(f) {
					return nil, nil, false
				}
				val = f[i+1]
				i++
				hasVal = true
			}
			if opt == "--exclude" && hasVal {
				ex = append(ex, strings.Split(val, ",")...)
			}
			continue
		}
		tg = append(tg, a)
	}
	if len(tg) == 0 {
		return nil, nil, false
	}
	for _, s := range slices.Concat(tg, ex) {
		if _, err := targets.ParseSpec(s); err != nil {
			return nil, nil, false
		}
	}
	return tg, ex, true
}

// words are the element names and attribute values that repeat on
// every port; they are shared rather than allocated each time.
var words = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{"tcp", "udp", state.StateOpen, state.StateClosed, state.StateFiltered,
		state.StateOpenFiltered, state.StateClosedFiltered, state.StateUnfiltered, state.HostUp, state.HostDown,
		"syn-ack", "reset", "conn-refused", "no-response", "user-set", "echo-reply", "localhost-response",
		"arp-response", "probed", "table", "nmaprun", "scaninfo", "verbose", "debugging", "host", "status",
		"address", "hostnames", "hostname", "ports", "extraports", "extrareasons", "port", "state", "service",
		"cpe", "script", "elem", "times", "runstats", "finished", "hosts", "os", "osmatch", "osclass",
		"portused", "uptime", "distance", "tcpsequence", "ipidsequence", "tcptssequence", "trace", "hop"} {
		m[w] = w
	}
	return m
}()

func intern(b []byte) string {
	if w, ok := words[string(b)]; ok {
		return w
	}
	return string(b)
}

func clip(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}

package nmapxml

import (
	"bufio"
	"encoding/xml"
	"io"
	"net/netip"
	"strconv"

	"github.com/picketscan/picket/lib/event"
)

// Run describes one side of a comparison for the nmaprun elements of
// WriteDiff: the scan's id (as the scanner attribute's companion) and
// start time.
type Run struct {
	Scanner string // "nmap" or "picket"
	Args    string
	Start   string // Unix seconds, as Nmap writes it; "" when unknown
}

// WriteDiff writes changes in the XML format of Nmap's Ndiff
// (nmapdiff version 1): a hostdiff per host, holding for each port a
// portdiff whose a element is the old view and b the new one. A host that
// came up with no earlier record is written whole inside b, as Ndiff does
// for a new host. Kinds Ndiff has no word for (tls-changed, tls-expiring,
// policy-violation, unknown) are written as script results of the port,
// with ids "picket-" and the kind, in the new view, which is how Ndiff
// reports script output that changed. changes must be grouped by address
// (as diff.Compare returns them).
func WriteDiff(w io.Writer, a, b Run, changes []event.Change) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	bw.WriteString(`<nmapdiff version="1"><scandiff>`)
	writeRun(bw, "a", a)
	writeRun(bw, "b", b)
	bw.WriteString("\n")
	for i := 0; i < len(changes); {
		j := i + 1
		for j < len(changes) && changes[j].IP == changes[i].IP {
			j++
		}
		writeHost(bw, changes[i:j])
		i = j
	}
	bw.WriteString("</scandiff></nmapdiff>\n")
	return bw.Flush()
}

func writeRun(w *bufio.Writer, side string, r Run) {
	w.WriteString("<" + side + "><nmaprun")
	attrs(w, "scanner", r.Scanner, "args", r.Args, "start", r.Start)
	w.WriteString("/>\n</" + side + ">")
}

// attrs writes name="value" pairs, skipping empty values.
func attrs(w *bufio.Writer, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		w.WriteString(" " + kv[i] + `="`)
		xml.EscapeText(w, []byte(kv[i+1]))
		w.WriteString(`"`)
	}
}

func address(w *bufio.Writer, ip string) {
	typ := "ipv4"
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		typ = "ipv6"
	}
	w.WriteString("<address")
	attrs(w, "addr", ip, "addrtype", typ)
	w.WriteString("/>\n")
}

func hostnames(w *bufio.Writer, name string) {
	if name == "" {
		return
	}
	w.WriteString("<hostnames><hostname")
	attrs(w, "name", name, "type", "user")
	w.WriteString("/></hostnames>\n")
}

func writeHost(w *bufio.Writer, cs []event.Change) {
	first := cs[0]
	w.WriteString("<hostdiff>\n")
	if first.Kind == event.KindHostUp && first.Before == nil {
		// A new host: Ndiff writes all of it in b.
		w.WriteString("<b><host><status state=\"up\"/>\n")
		address(w, first.IP)
		hostnames(w, first.Hostname)
		w.WriteString("<ports>\n")
		for _, x := range cs[1:] {
			if x.Proto != "" && x.After != nil && (x.Kind == event.KindPortOpened || x.Kind == event.KindServiceMoved) {
				port(w, x.Port, x.Proto, x.After, nil)
			}
		}
		w.WriteString("</ports>\n</host></b>\n</hostdiff>\n")
		return
	}
	w.WriteString("<host>\n")
	if first.Proto == "" && (first.Kind == event.KindHostUp || first.Kind == event.KindHostDown) {
		w.WriteString("<a>")
		status(w, first.Before)
		w.WriteString("</a><b>")
		status(w, first.After)
		w.WriteString("</b>\n")
	}
	address(w, first.IP)
	hostnames(w, first.Hostname)
	w.WriteString("<ports>\n")
	for _, x := range cs {
		if x.Proto == "" {
			continue
		}
		switch x.Kind {
		case event.KindPortOpened, event.KindPortClosed, event.KindPortState:
			portdiff(w, x.Port, x.Proto, x.Before, x.After)
		case event.KindServiceMoved:
			portdiff(w, x.FromPort, x.Proto, x.Before, nil)
			portdiff(w, x.Port, x.Proto, nil, x.After)
		case event.KindServiceChanged:
			w.WriteString("<portdiff><port")
			attrs(w, "portid", strconv.Itoa(int(x.Port)), "protocol", x.Proto)
			w.WriteString(">")
			w.WriteString(`<state state="open"/>`)
			w.WriteString("<a>")
			service(w, x.Before)
			w.WriteString("</a><b>")
			service(w, x.After)
			w.WriteString("</b></port></portdiff>\n")
		default:
			view := x.After
			if view == nil {
				view = x.Before
			}
			w.WriteString("<portdiff>")
			port(w, x.Port, x.Proto, view, &x)
			w.WriteString("</portdiff>\n")
		}
	}
	w.WriteString("</ports>\n</host>\n</hostdiff>\n")
}

func status(w *bufio.Writer, o *event.Observed) {
	st := "unknown"
	if o != nil && o.State != "" {
		st = o.State
	}
	w.WriteString("<status")
	attrs(w, "state", st)
	w.WriteString("/>")
}

func portdiff(w *bufio.Writer, num uint16, proto string, before, after *event.Observed) {
	w.WriteString("<portdiff>\n<a>\n")
	port(w, num, proto, before, nil)
	w.WriteString("</a>\n<b>\n")
	port(w, num, proto, after, nil)
	w.WriteString("</b>\n</portdiff>\n")
}

// port writes a port element; a nil view is a port element without
// state, as Ndiff writes a port that one scan did not list. note, if
// set, is written as a script result in the new view.
func port(w *bufio.Writer, num uint16, proto string, o *event.Observed, note *event.Change) {
	w.WriteString("<port")
	attrs(w, "portid", strconv.Itoa(int(num)), "protocol", proto)
	w.WriteString(">")
	if o != nil && o.State != "" {
		w.WriteString("<state")
		attrs(w, "state", o.State)
		w.WriteString("/>")
	}
	service(w, o)
	if note != nil {
		w.WriteString("<b><script")
		attrs(w, "id", "picket-"+note.Kind, "output", note.Summary)
		w.WriteString("/></b>")
	}
	w.WriteString("</port>\n")
}

func service(w *bufio.Writer, o *event.Observed) {
	if o == nil || o.Service == nil {
		return
	}
	s := o.Service
	w.WriteString("<service")
	attrs(w, "name", s.Name, "product", s.Product, "version", s.Version, "extrainfo", s.ExtraInfo,
		"ostype", s.OSType, "devicetype", s.DeviceType, "tunnel", s.Tunnel)
	w.WriteString("/>")
}

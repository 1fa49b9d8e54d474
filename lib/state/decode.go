package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/picketscan/picket/lib/event"
)

// Record is one host or port line decoded: the scan it belongs to, the
// address and name of its host, and the host or port itself.
type Record struct {
	ScanID   string
	Time     string
	Addr     netip.Addr
	Hostname string
	Host     Host // for host lines (Ports empty)
	Port     Port // for port lines
}

// Decoder decodes host and port lines into Records. It interns the
// strings that repeat from line to line (states, reasons, times) and
// shares identical service objects, so a million ports cost a million
// small structs and not a million copies of the same words. Decoded
// services must not be modified. A Decoder is not safe for concurrent
// use.
type Decoder struct {
	times    map[string]string
	services map[string]*event.Service
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{times: map[string]string{}, services: map[string]*event.Service{}}
}

// maxInterned bounds the table of interned times.
const maxInterned = 1 << 14

// intern returns s without sharing its memory, from the table of common
// words or of times seen before when it can.
func (d *Decoder) intern(s string) string {
	switch s {
	case "":
		return ""
	case StateOpen:
		return StateOpen
	case StateClosed:
		return StateClosed
	case StateFiltered:
		return StateFiltered
	case StateOpenFiltered:
		return StateOpenFiltered
	case StateClosedFiltered:
		return StateClosedFiltered
	case StateUnfiltered:
		return StateUnfiltered
	case HostUp:
		return HostUp
	case HostDown:
		return HostDown
	case "tcp":
		return "tcp"
	case "udp":
		return "udp"
	case "syn-ack":
		return "syn-ack"
	case "conn-refused":
		return "conn-refused"
	case "no-response":
		return "no-response"
	case "reset":
		return "reset"
	case "user-set":
		return "user-set"
	}
	if v, ok := d.times[s]; ok {
		return v
	}
	c := strings.Clone(s)
	if len(d.times) < maxInterned {
		d.times[c] = c
	}
	return c
}

// ErrNotRecord is returned by DecodeLine for a line that is neither a
// host nor a port event.
var ErrNotRecord = errors.New("not a host or port event")

// DecodeLine decodes a host or port event (or a baseline line of the same
// shape, which adds first_seen, last_seen and pending). Unknown fields
// are ignored. The result shares no memory with raw.
func (d *Decoder) DecodeLine(raw []byte) (Record, error) {
	var rec Record
	if len(raw) == 0 {
		return rec, ErrNotRecord
	}
	js := unsafe.String(unsafe.SliceData(raw), len(raw))
	var typ, ip string
	var hostname, state, reason, first, last, proto string
	var port int64 = -1
	var svc, tls, pend gjson.Result
	var bad string
	gjson.Parse(js).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "type":
			typ = v.Str
		case "scan_id":
			rec.ScanID = strings.Clone(v.Str)
		case "time":
			rec.Time = d.intern(v.Str)
		case "ip":
			ip = v.Str
		case "hostname":
			hostname = v.Str
		case "state":
			state = v.Str
		case "reason":
			reason = v.Str
		case "port":
			if v.Type != gjson.Number {
				bad = `"port" is not a number`
				return false
			}
			port = v.Int()
		case "proto":
			proto = v.Str
		case "first_seen":
			first = v.Str
		case "last_seen":
			last = v.Str
		case "service":
			svc = v
		case "tls":
			tls = v
		case "pending":
			pend = v
		}
		return true
	})
	if bad != "" {
		return rec, errors.New(bad)
	}
	if typ != event.TypeHost && typ != event.TypePort {
		return rec, ErrNotRecord
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return rec, fmt.Errorf(`bad "ip" %q`, clip(ip))
	}
	rec.Addr = addr.WithZone("")
	rec.Hostname = strings.Clone(hostname)
	var p *Pending
	if pend.IsObject() {
		p = new(Pending)
		if err := json.Unmarshal([]byte(pend.Raw), p); err != nil {
			return rec, fmt.Errorf(`bad "pending": %w`, err)
		}
		p.Since = d.intern(p.Since)
	}
	if typ == event.TypeHost {
		switch {
		case state == HostUp, state == HostDown:
		case state == "" && p != nil:
			// A baseline's new host waiting for --confirm.
		default:
			return rec, fmt.Errorf(`host "state" %q is not up or down`, clip(state))
		}
		rec.Host = Host{Addr: rec.Addr, Hostname: rec.Hostname, State: d.intern(state), Reason: d.intern(reason),
			FirstSeen: d.intern(first), LastSeen: d.intern(last), Pending: p}
		return rec, nil
	}
	if port < 0 || port > 65535 {
		return rec, fmt.Errorf(`"port" missing or out of range`)
	}
	if proto != "tcp" && proto != "udp" {
		return rec, fmt.Errorf(`"proto" %q is not tcp or udp`, clip(proto))
	}
	rec.Port = Port{Num: uint16(port), Proto: d.intern(proto), State: d.intern(state), Reason: d.intern(reason),
		FirstSeen: d.intern(first), LastSeen: d.intern(last), Pending: p}
	if svc.IsObject() {
		// Identical service objects are shared: a million ports of a
		// few products cost a few Service values. They are never
		// modified after decoding.
		if s, ok := d.services[svc.Raw]; ok {
			rec.Port.Service = s
		} else {
			rec.Port.Service = decodeService(svc)
			if len(d.services) < maxInterned {
				d.services[strings.Clone(svc.Raw)] = rec.Port.Service
			}
		}
	}
	if tls.IsObject() {
		t := new(event.TLS)
		if err := json.Unmarshal([]byte(tls.Raw), t); err != nil {
			return rec, fmt.Errorf(`bad "tls": %w`, err)
		}
		rec.Port.TLS = t
	}
	return rec, nil
}

// decodeService reads a service object field by field; fields of the
// wrong type are ignored.
func decodeService(v gjson.Result) *event.Service {
	s := new(event.Service)
	v.ForEach(func(k, f gjson.Result) bool {
		str := func() string {
			if f.Type != gjson.String {
				return ""
			}
			return strings.Clone(f.Str)
		}
		switch k.Str {
		case "name":
			s.Name = str()
		case "product":
			s.Product = str()
		case "version":
			s.Version = str()
		case "extrainfo":
			s.ExtraInfo = str()
		case "ostype":
			s.OSType = str()
		case "devicetype":
			s.DeviceType = str()
		case "tunnel":
			s.Tunnel = str()
		case "hostname":
			s.Hostname = str()
		case "method":
			s.Method = str()
		case "hostkey":
			s.HostKey = str()
		case "conf":
			if f.Type == gjson.Number {
				s.Conf = int(f.Int())
			}
		case "cpe":
			f.ForEach(func(_, c gjson.Result) bool {
				if c.Type == gjson.String {
					s.CPE = append(s.CPE, strings.Clone(c.Str))
				}
				return true
			})
		}
		return true
	})
	return s
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

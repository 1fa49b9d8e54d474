// Package baseline reads and writes ndiff's baseline file and replaces it
// safely.
//
// The file is NDJSON: a header line, one line per host followed by the
// lines of its ports, and a trailer.
//
//	{"type":"baseline","version":1,"scan_id":"01M8…","time":"2026-11-25T17:08:25.503112584Z","written":"…"}
//	{"type":"host","ip":"192.0.2.7","hostname":"www","state":"up","reason":"syn-ack","first_seen":"…","last_seen":"…","ports":1}
//	{"type":"port","ip":"192.0.2.7","port":443,"proto":"tcp","state":"open","reason":"syn-ack","first_seen":"…","last_seen":"…","service":{…},"tls":{…}}
//	{"type":"baseline-end","hosts":1,"ports":1,"crc32c":"1a2b3c4d"}
//
// A host line counts the port lines that follow it ("ports"), so a
// reader can size its list. first_seen is the start time of the first scan that saw the port in its
// present state, last_seen of the latest scan that saw it. A "pending"
// object ({"sig":…,"count":1,"since":…}) holds a change that --confirm has
// not let through yet; a port line with state "" exists only for one.
//
// The trailer counts the hosts and ports and carries the CRC-32C of every
// byte before it, so a truncated or damaged file is refused as a whole
// rather than read as a baseline that lost its ports (which would turn
// into a storm of false changes). Host and port lines are the same shape
// as scan events, so jq and grep work on the file as on a scan.
package baseline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/picketscan/picket/lib/event"
	"github.com/picketscan/picket/lib/state"
)

// Version is the version of the baseline format.
const Version = 1

// Line types of the format.
const (
	typeHeader  = "baseline"
	typeTrailer = "baseline-end"
)

// maxLine bounds one line of a baseline, as for events.
const maxLine = event.DefaultMaxLine

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every error about the content of a baseline.
var ErrCorrupt = errors.New("corrupt baseline")

// IsBaseline reports whether the first line of a file is a baseline
// header, to tell a baseline from a saved scan.
func IsBaseline(head []byte) bool {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	return gjson.GetBytes(head, "type").Str == typeHeader
}

// Read reads a baseline. name identifies it in errors, which name the
// line and wrap ErrCorrupt: a file that is truncated, damaged (its
// checksum does not match), or not a baseline is refused whole.
func Read(r io.Reader, name string) (*state.Baseline, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	crc := crc32.New(castagnoli)
	dec := state.NewDecoder()
	b := state.NewBaseline()
	var cur *state.Host
	hosts, ports := 0, 0
	num := 0
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %w: %s", name, num, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	var line []byte
	for {
		var err error
		line, err = readLine(br, line[:0])
		if err == io.EOF {
			if num == 0 {
				return nil, fmt.Errorf("%s: %w: empty file (delete it to start a new baseline)", name, ErrCorrupt)
			}
			return nil, bad("truncated: no %q trailer", typeTrailer)
		}
		num++
		if errors.Is(err, errLong) {
			return nil, bad("line longer than %d bytes", maxLine)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(line) == 0 || line[len(line)-1] != '\n' {
			return nil, bad("truncated: last line has no newline")
		}
		body := line[:len(line)-1]
		if !utf8.Valid(body) || !gjson.ValidBytes(body) {
			return nil, bad("not a JSON line")
		}
		var typ string
		switch {
		case bytes.HasPrefix(body, []byte(`{"type":"port",`)):
			typ = event.TypePort
		case bytes.HasPrefix(body, []byte(`{"type":"host",`)):
			typ = event.TypeHost
		default:
			typ = gjson.GetBytes(body, "type").Str
		}
		if num == 1 {
			if typ != typeHeader {
				return nil, bad("not a baseline (first line is not a %q header)", typeHeader)
			}
			if v := gjson.GetBytes(body, "version").Int(); v != Version {
				return nil, bad("baseline version %d, want %d", v, Version)
			}
			b.ScanID = gjson.GetBytes(body, "scan_id").Str
			b.Time = gjson.GetBytes(body, "time").Str
			crc.Write(line)
			continue
		}
		switch typ {
		case typeTrailer:
			if err := checkTrailer(body, crc, hosts, ports); err != nil {
				return nil, bad("%v", err)
			}
			if rest, _ := br.Peek(1); len(rest) > 0 {
				return nil, bad("data after the trailer")
			}
			for _, h := range b.Hosts {
				h.SortPorts()
			}
			return b, nil
		case event.TypeHost:
			rec, err := dec.DecodeLine(body)
			if err != nil {
				return nil, bad("%v", err)
			}
			if _, dup := b.Hosts[rec.Addr]; dup {
				return nil, bad("host %s listed twice", rec.Addr)
			}
			h := rec.Host
			// The host line says how many ports follow, so its list is
			// allocated once; the trailer checks the real count.
			if n := gjson.GetBytes(body, "ports").Int(); n > 0 && n <= 1<<17 {
				h.Ports = make([]state.Port, 0, n)
			}
			cur = &h
			b.Hosts[rec.Addr] = cur
			hosts++
		case event.TypePort:
			rec, err := dec.DecodeLine(body)
			if err != nil {
				return nil, bad("%v", err)
			}
			if cur == nil || cur.Addr != rec.Addr {
				return nil, bad("port of %s outside its host's lines", rec.Addr)
			}
			if rec.Port.State == state.StateNone && rec.Port.Pending == nil {
				return nil, bad("port %d/%s without a state", rec.Port.Num, rec.Port.Proto)
			}
			cur.Ports = append(cur.Ports, rec.Port)
			ports++
		default:
			return nil, bad("unexpected line type %q", typ)
		}
		crc.Write(line)
	}
}

func checkTrailer(body []byte, crc hash.Hash32, hosts, ports int) error {
	t := gjson.ParseBytes(body)
	if h := t.Get("hosts").Int(); h != int64(hosts) {
		return fmt.Errorf("trailer counts %d hosts, file has %d", h, hosts)
	}
	if p := t.Get("ports").Int(); p != int64(ports) {
		return fmt.Errorf("trailer counts %d ports, file has %d", p, ports)
	}
	want := fmt.Sprintf("%08x", crc.Sum32())
	if got := t.Get("crc32c").Str; got != want {
		return fmt.Errorf("checksum %q does not match the content (%s)", got, want)
	}
	return nil
}

var errLong = errors.New("line too long")

// readLine appends the next line, with its "\n", to buf; it fails with
// errLong past maxLine bytes and returns io.EOF only when nothing was
// left.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine+1 {
			return buf, errLong
		}
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(buf) > 0:
			return buf, nil
		default:
			return buf, err
		}
	}
}

// Write writes b in the baseline format, hosts in address order and
// ports in protocol and number order. written is the time recorded in the
// header.
func Write(w io.Writer, b *state.Baseline, written string) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(bw, crc)
	buf := make([]byte, 0, 1024)
	buf = append(buf, `{"type":"baseline","version":`...)
	buf = strconv.AppendInt(buf, Version, 10)
	buf = field(buf, "scan_id", b.ScanID)
	buf = field(buf, "time", b.Time)
	buf = field(buf, "written", written)
	buf = append(buf, "}\n"...)
	if _, err := out.Write(buf); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	hosts, ports := 0, 0
	var err error
	services := map[*event.Service][]byte{}
	for _, a := range state.SortedAddrs(b.Hosts) {
		h := b.Hosts[a]
		ip := a.String()
		buf = append(buf[:0], `{"type":"host","ip":`...)
		buf = appendString(buf, ip)
		buf = field(buf, "hostname", h.Hostname)
		buf = field(buf, "state", h.State)
		buf = field(buf, "reason", h.Reason)
		buf = field(buf, "first_seen", h.FirstSeen)
		buf = field(buf, "last_seen", h.LastSeen)
		if buf, err = object(buf, "pending", h.Pending); err != nil {
			return err
		}
		buf = append(buf, `,"ports":`...)
		buf = strconv.AppendInt(buf, int64(len(h.Ports)), 10)
		buf = append(buf, "}\n"...)
		hosts++
		for i := range h.Ports {
			p := &h.Ports[i]
			buf = append(buf, `{"type":"port","ip":`...)
			buf = appendString(buf, ip)
			buf = append(buf, `,"port":`...)
			buf = strconv.AppendUint(buf, uint64(p.Num), 10)
			buf = append(buf, `,"proto":`...)
			buf = appendString(buf, p.Proto)
			buf = append(buf, `,"state":`...)
			buf = appendString(buf, p.State)
			buf = field(buf, "reason", p.Reason)
			buf = field(buf, "first_seen", p.FirstSeen)
			buf = field(buf, "last_seen", p.LastSeen)
			if p.Service != nil {
				// Ports share service values (see state.Decoder), so
				// each is encoded once.
				js, ok := services[p.Service]
				if !ok {
					if js, err = json.Marshal(p.Service); err != nil {
						return fmt.Errorf("write baseline: service: %w", err)
					}
					if len(services) < 1<<16 {
						services[p.Service] = js
					}
				}
				buf = append(buf, `,"service":`...)
				buf = append(buf, js...)
			}
			if p.TLS != nil {
				if buf, err = object(buf, "tls", p.TLS); err != nil {
					return err
				}
			}
			if buf, err = object(buf, "pending", p.Pending); err != nil {
				return err
			}
			buf = append(buf, "}\n"...)
			ports++
			if len(buf) > 128<<10 {
				if _, err := out.Write(buf); err != nil {
					return fmt.Errorf("write baseline: %w", err)
				}
				buf = buf[:0]
			}
		}
		if _, err := out.Write(buf); err != nil {
			return fmt.Errorf("write baseline: %w", err)
		}
		buf = buf[:0]
	}
	buf = append(buf[:0], `{"type":"baseline-end","hosts":`...)
	buf = strconv.AppendInt(buf, int64(hosts), 10)
	buf = append(buf, `,"ports":`...)
	buf = strconv.AppendInt(buf, int64(ports), 10)
	buf = append(buf, `,"crc32c":"`...)
	buf = fmt.Appendf(buf, "%08x", crc.Sum32())
	buf = append(buf, "\"}\n"...)
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}

// field appends ,"key":"value" unless value is empty.
func field(buf []byte, key, value string) []byte {
	if value == "" {
		return buf
	}
	buf = append(buf, ',', '"')
	buf = append(buf, key...)
	buf = append(buf, '"', ':')
	return appendString(buf, value)
}

// object appends ,"key":<JSON of v> unless v is a nil pointer.
func object[T any](buf []byte, key string, v *T) ([]byte, error) {
	if v == nil {
		return buf, nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return buf, fmt.Errorf("write baseline: %s: %w", key, err)
	}
	buf = append(buf, ',', '"')
	buf = append(buf, key...)
	buf = append(buf, '"', ':')
	return append(buf, js...), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\r':
				buf = append(buf, '\\', 'r')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

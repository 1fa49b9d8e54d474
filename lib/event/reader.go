// Package event reads and writes Picket's events: NDJSON, one JSON object
// per line, UTF-8, each line ended by "\n" and carrying a string field
// "type". Stages pass lines they do not handle, and fields they do not
// know, through byte for byte: they read fields with Line.Field and add
// fields to the raw line with SetField instead of decoding and re-encoding
// it.
//
// Line endings are normalised: a line read as "...\r\n" is written back
// as "...\n", and a UTF-8 byte order mark at the start of the input is
// dropped. Every other byte of a line passes through as it was.
package event

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// DefaultMaxLine is the default limit on the length of an input line:
// 1 MiB.
const DefaultMaxLine = 1 << 20

// MinMaxLine and MaxMaxLine bound the line limit a command accepts
// (--max-line): below 64 KiB real events would be refused, above 64 MiB
// one line could take more memory than a stage should.
const (
	MinMaxLine = 64 << 10
	MaxMaxLine = 64 << 20
)

// readSize is the size of a Reader's read buffer. Longer lines are
// gathered in a buffer that grows as they need, up to MaxLine, so a large
// limit costs memory only when such lines come.
const readSize = 64 << 10

// slack is what a line may hold beyond MaxLine because it does not count:
// a "\r\n" and, on line 1, a byte order mark.
const slack = 2 + 3

// bom is the UTF-8 encoding of U+FEFF, the byte order mark some Windows
// tools put at the start of a text file.
var bom = []byte{0xef, 0xbb, 0xbf}

// Line is one valid input event: a JSON object on one line with a
// non-empty string field "type".
type Line struct {
	// Raw holds the line's bytes as read, without the terminating "\n",
	// without a single "\r" before it (so CRLF input is written back as
	// LF) and, on line 1, without a UTF-8 byte order mark. Any other
	// whitespace around the object is kept. Raw is a fresh slice for
	// every line: it stays valid after later calls to Next and may be
	// handed to another goroutine.
	Raw []byte
	// Type is the value of the "type" field.
	Type string
	// Num is the 1-based number of the line in its input, counting blank
	// and bad lines.
	Num int
}

// Field returns the value of the top-level field key. The key is taken
// literally, as SetField takes it: "a.b" is the field named a.b, not b
// inside a, and '*', '?', '#', '@' and '|' mean nothing special. The
// result does not exist when the line has no such field.
func (l Line) Field(key string) gjson.Result {
	start, end, ok := fieldValue(l.Raw, key)
	if !ok {
		return gjson.Result{}
	}
	return gjson.ParseBytes(l.Raw[start:end])
}

// Get returns the value at the gjson path in the line, for reaching
// inside nested values ("service.name"). Path syntax applies: to read a
// top-level field by its name, use Field.
func (l Line) Get(path string) gjson.Result { return gjson.GetBytes(l.Raw, path) }

// LineError describes one bad input line.
type LineError struct {
	// Input names the input as the caller gave it, e.g. "-" for stdin or a
	// file path.
	Input string
	// Num is the 1-based line number.
	Num int
	// Reason says what is wrong, e.g. `missing "type" field`.
	Reason string
}

func (e *LineError) Error() string {
	return e.Input + ":" + strconv.Itoa(e.Num) + ": " + e.Reason
}

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// MaxLine is the longest line accepted, in bytes before the "\n";
	// a "\r" before the "\n" does not count, nor a byte order mark on
	// line 1. 0 means DefaultMaxLine. Commands keep it between MinMaxLine
	// and MaxMaxLine; memory for it is taken only as long lines come.
	MaxLine int
	// Strict makes Next return a bad line as a *LineError instead of
	// reporting and skipping it.
	Strict bool
	// Report, if not nil, is called for each bad line skipped in
	// non-strict mode; commands log it to stderr. Bad lines are counted
	// either way.
	Report func(*LineError)
	// Notice, if not nil, is called with a one-line message when the
	// Reader changes a line beyond its line ending, which today is only
	// when it drops a byte order mark from line 1 (so once at most).
	Notice func(msg string)
}

// Reader reads NDJSON events. Blank lines (only spaces, tabs and "\r")
// are skipped silently: they carry nothing and tools such as echo produce
// them. Bad lines (not UTF-8, not a JSON object, nested too deep, a
// top-level key given twice, longer than MaxLine, or without a non-empty
// string "type") are counted and either skipped or returned as errors;
// see ReaderOptions.Strict. A final line without "\n" is read like any
// other. A UTF-8 byte order mark is accepted at the start of line 1 and
// dropped (ReaderOptions.Notice says so); anywhere else it makes the line
// bad.
//
// Memory use is bounded by MaxLine: an over-long line is discarded as it
// is read, never held whole. A Reader is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	long    []byte // gathers a line longer than the read buffer
	name    string
	opts    ReaderOptions
	num     int
	skipped int
	first   int
	err     error
}

// NewReader returns a Reader of r. name identifies the input in errors
// and summaries ("-" for stdin, or a path).
func NewReader(r io.Reader, name string, opts ReaderOptions) *Reader {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	// Room for a line of MaxLine bytes with what does not count, or
	// readSize; bufio never uses less than 16 bytes.
	size := max(min(opts.MaxLine+slack, readSize), 16)
	return &Reader{br: bufio.NewReaderSize(r, size), name: name, opts: opts}
}

// Next returns the next valid line, or io.EOF after the last one. In
// strict mode a bad line is returned as a *LineError; calling Next again
// continues with the line after it. A read error is returned wrapped with
// the input name, and again on every later call.
func (r *Reader) Next() (Line, error) {
	for r.err == nil {
		buf, long, ok := r.readLine()
		if !ok {
			break
		}
		r.num++
		if n := len(buf); n > 0 && buf[n-1] == '\r' {
			buf = buf[:n-1]
		}
		if r.num == 1 && bytes.HasPrefix(buf, bom) {
			buf = buf[len(bom):]
			if r.opts.Notice != nil {
				r.opts.Notice(r.name + ":1: dropped the UTF-8 byte order mark at the start of the input")
			}
		}
		if long || len(buf) > r.opts.MaxLine {
			if lerr := r.bad(r.tooLong()); lerr != nil {
				return Line{}, lerr
			}
			continue
		}
		if isBlank(buf) {
			continue
		}
		typ, reason := validate(buf)
		if reason != "" {
			if lerr := r.bad(reason); lerr != nil {
				return Line{}, lerr
			}
			continue
		}
		raw := make([]byte, len(buf))
		copy(raw, buf)
		return Line{Raw: raw, Type: typ, Num: r.num}, nil
	}
	return Line{}, r.err
}

func (r *Reader) tooLong() string {
	return "line longer than " + strconv.Itoa(r.opts.MaxLine) + " bytes"
}

// readLine reads one line and returns it without its "\n". The bytes are
// valid until the next read. long reports a line too long to keep: its
// bytes are dropped as they are read, and line is empty. ok is false when
// there is no line left; r.err then says why (io.EOF or a read error).
func (r *Reader) readLine() (line []byte, long, ok bool) {
	r.long = r.long[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		if err == nil && len(r.long) == 0 && !long {
			// The common case: the whole line is in the read buffer.
			return frag[:len(frag)-1], false, true
		}
		if !long {
			if len(r.long)+len(frag) > r.opts.MaxLine+slack {
				// Over the limit whatever does not count: stop keeping
				// it.
				long = true
				r.long = r.long[:0]
			} else {
				r.long = r.grow(len(frag))
				r.long = append(r.long, frag...)
			}
		}
		switch {
		case err == nil:
			if long {
				return nil, true, true
			}
			return r.long[:len(r.long)-1], false, true
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			// Sticky: reading on after EOF would block on a terminal.
			r.err = io.EOF
			if !long && len(r.long) == 0 {
				return nil, false, false
			}
			return r.long, long, true
		default:
			r.err = fmt.Errorf("read %s: %w", r.name, err)
			return nil, false, false
		}
	}
}

// grow makes room for n more bytes in r.long, doubling its capacity but
// never past what a line at the limit needs.
func (r *Reader) grow(n int) []byte {
	need := len(r.long) + n
	if need <= cap(r.long) {
		return r.long
	}
	c := min(max(2*cap(r.long), need, readSize), r.opts.MaxLine+slack)
	out := make([]byte, len(r.long), c)
	copy(out, r.long)
	return out
}

// bad counts a bad line at r.num. In strict mode it returns the error for
// Next to return; otherwise it reports it and returns nil.
func (r *Reader) bad(reason string) *LineError {
	r.skipped++
	if r.first == 0 {
		r.first = r.num
	}
	lerr := &LineError{Input: r.name, Num: r.num, Reason: reason}
	if r.opts.Strict {
		return lerr
	}
	if r.opts.Report != nil {
		r.opts.Report(lerr)
	}
	return nil
}

// Skipped returns the number of bad lines seen so far. In strict mode these
// are the lines returned as errors.
func (r *Reader) Skipped() int { return r.skipped }

// Summary describes the bad lines seen so far in one line for the
// at-exit message on stderr, e.g. "-: skipped 3 bad lines (first at line
// 7)". It returns "" when there were none.
func (r *Reader) Summary() string {
	switch r.skipped {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("%s: skipped 1 bad line (line %d)", r.name, r.first)
	default:
		return fmt.Sprintf("%s: skipped %d bad lines (first at line %d)", r.name, r.skipped, r.first)
	}
}

func isBlank(b []byte) bool {
	return skipSpace(b, 0) == len(b)
}

// validate checks that line is an event and returns its type, or the reason
// it is not one.
func validate(line []byte) (typ, reason string) {
	if !utf8.Valid(line) {
		return "", "not valid UTF-8"
	}
	i := skipSpace(line, 0)
	switch {
	case bytes.HasPrefix(line[i:], bom):
		return "", "starts with a UTF-8 byte order mark (accepted on line 1 only)"
	case i == len(line) || line[i] != '{':
		return "", "not a JSON object"
	case tooDeep(line):
		return "", "nested deeper than " + strconv.Itoa(maxDepth) + " levels"
	case !gjson.ValidBytes(line):
		return "", "not a JSON object"
	}
	var (
		seen      keySet
		typeStart = -1
		typeEnd   int
		dupKey    []byte
	)
	eachField(line, func(key []byte, start, end int) bool {
		k := key
		if bytes.IndexByte(key, '\\') >= 0 {
			k = []byte(unquote(key))
		}
		if seen.add(k) {
			dupKey = k
			return false
		}
		if string(k) == "type" {
			typeStart, typeEnd = start, end
		}
		return true
	})
	if dupKey != nil {
		return "", "key " + strconv.Quote(string(dupKey)) + " appears twice"
	}
	if typeStart < 0 {
		return "", `missing "type" field`
	}
	v := line[typeStart:typeEnd]
	switch {
	case v[0] != '"':
		return "", `"type" field is not a string`
	case len(v) == 2:
		return "", `"type" field is empty`
	case bytes.IndexByte(v, '\\') >= 0:
		t := unquote(v[1 : len(v)-1])
		if t == "" {
			return "", `"type" field is empty`
		}
		return internType(t), ""
	}
	return internType(string(v[1 : len(v)-1])), ""
}

// unquote decodes the body of a valid JSON string (without its quotes).
func unquote(body []byte) string {
	q := make([]byte, 0, len(body)+2)
	q = append(q, '"')
	q = append(q, body...)
	q = append(q, '"')
	return gjson.ParseBytes(q).Str
}

// keySet remembers the top-level keys of one line to find one given
// twice. A line's first keys are compared one by one with no allocation;
// past smallKeys of them a map takes over, so a line of many keys costs
// linear time, not quadratic.
type keySet struct {
	small [smallKeys][]byte
	n     int
	seen  uint64 // a bit per hash of the keys in small
	big   map[string]struct{}
}

const smallKeys = 16

// add records k and reports whether it was there already.
func (s *keySet) add(k []byte) bool {
	if s.big != nil {
		if _, ok := s.big[string(k)]; ok {
			return true
		}
		s.big[string(k)] = struct{}{}
		return false
	}
	// Most keys of a line differ in length or in their first or last
	// byte: a bit per such hash spares comparing them one by one.
	h := uint(len(k)) * 7
	if len(k) > 0 {
		h += uint(k[0])*3 + uint(k[len(k)-1])
	}
	if bit := uint64(1) << (h & 63); s.seen&bit == 0 {
		s.seen |= bit
	} else {
		for _, p := range s.small[:s.n] {
			if bytes.Equal(p, k) {
				return true
			}
		}
	}
	if s.n < smallKeys {
		s.small[s.n] = k
		s.n++
		return false
	}
	s.big = make(map[string]struct{}, 2*smallKeys)
	for _, p := range s.small[:s.n] {
		s.big[string(p)] = struct{}{}
	}
	s.big[string(k)] = struct{}{}
	return false
}

// internType returns s without sharing its memory: the known types come
// from constants, others are copied.
func internType(s string) string {
	switch s {
	case TypePort:
		return TypePort
	case TypeHost:
		return TypeHost
	case TypeScan:
		return TypeScan
	case TypeChange:
		return TypeChange
	}
	return strings.Clone(s)
}

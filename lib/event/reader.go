// Package event reads and writes Picket's events: NDJSON, one JSON object
// per line, UTF-8, each line ended by "\n" and carrying a string field
// "type". Stages pass lines they do not handle, and fields they do not
// know, through byte for byte: they read fields with gjson and add fields
// to the raw line with SetField instead of decoding and re-encoding it.
package event

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// DefaultMaxLine is the default limit on the length of an input line:
// 1 MiB.
const DefaultMaxLine = 1 << 20

// Line is one valid input event: a JSON object on one line with a
// non-empty string field "type".
type Line struct {
	// Raw holds the line's bytes as read, without the terminating "\n"
	// and without a single "\r" before it, so CRLF input is written back
	// as LF. Any other whitespace around the object is kept. Raw is a
	// fresh slice for every line: it stays valid after later calls to
	// Next and may be handed to another goroutine.
	Raw []byte
	// Type is the value of the "type" field.
	Type string
	// Num is the 1-based number of the line in its input, counting blank
	// and bad lines.
	Num int
}

// Get returns the value at the gjson path in the line.
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
	// MaxLine is the longest line accepted, in bytes before the "\n"
	// (a "\r" before it counts). 0 means DefaultMaxLine.
	MaxLine int
	// Strict makes Next return a bad line as a *LineError instead of
	// reporting and skipping it.
	Strict bool
	// Report, if not nil, is called for each bad line skipped in
	// non-strict mode; commands log it to stderr. Bad lines are counted
	// either way.
	Report func(*LineError)
}

// Reader reads NDJSON events. Blank lines (only spaces, tabs and "\r")
// are skipped silently: they carry nothing and tools such as echo produce
// them. Bad lines (not UTF-8, not a JSON object, nested too deep, longer
// than MaxLine, or without a non-empty string "type") are counted and
// either skipped or returned as errors; see ReaderOptions.Strict. A final
// line without "\n" is read like any other.
//
// Memory use is bounded by MaxLine: an over-long line is discarded as it
// is read, never held whole. A Reader is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
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
	// One byte more than the limit so a line of exactly MaxLine bytes
	// fits together with its "\n". bufio never uses less than 16 bytes.
	size := max(opts.MaxLine+1, 16)
	return &Reader{br: bufio.NewReaderSize(r, size), name: name, opts: opts}
}

// Next returns the next valid line, or io.EOF after the last one. In
// strict mode a bad line is returned as a *LineError; calling Next again
// continues with the line after it. A read error is returned wrapped with
// the input name, and again on every later call.
func (r *Reader) Next() (Line, error) {
	for r.err == nil {
		buf, err := r.br.ReadSlice('\n')
		switch {
		case err == nil:
		case err == io.EOF:
			// Sticky: reading on after EOF would block on a terminal.
			r.err = io.EOF
			if len(buf) == 0 {
				return Line{}, io.EOF
			}
		case errors.Is(err, bufio.ErrBufferFull):
			r.num++
			if err := r.discard(); err != nil {
				r.err = err
				return Line{}, err
			}
			if lerr := r.bad(r.tooLong()); lerr != nil {
				return Line{}, lerr
			}
			continue
		default:
			r.err = fmt.Errorf("read %s: %w", r.name, err)
			return Line{}, r.err
		}
		r.num++
		if n := len(buf); n > 0 && buf[n-1] == '\n' {
			buf = buf[:n-1]
		}
		if len(buf) > r.opts.MaxLine {
			if lerr := r.bad(r.tooLong()); lerr != nil {
				return Line{}, lerr
			}
			continue
		}
		if n := len(buf); n > 0 && buf[n-1] == '\r' {
			buf = buf[:n-1]
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

// discard drops the rest of an over-long line up to and including its
// "\n". Reaching the end of the input ends the reading.
func (r *Reader) discard() error {
	for {
		_, err := r.br.ReadSlice('\n')
		switch {
		case err == nil:
			return nil
		case err == io.EOF:
			r.err = io.EOF
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return fmt.Errorf("read %s: %w", r.name, err)
		}
	}
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
	if checkObject(line) != nil {
		return "", "not a JSON object"
	}
	// The unsafe string avoids copying the line; nothing derived from it
	// outlives this call (see internType).
	t := gjson.Get(unsafe.String(unsafe.SliceData(line), len(line)), "type")
	switch {
	case !t.Exists():
		return "", `missing "type" field`
	case t.Type != gjson.String:
		return "", `"type" field is not a string`
	case t.Str == "":
		return "", `"type" field is empty`
	}
	return internType(t.Str), ""
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

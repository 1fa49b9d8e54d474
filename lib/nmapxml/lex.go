package nmapxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// The lexer is a small streaming XML tokenizer for Nmap's output, about
// ten times faster than encoding/xml on it: it yields start tags with
// their attributes, end tags and text, skips comments, processing
// instructions and the DOCTYPE, decodes the five predefined entities and
// character references, and checks that attribute syntax is sound. It
// keeps no tree; the reader checks nesting. Every token is bounded by
// maxToken bytes, so a broken file cannot make it buffer without end.

const maxToken = 1 << 20

type tokKind uint8

const (
	tokStart tokKind = iota + 1
	tokEnd
	tokText
)

type attrKV struct {
	name, value []byte
}

type lexer struct {
	r     io.Reader
	buf   []byte
	pos   int
	eof   bool
	line  int // line of buf[pos], from 1
	err   error
	kind  tokKind
	name  []byte
	attrs []attrKV
	text  []byte
	// selfClosed is set after a start tag written as <name/>: the next
	// token is its end tag.
	selfClosed bool
}

// errUnexpectedEOF reports a document that ended inside a construct.
var errUnexpectedEOF = errors.New("unexpected EOF")

// syntaxError is a problem at a line of the document.
type syntaxError struct {
	line int
	msg  string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func newLexer(r io.Reader) *lexer {
	return &lexer{r: r, buf: make([]byte, 0, 256<<10), line: 1}
}

func (l *lexer) fail(msg string) error {
	return &syntaxError{line: l.line, msg: msg}
}

// fill reads more input, keeping buf[pos:]. It returns false at the end
// of the input.
func (l *lexer) fill() (bool, error) {
	if l.eof {
		return false, nil
	}
	if l.pos > 0 {
		n := copy(l.buf, l.buf[l.pos:])
		l.buf = l.buf[:n]
		l.pos = 0
	}
	if len(l.buf) == cap(l.buf) {
		if cap(l.buf) >= maxToken+64<<10 {
			return false, l.fail(fmt.Sprintf("a token longer than %d bytes", maxToken))
		}
		nb := make([]byte, len(l.buf), 2*cap(l.buf))
		copy(nb, l.buf)
		l.buf = nb
	}
	n, err := l.r.Read(l.buf[len(l.buf):cap(l.buf)])
	l.buf = l.buf[:len(l.buf)+n]
	if err == io.EOF {
		l.eof = true
		return n > 0, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// advance consumes n bytes, counting lines.
func (l *lexer) advance(n int) {
	l.line += bytes.Count(l.buf[l.pos:l.pos+n], []byte{'\n'})
	l.pos += n
}

// find returns the index, relative to pos, of sep at or after from,
// reading more input as needed.
func (l *lexer) find(sep []byte, from int) (int, error) {
	for {
		if i := bytes.Index(l.buf[l.pos+from:], sep); i >= 0 {
			return from + i, nil
		}
		from = max(0, len(l.buf)-l.pos-len(sep)+1)
		more, err := l.fill()
		if err != nil {
			return 0, err
		}
		if !more {
			return 0, errUnexpectedEOF
		}
	}
}

// next reads the next token; it returns io.EOF at the end of the input.
func (l *lexer) next() error {
	if l.selfClosed {
		l.selfClosed = false
		l.kind = tokEnd
		return nil
	}
	for {
		if l.pos >= len(l.buf) {
			more, err := l.fill()
			if err != nil {
				return err
			}
			if !more {
				return io.EOF
			}
		}
		if l.buf[l.pos] != '<' {
			return l.lexText()
		}
		// Markup: make sure enough is buffered to tell which.
		for len(l.buf)-l.pos < 9 && !l.eof {
			if _, err := l.fill(); err != nil {
				return err
			}
		}
		rest := l.buf[l.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			i, err := l.find([]byte("?>"), 2)
			if err != nil {
				return err
			}
			l.advance(i + 2)
		case bytes.HasPrefix(rest, []byte("<!--")):
			i, err := l.find([]byte("-->"), 4)
			if err != nil {
				return err
			}
			l.advance(i + 3)
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i, err := l.find([]byte("]]>"), 9)
			if err != nil {
				return err
			}
			l.kind = tokText
			l.text = append(l.text[:0], l.buf[l.pos+9:l.pos+i]...)
			l.advance(i + 3)
			return nil
		case bytes.HasPrefix(rest, []byte("<!")):
			if err := l.skipDecl(); err != nil {
				return err
			}
		case bytes.HasPrefix(rest, []byte("</")):
			i, err := l.find([]byte(">"), 2)
			if err != nil {
				return err
			}
			name := trimRight(l.buf[l.pos+2 : l.pos+i])
			if !validName(name) {
				return l.fail("bad end tag")
			}
			l.kind = tokEnd
			l.name = append(l.name[:0], name...)
			l.advance(i + 1)
			return nil
		default:
			return l.lexStart()
		}
	}
}

// skipDecl skips <!DOCTYPE ...> and other declarations the way
// encoding/xml does: the byte after "<!" belongs to the declaration
// whatever it is, quoted text is skipped, and angle brackets nest.
func (l *lexer) skipDecl() error {
	depth := 0
	var quote byte
	for i := 3; ; i++ {
		for l.pos+i >= len(l.buf) {
			more, err := l.fill()
			if err != nil {
				return err
			}
			if !more {
				return errUnexpectedEOF
			}
		}
		if i > maxToken {
			return l.fail("declaration too long")
		}
		c := l.buf[l.pos+i]
		switch {
		case quote == 0 && c == '>' && depth == 0:
			l.advance(i + 1)
			return nil
		case c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			depth--
		case c == '<':
			depth++
		}
	}
}

func (l *lexer) lexText() error {
	i, err := l.find([]byte("<"), 0)
	if err == errUnexpectedEOF {
		// Text at the very end of the document (trailing newlines).
		i, err = len(l.buf)-l.pos, nil
	}
	if err != nil {
		return err
	}
	raw := l.buf[l.pos : l.pos+i]
	l.kind = tokText
	l.text, err = l.unescape(l.text[:0], raw)
	if err != nil {
		return err
	}
	l.advance(i)
	return nil
}

// lexStart reads a start tag: the whole tag is buffered first, quotes
// respected, then split into its name and attributes.
func (l *lexer) lexStart() error {
	end := -1
	for i := 1; end < 0; {
		for l.pos+i >= len(l.buf) {
			more, err := l.fill()
			if err != nil {
				return err
			}
			if !more {
				return errUnexpectedEOF
			}
		}
		switch c := l.buf[l.pos+i]; c {
		case '"', '\'':
			j := bytes.IndexByte(l.buf[l.pos+i+1:], c)
			if j < 0 {
				// Not all of the value is buffered yet.
				more, err := l.fill()
				if err != nil {
					return err
				}
				if !more {
					return errUnexpectedEOF
				}
				continue
			}
			i += j + 2
		case '>':
			end = i
		case '<':
			return l.fail("'<' inside a tag")
		default:
			i++
		}
	}
	tag := l.buf[l.pos+1 : l.pos+end]
	self := len(tag) > 0 && tag[len(tag)-1] == '/'
	if self {
		tag = tag[:len(tag)-1]
	}
	n := 0
	for n < len(tag) && !isSpace(tag[n]) {
		n++
	}
	if !validName(tag[:n]) {
		return l.fail(fmt.Sprintf("bad tag name %q", clip(string(tag[:n]))))
	}
	l.kind = tokStart
	l.name = append(l.name[:0], tag[:n]...)
	l.attrs = l.attrs[:0]
	rest := tag[n:]
	for {
		rest = trimLeft(rest)
		if len(rest) == 0 {
			break
		}
		eq := bytes.IndexByte(rest, '=')
		if eq < 0 {
			return l.fail("attribute without a value")
		}
		name := trimRight(rest[:eq])
		if !validName(name) {
			return l.fail(fmt.Sprintf("bad attribute name %q", clip(string(name))))
		}
		rest = trimLeft(rest[eq+1:])
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return l.fail("attribute value not quoted")
		}
		q := bytes.IndexByte(rest[1:], rest[0])
		if q < 0 {
			return l.fail("unterminated attribute value")
		}
		raw := rest[1 : 1+q]
		if bytes.IndexByte(raw, '<') >= 0 {
			return l.fail("'<' in an attribute value")
		}
		val := raw
		if bytes.IndexByte(raw, '&') >= 0 {
			v, err := l.unescape(nil, raw)
			if err != nil {
				return err
			}
			val = v
		}
		l.attrs = append(l.attrs, attrKV{name: name, value: val})
		rest = rest[2+q:]
	}
	l.selfClosed = self
	// The tag's bytes stay valid until the next call: consume them now
	// but do not let fill move them before the caller is done, which
	// holds because fill runs only inside next.
	l.advance(end + 1)
	return nil
}

// attr returns the value of the attribute named name in the current start
// tag, or nil. It is valid until the next token.
func (l *lexer) attr(name string) []byte {
	for i := range l.attrs {
		if string(l.attrs[i].name) == name {
			return l.attrs[i].value
		}
	}
	return nil
}

func trimLeft(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':', c >= 0x80:
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return utf8.Valid(b)
}

// unescape appends raw to dst with entities and character references
// decoded.
func (l *lexer) unescape(dst, raw []byte) ([]byte, error) {
	for {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 || semi > 12 {
			return nil, l.fail("bad entity reference")
		}
		ent := string(raw[1:semi])
		switch ent {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			if len(ent) < 2 || ent[0] != '#' {
				return nil, l.fail(fmt.Sprintf("unknown entity &%s;", clip(ent)))
			}
			var n uint64
			var err error
			if ent[1] == 'x' {
				n, err = strconv.ParseUint(ent[2:], 16, 32)
			} else {
				n, err = strconv.ParseUint(ent[1:], 10, 32)
			}
			if err != nil || n == 0 || n > utf8.MaxRune || !utf8.ValidRune(rune(n)) {
				return nil, l.fail(fmt.Sprintf("bad character reference &%s;", clip(ent)))
			}
			dst = utf8.AppendRune(dst, rune(n))
		}
		raw = raw[semi+1:]
	}
}

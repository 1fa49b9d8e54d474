package notify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Filter is a compiled --where expression: a boolean test over the fields
// of one JSON event. The grammar, from loosest to tightest binding:
//
//	expr    = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | primary
//	primary = "(" expr ")" | operand [ op operand ]
//	op      = "==" | "!=" | "<" | "<=" | ">" | ">="
//	operand = path | string | number | true | false | null
//
// A path is a gjson path (severity, after.service.name, before.tls.sans.0)
// written with letters, digits and _ . - # * ? @, or any gjson path
// between backquotes. Strings are in double or single quotes with JSON's
// backslash escapes. An operand alone is true when it exists and is not
// false, null, 0 or "". Comparisons of numbers are numeric, of strings
// lexical; a missing field equals only null, and any ordering against it
// (or between a number and a string) is false.
type Filter struct {
	src  string
	root node
}

// ParseFilter compiles a --where expression. The error names the column
// where parsing stopped.
func ParseFilter(src string) (*Filter, error) {
	p := &parser{src: src}
	p.next()
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind == tEOF {
		return nil, errors.New("where: empty expression")
	}
	n := p.parseOr(0)
	if p.err == nil && p.tok.kind != tEOF {
		p.fail("unexpected %s", p.tok.describe())
	}
	if p.err != nil {
		return nil, p.err
	}
	return &Filter{src: src, root: n}, nil
}

// String returns the expression as given.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Match reports whether the JSON event raw passes the filter. A nil
// Filter passes everything.
func (f *Filter) Match(raw []byte) bool {
	if f == nil {
		return true
	}
	return f.root.eval(raw)
}

// maxDepth bounds nesting, so a hostile expression cannot exhaust the
// stack of the recursive parser.
const maxDepth = 64

type tokKind int

const (
	tEOF tokKind = iota
	tPath
	tString
	tNumber
	tTrue
	tFalse
	tNull
	tOp // comparison operator
	tAnd
	tOr
	tNot
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string  // path, decoded string, operator
	num  float64 // for tNumber
	pos  int     // 1-based column
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return strconv.Quote(t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

type parser struct {
	src string
	i   int
	tok token
	err error
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("where: column %d: %s", p.tok.pos, fmt.Sprintf(format, args...))
	}
	p.tok = token{kind: tEOF, pos: p.tok.pos}
}

func isPathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '#' || c == '*' || c == '?' || c == '@'
}

// next reads the next token into p.tok.
func (p *parser) next() {
	if p.err != nil {
		return
	}
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t' || p.src[p.i] == '\n' || p.src[p.i] == '\r') {
		p.i++
	}
	start := p.i
	p.tok = token{pos: start + 1}
	if p.i >= len(p.src) {
		p.tok.kind = tEOF
		return
	}
	c := p.src[p.i]
	two := ""
	if p.i+1 < len(p.src) {
		two = p.src[p.i : p.i+2]
	}
	switch {
	case two == "&&":
		p.i += 2
		p.tok.kind, p.tok.text = tAnd, two
	case two == "||":
		p.i += 2
		p.tok.kind, p.tok.text = tOr, two
	case two == "==" || two == "!=" || two == "<=" || two == ">=":
		p.i += 2
		p.tok.kind, p.tok.text = tOp, two
	case c == '<' || c == '>':
		p.i++
		p.tok.kind, p.tok.text = tOp, string(c)
	case c == '!':
		p.i++
		p.tok.kind, p.tok.text = tNot, "!"
	case c == '(':
		p.i++
		p.tok.kind, p.tok.text = tLParen, "("
	case c == ')':
		p.i++
		p.tok.kind, p.tok.text = tRParen, ")"
	case c == '"' || c == '\'':
		p.lexString(c)
	case c == '`':
		end := strings.IndexByte(p.src[p.i+1:], '`')
		if end < 0 {
			p.fail("unterminated `path`")
			return
		}
		p.tok.kind, p.tok.text = tPath, p.src[p.i+1:p.i+1+end]
		p.i += end + 2
		if p.tok.text == "" {
			p.fail("empty `path`")
		}
	case c == '-' || c == '+' || c >= '0' && c <= '9':
		p.lexNumber()
	case isPathByte(c):
		for p.i < len(p.src) && isPathByte(p.src[p.i]) {
			p.i++
		}
		word := p.src[start:p.i]
		switch word {
		case "true":
			p.tok.kind = tTrue
		case "false":
			p.tok.kind = tFalse
		case "null":
			p.tok.kind = tNull
		default:
			p.tok.kind = tPath
		}
		p.tok.text = word
	default:
		p.fail("unexpected character %q", rune(c))
	}
}

func (p *parser) lexNumber() {
	start := p.i
	if p.src[p.i] == '-' || p.src[p.i] == '+' {
		p.i++
	}
	for p.i < len(p.src) && (p.src[p.i] >= '0' && p.src[p.i] <= '9' || p.src[p.i] == '.' ||
		p.src[p.i] == 'e' || p.src[p.i] == 'E' ||
		(p.src[p.i] == '-' || p.src[p.i] == '+') && (p.src[p.i-1] == 'e' || p.src[p.i-1] == 'E')) {
		p.i++
	}
	text := p.src[start:p.i]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		p.tok.pos = start + 1
		p.fail("bad number %q", text)
		return
	}
	p.tok.kind, p.tok.text, p.tok.num = tNumber, text, f
}

func (p *parser) lexString(quote byte) {
	var b strings.Builder
	p.i++
	for {
		if p.i >= len(p.src) {
			p.fail("unterminated string")
			return
		}
		c := p.src[p.i]
		switch {
		case c == quote:
			p.i++
			p.tok.kind, p.tok.text = tString, b.String()
			return
		case c == '\\':
			if p.i+1 >= len(p.src) {
				p.fail("unterminated string")
				return
			}
			e := p.src[p.i+1]
			p.i += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'u':
				if p.i+4 > len(p.src) {
					p.fail("bad \\u escape")
					return
				}
				v, err := strconv.ParseUint(p.src[p.i:p.i+4], 16, 32)
				if err != nil {
					p.fail("bad \\u escape")
					return
				}
				b.WriteRune(rune(v))
				p.i += 4
			case '\\', '"', '\'', '/':
				b.WriteByte(e)
			default:
				p.fail("unknown escape \\%c", e)
				return
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
}

func (p *parser) parseOr(depth int) node {
	l := p.parseAnd(depth)
	for p.tok.kind == tOr {
		p.next()
		r := p.parseAnd(depth)
		l = orNode{l, r}
	}
	return l
}

func (p *parser) parseAnd(depth int) node {
	l := p.parseUnary(depth)
	for p.tok.kind == tAnd {
		p.next()
		r := p.parseUnary(depth)
		l = andNode{l, r}
	}
	return l
}

func (p *parser) parseUnary(depth int) node {
	if depth > maxDepth {
		p.fail("expression nested deeper than %d", maxDepth)
		return constNode(false)
	}
	if p.tok.kind == tNot {
		p.next()
		return notNode{p.parseUnary(depth + 1)}
	}
	return p.parsePrimary(depth)
}

func (p *parser) parsePrimary(depth int) node {
	if p.tok.kind == tLParen {
		p.next()
		n := p.parseOr(depth + 1)
		if p.tok.kind != tRParen {
			p.fail("want ) before %s", p.tok.describe())
			return constNode(false)
		}
		p.next()
		return n
	}
	l, ok := p.operand()
	if !ok {
		return constNode(false)
	}
	if p.tok.kind != tOp {
		return truthNode{l}
	}
	op := p.tok.text
	p.next()
	r, ok := p.operand()
	if !ok {
		return constNode(false)
	}
	return cmpNode{op: op, l: l, r: r}
}

func (p *parser) operand() (operand, bool) {
	t := p.tok
	var o operand
	switch t.kind {
	case tPath:
		o = operand{path: t.text}
	case tString:
		o = operand{lit: gjson.Result{Type: gjson.String, Str: t.text}, isLit: true}
	case tNumber:
		o = operand{lit: gjson.Result{Type: gjson.Number, Num: t.num}, isLit: true}
	case tTrue:
		o = operand{lit: gjson.Result{Type: gjson.True}, isLit: true}
	case tFalse:
		o = operand{lit: gjson.Result{Type: gjson.False}, isLit: true}
	case tNull:
		o = operand{lit: gjson.Result{Type: gjson.Null}, isLit: true, null: true}
	default:
		p.fail("want a field or a value, got %s", t.describe())
		return operand{}, false
	}
	p.next()
	return o, true
}

type node interface{ eval(raw []byte) bool }

type operand struct {
	path  string
	lit   gjson.Result
	isLit bool
	null  bool
}

func (o operand) value(raw []byte) gjson.Result {
	if o.isLit {
		return o.lit
	}
	return gjson.GetBytes(raw, o.path)
}

type constNode bool

func (c constNode) eval([]byte) bool { return bool(c) }

type orNode struct{ l, r node }

func (n orNode) eval(raw []byte) bool { return n.l.eval(raw) || n.r.eval(raw) }

type andNode struct{ l, r node }

func (n andNode) eval(raw []byte) bool { return n.l.eval(raw) && n.r.eval(raw) }

type notNode struct{ n node }

func (n notNode) eval(raw []byte) bool { return !n.n.eval(raw) }

type truthNode struct{ o operand }

func (n truthNode) eval(raw []byte) bool {
	v := n.o.value(raw)
	switch v.Type {
	case gjson.Null, gjson.False:
		return false
	case gjson.Number:
		return v.Num != 0
	case gjson.String:
		return v.Str != ""
	default:
		return true
	}
}

type cmpNode struct {
	op   string
	l, r operand
}

// kindOf folds gjson's types into the comparable kinds: missing and null
// are one kind, true and false another.
func kindOf(v gjson.Result) int {
	switch v.Type {
	case gjson.Null:
		return 0
	case gjson.False, gjson.True:
		return 1
	case gjson.Number:
		return 2
	case gjson.String:
		return 3
	default: // object or array
		return 4
	}
}

func (n cmpNode) eval(raw []byte) bool {
	a, b := n.l.value(raw), n.r.value(raw)
	ka, kb := kindOf(a), kindOf(b)
	if ka != kb {
		return n.op == "!="
	}
	var c int
	switch ka {
	case 0:
		c = 0
	case 1:
		if a.Type != b.Type {
			c = 1
		}
		if n.op != "==" && n.op != "!=" {
			return false
		}
	case 2:
		switch {
		case a.Num < b.Num:
			c = -1
		case a.Num > b.Num:
			c = 1
		}
	case 3:
		c = strings.Compare(a.Str, b.Str)
	default:
		c = strings.Compare(a.Raw, b.Raw)
		if n.op != "==" && n.op != "!=" {
			return false
		}
	}
	if ka == 0 && n.op != "==" && n.op != "!=" {
		return false
	}
	switch n.op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	default: // ">="
		return c >= 0
	}
}

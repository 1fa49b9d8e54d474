package service

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// DefaultMatchTimeout bounds one match of a pattern that needs the
// backtracking engine.
const DefaultMatchTimeout = 50 * time.Millisecond

// Reasons a match line is skipped, as counted in LoadStats.Reasons.
const (
	reasonSyntax  = "bad match syntax"
	reasonCompile = "regex does not compile"
)

// matcher is a compiled pattern run over a banner in Latin-1 form (one
// rune per byte).
type matcher interface {
	// find returns the groups of the first match (group 0 is the whole
	// match), nil when there is none. An error means the match was
	// abandoned (a timeout); it counts as no match.
	find(text string) ([]string, error)
	backtracking() bool
}

// re2Matcher runs a pattern with Go's regexp. The pattern's syntax is
// checked when the file loads, but it is compiled only when first needed,
// and not at all while answers fail its literal prefix: most of Nmap's
// thousands of patterns start with ^ and a literal, so an answer rules
// most of them out with a few byte comparisons.
type re2Matcher struct {
	src    string
	prefix []rune // the literal the pattern must start with, if anchored
	fold   bool   // compare prefix case-insensitively
	once   sync.Once
	re     *regexp.Regexp
}

func (m *re2Matcher) find(text string) ([]string, error) {
	if !hasPrefixRunes(text, m.prefix, m.fold) {
		return nil, nil
	}
	m.once.Do(func() {
		// The syntax was accepted at load time, so this compiles; if
		// it ever did not, the pattern simply never matches.
		m.re, _ = regexp.Compile(m.src)
	})
	if m.re == nil {
		return nil, nil
	}
	return m.re.FindStringSubmatch(text), nil
}

func (*re2Matcher) backtracking() bool { return false }

// hasPrefixRunes reports whether text starts with the runes of prefix,
// folding case when fold is set.
func hasPrefixRunes(text string, prefix []rune, fold bool) bool {
	for _, want := range prefix {
		r, size := utf8.DecodeRuneInString(text)
		if size == 0 {
			return false
		}
		text = text[size:]
		if r == want {
			continue
		}
		if !fold || !equalFold(r, want) {
			return false
		}
	}
	return true
}

// equalFold reports whether a and b are the same letter in different case,
// under the simple case folding Go's regexp uses.
func equalFold(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// literalPrefix returns the literal an anchored pattern starts with: the
// literals right after ^ (begin of text). It reports whether any of them
// ignores case. A pattern that is not anchored so has no prefix.
func literalPrefix(re *syntax.Regexp) ([]rune, bool) {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return nil, false
	}
	var prefix []rune
	fold := false
	for _, sub := range re.Sub[1:] {
		if sub.Op != syntax.OpLiteral {
			break
		}
		prefix = append(prefix, sub.Rune...)
		fold = fold || sub.Flags&syntax.FoldCase != 0
	}
	return prefix, fold
}

type backtrackMatcher struct{ re *regexp2.Regexp }

func (m backtrackMatcher) find(text string) ([]string, error) {
	res, err := m.re.FindStringMatch(text)
	if err != nil || res == nil {
		return nil, err
	}
	groups := res.Groups()
	out := make([]string, len(groups))
	for i := range groups {
		if len(groups[i].Captures) > 0 {
			out[i] = groups[i].String()
		}
	}
	return out, nil
}
func (backtrackMatcher) backtracking() bool { return true }

// parseMatch reads the rest of a match or softmatch line:
// "SERVICE m<d>PATTERN<d>[is] [p/…/] [v/…/] [i/…/] [h/…/] [o/…/] [d/…/] [cpe:/…/[a]]…".
// The category says why a line was rejected.
//
// With deferCompile the pattern is left for the caller to compile (see
// Match.compile), so that many can be compiled at once.
func parseMatch(rest string, soft bool, timeout time.Duration, deferCompile bool) (*Match, string, error) {
	name, rest, _ := strings.Cut(rest, " ")
	rest = strings.TrimLeft(rest, " \t")
	if name == "" {
		return nil, reasonSyntax, errors.New("no service name")
	}
	m := &Match{Service: name, Soft: soft}
	if s, ok := strings.CutPrefix(name, "ssl/"); ok && s != "" {
		m.Service, m.SSL = s, true
	}
	if len(rest) < 3 || rest[0] != 'm' {
		return nil, reasonSyntax, errors.New("pattern must be m followed by a delimited regular expression")
	}
	delim := rest[1]
	end := strings.IndexByte(rest[2:], delim)
	if end < 0 {
		return nil, reasonSyntax, fmt.Errorf("pattern not closed by %q", delim)
	}
	m.Pattern = rest[2 : 2+end]
	rest = rest[2+end+1:]
	var ignoreCase, dotAll bool
	for rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		switch rest[0] {
		case 'i':
			ignoreCase = true
		case 's':
			dotAll = true
		default:
			return nil, reasonSyntax, fmt.Errorf("unknown pattern flag %q", rest[0])
		}
		rest = rest[1:]
	}
	if err := parseFields(&m.Template, rest); err != nil {
		return nil, reasonSyntax, err
	}
	m.ignoreCase, m.dotAll = ignoreCase, dotAll
	if !deferCompile {
		if err := m.compile(timeout); err != nil {
			return nil, reasonCompile, err
		}
	}
	return m, "", nil
}

// compile compiles the match's pattern.
func (m *Match) compile(timeout time.Duration) error {
	re, err := compilePattern(m.Pattern, m.ignoreCase, m.dotAll, timeout)
	if err != nil {
		return err
	}
	m.re = re
	return nil
}

// parseFields reads the version fields of a match line into t.
func parseFields(t *Template, rest string) error {
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return nil
		}
		var key string
		if strings.HasPrefix(rest, "cpe:") {
			key, rest = "cpe", rest[4:]
		} else {
			key, rest = rest[:1], rest[1:]
		}
		if rest == "" {
			return fmt.Errorf("version field %q has no value", key)
		}
		delim := rest[0]
		end := strings.IndexByte(rest[1:], delim)
		if end < 0 {
			return fmt.Errorf("version field %s%c… not closed by %q", key, delim, delim)
		}
		val := rest[1 : 1+end]
		rest = rest[1+end+1:]
		// Flags after the closing delimiter (cpe's "a") say nothing
		// Picket uses.
		for rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			if key != "cpe" || rest[0] != 'a' {
				return fmt.Errorf("unknown flag %q after version field %s", rest[0], key)
			}
			rest = rest[1:]
		}
		var dst *string
		switch key {
		case "p":
			dst = &t.Product
		case "v":
			dst = &t.Version
		case "i":
			dst = &t.Info
		case "h":
			dst = &t.Hostname
		case "o":
			dst = &t.OS
		case "d":
			dst = &t.Device
		case "cpe":
			t.CPE = append(t.CPE, val)
			continue
		default:
			return fmt.Errorf("unknown version field %q", key)
		}
		if *dst != "" {
			return fmt.Errorf("version field %s given twice", key)
		}
		*dst = val
	}
}

// compilePattern compiles a pattern of the probe file for matching
// banners in Latin-1 form. Both the pattern and the banner map each byte
// to the rune of the same number, so \xNN escapes, raw bytes in the
// pattern and character classes all mean bytes. Go's regexp (linear
// time) is used when it accepts the translated pattern; otherwise the
// backtracking engine, bounded by timeout per match.
func compilePattern(pat string, ignoreCase, dotAll bool, timeout time.Duration) (matcher, error) {
	src := Latin1(pat)
	flags := ""
	if ignoreCase {
		flags += "i"
	}
	if dotAll {
		flags += "s"
	}
	prefix := ""
	if flags != "" {
		prefix = "(?" + flags + ")"
	}
	if tr, ok := translateRE2(src); ok {
		if tree, err := syntax.Parse(prefix+tr, syntax.Perl); err == nil {
			lit, fold := literalPrefix(tree)
			return &re2Matcher{src: prefix + tr, prefix: lit, fold: fold}, nil
		}
	}
	var opts regexp2.RegexOptions
	if ignoreCase {
		opts |= regexp2.IgnoreCase
	}
	if dotAll {
		opts |= regexp2.Singleline
	}
	re, err := regexp2.Compile(src, opts)
	if err != nil {
		return nil, fmt.Errorf("pattern does not compile: %w", err)
	}
	re.MatchTimeout = timeout
	return backtrackMatcher{re}, nil
}

// translateRE2 rewrites the PCRE constructs that Go's syntax spells
// differently: "$" and "\Z" (end of text or before a final newline) and
// "\e". It reports false for constructs it cannot express, leaving the
// pattern to the backtracking engine.
func translateRE2(p string) (string, bool) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", false
			}
			n := p[i+1]
			i++
			switch {
			case n == 'Z' && !inClass:
				b.WriteString(`(?:\n?\z)`)
			case n == 'e':
				b.WriteString(`\x1b`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' (or '^]') first in a class is a literal.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '$':
			b.WriteString(`(?:\n?\z)`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// Latin1 maps each byte of b to the rune of the same number, so that
// regular expressions see bytes 0x80 to 0xff as single characters.
func Latin1[T ~string | ~[]byte](b T) string {
	ascii := true
	for i := 0; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); i++ {
		out = utf8.AppendRune(out, rune(b[i]))
	}
	return string(out)
}

// fromLatin1 turns a Latin-1 form string back into its bytes.
func fromLatin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = append(out, byte(r))
	}
	return out
}

// Find runs the match's pattern over text (a banner in Latin-1 form) and
// returns its groups as bytes, or nil.
func (m *Match) Find(text string) [][]byte {
	g, err := m.re.find(text)
	if err != nil || g == nil {
		return nil
	}
	out := make([][]byte, len(g))
	for i, s := range g {
		out[i] = fromLatin1(s)
	}
	return out
}

// Backtracking reports whether the pattern runs on the backtracking
// engine (with a timeout) rather than Go's linear-time regexp.
func (m *Match) Backtracking() bool { return m.re.backtracking() }

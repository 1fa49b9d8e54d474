package app

import (
	"strings"
	"sync"
	"unicode"

	"github.com/urfave/cli/v2"
)

// normalizeArgs lets commands take flags the way Nmap users type them:
// after the operands (probe 10.0.0.1 -p 22), with a one-letter flag's
// value attached (-p-, -p22), and a one-letter boolean flag repeated
// (-vv). Go's flag parser stops at the first operand and wants values
// apart, so the arguments are rewritten to flags first, then "--", then
// the operands. args[0] is the program name.
//
// Help wins over everything else: -h or --help anywhere before a "--",
// or a lone operand "help" (probe help), becomes just --help, so the
// help is shown whatever else is on the line. A host named help is
// scanned with "probe -- help" or "probe help." instead.
func normalizeArgs(args []string, flags []cli.Flag) []string {
	if len(args) == 0 {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	help := []string{args[0], "--help"}
	out := []string{args[0]}
	var operands []string
	explicit := false // operands came after "--"
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			operands = append(operands, rest[i+1:]...)
			explicit = true
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if isHelp(name) {
			return help
		}
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			out = append(out, a)
			continue
		}
		value, known := takesValue[name]
		switch {
		case known && value && i+1 < len(rest):
			out = append(out, a, rest[i+1])
			i++
		case known && value:
			// A value flag at the very end: leave it last, so the
			// parser reports its missing value rather than taking the
			// "--" before the operands as the value.
			return append(out, a)
		case !known && a[1] != '-' && repeated(name) && isBoolFlag(takesValue, name[:1]):
			// -vv: a one-letter boolean flag given several times.
			for range name {
				out = append(out, "-"+name[:1])
			}
		case !known && a[1] != '-' && takesValue[name[:1]] && len(name[:1]) == 1:
			// -p22 or -p-: a one-letter flag with its value attached.
			out = append(out, "-"+name[:1], name[1:])
		default:
			out = append(out, a)
		}
	}
	if len(operands) == 1 && operands[0] == "help" && !explicit {
		return help
	}
	if len(operands) > 0 {
		out = append(out, "--")
		out = append(out, operands...)
	}
	return out
}

// isHelp reports whether a flag name without its dashes asks for help.
func isHelp(name string) bool {
	for _, n := range cli.HelpFlag.Names() {
		if name == n {
			return true
		}
	}
	return false
}

// repeated reports whether s is one letter given more than once, as in
// "vv".
func repeated(s string) bool {
	return len(s) > 1 && strings.Count(s, s[:1]) == len(s)
}

func isBoolFlag(takesValue map[string]bool, name string) bool {
	value, known := takesValue[name]
	return known && !value
}

// installFlagStringer installs singleDashStringer in urfave/cli, whose
// formatter is a package variable, once per process.
var installFlagStringer sync.Once

// singleDashStringer wraps urfave/cli's flag formatter so that help shows
// Nmap's flags the way Nmap users type them, with one dash: -iL, -Pn
// rather than --iL, --Pn. A flag name is Nmap's when it holds a capital
// letter. Go's flag parser takes one or two dashes alike, so this
// changes only the text.
func singleDashStringer(next cli.FlagStringFunc) cli.FlagStringFunc {
	return func(f cli.Flag) string {
		s := next(f)
		head, tail, _ := strings.Cut(s, "\t")
		for _, n := range f.Names() {
			if strings.IndexFunc(n, unicode.IsUpper) < 0 {
				continue
			}
			head = singleDash(head, n)
		}
		if tail == "" && !strings.Contains(s, "\t") {
			return head
		}
		return head + "\t" + tail
	}
}

// singleDash rewrites each "--name" in s, where name is whole (not the
// start of a longer name), to "-name".
func singleDash(s, name string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "--"+name)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + 2 + len(name)
		b.WriteString(s[:i])
		if end < len(s) && (s[end] == '-' || s[end] == '_' || unicode.IsLetter(rune(s[end])) || unicode.IsDigit(rune(s[end]))) {
			b.WriteString(s[i:end])
		} else {
			b.WriteString("-" + name)
		}
		s = s[end:]
	}
}

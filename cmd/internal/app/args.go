package app

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// normalizeArgs lets commands take flags the way Nmap users type them:
// after the operands (probe 10.0.0.1 -p 22) and with a one-letter flag's
// value attached (-p-, -p22). Go's flag parser stops at the first operand
// and wants values apart, so the arguments are rewritten to flags first,
// then "--", then the operands. args[0] is the program name.
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
	out := []string{args[0]}
	var operands []string
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			operands = append(operands, rest[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			out = append(out, a)
			continue
		}
		value, known := takesValue[name]
		switch {
		case known && value && i+1 < len(rest):
			out = append(out, a, rest[i+1])
			i++
		case !known && a[1] != '-' && takesValue[name[:1]] && len(name[:1]) == 1:
			// -p22 or -p-: a one-letter flag with its value attached.
			out = append(out, "-"+name[:1], name[1:])
		default:
			out = append(out, a)
		}
	}
	if len(operands) > 0 {
		out = append(out, "--")
		out = append(out, operands...)
	}
	return out
}
